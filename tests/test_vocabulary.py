"""One vocabulary: every shared name exists in all three backends with the same parameters."""

from __future__ import annotations

import inspect

import pytest

from regbook import backends

pytest.importorskip("torch")
pytest.importorskip("tensorflow")


def _parameters(obj) -> dict[str, inspect.Parameter]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = dict(inspect.signature(target).parameters)
    params.pop("self", None)
    return {name: p for name, p in params.items()
            if p.kind is not inspect.Parameter.VAR_KEYWORD or name != "kwargs"}


@pytest.mark.parametrize("name", sorted(backends.SHARED.values()))
def test_shared_name_exists_in_every_backend(name):
    for b in backends.BACKENDS:
        module = backends.get(b)
        assert hasattr(module, name), f"regbook.{b} has no {name}"
        assert name in module.__all__, f"{name} missing from regbook.{b}.__all__"


@pytest.mark.parametrize("name", sorted(backends.SHARED.values()))
def test_shared_name_has_the_same_parameters_in_every_backend(name):
    shapes = {}
    for b in backends.BACKENDS:
        extras = set(backends.EXTRAS.get((name, b), {}))
        params = _parameters(getattr(backends.get(b), name))
        shapes[b] = [(p.name, p.kind) for p in params.values() if p.name not in extras]
        missing = extras - set(params) - {"kwargs"}
        assert not missing, f"allow-listed extras {missing} are not parameters of regbook.{b}.{name}"
    assert shapes["np"] == shapes["torch"] == shapes["tf"], shapes


def test_names_in_more_than_one_backend_are_shared_or_allow_listed():
    public = {b: set(backends.get(b).__all__) for b in backends.BACKENDS}
    shared = set(backends.SHARED.values())
    for name in sorted(set.union(*public.values())):
        holders = [b for b in backends.BACKENDS if name in public[b]]
        if len(holders) < 2 or name in shared:
            continue
        for b in holders:
            assert name in backends.ONLY.get(b, {}), (
                f"{name} is in {holders} but neither shared nor allow-listed: give it the same "
                "signature everywhere (and add it to backends.SHARED) or rename it")


def test_get_refuses_an_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.get("jax")
