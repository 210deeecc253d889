"""Bad input, generated: every refused call is a ValueError/TypeError naming the argument, and
changes nothing.

Two property suites (hypothesis):

1. **Each argument of each public function.** For every entry of :data:`CASES` -- a function,
   a factory of valid arguments, and the kind of each argument -- hypothesis draws bad values of
   that kind (:data:`BAD`: wrong types, out-of-range numbers, NaN/inf, strings for flags,
   arrays of the wrong shape, ...), calls the function with that one argument replaced and every
   other argument valid, warnings turned into errors, and requires a ValueError or TypeError
   whose message names the argument as the caller spelled it.
2. **Stateful objects.** For every entry of :data:`STATEFUL` -- an object, a refused call on it
   -- a deep copy of the object and of the call's inputs taken before the call equals them
   after it (arrays, generator states, caches, counters).

``test_the_suite_tries_many_bad_cases`` counts the (function, argument) pairs and the examples
hypothesis tries, the figure the issue asks for.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regbook
from regbook import calibration, data, stats
from regbook import np as rnp

EXAMPLES = 12          # hypothesis examples per (function, argument)

# --- bad values by kind -------------------------------------------------------------------

_not_numbers = st.one_of(st.none(), st.text(max_size=3), st.just(["a", 1]), st.just({}))
_non_finite = st.sampled_from([math.nan, math.inf, -math.inf])

BAD = {
    # an int >= 1
    "pos_int": st.one_of(_not_numbers, st.integers(max_value=0), st.booleans(),
                         st.floats(0.1, 50).filter(lambda v: v != int(v)), _non_finite),
    # an int >= 0
    "nonneg_int": st.one_of(_not_numbers, st.integers(max_value=-1), st.booleans(),
                            st.floats(0.1, 50).filter(lambda v: v != int(v))),
    # a seed: int in [0, 2**32 - 1]
    "seed": st.one_of(_not_numbers, st.integers(max_value=-1), st.integers(min_value=2**32),
                      st.booleans(), st.floats(0.1, 50).filter(lambda v: v != int(v))),
    # a finite float >= 0
    "nonneg_float": st.one_of(_not_numbers, st.floats(max_value=-1e-6, allow_infinity=False),
                              st.just(math.nan), st.just(math.inf)),
    # a finite float > 0
    "pos_float": st.one_of(_not_numbers, st.floats(max_value=0.0, allow_infinity=False),
                           st.just(math.nan), st.just(math.inf)),
    # a probability in [0, 1)
    "drop_p": st.one_of(_not_numbers, st.floats(max_value=-1e-6, allow_infinity=False),
                        st.floats(min_value=1.0, allow_infinity=False), st.just(math.nan)),
    # a fraction in [0, 1]
    "fraction": st.one_of(_not_numbers, st.floats(max_value=-1e-6, allow_infinity=False),
                          st.floats(min_value=1.000001, allow_infinity=False),
                          st.just(math.nan)),
    # a level in (0, 1)
    "level": st.one_of(_not_numbers, st.floats(max_value=0.0, allow_infinity=False),
                       st.floats(min_value=1.0, allow_infinity=False), st.just(math.nan)),
    # a flag: bool or np.bool_ only
    "flag": st.one_of(st.none(), st.text(max_size=5), st.integers(), st.floats(),
                      st.just("False"), st.just([True])),
    # a choice among strings
    "choice": st.one_of(st.none(), st.integers(), st.text(max_size=6).filter(
        lambda s: s not in {"t", "bootstrap", "sgd", "adam", "adamw", "inverted", "original",
                            "weights", "all", "val_loss", "val_accuracy", "loss",
                            "accuracy", "squared_error", "pytorch", "he", "torch"})),
    # a finite 2-D float array (n, d)
    "matrix": st.one_of(_not_numbers, st.just(np.zeros(5)), st.just(np.zeros((2, 2, 2))),
                        st.just(np.array([[1.0, np.nan]] * 5)),
                        st.just(np.array([[np.inf, 1.0]] * 5)),
                        st.just(np.array([["a", "b"]] * 5))),
    # integer class labels (n,)
    "labels": st.one_of(_not_numbers, st.just(np.zeros((5, 1), dtype=int)),
                        st.just(np.array([0.5, 1, 2, 0, 1])), st.just(np.array([0, 1, 99, 0, 1])),
                        st.just(np.array([-1, 0, 1, 0, 1])), st.just(np.array([0, 1]))),
    # a finite 1-D float array (n,)
    "vector": st.one_of(_not_numbers, st.just(np.zeros((5, 2))),
                        st.just(np.array([1.0, np.nan, 0, 0, 0])),
                        st.just(np.array(["a"] * 5))),
    # a numpy Generator
    "generator": st.one_of(st.none(), st.integers(), st.text(max_size=3),
                           st.just(np.random.RandomState(0))),
}
BAD["opt_seed"] = BAD["seed"].filter(lambda v: v is not None)       # None: fresh entropy
BAD["finite_float"] = st.one_of(_not_numbers, _non_finite)
# any-shape float array: only the contents can be wrong
BAD["any_array"] = st.one_of(st.none(), st.text(max_size=3), st.just({}),
                             st.just(np.array([["a", "b"]] * 5)))
BAD["labels_alone"] = BAD["labels"].filter(lambda v: not (isinstance(v, np.ndarray)
                                                           and v.shape == (2,)))
BAD["opt_pos_int"] = BAD["pos_int"].filter(lambda v: v is not None)   # None means "all"
BAD["opt_matrix"] = BAD["matrix"].filter(lambda v: v is not None)


# --- the cases: function, valid arguments, kinds of the arguments to break ------------------

def _clf_data(n=12, d=4, c=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)).astype(np.float32), np.arange(n) % c


def _fit_classifier():
    X, y = _clf_data()
    return dict(model=rnp.make_mlp(4, (5,), 3), X_train=X, y_train=y, epochs=1, batch_size=4,
                lr=0.01, seed=0)


def _regression(n=20, d=3):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, d)), rng.normal(size=n)


CASES = [
    # name, call(**kw), valid kwargs factory, {argument: kind}
    ("data.mnist1d", data.mnist1d, lambda: {},
     {"shuffle": "flag", "n_val": "nonneg_int", "n_train": "opt_pos_int"}),
    ("data.noisy_labels", data.noisy_labels,
     lambda: dict(y=np.array([0, 1, 2, 0, 1]), fraction=0.2, n_classes=3, seed=0),
     {"y": "labels_alone", "fraction": "fraction", "n_classes": "pos_int", "seed": "seed"}),
    ("data.digits_split", data.digits_split, lambda: {},
     {"seed": "seed"}),
    ("stats.paired_interval", stats.paired_interval,
     lambda: dict(a=np.arange(5.0), b=np.zeros(5), level=0.95, method="t"),
     {"a": "vector", "b": "vector", "level": "level", "method": "choice"}),
    ("calibration.expected_calibration_error",
     lambda logits, y, n_bins: calibration.expected_calibration_error(logits, y,
                                                                      n_bins=n_bins),
     lambda: dict(logits=np.zeros((5, 3)), y=np.array([0, 1, 2, 0, 1]), n_bins=10),
     {"logits": "matrix", "y": "labels", "n_bins": "pos_int"}),
    ("np.make_mlp", rnp.make_mlp,
     lambda: dict(n_inputs=4, hidden=(5,), n_classes=3, dropout=0.1, batchnorm=False, seed=0),
     {"n_inputs": "pos_int", "dropout": "drop_p", "batchnorm": "flag", "seed": "seed"}),
    ("np.make_cnn", rnp.make_cnn,
     lambda: dict(n_inputs=40, n_classes=10, stride=2, padding=1, dropout=0.0,
                  batchnorm=False, layernorm=False, seed=0),
     {"n_inputs": "pos_int", "stride": "pos_int", "padding": "nonneg_int",
      "dropout": "drop_p", "batchnorm": "flag", "layernorm": "flag", "seed": "seed"}),
    ("np.fit_classifier", rnp.fit_classifier, _fit_classifier,
     {"X_train": "matrix", "y_train": "labels", "lr": "pos_float", "epochs": "pos_int",
      "batch_size": "pos_int", "seed": "seed", "optimizer": "choice",
      "weight_decay": "nonneg_float", "lam1": "nonneg_float", "lam2": "nonneg_float",
      "label_smoothing": "fraction", "progress": "flag"}),
    ("np.fit_seeds",
     lambda **kw: rnp.fit_seeds(lambda s: rnp.make_mlp(4, (5,), 3, seed=s), **kw),
     lambda: {k: v for k, v in _fit_classifier().items() if k not in ("model", "seed")}
     | {"seeds": [0, 1]},
     {"X_train": "matrix", "y_train": "labels", "lr": "pos_float", "epochs": "pos_int",
      "batch_size": "pos_int", "label_smoothing": "fraction"}),
    ("np.softmax_cross_entropy", rnp.softmax_cross_entropy,
     lambda: dict(logits=np.zeros((5, 3)), y=np.array([0, 1, 2, 0, 1]), label_smoothing=0.1),
     {"logits": "matrix", "label_smoothing": "fraction"}),
    ("np.ridge", rnp.ridge,
     lambda: dict(zip(("X", "y"), _regression())) | dict(lam=0.1, fit_intercept=True),
     {"X": "matrix", "y": "vector", "lam": "nonneg_float", "fit_intercept": "flag"}),
    ("np.lasso", rnp.lasso,
     lambda: dict(zip(("X", "y"), _regression())) | dict(lam=0.1, tol=1e-8, max_iter=100),
     {"X": "matrix", "y": "vector", "lam": "nonneg_float", "tol": "nonneg_float",
      "max_iter": "pos_int"}),
    ("np.dropout_forward", rnp.dropout_forward,
     lambda: dict(x=np.ones((3, 4)), p=0.5, rng=np.random.default_rng(0), training=True),
     {"x": "any_array", "p": "drop_p", "rng": "generator", "training": "flag"}),
    ("np.batchnorm_forward", rnp.batchnorm_forward,
     lambda: dict(x=np.ones((5, 2)), gamma=np.ones(2), beta=np.zeros(2), eps=1e-5),
     {"x": "any_array", "gamma": "vector", "beta": "vector", "eps": "pos_float"}),
    ("np.layernorm_forward", rnp.layernorm_forward,
     lambda: dict(x=np.ones((5, 2)), gamma=np.ones(2), beta=np.zeros(2), eps=1e-5),
     {"gamma": "vector", "beta": "vector", "eps": "pos_float"}),
    ("np.l2_penalty", rnp.l2_penalty, lambda: dict(weights=np.ones(3), lam=0.1),
     {"lam": "nonneg_float"}),
    ("np.soft_threshold", rnp.soft_threshold, lambda: dict(x=np.ones(3), t=0.1),
     {"t": "nonneg_float"}),
    ("np.numerical_gradient", rnp.numerical_gradient,
     lambda: dict(f=lambda v: float(np.sum(v ** 2)), x=np.ones(3), h=1e-5),
     {"h": "pos_float"}),
    ("np.SGD", rnp.SGD, lambda: dict(lr=0.1, momentum=0.5, weight_decay=0.0),
     {"lr": "pos_float", "weight_decay": "nonneg_float"}),
    ("np.Adam", rnp.Adam, lambda: dict(lr=0.1, eps=1e-8, weight_decay=0.0),
     {"lr": "pos_float", "eps": "pos_float", "weight_decay": "nonneg_float"}),
    ("np.Dropout", rnp.Dropout, lambda: dict(p=0.5, seed=0),
     {"p": "drop_p", "seed": "opt_seed"}),
    ("np.BatchNorm", rnp.BatchNorm, lambda: dict(num_features=3, momentum=0.1, eps=1e-5),
     {"num_features": "pos_int", "eps": "pos_float"}),
    ("EarlyStopping", regbook.EarlyStopping,
     lambda: dict(patience=2, min_delta=0.0, restore_best_weights=False),
     {"patience": "nonneg_int", "min_delta": "finite_float",
      "restore_best_weights": "flag"}),
]



def _framework_cases(backend_name: str) -> list:
    """make_mlp, make_cnn and fit_classifier of a framework backend, the NumPy kinds."""
    def backend():
        return regbook.backends.get(backend_name)

    def fit_valid():
        X, y = _clf_data()
        return dict(model=backend().make_mlp(4, (5,), 3), X_train=X, y_train=y, epochs=1,
                    batch_size=4, lr=0.01, seed=0)

    numpy_kinds = {name: kinds for name, _, _, kinds in CASES}
    return [
        (f"{backend_name}.make_mlp", lambda **kw: backend().make_mlp(**kw),
         lambda: dict(n_inputs=4, hidden=(5,), n_classes=3, dropout=0.1, batchnorm=False,
                      seed=0), numpy_kinds["np.make_mlp"]),
        (f"{backend_name}.make_cnn", lambda **kw: backend().make_cnn(**kw),
         lambda: dict(n_inputs=40, n_classes=10, stride=2, padding=1, dropout=0.0,
                      batchnorm=False, layernorm=False, seed=0), numpy_kinds["np.make_cnn"]),
        (f"{backend_name}.fit_classifier", lambda **kw: backend().fit_classifier(**kw),
         fit_valid, {k: v for k, v in numpy_kinds["np.fit_classifier"].items()
                     if k != "progress"}),
    ]


CASES += _framework_cases("torch") + _framework_cases("tf")

PAIRS = [(name, arg) for name, _, _, kinds in CASES for arg in kinds]
_BY_NAME = {name: (func, valid, kinds) for name, func, valid, kinds in CASES}


def _call_refused(func, kwargs, arg):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises((ValueError, TypeError)) as info:
            func(**kwargs)
    message = str(info.value)
    assert arg in message, f"{arg}={kwargs[arg]!r}: message does not name it: {message!r}"


@pytest.mark.parametrize("name, arg", PAIRS, ids=[f"{n}-{a}" for n, a in PAIRS])
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data_=st.data())
def test_a_bad_value_of_each_argument_is_refused_naming_it(name, arg, data_):
    func, valid, kinds = _BY_NAME[name]
    kwargs = valid()
    func(**valid())                              # the valid call works
    kwargs[arg] = data_.draw(BAD[kinds[arg]], label=arg)
    _call_refused(func, kwargs, arg)


def test_the_suite_tries_many_bad_cases():
    # the figure for the note: (function, argument) pairs x examples per pair
    assert len(PAIRS) >= 110
    assert len(PAIRS) * EXAMPLES >= 1300


# --- stateful objects: a refused call changes nothing ---------------------------------------

def _snapshot(obj, seen=None):
    """A comparable picture of ``obj``: arrays, numbers, generator states, nested objects."""
    seen = set() if seen is None else seen
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, np.random.Generator):
        return ("rng", repr(obj.bit_generator.state))
    if isinstance(obj, (int, float, str, bool, type(None), np.generic)):
        return obj
    if id(obj) in seen:
        return ("seen",)
    seen.add(id(obj))
    if isinstance(obj, dict):
        return {k: _snapshot(v, seen) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_snapshot(v, seen) for v in obj]
    if hasattr(obj, "__dict__"):
        return (type(obj).__name__, _snapshot(vars(obj), seen))
    return repr(obj)


def _mlp_with_everything():
    model = rnp.make_mlp(4, (6,), 3, dropout=0.3, batchnorm=True, seed=1)
    X, y = _clf_data()
    rnp.fit_classifier(model, X, y, epochs=1, batch_size=4, lr=0.01)   # caches and stats set
    return model


def _refuse_batch_of_one(model):
    model.forward(np.ones((1, 4), dtype=np.float32), training=True)


def _refuse_bad_weights(model):
    weights = model.get_weights()
    weights[-1] = np.zeros((7, 7), dtype=np.float32)
    model.set_weights(weights)


def _refuse_bad_labels(model):
    X, _ = _clf_data()
    rnp.fit_classifier(model, X, np.full(len(X), 3), epochs=1, batch_size=4)


def _refuse_nan_features(model):
    X, y = _clf_data()
    X[5, 1] = np.nan
    rnp.fit_classifier(model, X, y, epochs=1, batch_size=4)


class _Params:
    """The optimizers' model protocol: ``params`` and ``grads`` dicts."""

    def __init__(self):
        self.params = {"W": np.ones((2, 2)), "b": np.zeros(2)}
        self.grads = {"W": np.full((2, 2), 0.5), "b": np.ones(2)}


def _refuse_wrong_grad_shape(model_and_opt):
    model, opt = model_and_opt
    model.grads["b"] = np.ones(3)
    try:
        opt.step(model)
    finally:
        model.grads["b"] = np.ones(2)


def _optimizer(opt_cls):
    def build():
        model = _Params()
        opt = opt_cls(lr=0.1, weight_decay=0.01)
        opt.step(model)                                        # state exists
        return (model, opt)
    return build


def _early_stopping():
    stop = regbook.EarlyStopping(patience=2, restore_best_weights=True)
    stop.update(1.0, weights=[np.ones(2)])
    return stop


def _refuse_nan_weights(stop):
    stop.update(0.5, weights=(w for w in [np.ones(2)]))   # a generator: cannot be kept


def _refuse_string_value(stop):
    stop.update("0.5")


def _batchnorm_layer():
    layer = rnp.BatchNorm(3)
    layer.forward(np.random.default_rng(0).normal(size=(8, 3)), training=True)
    return layer


def _refuse_wrong_features(layer):
    layer.forward(np.ones((8, 4)), training=True)


def _refuse_negative_running_var(layer):
    layer.running_var = -np.ones(3)


def _dropout_layer():
    layer = rnp.Dropout(0.5, seed=0)
    layer.forward(np.ones((4, 3)), training=True)
    return layer


def _refuse_string_training(layer):
    layer.forward(np.ones((4, 3)), training="False")


def _refuse_wrong_dout(layer):
    layer.backward(np.ones((5, 5)))


STATEFUL = [
    ("Sequential.forward batch of one", _mlp_with_everything, _refuse_batch_of_one),
    ("Sequential.set_weights bad last array", _mlp_with_everything, _refuse_bad_weights),
    ("fit_classifier label >= n_classes", _mlp_with_everything, _refuse_bad_labels),
    ("fit_classifier NaN feature", _mlp_with_everything, _refuse_nan_features),
    ("SGD.step wrong grad shape", _optimizer(rnp.SGD), _refuse_wrong_grad_shape),
    ("Adam.step wrong grad shape", _optimizer(rnp.Adam), _refuse_wrong_grad_shape),
    ("AdamW.step wrong grad shape", _optimizer(rnp.AdamW), _refuse_wrong_grad_shape),
    ("EarlyStopping.update uncopyable weights", _early_stopping, _refuse_nan_weights),
    ("EarlyStopping.update string", _early_stopping, _refuse_string_value),
    ("BatchNorm.forward wrong features", _batchnorm_layer, _refuse_wrong_features),
    ("BatchNorm.running_var negative", _batchnorm_layer, _refuse_negative_running_var),
    ("Dropout.forward string flag", _dropout_layer, _refuse_string_training),
    ("Dropout.backward wrong dout", _dropout_layer, _refuse_wrong_dout),
]


@pytest.mark.parametrize("name, build, refuse", STATEFUL, ids=[s[0] for s in STATEFUL])
def test_a_refused_call_leaves_the_object_as_a_deep_copy_of_it_before(name, build, refuse):
    obj = build()
    before = copy.deepcopy(obj)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises((ValueError, TypeError)):
            refuse(obj)
    assert _snapshot(obj) == _snapshot(before), f"{name}: the refused call changed the state"


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(STATEFUL[:4]), st.integers(0, 2**16))
def test_refused_training_calls_change_nothing_for_any_seed(case, seed):
    name, _, refuse = case
    model = rnp.make_mlp(4, (6,), 3, dropout=0.3, batchnorm=True, seed=seed)
    X, y = _clf_data()
    rnp.fit_classifier(model, X, y, epochs=1, batch_size=4, lr=0.01, seed=seed)
    before = copy.deepcopy(model)
    with pytest.raises((ValueError, TypeError)):
        refuse(model)
    assert _snapshot(model) == _snapshot(before), name


# --- the defects the survey found, one call each ------------------------------------

def _torch():
    return regbook.backends.get("torch")


def _dropout_eval_cache():
    _, cache = rnp.dropout_forward(np.ones((3, 4)), 0.5, rng=None, training=False)
    return cache


def _dropout_train_cache():
    _, cache = rnp.dropout_forward(np.ones((3, 4)), 0.5, rng=np.random.default_rng(0))
    return cache


NAMED_DEFECTS = [
    # name, call, error type, the words the message must hold
    ("fractional labels", lambda: rnp.fit_classifier(
        rnp.make_mlp(4, (5,), 3), _clf_data()[0], np.full(12, 1.5), epochs=1),
     (ValueError, TypeError), "y_train"),
    ("hidden=8", lambda: rnp.make_mlp(4, 8, 3), TypeError, "hidden"),
    ("lasso lam=inf", lambda: rnp.lasso(*_regression(), math.inf), ValueError, "lam"),
    ("rescale_lam to_form", lambda: regbook.convert.rescale_lam(
        0.1, from_form="lam", to_form="nope"), ValueError, "to_form"),
    ("rescale_lam from_form", lambda: regbook.convert.rescale_lam(
        0.1, from_form="book", to_form="lam"), ValueError, "from_form"),
    ("dropout_backward wrong dout, eval cache",
     lambda: rnp.dropout_backward(np.ones((5, 5)), _dropout_eval_cache()), ValueError, "dout"),
    ("batchnorm_backward given a dropout cache",
     lambda: rnp.batchnorm_backward(np.ones((3, 4)), _dropout_train_cache()),
     (ValueError, TypeError), "cache"),
    ("conv1d_backward given a dropout cache",
     lambda: rnp.conv1d_backward(np.ones((3, 4)), _dropout_train_cache()),
     (ValueError, TypeError), "cache"),
    ("numerical_gradient h=0", lambda: rnp.numerical_gradient(
        lambda v: float(v.sum()), np.ones(2), h=0.0), ValueError, "h"),
    ("torch fit_classifier label out of range", lambda: _torch().fit_classifier(
        _torch().make_mlp(4, (5,), 3), _clf_data()[0], np.full(12, 5), epochs=1),
     ValueError, "y_train"),
    ("torch fit_classifier wrong feature count", lambda: _torch().fit_classifier(
        _torch().make_mlp(5, (5,), 3), *_clf_data(), epochs=1), ValueError, "X_train"),
    ("torch fit_classifier given a NumPy model", lambda: _torch().fit_classifier(
        rnp.make_mlp(4, (5,), 3), *_clf_data(), epochs=1), TypeError, "model"),
    ("torch Dropout given a NumPy array", lambda: _torch().Dropout(0.5)(np.ones((2, 2))),
     TypeError, "numpy"),
    ("ablation_table given raw rows", lambda: regbook.ablation.ablation_table(
        [{"setting": "none", "seed": 0, "test_accuracy": 0.5}]), (ValueError, TypeError),
     "summar"),
]


@pytest.mark.parametrize("name, call, error, words", NAMED_DEFECTS,
                         ids=[d[0] for d in NAMED_DEFECTS])
def test_the_surveyed_defects_are_clear_errors(name, call, error, words):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(error) as info:
            call()
    assert words in str(info.value), f"{name}: {info.value!r}"


def test_numerical_gradient_restores_x_when_f_fails():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("f failed")
        return float(v.sum())

    with pytest.raises(RuntimeError):
        rnp.numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
