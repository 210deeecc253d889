"""regbook.torch's ablation runner: each setting switches on its regularizer, runs are
deterministic, the tidy table and its summary are right, and bad arguments are refused."""

import math

import numpy as np
import pytest

from regbook import EarlyStopping, convert, data

torch = pytest.importorskip("torch")
rtorch = pytest.importorskip("regbook.torch")
from regbook.torch.ablation import (  # noqa: E402
    Setting,
    ablation_grid,
    ablation_table,
    build_setting,
    make_regularized_mlp,
    run_ablation,
    summarize_ablation,
    train_setting,
)

FAST = dict(hidden=(16,), epochs=4, lr=1e-2, batch_size=25)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def split():
    return data.digits_split(n_train=50)


@pytest.fixture(scope="module")
def tiny_rows(split):
    settings = [Setting("none"), Setting("dropout", dropout=0.5)]
    return run_ablation(settings, split, seeds=[0, 1], **FAST)


# --- the grid and the settings -------------------------------------------------------------

def test_the_default_grid_has_every_regularizer_alone_and_the_combinations():
    grid = {s.name: s for s in ablation_grid(lam2=1e-3, lam1=1e-4, dropout=0.5, patience=10)}
    assert list(grid) == ["none", "L2", "L1", "dropout", "batch norm", "early stopping",
                          "L2+dropout", "dropout+ES", "L2+dropout+ES", "BN+dropout"]
    assert grid["none"] == Setting("none")
    assert grid["L2"].lam2 == 1e-3 and grid["L1"].lam1 == 1e-4
    assert grid["L2+dropout+ES"] == Setting("L2+dropout+ES", lam2=1e-3, dropout=0.5, patience=10)
    assert grid["BN+dropout"].batchnorm and grid["BN+dropout"].dropout == 0.5


def test_dropout_setting_has_a_dropout_layer_and_no_other_does():
    model, _, _ = build_setting(Setting("d", dropout=0.3), 64, hidden=(8, 8))
    drops = [m for m in model if isinstance(m, torch.nn.Dropout)]
    assert len(drops) == 2 and all(d.p == 0.3 for d in drops)
    plain, _, _ = build_setting(Setting("none"), 64, hidden=(8, 8))
    assert not any(isinstance(m, (torch.nn.Dropout, torch.nn.BatchNorm1d)) for m in plain)


def test_batchnorm_setting_puts_batchnorm_between_linear_and_relu():
    model, _, _ = build_setting(Setting("bn", batchnorm=True), 64, hidden=(8,))
    assert [type(m) for m in model] == [torch.nn.Linear, torch.nn.BatchNorm1d, torch.nn.ReLU,
                                        torch.nn.Linear]


def test_every_setting_starts_from_the_weights_of_make_mlp():
    reference = rtorch.make_mlp(64, hidden=(8,), seed=3)
    model = make_regularized_mlp(64, (8,), dropout=0.5, batchnorm=True, seed=3)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for ours, theirs in zip(linears, [reference[0], reference[2]]):
        torch.testing.assert_close(ours.weight, theirs.weight, rtol=0, atol=0)
        torch.testing.assert_close(ours.bias, theirs.bias, rtol=0, atol=0)


def test_l2_setting_decays_the_weights_only_by_the_converted_strength():
    model, opt, _ = build_setting(Setting("L2", lam2=2e-3, batchnorm=True), 64, hidden=(8,))
    decayed, not_decayed = opt.param_groups
    assert decayed["weight_decay"] == convert.torch_weight_decay(2e-3) == 2e-3
    assert not_decayed["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(model[0].weight), id(model[3].weight)}
    assert len(not_decayed["params"]) == 4  # two biases, gamma, beta
    _, plain_opt, _ = build_setting(Setting("none"), 64, hidden=(8,))
    assert all(g["weight_decay"] == 0.0 for g in plain_opt.param_groups)


def test_early_stopping_setting_gets_a_restoring_stopper_with_its_patience():
    _, _, stopper = build_setting(Setting("es", patience=7), 64, hidden=(8,))
    assert isinstance(stopper, EarlyStopping)
    assert stopper.patience == 7 and stopper.restore_best_weights
    assert build_setting(Setting("none"), 64, hidden=(8,))[2] is None


@pytest.mark.parametrize("penalty, norm", [
    ("lam1", lambda w: w.abs().sum()),
    ("lam2", lambda w: w.pow(2).sum()),
])
def test_a_penalty_shrinks_the_weights_it_penalises(split, penalty, norm):
    def weight_norm(setting):
        _, model = train_setting(setting, split, seed=0, return_model=True, **FAST)
        return sum(norm(m.weight).item() for m in model if isinstance(m, torch.nn.Linear))
    assert weight_norm(Setting("p", **{penalty: 0.05})) < 0.9 * weight_norm(Setting("none"))


def test_early_stopping_stops_and_restores_the_weights_of_the_best_epoch(split):
    # lr 0.05 over-trains fast: the validation loss turns up and patience 2 stops the run
    kwargs = dict(FAST, epochs=60, lr=0.05)
    row, stopped = train_setting(Setting("es", patience=2), split, seed=0, return_model=True,
                                 **kwargs)
    assert row["epochs"] < 60
    # the best epoch is `patience` epochs before the stop; a plain run of that length is the
    # same run (same batches, same Adam state), so its weights are the restored ones
    _, plain = train_setting(Setting("none"), split, seed=0, return_model=True,
                             **dict(kwargs, epochs=row["epochs"] - 2))
    for a, b in zip(stopped.state_dict().values(), plain.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# --- runs, rows and determinism ------------------------------------------------------------

def test_a_tiny_grid_gives_one_tidy_row_per_setting_and_seed(tiny_rows):
    assert [(r["setting"], r["seed"]) for r in tiny_rows] == [
        ("none", 0), ("none", 1), ("dropout", 0), ("dropout", 1)]
    for r in tiny_rows:
        assert set(r) == {"setting", "seed", "train_accuracy", "val_accuracy", "test_accuracy",
                          "gap", "train_loss", "test_loss", "epochs"}
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["epochs"] == FAST["epochs"]
        assert math.isclose(r["gap"], r["train_accuracy"] - r["test_accuracy"])


def test_the_same_seed_gives_the_same_numbers(split, tiny_rows):
    again = run_ablation([Setting("none"), Setting("dropout", dropout=0.5)], split,
                         seeds=[0, 1], **FAST)
    assert again == tiny_rows


def test_different_seeds_give_different_networks(tiny_rows):
    assert tiny_rows[0]["test_loss"] != tiny_rows[1]["test_loss"]


def test_a_split_function_is_called_once_per_seed(split):
    calls = []

    def make_split(seed):
        calls.append(seed)
        return split

    rows = run_ablation([Setting("a"), Setting("b", lam2=1e-3)], make_split, seeds=[4, 2],
                        **dict(FAST, epochs=1))
    assert calls == [4, 2] and [r["seed"] for r in rows] == [4, 2, 4, 2]


# --- summary and table ---------------------------------------------------------------------

def _row(setting, seed, acc, loss=0.5, train=1.0):
    return dict(setting=setting, seed=seed, train_accuracy=train, val_accuracy=acc,
                test_accuracy=acc, gap=train - acc, train_loss=0.0, test_loss=loss, epochs=10)


def test_summary_gives_sample_mean_and_std_and_paired_differences():
    rows = [_row("none", 0, 0.90, 0.4), _row("none", 1, 0.80, 0.6),
            _row("x", 0, 0.93, 0.3), _row("x", 1, 0.85, 0.4)]
    none, x = summarize_ablation(rows)
    assert (none["setting"], x["setting"], x["n_seeds"]) == ("none", "x", 2)
    assert math.isclose(x["test_accuracy_mean"], 0.89)
    assert math.isclose(x["test_accuracy_std"], np.std([0.93, 0.85], ddof=1))
    assert math.isclose(x["delta_accuracy_mean"], 0.04)
    assert math.isclose(x["delta_accuracy_std"], np.std([0.03, 0.05], ddof=1))
    assert math.isclose(x["delta_loss_mean"], -0.15)
    assert none["delta_accuracy_mean"] == none["delta_accuracy_std"] == 0.0
    assert "delta_accuracy_mean" not in summarize_ablation(rows, baseline=None)[0]


def test_the_table_has_a_header_and_one_line_per_setting(tiny_rows):
    table = ablation_table(summarize_ablation(tiny_rows))
    lines = table.splitlines()
    assert lines[0].startswith("| setting | test accuracy (%)") and set(lines[1]) <= set("|-")
    assert len(lines) == 4 and lines[2].startswith("| none |") and lines[3].startswith(
        "| dropout |")
    s = summarize_ablation(tiny_rows)[1]
    assert f"{100 * s['test_accuracy_mean']:.1f} ± {100 * s['test_accuracy_std']:.1f}" in lines[3]


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


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(seed=-1), ValueError, "seed"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(batch_size=1), ValueError, "batch_size"),
    (dict(return_model=1), TypeError, "return_model"),
])
def test_train_setting_refuses_bad_arguments(split, kwargs, error, match):
    with pytest.raises(error, match=match):
        train_setting(Setting("none"), split, **kwargs)


def test_train_setting_needs_a_setting_and_a_split(split):
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
    ([Setting("a")], dict(seeds=[-1]), ValueError, "seeds"),
    ([Setting("a")], dict(momentum=0.9), TypeError, "momentum"),
])
def test_run_ablation_checks_everything_before_training(split, settings, kwargs, error, match):
    with pytest.raises(error, match=match):
        run_ablation(settings, split, **kwargs)


def test_run_ablation_refuses_a_split_function_returning_something_else(split):
    with pytest.raises(TypeError, match="split"):
        run_ablation([Setting("a")], lambda seed: None, seeds=[0])
    with pytest.raises(TypeError, match="split"):
        run_ablation([Setting("a")], "digits", seeds=[0])


def test_summary_refuses_an_unknown_baseline_and_foreign_rows(tiny_rows):
    with pytest.raises(ValueError, match="baseline"):
        summarize_ablation(tiny_rows, baseline="L2")
    with pytest.raises(ValueError, match="rows"):
        summarize_ablation([{"setting": "x"}])
    with pytest.raises(ValueError, match="rows"):
        summarize_ablation([])
    unpaired = tiny_rows[:1] + [dict(tiny_rows[2], seed=7)]
    with pytest.raises(ValueError, match="seeds"):
        summarize_ablation(unpaired)
