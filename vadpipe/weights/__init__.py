"""Backbone checkpoints: the registry of known files, the cache, download, import and safe loading.

Names are imported from their submodules on first use, so that importing the package (or the
registry alone) does not pull in torch, and so that the install step, which builds a backbone,
does not form an import circle with :mod:`vadpipe.backbones.registry`.
"""

import importlib

# Light (no torch): imported now. `fetch` is also the name of its submodule, so the function must be bound
# here, after the submodule, or the module would shadow it.
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
    "download": "install", "import_weights": "install",
}

__all__ = [
    *_HOMES, "WeightsEntry", "cache_dir", "cached_path", "entries", "fetch", "get_entry", "missing_weights_message",
    "resolve_weights", "sha256_of",
]


def __getattr__(name: str):
    if name == "resolve_weights":
        from vadpipe.backbones.registry import resolve_weights

        return resolve_weights
    if name in _HOMES:
        return getattr(importlib.import_module(f"vadpipe.weights.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'vadpipe.weights' has no attribute {name!r}")
