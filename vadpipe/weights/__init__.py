"""Backbone checkpoints: the registry of known files, the cache, download, import and safe loading."""

from vadpipe.weights.checkpoint import check_fits, load_into, read_metadata, read_state_dict, save_safetensors
from vadpipe.weights.fetch import fetch, sha256_of
from vadpipe.weights.install import download, import_weights, resolve_weights
from vadpipe.weights.registry import (
    WeightsEntry,
    cache_dir,
    cached_path,
    entries,
    get_entry,
    missing_weights_message,
)

__all__ = [
    "WeightsEntry", "cache_dir", "cached_path", "check_fits", "download", "entries", "fetch", "get_entry",
    "import_weights", "load_into", "missing_weights_message", "read_metadata", "read_state_dict", "resolve_weights",
    "save_safetensors", "sha256_of",
]
