r"""L1 and L2 penalties over a Keras model's kernels, Keras regularizers from the book's lam.

The book penalises weights (Keras *kernels*), not biases or normalization parameters:

.. math:: R_1 = \lambda \sum_W \sum_j |W_j|, \qquad R_2 = \frac{\lambda}{2} \sum_W \sum_j W_j^2 .

Keras writes its regularizers without the 1/2 -- ``keras.regularizers.l2(c)`` adds
:math:`c\sum w^2` -- so the book's :math:`\lambda` becomes :math:`c = \lambda/2`
(:func:`regbook.convert.keras_l2`); :func:`l2_regularizer` does the conversion. Keras's
optimizer ``weight_decay`` is decoupled and touches every trainable variable unless told
otherwise: :func:`exclude_from_weight_decay` keeps it off biases and normalization parameters.
"""

from __future__ import annotations


import keras
import tensorflow as tf

from regbook._validate import check_float, check_tensor_list
from regbook.convert import keras_l1, keras_l2
from regbook.tf.batchnorm import BatchNorm, KerasBatchNorm
from regbook.tf.layernorm import LayerNorm

__all__ = [
    "NORM_LAYERS",
    "split_decay_params",
    "exclude_from_weight_decay",
    "l1_penalty",
    "l2_penalty",
    "l1_regularizer",
    "l2_regularizer",
    "l1_l2_regularizer",
    "set_kernel_regularizers",
]

#: Layer types whose variables (scale and shift) are never penalised: Keras's normalization
#: layers and regbook's :class:`~regbook.tf.BatchNorm`, :class:`~regbook.tf.KerasBatchNorm` and
#: :class:`~regbook.tf.LayerNorm`.
NORM_LAYERS: tuple[type, ...] = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.RMSNormalization,
    BatchNorm,
    KerasBatchNorm,
    LayerNorm,
)


def _check_model(model) -> keras.layers.Layer:
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a Keras model or layer, got {type(model).__name__}")
    return model


def _sublayers(layer: keras.layers.Layer) -> list:
    """The layers directly inside ``layer``: a model's ``layers``, else its Layer attributes."""
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    found = []
    for value in vars(layer).values():
        items = value.values() if isinstance(value, dict) else (
            value if isinstance(value, (list, tuple)) else (value,))
        found += [v for v in items if isinstance(v, keras.layers.Layer)]
    return found


def _walk(model: keras.layers.Layer) -> list:
    """``model`` and every layer nested in it, each once (public attributes only)."""
    layers, stack, seen = [], [model], set()
    while stack:
        layer = stack.pop()
        if id(layer) not in seen:
            seen.add(id(layer))
            layers.append(layer)
            stack.extend(reversed(_sublayers(layer)))
    return layers


def split_decay_params(model: keras.layers.Layer) -> tuple[list, list]:
    """Split a Keras model's trainable variables into (penalised kernels, everything else).

    A variable is *not* penalised when its name is ``bias`` or it belongs to a layer of
    :data:`NORM_LAYERS` (``gamma``, ``beta``), found by walking the model's ``layers`` (and, in
    a custom layer, its attributes that are layers). The model must be built (have its
    variables).

    Returns
    -------
    (list of keras.Variable, list of keras.Variable)
        ``decay`` and ``no_decay``, in the order of ``model.trainable_variables``.
    """
    model = _check_model(model)
    excluded = {id(v) for v in model.trainable_variables if v.name == "bias"}
    for layer in _walk(model):
        if isinstance(layer, NORM_LAYERS):
            excluded |= {id(v) for v in layer.trainable_variables}
    decay = [v for v in model.trainable_variables if id(v) not in excluded]
    no_decay = [v for v in model.trainable_variables if id(v) in excluded]
    return decay, no_decay


def exclude_from_weight_decay(optimizer: keras.optimizers.Optimizer,
                              model: keras.layers.Layer) -> keras.optimizers.Optimizer:
    r"""Keep a Keras optimizer's ``weight_decay`` off the model's biases and norm parameters.

    The Keras twin of :func:`regbook.torch.param_groups`. Keras applies ``weight_decay``
    decoupled, :math:`w \leftarrow w - \eta\lambda w` before each update, to every trainable
    variable; this calls ``optimizer.exclude_from_weight_decay(var_list=...)`` with the
    ``no_decay`` part of :func:`split_decay_params`. Call it before the optimizer's first step.

    Returns
    -------
    keras.optimizers.Optimizer
        The same optimizer, for chaining.
    """
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"optimizer must be a Keras optimizer, got {type(optimizer).__name__}")
    if optimizer.built:
        raise ValueError("optimizer is already built: exclude variables before its first step")
    _, no_decay = split_decay_params(model)
    optimizer.exclude_from_weight_decay(var_list=no_decay)
    return optimizer


_TENSORS = (tf.Tensor, tf.Variable, keras.Variable)


def _weights(weights) -> list:
    if isinstance(weights, keras.layers.Layer):
        return split_decay_params(weights)[0]
    return check_tensor_list(weights, _TENSORS, model_types=(keras.layers.Layer,),
                             what="TensorFlow tensors or Keras variables",
                             item="a tensor or variable", convert="tf.constant")


def _total(weights: list, term) -> tf.Tensor:
    if not weights:
        return tf.constant(0.0, dtype=keras.config.floatx())
    total = term(weights[0])
    for w in weights[1:]:
        total = total + term(w)
    return total


def l1_penalty(weights, lam: float) -> tf.Tensor:
    r"""The L1 penalty :math:`\lambda\sum_W\sum_j|W_j|` as a differentiable scalar tensor.

    Parameters
    ----------
    weights : keras model or layer, tensor/variable, or iterable of them
        A model (its kernels, per :func:`split_decay_params`: no biases, no normalization
        parameters), one tensor or variable, or a non-empty iterable of them.
    lam : float
        :math:`\lambda \ge 0`, the book's strength (as in :func:`regbook.np.l1_penalty`).

    Returns
    -------
    tf.Tensor
        0-d, in the weights' dtype; use it inside a ``tf.GradientTape``.
    """
    lam = check_float(lam, "lam", minimum=0.0)
    return _total(_weights(weights),
                  lambda w: tf.constant(lam, w.dtype) * tf.reduce_sum(tf.abs(w)))


def l2_penalty(weights, lam: float) -> tf.Tensor:
    r"""The L2 penalty :math:`\frac{\lambda}{2}\sum_W\sum_j W_j^2` as a differentiable scalar.

    Parameters
    ----------
    weights : keras model or layer, tensor/variable, or iterable of them
        As in :func:`l1_penalty`.
    lam : float
        :math:`\lambda \ge 0`, as in :func:`regbook.np.l2_penalty`.

    Returns
    -------
    tf.Tensor
    """
    lam = check_float(lam, "lam", minimum=0.0)
    half = lam / 2.0
    return _total(_weights(weights),
                  lambda w: tf.constant(half, w.dtype) * tf.reduce_sum(tf.square(w)))


def l1_regularizer(lam: float) -> keras.regularizers.L1:
    r"""``keras.regularizers.L1(c)`` adding the book's :math:`\lambda\sum|w|`: :math:`c = \lambda`.

    Keras rounds ``c`` to float32 before casting it to the weights' dtype, so on float64
    weights the penalty carries a relative error up to about :math:`6\times 10^{-8}`
    (none when :math:`c` is exact in float32, e.g. a power of two).
    """
    return keras.regularizers.L1(keras_l1(lam))


def l2_regularizer(lam: float) -> keras.regularizers.L2:
    r"""``keras.regularizers.L2(c)`` adding the book's :math:`\frac{\lambda}{2}\sum w^2`.

    Keras adds :math:`c\sum w^2`, so :math:`c = \lambda / 2` (:func:`regbook.convert.keras_l2`).
    As for :func:`l1_regularizer`, Keras rounds ``c`` to float32.
    """
    return keras.regularizers.L2(keras_l2(lam))


def l1_l2_regularizer(lam1: float, lam2: float) -> keras.regularizers.L1L2:
    r"""``keras.regularizers.L1L2`` adding :math:`\lambda_1\sum|w| + \frac{\lambda_2}{2}\sum w^2`.

    .. math:: \texttt{l1} = \lambda_1, \qquad \texttt{l2} = \lambda_2 / 2 .
    """
    return keras.regularizers.L1L2(l1=keras_l1(check_float(lam1, "lam1", minimum=0.0)),
                                   l2=keras_l2(check_float(lam2, "lam2", minimum=0.0)))


def set_kernel_regularizers(model: keras.layers.Layer, *, lam1: float = 0.0,
                            lam2: float = 0.0) -> keras.layers.Layer:
    r"""Attach the book's L1/L2 penalty to every kernel of a built model, as Keras regularizers.

    Equivalent to having built each layer with
    ``kernel_regularizer=l1_l2_regularizer(lam1, lam2)``: Keras then adds
    :math:`\lambda_1\sum|W| + \frac{\lambda_2}{2}\sum W^2` over the kernels of
    :func:`split_decay_params` to ``model.losses``, which ``model.fit`` adds to the data loss.
    ``lam1 = lam2 = 0`` removes the regularizers.

    Returns
    -------
    The same model.
    """
    lam1 = check_float(lam1, "lam1", minimum=0.0)
    lam2 = check_float(lam2, "lam2", minimum=0.0)
    decay, _ = split_decay_params(model)
    reg = None if lam1 == 0.0 and lam2 == 0.0 else l1_l2_regularizer(lam1, lam2)
    for variable in decay:
        variable.regularizer = reg
    return model
