"""Getting checkpoints into the cache: download / import, both strict-loaded into their backbone and converted to
.safetensors (which file a backbone loads is :func:`vadpipe.backbones.registry.resolve_weights`)."""

from __future__ import annotations

import os
from pathlib import Path

from vadpipe.backbones.registry import build_backbone
from vadpipe.errors import UsageError, VadpipeError
from vadpipe.observers import Observer
from vadpipe.weights.checkpoint import CHECKPOINT_SUFFIXES, save_safetensors
from vadpipe.weights.fetch import TransferError, fetch, sha256_of
from vadpipe.weights.registry import (
    WeightsEntry,
    cache_dir,
    cached_path,
    get_entry,
)


def _install(entry: WeightsEntry, source: Path, source_sha256: str) -> Path:
    """Strict-load ``source`` into the entry's backbone and write it to the cache as safetensors."""
    model = build_backbone(entry.backbone, weights=source)
    metadata = {"weights": entry.name, "backbone": entry.backbone, "source_file": source.name,
                "source_sha256": source_sha256}
    return save_safetensors(model, cached_path(entry), metadata)


def download(name: str, *, url: str | None = None, observer: Observer | None = None) -> Path:
    """Download a registry entry, verify it (sha256 where known, strict load) and cache it as safetensors.

    Args:
        url: download from this mirror instead of the registry's URLs.
        observer: told the bytes as they arrive (:func:`vadpipe.weights.fetch.fetch`).

    Returns:
        The cached ``.safetensors`` path.
    """
    entry = get_entry(name)
    urls = [url] if url else list(entry.urls)
    if not urls:
        raise VadpipeError(f"{name} cannot be downloaded: {entry.notes} (`vadpipe weights import {name} FILE`)")
    dest = cache_dir() / "downloads" / entry.file_name
    failures = []
    for candidate in urls:
        try:
            path, digest = fetch(candidate, dest, sha256=entry.sha256, max_bytes=entry.max_bytes,
                                 observer=observer)
            break
        except TransferError as exc:
            failures.append(str(exc))
    else:
        raise VadpipeError(
            f"{'; '.join(failures)}; fetch {entry.file_name} another way and run `vadpipe weights import {name} FILE`"
        )
    out = _install(entry, path, digest)
    path.unlink()  # the safetensors copy is what gets used
    return out


def import_weights(name: str, file: str | os.PathLike) -> Path:
    """Verify a local checkpoint for a registry entry (sha256 where known, strict load) and cache it as safetensors.

    Returns:
        The cached ``.safetensors`` path.
    """
    entry = get_entry(name)
    file = Path(file).expanduser()
    if not file.is_file():
        raise VadpipeError(f"{file}: file not found")
    if file.suffix not in CHECKPOINT_SUFFIXES:
        raise UsageError(f"{file}: `vadpipe weights import` takes a {' / '.join(CHECKPOINT_SUFFIXES)} file")
    digest = sha256_of(file)
    same_format = file.suffix == Path(entry.file_name).suffix  # the known hash is of the original file
    if entry.sha256 and same_format and digest != entry.sha256.lower():
        raise VadpipeError(
            f"{file}: sha256 {digest} does not match {entry.sha256} of {entry.file_name}; not imported"
        )
    return _install(entry, file, digest)
