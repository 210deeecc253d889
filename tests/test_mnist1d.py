"""MNIST-1D: regbook.data.mnist1d is the mnist1d package's own data set, built offline."""

import random
import socket
import urllib.request

import numpy as np
import pytest

from regbook import data

mnist1d_data = pytest.importorskip("mnist1d.data")


@pytest.fixture(scope="module")
def package_dataset():
    """The package's arrays, built here independently of regbook (its own seeding)."""
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        plain = mnist1d_data.make_dataset(mnist1d_data.get_dataset_args())
        args = mnist1d_data.get_dataset_args()
        args.shuffle_seq = True
        shuffled = mnist1d_data.make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return plain, shuffled


def _column_permutation(shuffled, plain):
    """The column of ``plain`` that each column of ``shuffled`` equals (-1 if none does)."""
    match = np.all(shuffled[:, :, None] == plain[:, None, :], axis=0)     # (40, 40)
    return np.where(match.any(axis=1), match.argmax(axis=1), -1)


def test_shapes_and_dtypes_are_the_papers():
    split = data.mnist1d()
    assert split.X_train.shape == (4000, 40) and split.y_train.shape == (4000,)
    assert split.X_test.shape == (1000, 40) and split.y_test.shape == (1000,)
    assert split.X_val.shape == (0, 40) and split.y_val.shape == (0,)
    assert split.X_train.dtype == split.X_test.dtype == split.X_val.dtype == np.float64
    assert split.y_train.dtype == split.y_test.dtype == split.y_val.dtype == np.int64
    assert split.sizes == (4000, 0, 1000) and split.name == "mnist1d"
    assert set(np.unique(split.y_train)) == set(range(10))


def test_arrays_are_exactly_the_packages(package_dataset):
    plain, _ = package_dataset
    split = data.mnist1d()
    np.testing.assert_array_equal(split.X_train, plain["x"])
    np.testing.assert_array_equal(split.y_train, plain["y"])
    np.testing.assert_array_equal(split.X_test, plain["x_test"])
    np.testing.assert_array_equal(split.y_test, plain["y_test"])


def test_shuffle_equals_the_packages_shuffle_seq_build(package_dataset):
    _, shuffled = package_dataset
    split = data.mnist1d(shuffle=True)
    assert split.name == "mnist1d-shuffle"
    np.testing.assert_array_equal(split.X_train, shuffled["x"])
    np.testing.assert_array_equal(split.X_test, shuffled["x_test"])
    np.testing.assert_array_equal(split.y_train, shuffled["y"])
    np.testing.assert_array_equal(split.y_test, shuffled["y_test"])


def test_shuffle_is_one_fixed_true_permutation_of_the_columns():
    plain, shuffled = data.mnist1d(), data.mnist1d(shuffle=True)
    perm_train = _column_permutation(shuffled.X_train, plain.X_train)
    perm_test = _column_permutation(shuffled.X_test, plain.X_test)
    assert np.array_equal(np.sort(perm_train), np.arange(40))        # a true permutation
    np.testing.assert_array_equal(perm_train, perm_test)              # the same for both parts
    assert not np.array_equal(perm_train, np.arange(40))              # not the identity
    np.testing.assert_array_equal(shuffled.y_train, plain.y_train)    # examples keep labels
    again = data.mnist1d(shuffle=True)                                # and it is fixed
    np.testing.assert_array_equal(again.X_train, shuffled.X_train)


def test_global_generators_are_restored_and_do_not_matter(package_dataset):
    data._mnist1d_build.cache_clear()
    np.random.seed(2024)
    random.seed(2024)
    np_state, py_state = np.random.get_state(), random.getstate()
    split = data.mnist1d(shuffle=True)
    after_np, after_py = np.random.get_state(), random.getstate()
    assert after_py == py_state
    assert after_np[0] == np_state[0] and after_np[2:] == np_state[2:]
    np.testing.assert_array_equal(after_np[1], np_state[1])
    assert np.random.random() == np.random.RandomState(2024).random_sample()
    # built from another caller state than the fixture's, yet the same fixed permutation
    np.testing.assert_array_equal(split.X_test, package_dataset[1]["x_test"])


def test_n_val_holds_out_the_last_training_rows():
    full, split = data.mnist1d(), data.mnist1d(n_val=1000)
    assert split.sizes == (3000, 1000, 1000)
    np.testing.assert_array_equal(split.X_train, full.X_train[:3000])
    np.testing.assert_array_equal(split.X_val, full.X_train[3000:])
    np.testing.assert_array_equal(split.y_val, full.y_train[3000:])
    np.testing.assert_array_equal(split.X_test, full.X_test)
    shuffled = data.mnist1d(shuffle=True, n_val=1000)
    perm = _column_permutation(shuffled.X_val, split.X_val)
    np.testing.assert_array_equal(perm, _column_permutation(shuffled.X_test, full.X_test))


def test_callers_cannot_corrupt_the_cache():
    split = data.mnist1d()
    reference = split.X_train.copy()
    split.X_train[:] = 0.0
    split.y_train[:] = -1
    templates, labels = data.mnist1d_templates()
    templates[:] = 0.0
    again = data.mnist1d()
    np.testing.assert_array_equal(again.X_train, reference)
    assert again.y_train.min() == 0
    assert np.abs(data.mnist1d_templates()[0]).max() > 0


def test_templates_are_the_packages_ten_digits(package_dataset):
    plain, _ = package_dataset
    templates, labels = data.mnist1d_templates()
    assert templates.shape == (10, 12) and templates.dtype == np.float64
    np.testing.assert_array_equal(templates, plain["templates"]["x"])
    np.testing.assert_array_equal(labels, np.arange(10))
    np.testing.assert_allclose(templates[:, 0], 0.0, atol=1e-15)      # signals start at 0


@pytest.mark.parametrize("kwargs, error, words", [
    ({"shuffle": 1}, TypeError, "shuffle"),
    ({"shuffle": "True"}, TypeError, "shuffle"),
    ({"n_val": -1}, ValueError, "n_val"),
    ({"n_val": 4000}, ValueError, "n_val"),
    ({"n_val": 10.0}, TypeError, "n_val"),
])
def test_bad_arguments_name_the_argument(kwargs, error, words):
    with pytest.raises(error, match=words):
        data.mnist1d(**kwargs)


def test_builds_with_the_network_disabled(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in this test")

    requests = pytest.importorskip("requests")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.chdir(tmp_path)                    # get_dataset would write a pickle here
    with pytest.raises(OSError):                   # the patches do bite
        socket.create_connection(("example.org", 80))
    data._mnist1d_build.cache_clear()
    split = data.mnist1d(shuffle=True)
    assert split.sizes == (4000, 0, 1000)
    assert list(tmp_path.iterdir()) == []          # and nothing was written


def test_n_train_keeps_the_first_training_examples_and_the_other_parts():
    full, small = data.mnist1d(n_val=500), data.mnist1d(n_val=500, n_train=300)
    np.testing.assert_array_equal(small.X_train, full.X_train[:300])
    np.testing.assert_array_equal(small.y_train, full.y_train[:300])
    for part in ("X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(small, part), getattr(full, part))
    with pytest.raises(ValueError, match="n_train must be <= 3500"):
        data.mnist1d(n_val=500, n_train=3501)


def test_noisy_labels_changes_the_asked_fraction_and_every_change_is_wrong():
    y = data.mnist1d().y_train
    noisy = data.noisy_labels(y, 0.2, seed=3)
    assert np.sum(noisy != y) == 800                       # exactly round(0.2 * 4000)
    assert noisy.min() >= 0 and noisy.max() <= 9
    np.testing.assert_array_equal(noisy, data.noisy_labels(y, 0.2, seed=3))
    assert not np.array_equal(noisy, data.noisy_labels(y, 0.2, seed=4))
    wrong = noisy[noisy != y]                                # wrong labels spread over classes
    assert len(np.unique(wrong)) == 10
    np.testing.assert_array_equal(data.noisy_labels(y, 0.0), y)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(fraction=-0.1), ValueError, "fraction must be in"),
    (dict(n_classes=1), ValueError, "n_classes must be >= 2"),
    (dict(y=np.array([0.5, 1.0])), TypeError, "y must hold integer"),
    (dict(y=np.array([0, 12])), ValueError, "y must hold class labels"),
])
def test_noisy_labels_refuses_bad_input(kwargs, error, match):
    args = dict(y=np.array([0, 1, 2]), fraction=0.5) | kwargs
    with pytest.raises(error, match=match):
        data.noisy_labels(**args)
