"""make_mlp / make_cnn(init=...): He's N(0, 2/fan_in) in every backend, PyTorch's unchanged.

The statistical checks use the sampling error of n independent draws: the sample standard
deviation of n normals has relative standard error ~ 1/sqrt(2n), the mean of n standardised
draws 1/sqrt(n), a frequency p has sqrt(p(1-p)/n). Every bound is FIVE such errors (a
correct initialiser fails one with probability < 1e-6, and the draws are seeded, so a test
that passes once passes always), and each bound is far tighter than the gap to the other
initialisations (PyTorch's uniform has std 1/sqrt(3 fan_in): 0.41 of He's).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import regbook.np as rnp

BACKENDS = ("np", "torch", "tf")
#: A big MLP and a CNN, so that most layers hold thousands of weights.
MLP = dict(n_inputs=300, hidden=(400, 200), n_classes=10)
CNN = dict(n_inputs=40, n_classes=10, channels=(64, 128), kernel_size=(7, 5))
#: sum of every array of make_mlp(6, (5, 4), 3, seed=7) and make_cnn(seed=7), recorded
#: before ``init`` existed: the default must keep drawing exactly these weights.
BEFORE = {
    ("np", "mlp"): [0.5196675521, -0.7016835879, -0.7281838856, 0.290449053, -0.3060401306,
                    0.3367118388],
    ("np", "cnn"): [0.1821412954, 1.0630794475, -0.1190255303, -0.5725709768, 1.718304039,
                    -0.4058568274, -3.5208629773, -0.0089182113],
    ("torch", "mlp"): [0.4773647655, 0.7899469435, -0.0086394027, 0.0222018936,
                       -0.2289966345, -0.1948163509],
    ("torch", "cnn"): [-0.3466955706, -0.6218124498, 2.3881723624, -0.9057023246,
                       4.449914882, -0.1927780733, 0.3680397565, -0.037671376],
    ("tf", "mlp"): [1.81692186, 0.0, -1.435379535, 0.0, -0.1008711755, 0.0],
    ("tf", "cnn"): [0.4724040851, 0.0, -6.7931983024, 0.0, 5.1897992641, 0.0, -4.626190111,
                    0.0],
}


def _backend(name: str):
    if name == "np":
        return rnp
    pytest.importorskip(name if name == "torch" else "tensorflow")
    import importlib

    return importlib.import_module(f"regbook.{name}")


def _build(name: str, kind: str, **kwargs):
    backend = _backend(name)
    return backend.make_mlp(**MLP, **kwargs) if kind == "mlp" else backend.make_cnn(**CNN,
                                                                                  **kwargs)


def _layers(name: str, model) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(weight, bias, fan_in) of every Linear/Dense and Conv layer, in order."""
    out = []
    if name == "np":
        for layer in model.layers:
            if isinstance(layer, rnp.Linear):
                out.append((layer.params["W"], layer.params["b"], layer.n_in))
            elif isinstance(layer, rnp.Conv1d):
                out.append((layer.params["w"], layer.params["b"],
                            layer.c_in * layer.kernel_size))
    elif name == "torch":
        from torch import nn

        for layer in model:
            if isinstance(layer, (nn.Linear, nn.Conv1d)):
                w = layer.weight.detach().numpy()
                out.append((w, layer.bias.detach().numpy(), int(np.prod(w.shape[1:]))))
    else:
        import keras

        for layer in model.layers:
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv1D)):
                w, b = (np.asarray(v) for v in layer.get_weights())
                out.append((w, b, int(np.prod(w.shape[:-1]))))   # Keras kernels end in out
    return out


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("name", BACKENDS)
def test_he_weights_have_std_sqrt_2_over_fan_in_and_zero_biases(name, kind):
    layers = _layers(name, _build(name, kind, init="he", seed=3))
    assert len(layers) == 3
    pooled = []
    for w, b, fan_in in layers:
        n = w.size
        ratio = float(np.std(w.astype(np.float64))) / math.sqrt(2.0 / fan_in)
        assert abs(ratio - 1.0) < 5.0 / math.sqrt(2.0 * n), (w.shape, ratio)
        assert np.all(b == 0.0)
        pooled.append(w.astype(np.float64).ravel() / math.sqrt(2.0 / fan_in))
    z = np.concatenate(pooled)
    n = z.size
    assert abs(z.mean()) < 5.0 / math.sqrt(n)
    assert abs(z.std() - 1.0) < 5.0 / math.sqrt(2.0 * n)
    # a normal, not truncated at 2 sigma as Keras's HeNormal is: P(|z| > 2.5) = 0.0124
    p = math.erfc(2.5 / math.sqrt(2.0))
    assert abs(np.mean(np.abs(z) > 2.5) - p) < 5.0 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("name", BACKENDS)
def test_the_default_init_is_pytorch_and_draws_the_weights_it_drew_before(name, kind):
    backend = _backend(name)
    build = (lambda **kw: backend.make_mlp(6, (5, 4), 3, seed=7, **kw)) if kind == "mlp" \
        else (lambda **kw: backend.make_cnn(seed=7, **kw))
    default, explicit = build(), build(init="pytorch")
    arrays = [np.asarray(a, np.float64) for a in _weights(name, default)]
    assert [a.sum() for a in arrays] == pytest.approx(BEFORE[name, kind], rel=1e-6, abs=1e-6)
    for a, b in zip(arrays, _weights(name, explicit), strict=True):
        np.testing.assert_array_equal(a, np.asarray(b, np.float64))


def _weights(name: str, model) -> list:
    if name == "torch":
        return [v.detach().numpy() for v in model.state_dict().values()]
    return model.get_weights()


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("name", BACKENDS)
def test_pytorch_init_is_each_backends_default_uniform(name, kind):
    """U(+-1/sqrt(fan_in)) for the weights and biases (np, torch), Glorot's
    U(+-sqrt(6/(fan_in + fan_out))) kernels and zero biases (tf): std = bound/sqrt(3)."""
    for w, b, fan_in in _layers(name, _build(name, kind, seed=3)):
        if name == "tf":
            fan_out = w.shape[-1] * int(np.prod(w.shape[:-2]))   # Keras: out x receptive field
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            assert np.all(b == 0.0)
        else:
            bound = 1.0 / math.sqrt(fan_in)
            assert np.all(np.abs(b) <= bound) and np.any(b != 0.0)
        assert np.all(np.abs(w) <= bound)
        ratio = float(np.std(w.astype(np.float64))) / (bound / math.sqrt(3.0))
        # a uniform's sample std has relative standard error sqrt(0.2 / n)
        assert abs(ratio - 1.0) < 5.0 * math.sqrt(0.2 / w.size), (w.shape, ratio)


@pytest.mark.parametrize("name", BACKENDS)
def test_a_seed_gives_the_same_he_weights_whatever_the_normalisation_and_dropout(name):
    backend = _backend(name)

    def mlp_weights(**kw):
        return _layers(name, backend.make_mlp(20, (16, 8), 4, init="he", seed=5, **kw))

    def cnn_weights(**kw):
        return _layers(name, backend.make_cnn(init="he", seed=5, **kw))

    for weights, variants in [
            (mlp_weights, [dict(dropout=0.3), dict(batchnorm=True), dict(dropout=0.2,
                                                                           batchnorm=True)]),
            (cnn_weights, [dict(dropout=0.3), dict(batchnorm=True), dict(layernorm=True),
                           dict(layernorm=True, dropout=0.1)])]:
        plain = weights()
        for kw in variants:
            for (w, b, _), (w2, b2, _) in zip(plain, weights(**kw), strict=True):
                np.testing.assert_array_equal(w, w2, err_msg=str(kw))
                np.testing.assert_array_equal(b, b2, err_msg=str(kw))
    other = _layers(name, backend.make_mlp(20, (16, 8), 4, init="he", seed=6))
    assert not np.array_equal(mlp_weights()[0][0], other[0][0])


@pytest.mark.parametrize("bad", ["xavier", "He", "torch", None, 2])
@pytest.mark.parametrize("name", BACKENDS)
def test_a_bad_init_is_refused_naming_it(name, bad):
    backend = _backend(name)
    with pytest.raises(ValueError, match=r"init must be one of \('pytorch', 'he'\)"):
        backend.make_mlp(4, (3,), 2, init=bad)
    with pytest.raises(ValueError, match=r"init must be one of \('pytorch', 'he'\)"):
        backend.make_cnn(init=bad)


def test_np_fit_seeds_trains_he_models_as_single_runs():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((49, 40)), rng.integers(0, 10, 49)
    make = lambda s: rnp.make_cnn(init="he", batchnorm=True, seed=s,  # noqa: E731
                                  dtype="float64")
    settings = dict(optimizer="sgd", lr=0.05, momentum=0.9, epochs=2, batch_size=16)
    models, histories = rnp.fit_seeds(make, X, y, seeds=[1, 2], **settings)
    for s, model, history in zip([1, 2], models, histories):
        ref = make(s)
        ref_history = rnp.fit_classifier(ref, X, y, seed=s, **settings)
        for a, b in zip(model.get_weights(), ref.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(history["loss"], ref_history["loss"], rtol=1e-8)
        assert not np.array_equal(model.get_weights()[0], make(s).get_weights()[0])


def test_torch_fit_seeds_trains_he_models_as_single_runs():
    rt = _backend("torch")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((49, 40)), rng.integers(0, 10, 49)
    make = lambda s: rt.make_mlp(40, (24,), 10, init="he", seed=s,  # noqa: E731
                                 dtype="float64")
    settings = dict(optimizer="adam", lr=1e-2, epochs=2, batch_size=16)
    models, histories = rt.fit_seeds(make, X, y, seeds=[1, 2], **settings)
    for s, model, history in zip([1, 2], models, histories):
        ref = make(s)
        ref_history = rt.fit_classifier(ref, X, y, seed=s, **settings)
        for a, b in zip(_weights("torch", model), _weights("torch", ref), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(history["loss"], ref_history["loss"], rtol=1e-8)
