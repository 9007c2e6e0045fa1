"""`vadpipe --help`, `CMD --help` and usage errors answer without importing the heavy libraries."""

import json
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


# Each error that needs no model is said before torch is imported: (argv, exit code, words of the line). `run` is
# a run folder without its model.safetensors (nothing may load it before the error), `broken` one whose config.json
# is no JSON; the probe has no CPU engine installed.
FAST_ERRORS = [
    (["train", "{tmp}", "--out", "{tmp}/r", "--preset", "ufc"], 2, "did you mean ucf?"),
    (["extract", "{tmp}", "--out", "{tmp}/o", "--backbone", "i3d-r50"], 2, "--backbone 'i3d-r50' is unknown"),
    (["train", "{tmp}", "--out", "{tmp}/r", "--heads", "3"], 2, "--heads 3 must divide"),
    (["score", "v.mp4", "--model", "{tmp}/run", "--engine", "openvino"], 2, "OpenVINO is not installed"),
    (["extract", "{tmp}", "--out", "{tmp}/o", "--engine", "openvino"], 2, "OpenVINO is not installed"),
    (["score", "--model", "{tmp}/run"], 2, "give videos to score"),
    (["score", "{tmp}/nosuch.mp4", "--model", "{tmp}/run"], 1, "nosuch.mp4: no such file or folder"),
    (["score", "{tmp}/nothing-here", "--model", "{tmp}/run"], 2, "no videos found"),
    (["score", "v.mp4", "--model", "{tmp}/nosuchrun"], 1, "nosuchrun: no such folder"),
    (["evaluate", "{tmp}", "--model", "{tmp}/broken", "--gt", "{tmp}/labels.csv"], 1, "config.json: not valid JSON"),
    (["evaluate", "{tmp}", "--model", "{tmp}/run", "--gt", "{tmp}/labels.csv"], 1, "not frame-level ground truth"),
]

FAST_PROBE = """
import contextlib, io, json, sys
from vadpipe.engines import runtimes
runtimes.missing_modules = lambda engine: [runtimes.ENGINE_PACKAGES[engine][0]]  # no CPU engine installed
from vadpipe.cli.app import main
for args in {calls!r}:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
    print(json.dumps([code, err.getvalue(), heavy]))
"""


def test_usage_errors_that_need_no_model_are_said_before_torch_is_imported(tmp_path):
    from vadpipe.model.config import get_preset
    from vadpipe.model.run_config import RunConfig

    preset = get_preset("ucf")
    for name, text in (("run", json.dumps(RunConfig(preset.scorer, preset.loss, preset.train, None).to_dict())),
                       ("broken", "{not json")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(text)
    (tmp_path / "nothing-here").mkdir()
    (tmp_path / "labels.csv").write_text("video,label\nAbuse028_x264,1\n")
    calls = [[arg.format(tmp=tmp_path) for arg in args] for args, _, _ in FAST_ERRORS]
    out = subprocess.run([sys.executable, "-c", FAST_PROBE.format(calls=calls, heavy=HEAVY)], capture_output=True,
                         text=True, timeout=120)
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(results) == len(FAST_ERRORS), out.stderr
    for (args, code, words), (got, err, heavy) in zip(FAST_ERRORS, results, strict=True):
        assert got == code, (args, err)
        assert len(err.strip().splitlines()) == 1 and words in err, (args, err)
        assert heavy == [], f"{args[0]} imported {heavy} before its usage error"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "labels.csv", "nothing-here", "run"]  # none made
