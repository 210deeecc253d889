"""The caches of the forward/backward pairs: dicts that say which forward made them.

A backward function given the cache of another layer would otherwise compute nonsense
silently (or fail with a ``KeyError`` deep inside); :func:`check_cache` turns that into a
``TypeError`` that names the function the cache must come from.
"""

from __future__ import annotations


def make_cache(kind: str, **entries) -> dict:
    """A forward pass's cache: ``{"kind": kind, **entries}``."""
    return {"kind": kind, **entries}


def check_cache(cache, kind: str) -> dict:
    """Return ``cache`` after checking that ``{kind}_forward`` made it."""
    if not isinstance(cache, dict) or "kind" not in cache:
        raise TypeError(f"cache must be the cache returned by {kind}_forward, got "
                        f"{type(cache).__name__}")
    if cache["kind"] != kind:
        raise TypeError(f"cache must be the cache returned by {kind}_forward, got the cache "
                        f"of {cache['kind']}_forward")
    return cache
