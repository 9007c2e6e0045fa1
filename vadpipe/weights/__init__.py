"""Backbone checkpoint files: the registry of known files, the cache, download and safe loading.

Light (no torch) names are imported here; the torch-side ones from their submodules on first use.
Getting a checkpoint into the cache (download / import, checked against its backbone) is
:mod:`vadpipe.backbones.install`, which file a backbone loads :func:`vadpipe.backbones.registry.resolve_weights`.
"""

import importlib

# `fetch` is also the name of its submodule, so the function must be bound here, after the submodule,
# or the module would shadow it.
from vadpipe.weights.fetch import fetch, sha256_of
from vadpipe.weights.registry import (
    WeightsEntry,
    cache_dir,
    cached_path,
    entries,
    get_entry,
    missing_weights_message,
)

_HOMES = {
    "check_fits": "checkpoint", "load_into": "checkpoint", "read_metadata": "checkpoint",
    "read_state_dict": "checkpoint", "save_safetensors": "checkpoint",
}

__all__ = [*_HOMES, "WeightsEntry", "cache_dir", "cached_path", "entries", "fetch", "get_entry",
           "missing_weights_message", "sha256_of"]


def __getattr__(name: str):
    if name in _HOMES:  # torch-side: imported when first asked for
        return getattr(importlib.import_module(f"vadpipe.weights.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'vadpipe.weights' has no attribute {name!r}")
