"""Every `vadpipe` command of docs/reproduce.md, run as written on tiny synthetic files in the public layouts.

The data: RTFM's UCF-Crime layout (Windows-path CRLF lists, ``<name>_x264_i3d.npy`` of
``(T, 10, 2048)``, the UCF annotation .txt and ``gt-ucf.npy`` built as RTFM's
make_gt_ucf.py builds it) and XD-Violence's (``/media/peng/...`` lists, ``<name>__c.npy``
of ``(T, 1024)``, ``annotations.txt`` and ``gt.npy`` built as XDVioDet's make_gt.py
builds it). Training commands get a one-epoch schedule appended (the last value of an
option wins); nothing else is changed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from vadpipe.cli.app import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "reproduce.md"
FAST_TRAIN = ["--epochs", "1", "--batch-size", "64", "--seq-len", "8", "--device", "cpu", "--quiet"]

UCF_TRAIN = {"Abuse001_x264": (5, (1, 3)), "Arrest001_x264": (4, (2, 4)),
             "Normal_Videos001_x264": (4, None), "Normal_Videos002_x264": (5, None)}
UCF_TEST = {"Abuse028_x264": (4, [(20, 40)]), "Arrest007_x264": (3, [(3, 9), (30, 47)]),
            "Normal_Videos_003_x264": (3, [])}
XD_TRAIN = {"A.Movie__#00-01-00_00-02-00_label_B1-0-0": (4, (1, 3)),
            "B.Movie__#00-03-00_00-04-00_label_G-0-0": (5, (2, 4)),
            "C.Movie__#00-05-00_00-06-00_label_A": (4, None), "D.Movie__#00-07-00_00-08-00_label_A": (3, None)}
XD_TEST = {"E.Movie__#01-00-00_01-01-00_label_B2-0-0": (4, [(10, 30)]),
           "F.Movie__#01-02-00_01-03-00_label_B6-0-0": (3, [(0, 5), (33, 40)]),
           "G.Movie__#01-04-00_01-05-00_label_A": (3, [])}


def doc_commands(text: str) -> list[str]:
    """The `vadpipe ...` command lines of the doc's bash blocks, continuation lines joined."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("vadpipe "):
                commands.append(" ".join(line.split()))
    return commands


def _features(rng, t: int, crops: int, dim: int, event) -> np.ndarray:
    x = rng.normal(size=(t, crops, dim)).astype(np.float32)
    if event is not None:
        x[event[0] : event[1]] += 2.0
    return x


def _write_ucf(root: Path, rng) -> None:
    feats = root / "features"
    feats.mkdir(parents=True)
    for split, videos in (("Train", UCF_TRAIN), ("Test", UCF_TEST)):
        for name, (t, event) in videos.items():
            event = event if split == "Train" else (0, 1) if event else None
            np.save(feats / f"{name}_i3d.npy", _features(rng, t, 10, 2048, event))
        lines = [f"G:\\UCF_{split}_ten_crop_i3d\\{name}_i3d.npy" for name in videos]
        list_name = "ucf-i3d.list" if split == "Train" else "ucf-i3d-test.list"
        (root / list_name).write_bytes("\r\n".join(lines).encode() + b"\r\n")  # as published: CRLF
    rows, gt = [], []
    for name, (t, intervals) in UCF_TEST.items():
        pairs = [*intervals, (-1, -1), (-1, -1)][:2]
        cls = "Normal" if name.startswith("Normal") else re.match(r"[A-Za-z]+", name).group()
        rows.append(f"{name}.mp4  {cls}  {pairs[0][0]}  {pairs[0][1]}  {pairs[1][0]}  {pairs[1][1]}")
        vec = np.zeros(16 * t)  # RTFM make_gt_ucf.py: 16 * T frames, start..end inclusive
        for s, e in intervals:
            vec[s : e + 1] = 1.0
        gt.append(vec)
    (root / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt").write_text("\n".join(rows) + "\n")
    np.save(root / "gt-ucf.npy", np.concatenate(gt).astype(float))


def _write_xd(root: Path, rng) -> None:
    feats = root / "features"
    feats.mkdir(parents=True)
    for split, videos in (("RGB", XD_TRAIN), ("RGBTest", XD_TEST)):
        lines = []
        for name, (t, event) in videos.items():
            event = event if split == "RGB" else (0, 1) if event else None
            x = _features(rng, t, 5, 1024, event)
            for c in range(5):
                np.save(feats / f"{name}__{c}.npy", x[:, c])
                lines.append(f"/media/peng/Samsung_T5/i3d-features/{split}/{name}__{c}.npy")
        (root / ("rgb.list" if split == "RGB" else "rgb_test.list")).write_text("\n".join(lines) + "\n")
    rows, gt = [], []
    for name, (t, intervals) in XD_TEST.items():
        if intervals:
            rows.append(" ".join([name, *(f"{s} {e}" for s, e in intervals)]))
        n = 16 * t + 1 + 7  # decoded frames; the features cover 16 * floor((n - 1) / 16)
        vec = np.zeros(n, dtype=np.float32)  # XDVioDet make_gt.py: gt[s:e] = 1, drop 1 frame, then the rest
        for s, e in intervals:
            vec[s:e] = 1.0
        vec = vec[:-1]
        mod = (n - 1) % 16
        gt.append(vec[:-mod] if mod else vec)
    (root / "annotations.txt").write_text("\n".join(rows) + "\n")
    np.save(root / "gt.npy", np.concatenate(gt))


@pytest.fixture
def public_data(tmp_path, monkeypatch) -> Path:
    data = tmp_path / "vad-data"
    rng = np.random.default_rng(0)
    _write_ucf(data / "ucf", rng)
    _write_xd(data / "xd", rng)
    monkeypatch.setenv("DATA", str(data))
    monkeypatch.chdir(tmp_path)
    return data


def test_the_doc_names_train_and_evaluate_for_both_tables_and_every_ablation():
    commands = doc_commands(DOC.read_text(encoding="utf-8"))
    trains = {re.search(r"--out (\S+)", c).group(1): set(re.findall(r"--no-\w+", c))
              for c in commands if c.startswith("vadpipe train")}
    assert len([c for c in commands if c.startswith("vadpipe evaluate")]) == 4
    for data in ("ucf", "xd"):  # Table 1/2, then Tables 3-4, one run each
        assert trains[f"runs/{data}"] == set()
        assert trains[f"runs/{data}-mil-noprior"] == {"--no-prior", "--no-dr", "--no-da"}
        assert trains[f"runs/{data}-mil"] == {"--no-dr", "--no-da"}
        assert trains[f"runs/{data}-mil-dr"] == {"--no-da"}
        assert trains[f"runs/{data}-mil-da"] == {"--no-dr"}
    assert len(trains) == 10


def test_every_train_and_evaluate_command_of_the_doc_runs_on_the_public_layouts(public_data, capsys):
    commands = [c for c in doc_commands(DOC.read_text(encoding="utf-8"))
                if c.startswith(("vadpipe train", "vadpipe evaluate"))]
    for command in commands:
        argv = shlex.split(os.path.expandvars(command))[1:]
        if argv[0] == "train":
            argv += FAST_TRAIN
        assert main(argv) == 0, command
    capsys.readouterr()
    assert Path("runs/ucf/per_video.csv").is_file()
    for run in ("ucf", "ucf-mil-noprior", "ucf-mil", "ucf-mil-dr", "ucf-mil-da",
                "xd", "xd-mil-noprior", "xd-mil", "xd-mil-dr", "xd-mil-da"):
        config = json.loads(Path(f"runs/{run}/config.json").read_text())
        assert config["preset"] == run.split("-")[0]
        assert config["scorer"]["use_prior"] == ("noprior" not in run)
        assert config["loss"]["use_dr"] == (run in ("ucf", "xd") or run.endswith("-dr"))
        assert config["loss"]["use_da"] == (run in ("ucf", "xd") or run.endswith("-da"))
        assert config["scorer"]["feature_dim"] == (2048 if run.startswith("ucf") else 1024)
        assert config["features"] is None  # public list features carry no record of how they were made


def test_both_ground_truths_of_each_dataset_give_the_same_figures(public_data, capsys):
    ucf, xd = public_data / "ucf", public_data / "xd"
    assert main(["train", str(ucf / "ucf-i3d.list"), "--features-root", str(ucf / "features"), "--preset", "ucf",
                 "--out", "runs/u", *FAST_TRAIN]) == 0
    assert main(["train", str(xd / "rgb.list"), "--features-root", str(xd / "features"), "--preset", "xd",
                 "--out", "runs/x", *FAST_TRAIN]) == 0
    capsys.readouterr()
    figures = []
    for test_list, root, run, gts in ((ucf / "ucf-i3d-test.list", ucf, "runs/u",
                                       ("Temporal_Anomaly_Annotation_for_Testing_Videos.txt", "gt-ucf.npy")),
                                      (xd / "rgb_test.list", xd, "runs/x", ("annotations.txt", "gt.npy"))):
        for gt in gts:
            assert main(["evaluate", str(test_list), "--features-root", str(root / "features"), "--model", run,
                         "--gt", str(root / gt), "--json"]) == 0
            figures.append(json.loads(capsys.readouterr().out))
    for a, b in (figures[:2], figures[2:]):
        assert (a["frames"], a["auc"], a["ap"], a["pr_auc"]) == (b["frames"], b["auc"], b["ap"], b["pr_auc"])


@pytest.fixture
def weights_server(tmp_path, monkeypatch):
    """The two public checkpoints (synthetic, in their exact layouts) served on 127.0.0.1 at registry names."""
    import dataclasses
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import vadpipe.weights.registry as weights_registry
    from tests.helpers.checkpoints import write_caffe2_nonlocal_pkl, write_piergiaj_inception

    files = {"/i3d_baseline_32x2_IN_pretrain_400k.pkl": write_caffe2_nonlocal_pkl,
             "/rgb_imagenet.pt": write_piergiaj_inception}
    payload = {}
    for name, write in files.items():
        write(tmp_path / name[1:])
        payload[name] = (tmp_path / name[1:]).read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = payload[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    known = dict(weights_registry.entries())
    for e in list(known.values()):
        known[e.name] = dataclasses.replace(e, urls=(f"{base}/{e.file_name}",))
    monkeypatch.setattr(weights_registry, "entries", lambda: known)
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    yield base
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
def test_own_video_commands_of_the_doc_make_public_layout_features_and_score(public_data, weights_server, capsys):
    from tests.helpers.videos import random_frames, write_video

    ucf, xd = public_data / "ucf", public_data / "xd"
    for args in ([str(ucf / "ucf-i3d.list"), "--features-root", str(ucf / "features"), "--preset", "ucf"],
                 [str(xd / "rgb.list"), "--features-root", str(xd / "features"), "--preset", "xd"]):
        out = "runs/" + args[-1]
        assert main(["train", *args, "--out", out, *FAST_TRAIN]) == 0
    write_video(Path("my_videos/cam1.mp4"), random_frames(20, height=48, width=64, seed=1))
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## 5."):]
    commands = doc_commands(section)
    assert [c.split()[1] for c in commands] == ["weights", "extract", "score", "weights", "extract", "score"]
    for command in commands:
        argv = shlex.split(os.path.expandvars(command))[1:]
        assert main(argv + (["--quiet"] if argv[0] in ("extract", "score") else [])) == 0, command
    capsys.readouterr()
    rtfm = np.load("my_features/ucf/cam1_i3d.npy")
    assert rtfm.shape == (2, 10, 2048)  # 20 frames: last snippet padded
    assert np.load("my_features/xd/cam1__0.npy").shape == (1, 1024)  # 20 frames: partial snippet dropped
    assert Path("my_scores/ucf/cam1.scores.csv").read_text().count("\n") == 21  # header + one row per frame
    assert Path("my_scores/xd/cam1.scores.csv").read_text().count("\n") == 21


def test_the_ucf_feature_links_are_the_files_of_rtfm_readme_train_then_test():
    text = DOC.read_text(encoding="utf-8")
    links = re.findall(r"^\s*- (train|test): https://drive\.google\.com/file/d/([\w-]+)\s*$", text, flags=re.M)
    # RTFM README at cf938f4: train 1i2P9..., test 1KHBL... (single files, archives to unpack)
    assert links == [("train", "1i2P9Nn62i0cVil_WS24HKzbzmyUxA9vX"), ("test", "1KHBLG0-cjSmbqZJc4pjvKzRMI3jeE14T")]
    # the replaced Drive folders (the test folder was linked as train and the train folder as test)
    assert "1QCBTDUMBXYU9PonPh1TWnRtpTKOX-fxr" not in text and "1_6FVnHYpThVd2p93wjnbNs9g1ZuaUSTp" not in text
    assert "issue #57" in text


def test_the_doc_check_for_missing_ucf_features_names_exactly_the_missing_files(public_data):
    import subprocess

    text = DOC.read_text(encoding="utf-8")
    (check,) = [b for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S) if "missing:" in b]

    def run() -> str:
        return subprocess.run(["bash", "-c", check], capture_output=True, text=True, check=True).stdout

    assert run() == ""  # every file of both CRLF Windows-path lists is there
    (public_data / "ucf" / "features" / "Arrest001_x264_i3d.npy").unlink()
    (public_data / "ucf" / "features" / "Normal_Videos_003_x264_i3d.npy").unlink()
    assert run().splitlines() == ["missing: Arrest001_x264_i3d.npy (ucf-i3d.list)",
                                  "missing: Normal_Videos_003_x264_i3d.npy (ucf-i3d-test.list)"]
