"""The registry of known backbone checkpoints (`registry.json`, package data) and the local cache."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from vadpipe.errors import UsageError

REGISTRY_FILE = "registry.json"


@dataclass(frozen=True)
class WeightsEntry:
    """One known checkpoint: where it comes from and which backbone it fits.

    ``sha256`` is None where no hash is published; ``urls`` is empty where the file has
    no public download and must be imported. ``max_bytes`` bounds a download (a larger body is
    refused, so an endless one cannot fill the disk): no size is published either, so it is about
    three times the checkpoint's float32 tensors, room for the optimiser state some files keep.
    """

    name: str
    backbone: str
    feature_dim: int
    file_name: str
    urls: tuple[str, ...]
    sha256: str | None
    max_bytes: int
    license: str
    source: str
    notes: str

    @property
    def url(self) -> str | None:
        return self.urls[0] if self.urls else None


@functools.cache
def entries() -> dict[str, WeightsEntry]:
    """All registry entries by name, read once from the package's ``registry.json``."""
    text = resources.files("vadpipe.weights").joinpath(REGISTRY_FILE).read_text(encoding="utf-8")
    out = {}
    for raw in json.loads(text)["weights"]:
        entry = WeightsEntry(**{**raw, "urls": tuple(raw["urls"])})
        out[entry.name] = entry
    return out


def get_entry(name: str) -> WeightsEntry:
    """A registry entry by name.

    Raises:
        UsageError: unknown name (the message lists the known ones).
    """
    known = entries()
    if name not in known:
        raise UsageError(f"unknown weights {name!r}; known: {', '.join(known)} (see `vadpipe weights list`)")
    return known[name]


def cache_dir() -> Path:
    """``$VADPIPE_HOME/weights`` when VADPIPE_HOME is set, else the user cache dir's ``vadpipe/weights``."""
    home = os.environ.get("VADPIPE_HOME")
    if home:
        return Path(home).expanduser() / "weights"
    import platformdirs

    return Path(platformdirs.user_cache_dir("vadpipe")) / "weights"


def cached_path(entry: WeightsEntry) -> Path:
    """Where the converted (``.safetensors``) checkpoint of an entry lives in the cache."""
    return cache_dir() / f"{entry.name}.safetensors"


def missing_weights_message(entry: WeightsEntry) -> str:
    """One line: which backbone lacks weights, where they come from, and the commands that fix it."""
    where = f"from {entry.url}" if entry.url else f"(no public URL for {entry.file_name}: {entry.notes})"
    return (
        f"backbone {entry.backbone} has no weights: {entry.name} is not in the cache {cache_dir()}; "
        f"get it {where} with `vadpipe weights download {entry.name}`, "
        f"or import a copy with `vadpipe weights import {entry.name} FILE`"
    )
