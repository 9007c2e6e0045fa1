"""`vadpipe --help`, `CMD --help` and usage errors answer without importing the heavy libraries."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "matplotlib", "sklearn", "av", "pytorchvideo")

PROBE = """
import sys
from vadpipe.cli.app import main
codes = [main(args) for args in {calls!r}]
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
print(codes, heavy)
"""

CALLS = [["--help"], *([cmd, "--help"] for cmd in ("extract", "train", "evaluate", "score", "demo", "weights")),
         ["weights", "list", "--help"], ["extract", "--bogus"], ["train"], ["score", "x.mp4"],
         ["extract", "v", "--out", "o", "--crops", "many"], ["nope"]]


def test_help_and_usage_errors_import_no_heavy_library():
    out = subprocess.run([sys.executable, "-c", PROBE.format(calls=CALLS, heavy=HEAVY)], capture_output=True,
                         text=True, timeout=120)
    codes, heavy = out.stdout.strip().splitlines()[-1].rsplit("] ", 1)
    assert codes == "[" + ", ".join(["0"] * 8 + ["2"] * 5)
    assert heavy == "[]", f"imported on the help / usage-error path: {heavy}"


@pytest.mark.parametrize("debug", ["", "1"])
def test_vadpipe_debug_shows_the_chained_traceback_behind_the_one_line(tmp_path, debug):
    env_line = f"import os; os.environ['VADPIPE_DEBUG'] = {debug!r}\n"
    probe = env_line + f"from vadpipe.cli.app import main; raise SystemExit(main(['score', 'v.mp4', '--model', " \
                       f"{str(tmp_path)!r}]))"
    (tmp_path / "config.json").write_text("{not json")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("vadpipe: error:") and "config.json: not valid JSON" in last
    if debug:
        assert "Traceback" in out.stderr and "JSONDecodeError" in out.stderr  # raised `from exc`
    else:
        assert "Traceback" not in out.stderr and "VADPIPE_DEBUG=1" in last
        assert len(out.stderr.strip().splitlines()) == 1
