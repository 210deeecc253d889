"""What the book's Keras normalization layers share: per-feature ``gamma`` and ``beta``."""

from __future__ import annotations

import keras

from regbook._validate import check_float, check_int


class FeatureNorm(keras.layers.Layer):
    """A Keras layer normalising with a scale ``gamma`` and shift ``beta`` per feature of the
    last axis (``num_features`` of them); subclasses say which input ranks they take
    (``_layouts``) and add their own state in ``build``."""

    _layouts = "(..., {d})"
    _min_ndim = 1

    def __init__(self, num_features: int, *, eps: float, dtype=None, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.eps = check_float(eps, "eps", minimum=0.0, include_min=False)

    def _check_shape(self, shape) -> None:
        if len(shape) < self._min_ndim or shape[-1] != self.num_features:
            layouts = self._layouts.format(d=self.num_features)
            raise ValueError(f"expected an input with num_features={self.num_features} values "
                             f"on its last axis, {layouts}, got shape {tuple(shape)}")

    def build(self, input_shape):
        self._check_shape(input_shape)
        d = (self.num_features,)
        self.gamma = self.add_weight(shape=d, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=d, initializer="zeros", name="beta")

    def compute_output_shape(self, input_shape):
        return input_shape
