"""End to end on tiny synthetic videos: extract -> train -> score, and score's bad inputs."""

import csv
import dataclasses
import json

import numpy as np
import pytest

from vadpipe.cli.app import main


@pytest.fixture
def pipeline(tiny_run):
    """(root, specs) of the shared tiny chain (tests/helpers/pipeline.py): videos/, feats/ and run/ under root."""
    return tiny_run.root, tiny_run.specs


def test_score_with_a_missing_path_scores_the_others_and_exits_1(pipeline, tmp_path, capsys):
    root, specs = pipeline
    good = root / "videos" / "normal" / f"{specs[2].name}.mp4"
    code = main(["score", str(tmp_path / "missing.mp4"), str(good), "--model", str(root / "run"),
                 "--out", str(tmp_path / "o"), "--json", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1 and [v["video"] for v in json.loads(captured.out)["videos"]] == [str(good)]
    assert "vadpipe: error: " + str(tmp_path / "missing.mp4") + ": no such file or folder" in captured.err


def test_score_of_only_missing_paths_exits_1_without_building_a_backbone(pipeline, tmp_path, capsys, monkeypatch):
    import vadpipe.backbones.registry as registry

    def no_backbone(*args, **kwargs):
        raise AssertionError("nothing to score: no backbone should be built (its weights may not even be there)")

    monkeypatch.setattr(registry, "build_backbone", no_backbone)
    root, _ = pipeline
    code = main(["score", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "--model", str(root / "run"),
                 "--out", str(tmp_path / "o"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("no such file or folder") == 2


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
    assert (features.crop_order, features.resize_mode) == ("center", "opencv_linear")
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    config = json.loads((run / "config.json").read_text())
    config["features"].update(crops=10, crop_order="vadpipe_v1", resize_mode="short_side")  # an older store's
    (run / "config.json").write_text(json.dumps(config))
    seen = {}

    def fake_extract(paths, session):
        seen.update(dataclasses.asdict(session.spec))
        return iter(())

    monkeypatch.setattr(extract_mod, "extract_videos", fake_extract)
    video = root / "videos" / "abnormal" / f"{specs[0].name}.mp4"
    main(["score", str(video), "--model", str(run), "--out", str(tmp_path / "s"), "--quiet", "--device", "cpu"])
    assert (seen["crops"], seen["crop_order"], seen["resize_mode"]) == (10, "vadpipe_v1", "short_side")
    seen.clear()
    main(["score", str(video), "--model", str(run), "--out", str(tmp_path / "s"), "--quiet", "--crops", "5"])
    assert (seen["crops"], seen["crop_order"]) == (5, "center_first")  # fewer crops: that count's own order


def test_each_stem_json_carries_the_same_timings_and_engine_as_the_json_output(pipeline, tmp_path, capsys):
    root, specs = pipeline
    videos = [root / "videos" / "abnormal" / f"{specs[0].name}.mp4",
              root / "videos" / "normal" / f"{specs[2].name}.mp4"]
    assert main(["score", *map(str, videos), "--model", str(root / "run"), "--out", str(tmp_path), "--json",
                 "--overlay", "--device", "cpu"]) == 0
    document = json.loads(capsys.readouterr().out)
    printed = document["videos"]
    assert len(printed) == 2 and document["engine"] == "torch"  # the run's engine at the top, too
    for video in printed:
        saved = json.loads(open(video["outputs"]["json"]).read())
        assert {key: saved[key] for key in video} == video  # every field, each video's own timings included
        assert set(video["timings_s"]) == {"decode_and_backbone", "scorer", "writing", "overlay"}
        assert all(v >= 0 and v == round(v, 6) for v in video["timings_s"].values())
        assert video["engine"] == "torch"
    assert printed[0]["timings_s"] != printed[1]["timings_s"]


def test_a_bare_feature_file_says_the_fps_it_assumed_and_fps_sets_it(pipeline, tmp_path, capsys):
    import shutil

    root, specs = pipeline
    bare = tmp_path / "bare"
    bare.mkdir()
    npy = shutil.copy(root / "feats" / "normal" / f"{specs[3].name}.npy", bare / "cam.npy")  # no index.jsonl here
    assert main(["score", "--features", str(npy), "--model", str(root / "run"), "--out", str(tmp_path / "a")]) == 0
    notes = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("note:")]
    assert notes == ["note: cam.npy: no index.jsonl above to give frame count and rate; seconds assume 30 fps and "
                     "16 frames per snippet; give --fps with the video's real rate"]
    saved = json.loads((tmp_path / "a" / "cam.json").read_text())
    assert (saved["frames"], saved["fps"], saved["duration_s"]) == (80, 30.0, round(80 / 30, 6))  # 16 x 5 snippets
    assert saved["metadata"] == {"fps_source": "assumed 30 (no index)", "frames_source": "16 per snippet (no index)"}
    assert main(["score", "--features", str(npy), "--model", str(root / "run"), "--out", str(tmp_path / "b"),
                 "--fps", "25"]) == 0
    assert "note:" not in capsys.readouterr().err
    saved = json.loads((tmp_path / "b" / "cam.json").read_text())
    assert (saved["fps"], saved["duration_s"], saved["metadata"]["fps_source"]) == (25.0, 3.2, "--fps")


def test_score_gt_draws_and_records_the_ground_truth_of_any_video_it_names(pipeline, tmp_path, capsys):
    from PIL import Image

    root, specs = pipeline
    named, absent = specs[0].name, specs[2].name
    gt = tmp_path / "Temporal_Anomaly_Annotation.txt"
    gt.write_text(f"{named}.mp4  Abuse  16  39  -1  -1\n{specs[1].name}.mp4  Normal  -1  -1  -1  -1\n")
    videos = [root / "videos" / "abnormal" / f"{named}.mp4", root / "videos" / "normal" / f"{absent}.mp4"]
    out = tmp_path / "o"
    assert main(["score", *map(str, videos), "--model", str(root / "run"), "--out", str(out), "--gt", str(gt),
                 "--report", "--device", "cpu"]) == 0
    notes = [ln for ln in capsys.readouterr().err.splitlines() if "ground-truth" in ln]
    assert notes == [f"note: {gt} does not name 1 of the 2 scored video(s) ({absent}); they have no ground-truth band"]
    saved = json.loads((out / f"{named}.json").read_text())
    assert saved["ground_truth"] == {"file": str(gt), "intervals": [  # UCF-Crime ends are inclusive: 16..39
        {"start_frame": 16, "end_frame": 40, "start_s": 0.64, "end_s": 1.6}]}
    assert json.loads((out / f"{absent}.json").read_text())["ground_truth"] is None
    # The PNG: a black band under the curve over 0.64-1.6 s of the 2.8 s axis, and none on the other video's.
    band = _black_band_columns(np.asarray(Image.open(out / f"{named}.png").convert("RGB")))
    assert band is not None
    (left, right), axis = band
    assert (left - axis[0]) / (axis[1] - axis[0]) == pytest.approx(0.64 / 2.8, abs=0.004)
    assert (right - axis[0]) / (axis[1] - axis[0]) == pytest.approx(1.6 / 2.8, abs=0.004)
    assert _black_band_columns(np.asarray(Image.open(out / f"{absent}.png").convert("RGB"))) is None
    # The report: the named video's page and its index row shade the ground truth; the other's do not.
    page = (out / f"{named}.report.html").read_text()
    assert page.count('class="truth"') == 1 and "0.6 s to 1.6 s (shaded grey;" in page
    assert 'class="truth"' not in (out / f"{absent}.report.html").read_text()


def _black_band_columns(image: np.ndarray):
    """((first, last) x of the ground-truth band, (left, right) x of the plot's axes) in a score PNG, or None.

    The band is the only black run of pixels a few rows high below the curve's zero line; the axes' frame
    is the longest dark horizontal line."""
    dark = image.max(axis=2) < 60  # (H, W)
    rows = dark.sum(axis=1)
    frame_rows = np.flatnonzero(rows > 0.6 * image.shape[1])  # the top and bottom edges of the axes
    bottom = frame_rows.max()
    cols = np.flatnonzero(dark[bottom])
    axis = (cols.min(), cols.max())
    strip = dark[bottom - 12 : bottom - 2, axis[0] + 2 : axis[1] - 2]  # just above the bottom edge
    band = np.flatnonzero(strip.sum(axis=0) >= 3)
    if band.size == 0:
        return None
    return (band.min() + axis[0] + 2, band.max() + axis[0] + 2), axis


def test_score_overlay_carries_the_videos_sound_aligned_with_the_picture(pipeline, tmp_path, capsys):
    from tests.helpers.videos import random_frames, sound_of, write_video

    root, _ = pipeline
    video = write_video(tmp_path / "loud.mp4", random_frames(70, 40, 48), fps=25, audio_s=2.8, audio_onset_s=1.0)
    assert main(["score", str(video), "--model", str(root / "run"), "--out", str(tmp_path / "o"), "--overlay",
                 "--json", "--device", "cpu"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["videos"]
    import av

    with av.open(result["outputs"]["overlay"]) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        assert container.streams.audio[0].codec_context.name == "aac"  # copied as it was
    onset, seconds = sound_of(result["outputs"]["overlay"])
    assert onset == pytest.approx(1.0, abs=0.01)  # the tone starts on the frame it started on in the source
    assert seconds == pytest.approx(2.8, abs=0.07)


def test_score_truth_reads_xd_annotations_and_maps_them_onto_resampled_frames(tmp_path):
    from vadpipe.errors import UsageError
    from vadpipe.infer.truth import ScoreTruth

    gt = tmp_path / "annotations.txt"
    gt.write_text("fight_label_B1-0-0 10 20 30 40\n")  # XD-Violence: ends exclusive, normal videos unlisted
    truth = ScoreTruth.load(gt)
    labels, _ = truth.labels("fight_label_B1-0-0", 50)
    assert np.flatnonzero(labels).tolist() == list(range(10, 20)) + list(range(30, 40))
    quiet, _ = truth.labels("calm_label_A", 50)  # unlisted, but named normal: known to have no anomaly
    assert quiet is not None and not quiet.any()
    assert truth.labels("cam3", 50) == (None, None) and truth.absent == ["cam3"]
    # Scored at 10 fps from a 25 fps source (50 frames): scored frame k shows source frame floor(2.5 k).
    labels, _ = truth.labels("fight_label_B1-0-0", 20, source_fps=25.0, fps=10.0, source_frames=50)
    assert np.flatnonzero(labels).tolist() == [4, 5, 6, 7, 12, 13, 14, 15]
    assert truth.summary(3) == f"{gt} does not name 1 of the 3 scored video(s) (cam3); they have no ground-truth band"
    np.save(tmp_path / "gt.npy", np.zeros(10))
    with pytest.raises(UsageError, match="per-video annotation .txt"):
        ScoreTruth.load(tmp_path / "gt.npy")
