"""Getting checkpoints into the cache (download / import, both converted to .safetensors) and finding them."""

from __future__ import annotations

import os
from pathlib import Path

from vadpipe.errors import UsageError, VadpipeError
from vadpipe.weights.checkpoint import CHECKPOINT_SUFFIXES, save_safetensors
from vadpipe.weights.fetch import TransferError, fetch, sha256_of
from vadpipe.weights.registry import (
    WeightsEntry,
    cache_dir,
    cached_path,
    entries,
    get_entry,
    missing_weights_message,
)


def _install(entry: WeightsEntry, source: Path, source_sha256: str) -> Path:
    """Strict-load ``source`` into the entry's backbone and write it to the cache as safetensors."""
    from vadpipe.backbones.registry import build_backbone

    model = build_backbone(entry.backbone, weights=source)
    metadata = {"weights": entry.name, "backbone": entry.backbone, "source_file": source.name,
                "source_sha256": source_sha256}
    return save_safetensors(model, cached_path(entry), metadata)


def download(name: str, *, url: str | None = None, quiet: bool = False) -> Path:
    """Download a registry entry, verify it (sha256 where known, strict load) and cache it as safetensors.

    Args:
        url: download from this mirror instead of the registry's URLs.

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
            path, digest = fetch(candidate, dest, sha256=entry.sha256, quiet=quiet)
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
    digest = sha256_of(file)
    same_format = file.suffix == Path(entry.file_name).suffix  # the known hash is of the original file
    if entry.sha256 and same_format and digest != entry.sha256.lower():
        raise VadpipeError(
            f"{file}: sha256 {digest} does not match {entry.sha256} of {entry.file_name}; not imported"
        )
    return _install(entry, file, digest)


def resolve_weights(backbone_name: str, weights_override: str | os.PathLike | None = None) -> Path | None:
    """The checkpoint file a backbone should load.

    Args:
        weights_override: a checkpoint path (.pth / .pyth / .pt / .safetensors, or a Caffe2 .pkl for
            resnet3d) or a registry entry name; None means the backbone's default entry.

    Returns:
        The file, or None when the (default or named) entry is not in the cache yet.
    """
    from vadpipe.backbones.registry import get_spec

    spec = get_spec(backbone_name)
    if weights_override is None:
        path = cached_path(get_entry(spec.weights))
        return path if path.is_file() else None
    override = str(weights_override)
    if override in entries() and not Path(override).exists():
        entry = entries()[override]
        if entry.backbone != backbone_name:
            raise UsageError(f"weights {override} are for backbone {entry.backbone}, not {backbone_name}")
        path = cached_path(entry)
        if not path.is_file():
            raise VadpipeError(missing_weights_message(entry))
        return path
    path = Path(override).expanduser()
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise UsageError(f"--weights {path}: expected a {' / '.join(CHECKPOINT_SUFFIXES)} file or a registry name")
    if not path.is_file():
        raise VadpipeError(f"{path}: weights file not found")
    return path
