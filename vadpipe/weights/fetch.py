"""HTTP(S) download with resume: ``<dest>.part`` grows until complete, is hash-checked, then renamed.

Bounded in time and size, as curl's ``--max-time``, ``--speed-limit`` and ``--max-filesize`` are: the
read timeout alone never trips on a server that sends one byte a second, and an endless body would
fill the disk. A download ends by its deadline, is cut when slower than ``LOW_SPEED`` (the ``.part``
is kept to resume), and is refused when the server sends more than the bytes it may have.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vadpipe.errors import VadpipeError
from vadpipe.observers import Observer

CHUNK = 1 << 20
DEADLINE_S = 3600.0  # a whole download, every attempt together
LOW_SPEED = (1024, 60.0)  # (bytes, seconds): an attempt that gets fewer bytes in that long is cut
_PAST_DEADLINE = "past its deadline"


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


@dataclass(frozen=True)
class Limits:
    """How long and how large one download may be."""

    timeout: float = 30.0  # seconds without a byte
    deadline: float = float("inf")  # time.monotonic() by which the download ends
    max_bytes: int | None = None  # the largest file accepted
    low_speed: tuple[int, float] = LOW_SPEED


def _too_large(url: str, part: Path, max_bytes: int) -> TransferError:
    part.unlink(missing_ok=True)  # not the file: nothing worth resuming
    return TransferError(f"download of {url} refused: the server sends more than the {max_bytes:,} bytes this file "
                         "can have; partial file deleted")


def _transfer_once(url: str, part: Path, limits: Limits, observer: Observer) -> str | None:
    """One request appending to ``part``; returns None when the file is complete, else what went wrong."""
    have = part.stat().st_size if part.exists() else 0
    try:
        resp = _request(url, have, limits.timeout)
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
        total = start + int(length) if length is not None and length.isdigit() else None
        if limits.max_bytes is not None and total is not None and total > limits.max_bytes:
            raise _too_large(url, part, limits.max_bytes)
        observer.started(part.name.removesuffix(".part"), total)
        if start:
            observer.advanced(start)
        size, stalled = start, None
        window_start, window_bytes = time.monotonic(), 0
        with open(part, "ab" if start else "wb") as f:
            while True:
                try:
                    block = resp.read1(CHUNK)  # what has arrived: read() would wait for a whole CHUNK of a drip
                except (http.client.IncompleteRead, OSError):
                    break  # connection cut: what arrived is kept, the caller resumes
                if not block:
                    break
                size += len(block)
                if limits.max_bytes is not None and size > limits.max_bytes:
                    f.close()
                    raise _too_large(url, part, limits.max_bytes)
                f.write(block)
                observer.advanced(len(block))
                now, window_bytes = time.monotonic(), window_bytes + len(block)
                if now >= limits.deadline:
                    stalled = _PAST_DEADLINE
                    break
                if now - window_start >= limits.low_speed[1]:
                    if window_bytes < limits.low_speed[0]:
                        stalled = (f"slower than {limits.low_speed[0]:,} bytes in {limits.low_speed[1]:g} s "
                                   f"({size:,} bytes kept in {part})")
                        break
                    window_start, window_bytes = now, 0
        observer.finished(part.name.removesuffix(".part"))
        if stalled is not None:
            return stalled
    size = part.stat().st_size
    if total is not None and size != total:
        return f"transfer stopped at {size:,} of {total:,} bytes, kept in {part}; run again to resume"
    return None


def fetch(
    url: str, dest: str | os.PathLike, *, sha256: str | None = None, attempts: int = 3, timeout: float = 30.0,
    deadline_s: float = DEADLINE_S, max_bytes: int | None = None, low_speed: tuple[int, float] = LOW_SPEED,
    observer: Observer | None = None,
) -> tuple[Path, str]:
    """Download ``url`` to ``dest``, resuming a ``dest.part`` left by an earlier run (HTTP Range).

    Args:
        sha256: expected hex digest; on mismatch the file is deleted and the download refused.
        attempts: requests tried before giving up (each resumes where the last one stopped).
        timeout: seconds a read may wait for a byte. deadline_s: seconds the whole download may take.
        max_bytes: a larger file is refused (its ``.part`` deleted). low_speed: (bytes, seconds): an attempt
            that gets fewer bytes in that long is cut.
        observer: told each request's bytes (``started`` with the file name and its size in bytes, None when
            unknown; ``advanced`` with bytes as they arrive; ``finished``).

    Returns:
        (path of the complete file, its sha256)

    Raises:
        TransferError: network failure, HTTP error, incomplete, too slow or past its deadline (the ``.part`` is
            kept to resume), or larger than ``max_bytes``.
        VadpipeError: sha256 mismatch.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    problem = "no attempt made"
    observer = observer or Observer()
    limits = Limits(timeout, time.monotonic() + deadline_s, max_bytes, low_speed)
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(0.2 * 2**attempt, 5.0, max(0.0, limits.deadline - time.monotonic())))
        if time.monotonic() >= limits.deadline:
            problem = _PAST_DEADLINE
        else:
            try:
                problem = _transfer_once(url, part, limits, observer)
            except (urllib.error.URLError, OSError) as exc:
                problem = f"cannot reach it ({getattr(exc, 'reason', exc)})"
                continue
        if problem == _PAST_DEADLINE:
            have = part.stat().st_size if part.exists() else 0
            raise TransferError(f"download of {url} did not finish within {deadline_s:g} s ({have:,} bytes kept in "
                                f"{part}); run again to resume")
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
