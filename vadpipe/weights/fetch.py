"""HTTP(S) download with resume: ``<dest>.part`` grows until complete, is hash-checked, then renamed."""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from vadpipe.errors import VadpipeError
from vadpipe.observers import Observer

CHUNK = 1 << 20


class TransferError(VadpipeError):
    """A download that could not complete (network down, HTTP error, connection cut)."""


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _request(url: str, start: int, timeout: float):
    headers = {"User-Agent": "vadpipe"}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _transfer_once(url: str, part: Path, timeout: float, observer: Observer) -> str | None:
    """One request appending to ``part``; returns None when the file is complete, else what went wrong."""
    have = part.stat().st_size if part.exists() else 0
    try:
        resp = _request(url, have, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # our partial file is not a prefix the server knows: start over
            part.unlink()
            return "the server refused to resume"
        raise TransferError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    with resp:
        start = have
        if resp.status != 206 or not resp.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
            start = 0  # the server ignored the Range request and sends the whole file
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        observer.started(part.name.removesuffix(".part"), total)
        if start:
            observer.advanced(start)
        with open(part, "ab" if start else "wb") as f:
            while True:
                try:
                    block = resp.read(CHUNK)
                except (http.client.IncompleteRead, OSError):
                    break  # connection cut: what arrived is kept, the caller resumes
                if not block:
                    break
                f.write(block)
                observer.advanced(len(block))
        observer.finished(part.name.removesuffix(".part"))
    size = part.stat().st_size
    if total is not None and size != total:
        return f"transfer stopped at {size:,} of {total:,} bytes, kept in {part}; run again to resume"
    return None


def fetch(
    url: str, dest: str | os.PathLike, *, sha256: str | None = None, attempts: int = 3, timeout: float = 30.0,
    observer: Observer | None = None,
) -> tuple[Path, str]:
    """Download ``url`` to ``dest``, resuming a ``dest.part`` left by an earlier run (HTTP Range).

    Args:
        sha256: expected hex digest; on mismatch the file is deleted and the download refused.
        attempts: requests tried before giving up (each resumes where the last one stopped).
        observer: told each request's bytes (``started`` with the file name and its size in bytes, None when
            unknown; ``advanced`` with bytes as they arrive; ``finished``).

    Returns:
        (path of the complete file, its sha256)

    Raises:
        TransferError: network failure, HTTP error or incomplete transfer (the ``.part`` is kept to resume).
        VadpipeError: sha256 mismatch.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    problem = "no attempt made"
    observer = observer or Observer()
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(0.2 * 2**attempt, 5.0))
        try:
            problem = _transfer_once(url, part, timeout, observer)
        except (urllib.error.URLError, OSError) as exc:
            problem = f"cannot reach it ({getattr(exc, 'reason', exc)})"
            continue
        if problem is None:
            break
    else:
        raise TransferError(f"download of {url} failed after {attempts} tries: {problem}")
    digest = sha256_of(part)
    if sha256 and digest != sha256.lower():
        part.unlink()
        raise VadpipeError(
            f"{url}: sha256 {digest} does not match the registry's {sha256}; file deleted, nothing installed"
        )
    os.replace(part, dest)
    return dest, digest
