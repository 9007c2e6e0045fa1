"""End to end on tiny synthetic videos: extract -> train -> score, and score's bad inputs."""

import csv
import dataclasses
import json

import numpy as np
import pytest

from vadpipe.cli.app import main
from vadpipe.demo.scenes import make_specs, render_scene, write_mp4

SIZE = ["--resize-short", "36", "--crop-size", "32"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    specs = make_specs(2, 2, 70, np.random.default_rng(0), "clip")  # 70 frames: T = 5, last snippet padded
    for i, spec in enumerate(specs):
        folder = root / "videos" / ("abnormal" if spec.label else "normal")
        write_mp4(folder / f"{spec.name}.mp4", render_scene(spec, height=40, width=48, seed=i))
    assert main(["extract", str(root / "videos"), "--out", str(root / "feats"), "--backbone", "inception_i3d",
                 "--random-init", "--crops", "1", *SIZE, "--device", "cpu", "--quiet"]) == 0
    assert main(["train", str(root / "feats"), "--out", str(root / "run"), "--preset", "xd", "--epochs", "2",
                 "--batch-size", "4", "--seq-len", "8", "--device", "cpu", "--quiet"]) == 0
    return root, specs


def test_score_writes_one_row_per_decoded_frame_with_the_snippet_score(pipeline, tmp_path, capsys):
    root, specs = pipeline
    video = root / "videos" / "abnormal" / f"{specs[0].name}.mp4"
    assert main(["score", str(video), "--model", str(root / "run"), "--out", str(tmp_path), "--json",
                 "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    (result,) = report["videos"]
    assert result["frames"] == 70 and result["snippets"] == 5 and result["fps"] == pytest.approx(25.0)
    rows = list(csv.DictReader(open(tmp_path / f"{specs[0].name}.scores.csv")))
    assert len(rows) == 70 and rows[-1]["frame"] == "69"
    scores = np.array([float(r["score"]) for r in rows])
    # Frame f carries snippet f // 16's score: the same score over each block of 16 frames.
    for s in range(5):
        block = scores[16 * s : 16 * (s + 1)]
        assert np.all(block == block[0])
    # The scores are those of the run on the extracted features (same random backbone, same sizes).
    from vadpipe.infer.score import snippet_scores
    from vadpipe.model.checkpoint import load_run

    model, config = load_run(root / "run")
    feats = np.load(root / "feats" / "abnormal" / f"{specs[0].name}.npy")
    expected = snippet_scores(model, feats, config.scorer.feature_dim, "x")
    np.testing.assert_allclose(scores[::16], expected, atol=2e-6)
    saved = json.loads((tmp_path / f"{specs[0].name}.json").read_text())
    assert saved["threshold"] == 0.5 and "default" in saved["threshold_source"]
    assert (tmp_path / f"{specs[0].name}.png").read_bytes()[:4] == b"\x89PNG"


def test_score_threshold_zero_gives_one_interval_over_the_whole_video(pipeline, tmp_path, capsys):
    root, specs = pipeline
    video = root / "videos" / "normal" / f"{specs[2].name}.mp4"
    assert main(["score", str(video), "--model", str(root / "run"), "--out", str(tmp_path), "--threshold", "0",
                 "--json", "--overlay", "--device", "cpu"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["videos"]
    assert [(iv["start_frame"], iv["end_frame"]) for iv in result["intervals"]] == [(0, 70)]
    assert result["intervals"][0]["end_s"] == pytest.approx(70 / 25)
    from vadpipe.video.decode import read_video

    frames, info = read_video(result["outputs"]["overlay"])
    assert info.frames == 70 and frames.shape[1:] == (40, 48, 3)


def test_score_precomputed_features_takes_frames_and_fps_from_the_store(pipeline, tmp_path, capsys):
    root, specs = pipeline
    npy = root / "feats" / "normal" / f"{specs[3].name}.npy"
    assert main(["score", "--features", str(npy), "--model", str(root / "run"), "--out", str(tmp_path),
                 "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["videos"]
    assert result["frames"] == 70 and result["fps"] == pytest.approx(25.0)


def test_score_bad_video_is_one_line_and_the_others_go_on(pipeline, tmp_path, capsys):
    root, specs = pipeline
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    good = root / "videos" / "normal" / f"{specs[2].name}.mp4"
    code = main(["score", str(bad), str(good), "--model", str(root / "run"), "--out", str(tmp_path / "o"),
                 "--json", "--device", "cpu"])
    assert code == 1
    captured = capsys.readouterr()
    assert "broken.mp4" in captured.err and "Traceback" not in captured.err
    assert len(json.loads(captured.out)["videos"]) == 1


def test_score_report_lists_the_scored_videos_and_the_failed_input(pipeline, tmp_path, capsys):
    root, specs = pipeline
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    out = tmp_path / "o"
    code = main(["score", str(bad), str(root / "videos"), "--model", str(root / "run"), "--out", str(out),
                 "--report", "--overlay", "--json", "--device", "cpu"])
    assert code == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["report"]["report"] == str(out / "report.html") and doc["report"]["bytes"] > 0
    index = (out / "report.html").read_text()
    assert "broken.mp4: FFmpeg cannot read this file" in index
    for spec in specs:  # videos/<label>/<name>.mp4 -> <out>/<label>/<name>.report.html, playing the original
        folder = out / ("abnormal" if spec.label else "normal")
        assert f'{folder.name}/{spec.name}.report.html' in index
        page = (folder / f"{spec.name}.report.html").read_text()
        assert f'src="{spec.name}.play.mp4"' in page and f'data-src="{spec.name}.overlay.mp4"' in page


def test_score_refuses_features_of_the_wrong_dim(pipeline, tmp_path, capsys):
    root, _ = pipeline
    np.save(tmp_path / "wrong.npy", np.zeros((4, 1, 7), np.float32))
    assert main(["score", "--features", str(tmp_path / "wrong.npy"), "--model", str(root / "run"),
                 "--out", str(tmp_path / "o")]) == 1
    assert "expects 1024-d" in capsys.readouterr().err


def test_score_refuses_an_override_that_conflicts_with_the_run(pipeline, tmp_path, capsys):
    root, specs = pipeline
    video = root / "videos" / "normal" / f"{specs[2].name}.mp4"
    for args, said in ((["--backbone", "resnet3d"], "--backbone resnet3d: the run was trained on features with "
                        "backbone inception_i3d"),
                       (["--tail", "drop"], "--tail drop: the run was trained on features with tail pad"),
                       (["--crops", "5"], "--crops 5: the run was trained on 1-crop features")):
        assert main(["score", str(video), "--model", str(root / "run"), *args, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1


def test_run_records_crop_order_and_resize_mode_and_score_extracts_with_them(pipeline, tmp_path, monkeypatch):
    import shutil

    import vadpipe.features.extract as extract_mod
    from vadpipe.model.checkpoint import read_run_config

    root, specs = pipeline
    features = read_run_config(root / "run").features
    assert (features.crop_order, features.resize_mode) == ("center", "scale_factor")
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    config = json.loads((run / "config.json").read_text())
    config["features"].update(crops=10, crop_order="vadpipe_v1", resize_mode="short_side")  # an older store's
    (run / "config.json").write_text(json.dumps(config))
    seen = {}

    def fake_extract(paths, net, spec, options):
        seen.update(dataclasses.asdict(spec))
        return iter(())

    monkeypatch.setattr(extract_mod, "extract_videos", fake_extract)
    video = root / "videos" / "abnormal" / f"{specs[0].name}.mp4"
    main(["score", str(video), "--model", str(run), "--out", str(tmp_path / "s"), "--quiet", "--device", "cpu"])
    assert (seen["crops"], seen["crop_order"], seen["resize_mode"]) == (10, "vadpipe_v1", "short_side")
    seen.clear()
    main(["score", str(video), "--model", str(run), "--out", str(tmp_path / "s"), "--quiet", "--crops", "5"])
    assert (seen["crops"], seen["crop_order"]) == (5, "center_first")  # fewer crops: that count's own order
