"""regbook.ablation: each setting reaches the backend's make_mlp/make_cnn and fit_classifier,
run_ablation's stacked seeds (fit_seeds, early stopping from the histories) are the single runs,
runs are deterministic and alike in every backend, the tidy table, its summary and the paired
intervals are right, and bad arguments are refused before anything trains."""

import copy
import math
import subprocess
import sys

import numpy as np
import pytest

from regbook import EarlyStopping, calibration, data
from regbook._training import minibatches
from regbook.ablation import (
    Setting,
    ablation_grid,
    ablation_table,
    paired_effects,
    run_ablation,
    summarize_ablation,
    train_setting,
)

FAST = dict(hidden=(16,), epochs=4, lr=1e-2, batch_size=25)
ROW_KEYS = {"setting", "backend", "seed", "train_accuracy", "val_accuracy", "test_accuracy",
            "gap", "train_loss", "test_loss", "test_ece", "test_confidence", "epochs"}


@pytest.fixture(scope="module")
def split():
    return data.digits_split(n_train=50)


@pytest.fixture(scope="module")
def rtorch(one_torch_thread):
    return pytest.importorskip("regbook.torch")


@pytest.fixture(scope="module")
def tiny_rows(split, rtorch):
    settings = [Setting("none"), Setting("dropout", dropout=0.5)]
    return run_ablation(settings, split, backend="torch", seeds=[0, 1], **FAST)


def _weights(rtorch, model) -> list[np.ndarray]:
    return [w.detach().numpy().copy() for w in rtorch.split_decay_params(model)[0]]


def test_the_runner_imports_no_framework():
    code = ("import sys, regbook.ablation; print(sorted(m for m in ('torch', 'tensorflow', "
            "'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the grid and the settings -------------------------------------------------------------

def test_the_default_grid_has_every_regularizer_alone_and_the_combinations():
    grid = {s.name: s for s in ablation_grid(lam2=1e-3, dropout=0.2, patience=5)}
    assert list(grid) == ["none", "L2", "dropout", "batch norm", "early stopping", "L2+dropout",
                          "dropout+ES"]
    assert grid["none"] == Setting("none") and grid["L2"] == Setting("L2", lam2=1e-3)
    assert grid["batch norm"] == Setting("batch norm", batchnorm=True)
    assert grid["dropout+ES"] == Setting("dropout+ES", dropout=0.2, patience=5)


def test_the_extended_grid_adds_l1_and_the_larger_combinations():
    grid = {s.name: s for s in ablation_grid(lam2=1e-3, lam1=1e-4, dropout=0.5, patience=10,
                                             extended=True)}
    assert list(grid) == ["none", "L2", "L1", "dropout", "batch norm", "early stopping",
                          "L2+dropout", "dropout+ES", "L2+dropout+ES", "BN+dropout"]
    assert grid["L1"].lam1 == 1e-4
    assert grid["L2+dropout+ES"] == Setting("L2+dropout+ES", lam2=1e-3, dropout=0.5, patience=10)
    assert grid["BN+dropout"].batchnorm and grid["BN+dropout"].dropout == 0.5


@pytest.mark.parametrize("setting", [
    Setting("all", lam2=2e-3, lam1=1e-4, dropout=0.3, batchnorm=True, patience=3),
    Setting("none"),
])
def test_a_setting_reaches_the_backends_make_mlp_and_fit_classifier(split, rtorch, monkeypatch,
                                                                     setting):
    calls = {}

    def spy(name):
        real = getattr(rtorch, name)

        def wrapper(*args, **kwargs):
            calls[name] = (args, kwargs)
            return real(*args, **kwargs)
        return wrapper

    for name in ("make_mlp", "fit_classifier"):
        monkeypatch.setattr(rtorch, name, spy(name))
    train_setting(setting, split, backend="torch", seed=5, hidden=[16], epochs=1, lr=2e-2,
                  batch_size=25)
    assert calls["make_mlp"] == ((64, (16,), 10), dict(dropout=setting.dropout,
                                                       batchnorm=setting.batchnorm, seed=5,
                                                       dtype="float32"))
    args, kwargs = calls["fit_classifier"]
    np.testing.assert_array_equal(args[1], split.X_train)
    np.testing.assert_array_equal(kwargs["X_val"], split.X_val)
    stopper = kwargs.pop("early_stopping")
    assert {k: kwargs[k] for k in ("optimizer", "lr", "lam1", "lam2", "epochs", "batch_size",
                                   "seed")} == dict(optimizer="adam", lr=2e-2, lam1=setting.lam1,
                                                    lam2=setting.lam2, epochs=1, batch_size=25,
                                                    seed=5)
    if setting.patience is None:
        assert stopper is None
    else:
        assert isinstance(stopper, EarlyStopping)
        assert stopper.patience == setting.patience and stopper.restore_best_weights


def test_every_setting_starts_from_the_weights_of_the_plain_network(rtorch):
    # the paired comparison's premise: dropout and batch norm do not change the drawn weights
    plain = rtorch.make_mlp(64, (8,), 10, seed=3)
    regularized = rtorch.make_mlp(64, (8,), 10, dropout=0.5, batchnorm=True, seed=3)
    for ours, theirs in zip(_weights(rtorch, regularized), _weights(rtorch, plain), strict=True):
        np.testing.assert_array_equal(ours, theirs)


# --- training ------------------------------------------------------------------------------

@pytest.mark.parametrize("penalty, norm", [
    ("lam1", lambda w: np.abs(w).sum()),
    ("lam2", lambda w: np.square(w).sum()),
])
def test_a_penalty_shrinks_the_weights_it_penalises(split, rtorch, penalty, norm):
    def weight_norm(setting):
        _, model = train_setting(setting, split, seed=0, return_model=True, **FAST)
        return sum(norm(w) for w in _weights(rtorch, model))
    assert weight_norm(Setting("p", **{penalty: 0.05})) < 0.9 * weight_norm(Setting("none"))


def test_an_l2_setting_is_torch_fit_classifier_with_lam2(split, rtorch):
    row, model = train_setting(Setting("L2", lam2=1e-2), split, backend="torch", seed=2,
                               return_model=True, **FAST)
    direct = rtorch.make_mlp(64, FAST["hidden"], 10, seed=2)
    rtorch.fit_classifier(direct, split.X_train, split.y_train, X_val=split.X_val,
                          y_val=split.y_val, optimizer="adam", lr=FAST["lr"], lam2=1e-2,
                          epochs=FAST["epochs"], batch_size=FAST["batch_size"], seed=2)
    for a, b in zip(model.state_dict().values(), direct.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert row["test_loss"] == rtorch.evaluate_classifier(direct, split.X_test, split.y_test)[0]


def test_lam2_in_the_loss_is_the_former_runners_coupled_adam_weight_decay(split, rtorch):
    # the former regbook.torch.ablation trained with Adam(weight_decay=lam2) on the weights
    import torch

    lam2, lr, epochs, batch_size = 1e-2, 1e-2, 3, 25
    row, model = train_setting(Setting("L2", lam2=lam2), split, seed=0, return_model=True,
                               hidden=(16,), epochs=epochs, lr=lr, batch_size=batch_size)
    old = rtorch.make_mlp(64, (16,), 10, seed=0)
    opt = torch.optim.Adam(rtorch.param_groups(old, lam2), lr=lr)
    X, y = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        for idx in minibatches(rng.permutation(len(y)), batch_size):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(old(X[idx]), y[idx]).backward()
            opt.step()
    for a, b in zip(model.state_dict().values(), old.state_dict().values(), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-5)


def test_early_stopping_stops_and_restores_the_weights_of_the_best_epoch(split, rtorch):
    # lr 0.05 over-trains fast: the validation loss turns up and patience 2 stops the run
    kwargs = dict(FAST, epochs=60, lr=0.05)
    row, stopped = train_setting(Setting("es", patience=2), split, seed=0, return_model=True,
                                 **kwargs)
    assert row["epochs"] < 60
    # the best epoch is `patience` epochs before the stop; a plain run of that length is the
    # same run (same batches, same Adam state), so its weights are the restored ones
    _, plain = train_setting(Setting("none"), split, seed=0, return_model=True,
                             **dict(kwargs, epochs=row["epochs"] - 2))
    for a, b in zip(stopped.state_dict().values(), plain.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_numpy_and_torch_give_rows_of_the_same_shape(split, rtorch):
    import regbook.np as rnp  # NumPy is always there: no skip
    setting = Setting("BN+dropout", dropout=0.5, batchnorm=True, lam2=1e-3)
    rows = {b: train_setting(setting, split, backend=b, seed=1, **dict(FAST, epochs=2))
            for b in ("np", "torch")}
    assert set(rows["np"]) == set(rows["torch"]) == ROW_KEYS
    assert (rows["np"]["backend"], rows["torch"]["backend"]) == ("np", "torch")
    for row in rows.values():
        assert row["epochs"] == 2 and 0.0 <= row["test_accuracy"] <= 1.0
    assert train_setting(setting, split, backend=rnp, seed=1, **dict(FAST, epochs=2)) == rows["np"]


# --- runs, rows and determinism ------------------------------------------------------------

def test_a_tiny_grid_gives_one_tidy_row_per_setting_and_seed(tiny_rows):
    assert [(r["setting"], r["seed"]) for r in tiny_rows] == [
        ("none", 0), ("none", 1), ("dropout", 0), ("dropout", 1)]
    for r in tiny_rows:
        assert set(r) == ROW_KEYS and r["backend"] == "torch"
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["epochs"] == FAST["epochs"]
        assert math.isclose(r["gap"], r["train_accuracy"] - r["test_accuracy"])


def test_the_same_seed_gives_the_same_numbers(split, tiny_rows):
    again = run_ablation([Setting("none"), Setting("dropout", dropout=0.5)], split,
                         seeds=[0, 1], **FAST)
    assert again == tiny_rows


def test_different_seeds_give_different_networks(tiny_rows):
    assert tiny_rows[0]["test_loss"] != tiny_rows[1]["test_loss"]


def test_a_split_function_is_called_once_per_seed(split, rtorch):
    calls = []

    def make_split(seed):
        calls.append(seed)
        return split

    rows = run_ablation([Setting("a"), Setting("b", lam2=1e-3)], make_split, seeds=[4, 2],
                        **dict(FAST, epochs=1))
    assert calls == [4, 2] and [r["seed"] for r in rows] == [4, 2, 4, 2]


# --- summary and table ---------------------------------------------------------------------

def _row(setting, seed, acc, loss=0.5, train=1.0, ece=0.1):
    return dict(setting=setting, backend="np", seed=seed, train_accuracy=train,
                val_accuracy=acc, test_accuracy=acc, gap=train - acc, train_loss=0.0,
                test_loss=loss, test_ece=ece, test_confidence=0.9, epochs=10)


ROWS = [_row("none", 0, 0.90, 0.4), _row("none", 1, 0.80, 0.6),
        _row("x", 0, 0.93, 0.3), _row("x", 1, 0.85, 0.4)]


def test_summary_gives_sample_mean_and_std_and_paired_differences():
    none, x = summarize_ablation(ROWS)
    assert (none["setting"], x["setting"], x["n_seeds"]) == ("none", "x", 2)
    assert math.isclose(x["test_accuracy_mean"], 0.89)
    assert math.isclose(x["test_accuracy_std"], np.std([0.93, 0.85], ddof=1))
    assert math.isclose(x["delta_accuracy_mean"], 0.04)
    assert math.isclose(x["delta_accuracy_std"], np.std([0.03, 0.05], ddof=1))
    assert math.isclose(x["delta_loss_mean"], -0.15)
    assert math.isclose(x["delta_gap_mean"], -0.04) and x["delta_ece_mean"] == 0.0
    assert none["delta_accuracy_mean"] == none["delta_accuracy_std"] == 0.0
    assert "delta_accuracy_mean" not in summarize_ablation(ROWS, baseline=None)[0]


def test_the_table_has_a_header_and_one_line_per_setting():
    summary = summarize_ablation(ROWS)
    lines = ablation_table(summary).splitlines()
    assert lines[0].startswith("| setting | test accuracy (%) | test loss | ECE (%)")
    assert set(lines[1]) <= set("|-") and len(lines) == 4
    assert lines[2].startswith("| none | 85.0 | 0.500 | 10.0 | 15.0 | 10 | – | – | – |")
    lo, hi = paired_interval_of([0.93, 0.85], [0.90, 0.80])
    assert lines[3].startswith("| x | 89.0 | 0.350 |")
    assert f"| +4.0 [{100 * lo:+.1f}, {100 * hi:+.1f}] |" in lines[3]
    assert "±" not in "\n".join(lines)                   # no standard deviations in the table
    assert "Δ" not in ablation_table(summarize_ablation(ROWS, baseline=None))


def paired_interval_of(a, b):
    from regbook.stats import paired_interval
    return paired_interval(a, b).low, paired_interval(a, b).high


def test_the_table_refuses_raw_rows_and_the_summary_refuses_summaries():
    with pytest.raises(ValueError, match=r"summary\[0\] lacks .*pass summarize_ablation"):
        ablation_table(ROWS)
    with pytest.raises(ValueError, match=r"rows\[0\] lacks .*pass the rows of run_ablation"):
        summarize_ablation(summarize_ablation(ROWS))
    with pytest.raises(TypeError, match="summary must hold dicts"):
        ablation_table("none")
    with pytest.raises(ValueError, match="summary must not be empty"):
        ablation_table([])


# --- argument validation -------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(name=""), "name"),
    (dict(name="x", lam2=-1.0), "lam2"),
    (dict(name="x", lam1=float("nan")), "lam1"),
    (dict(name="x", dropout=1.0), "dropout"),
    (dict(name="x", patience=-1), "patience"),
])
def test_a_setting_refuses_out_of_range_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Setting(**kwargs)


def test_a_setting_refuses_a_non_bool_batchnorm():
    with pytest.raises(TypeError, match="batchnorm"):
        Setting("x", batchnorm=1)


@pytest.fixture
def no_training(rtorch, monkeypatch):
    """regbook.torch's make_mlp fails the test if called: the refusal came before any run."""
    def make_mlp(*args, **kwargs):
        raise AssertionError("a network was built before the bad argument was refused")
    monkeypatch.setattr(rtorch, "make_mlp", make_mlp)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(backend="jax"), ValueError, "backend must be one of"),
    (dict(backend=np), ValueError, "backend must be one of"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(hidden="16"), TypeError, "hidden"),
    (dict(hidden=(16, 0)), ValueError, r"hidden\[1\]"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(batch_size=1), ValueError, "batch_size"),
    (dict(return_model=1), TypeError, "return_model"),
    (dict(model="rnn"), ValueError, "model"),
    (dict(model="cnn", hidden=(16,)), ValueError, "hidden"),
    (dict(dtype="float16"), ValueError, "dtype"),
])
def test_train_setting_refuses_bad_arguments(split, no_training, kwargs, error, match):
    with pytest.raises(error, match=match):
        train_setting(Setting("none"), split, **kwargs)


def test_train_setting_needs_a_setting_and_a_split(split, no_training):
    with pytest.raises(TypeError, match="setting"):
        train_setting({"name": "none"}, split)
    with pytest.raises(TypeError, match="split"):
        train_setting(Setting("none"), (split.X_train, split.y_train))


@pytest.mark.parametrize("settings, kwargs, error, match", [
    ([], {}, ValueError, "settings"),
    ([Setting("a"), Setting("a")], {}, ValueError, "unique"),
    (["none"], {}, TypeError, "Setting"),
    ([Setting("a")], dict(seeds=[]), ValueError, "seeds"),
    ([Setting("a")], dict(seeds=[1, 1]), ValueError, "unique"),
    ([Setting("a")], dict(seeds=[0, -1]), ValueError, r"seeds\[1\]"),
    ([Setting("a")], dict(momentum=0.9), TypeError, "momentum"),
    ([Setting("a")], dict(backend="jax"), ValueError, "backend"),
    ([Setting("a"), Setting("b")], dict(epochs=0), ValueError, "epochs"),
    ([Setting("a"), Setting("b")], dict(hidden=(0,)), ValueError, r"hidden\[0\]"),
    ([Setting("a")], dict(model="resnet"), ValueError, "model"),
])
def test_run_ablation_checks_everything_before_training(split, no_training, settings, kwargs,
                                                        error, match):
    with pytest.raises(error, match=match):
        run_ablation(settings, split, **kwargs)


def test_run_ablation_refuses_a_split_function_returning_something_else(split, no_training):
    with pytest.raises(TypeError, match=r"split\(1\) must be a regbook.data.Split"):
        run_ablation([Setting("a")], lambda seed: split if seed == 0 else None, seeds=[0, 1])
    with pytest.raises(TypeError, match="split"):
        run_ablation([Setting("a")], "digits", seeds=[0])


def test_summary_refuses_an_unknown_baseline_and_foreign_rows():
    with pytest.raises(ValueError, match="baseline"):
        summarize_ablation(ROWS, baseline="L2")
    with pytest.raises(ValueError, match="rows"):
        summarize_ablation([{"setting": "x"}])
    with pytest.raises(ValueError, match="rows"):
        summarize_ablation([])
    with pytest.raises(ValueError, match="seeds"):
        summarize_ablation(ROWS[:3] + [dict(ROWS[3], seed=7)])


def test_summary_refuses_a_setting_twice_per_seed_or_from_two_backends():
    twice = ROWS + [copy.deepcopy(ROWS[0])]
    other_backend = ROWS[:3] + [dict(ROWS[3], backend="torch")]
    for rows in (twice, other_backend):
        with pytest.raises(ValueError, match="one backend's run_ablation at a time"):
            summarize_ablation(rows)


def test_summary_gives_the_paired_95_percent_interval_to_the_baseline():
    from regbook.stats import paired_interval

    rows = []
    for seed, (base, other) in enumerate([(0.80, 0.83), (0.82, 0.84), (0.79, 0.83)]):
        for name, acc in (("none", base), ("L2", other)):
            rows.append(dict(setting=name, seed=seed, train_accuracy=1.0, val_accuracy=acc,
                             test_accuracy=acc, gap=1.0 - acc, train_loss=0.1, test_loss=1 - acc,
                             test_ece=0.1, test_confidence=0.9, epochs=5, backend="np"))
    summary = {s["setting"]: s for s in summarize_ablation(rows)}
    want = paired_interval([0.83, 0.84, 0.83], [0.80, 0.82, 0.79])
    assert summary["L2"]["delta_accuracy_low"] == pytest.approx(want.low)
    assert summary["L2"]["delta_accuracy_high"] == pytest.approx(want.high)
    assert "delta_accuracy_low" not in summary["none"]


def test_paired_effects_are_the_paired_intervals_of_every_setting_to_the_baseline():
    from regbook.stats import paired_interval

    rows = [_row(name, seed, acc, loss=1 - acc, ece=ece)
            for seed, accs in enumerate([(0.80, 0.83, 0.79), (0.82, 0.84, 0.80),
                                         (0.79, 0.83, 0.80)])
            for name, acc, ece in zip(("none", "a", "b"), accs, (0.2, 0.1, 0.3))]
    effects = paired_effects(rows, "test_accuracy")
    assert list(effects) == ["a", "b"]
    assert effects["a"] == paired_interval([0.83, 0.84, 0.83], [0.80, 0.82, 0.79])
    ece = paired_effects(rows, "test_ece", baseline="a", level=0.9)
    assert list(ece) == ["none", "b"] and ece["b"].level == 0.9
    assert ece["b"].mean == pytest.approx(0.2)
    with pytest.raises(ValueError, match="baseline"):
        paired_effects(rows, baseline="c")
    with pytest.raises(ValueError, match="lacks the keys"):
        paired_effects(rows, "test_nll")


# --- the CNN and the stacked seeds (NumPy backend) -----------------------------------------

NP_FAST = dict(epochs=4, lr=1e-2, batch_size=50)


@pytest.fixture(scope="module")
def small_mnist1d():
    return data.mnist1d(n_val=100, n_train=200)


def test_a_cnn_setting_reaches_the_backends_make_cnn(small_mnist1d, monkeypatch):
    import regbook.np as rnp
    calls = []
    real = rnp.make_cnn

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(rnp, "make_cnn", spy)
    setting = Setting("BN+dropout", dropout=0.2, batchnorm=True)
    row = train_setting(setting, small_mnist1d, backend="np", model="cnn", seed=3,
                        **dict(NP_FAST, epochs=1))
    assert calls == [((40, 10), dict(dropout=0.2, batchnorm=True, seed=3, dtype="float32"))]
    assert set(row) == ROW_KEYS and row["epochs"] == 1


def test_a_row_measures_the_calibration_of_the_test_logits(small_mnist1d):
    import regbook.np as rnp
    row, model = train_setting(Setting("none"), small_mnist1d, backend="np", model="cnn",
                               seed=0, return_model=True, **NP_FAST)
    logits = rnp.predict_logits(model, small_mnist1d.X_test)
    assert row["test_ece"] == pytest.approx(
        calibration.expected_calibration_error(logits, small_mnist1d.y_test))
    assert row["test_confidence"] == pytest.approx(calibration.softmax(logits).max(1).mean())
    assert row["test_loss"] == pytest.approx(
        calibration.negative_log_likelihood(logits, small_mnist1d.y_test), rel=1e-5)


@pytest.fixture(scope="module")
def stacked_and_single(small_mnist1d):
    # patience 1 with a fast learning rate: the validation loss turns up and the runs stop
    settings = [Setting("none"), Setting("dropout", dropout=0.3),
                Setting("es", patience=1), Setting("dropout+ES", dropout=0.3, patience=1)]
    kwargs = dict(model="cnn", epochs=12, lr=3e-2, batch_size=50, dtype="float64")
    stacked = run_ablation(settings, small_mnist1d, backend="np", seeds=[0, 1, 2], **kwargs)
    single = [train_setting(s, small_mnist1d, backend="np", seed=seed, **kwargs)
              for s in settings for seed in (0, 1, 2)]
    return stacked, single


def test_run_ablation_trains_the_seeds_together_as_single_runs_would(stacked_and_single):
    stacked, single = stacked_and_single
    assert [(r["setting"], r["seed"]) for r in stacked] == [
        (r["setting"], r["seed"]) for r in single]
    for ours, theirs in zip(stacked, single, strict=True):
        assert ours["epochs"] == theirs["epochs"], (ours["setting"], ours["seed"])
        for key in ROW_KEYS - {"setting", "backend", "seed", "epochs"}:
            assert ours[key] == pytest.approx(theirs[key], abs=1e-8), (ours["setting"], key)


def test_early_stopping_in_run_ablation_stops_and_keeps_the_best_epoch(stacked_and_single):
    stacked, _ = stacked_and_single
    es = [r for r in stacked if r["setting"] == "es"]
    plain = [r for r in stacked if r["setting"] == "none"]
    assert any(r["epochs"] < 12 for r in es)               # the runs did stop early
    assert all(r["epochs"] == 12 for r in plain)
    assert [r["test_loss"] for r in es] != [r["test_loss"] for r in plain]


def test_an_early_stopping_setting_shares_the_run_of_its_twin(small_mnist1d, monkeypatch):
    import regbook.np as rnp
    calls = []
    real = rnp.fit_seeds

    def spy(*args, **kwargs):
        calls.append(dict(seeds=list(kwargs["seeds"]), epochs=kwargs["epochs"],
                          validation="X_val" in kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(rnp, "fit_seeds", spy)
    rows = run_ablation([Setting("none"), Setting("es", patience=1), Setting("L2", lam2=1e-3)],
                        small_mnist1d, backend="np", seeds=[0, 1], model="cnn",
                        **dict(NP_FAST, epochs=8, lr=3e-2))
    # one stacked run of none (with the validation data early stopping needs), one of L2
    # (without: nothing stops on it); no second run of none for "es", only its seeds retrained
    # to their best epoch (a seed whose best epoch is the last keeps the long run's network)
    assert [c for c in calls if c["epochs"] == 8] == [
        dict(seeds=[0, 1], epochs=8, validation=True),
        dict(seeds=[0, 1], epochs=8, validation=False)]
    retrained = [c for c in calls if c["epochs"] < 8]
    assert all(not c["validation"] for c in retrained)
    seeds = [s for c in retrained for s in c["seeds"]]
    assert len(seeds) == len(set(seeds)) and set(seeds) <= {0, 1}
    assert [r["setting"] for r in rows] == ["none", "none", "es", "es", "L2", "L2"]
