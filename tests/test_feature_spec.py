"""One feature spec from extract to score: written into every record, stored in the run, honoured by score."""

import dataclasses
import json

import numpy as np
import pytest

from tests.helpers.videos import write_video
from vadpipe.cli.app import main
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.features.record import IndexRecord
from vadpipe.features.store import read_index
from vadpipe.infer.scoring import ScoreOptions, ScoringRun, score_inputs
from vadpipe.model.checkpoint import CONFIG_NAME, read_run_config
from vadpipe.observers import Observer

# Every field of the spec away from its default, so that one that score dropped would change the features.
SPEC_ARGS = ["--backbone", "inception_i3d", "--random-init", "--fps", "10", "--tail", "drop", "--crops", "5",
             "--resize-short", "36", "--crop-size", "32", "--dtype", "float16"]


class _Keep(Observer):
    def __init__(self):
        self.features = {}

    def event(self, kind, data):
        if kind == "extracted":
            self.features[data["video"]] = data["features"]


# Not the shared tiny_run: this chain needs every spec field off its default (SPEC_ARGS), which the other
# end-to-end tests must not have.
@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """Four 96-frame 30 fps videos, extracted with SPEC_ARGS, and a run trained on them."""
    root = tmp_path_factory.mktemp("chain")
    rng = np.random.default_rng(0)
    for label in ("normal", "abnormal"):
        for i in range(2):
            frames = rng.integers(0, 255, size=(96, 40, 48, 3), dtype=np.uint8)
            write_video(root / "videos" / label / f"{label}{i}.mp4", frames, fps=30)
    assert main(["extract", str(root / "videos"), "--out", str(root / "feats"), *SPEC_ARGS, "--device", "cpu",
                 "--quiet"]) == 0
    assert main(["train", str(root / "feats"), "--out", str(root / "run"), "--preset", "xd", "--epochs", "1",
                 "--batch-size", "4", "--seq-len", "4", "--device", "cpu", "--quiet"]) == 0
    return root


def test_every_spec_field_is_in_the_index_and_the_run(chain):
    records = [IndexRecord.from_json(r) for r in read_index(chain / "feats")]
    expected = FeatureSpec(backbone="inception_i3d", crops=5, tail="drop", resample_fps=10.0, resize_short=36,
                           crop_size=32, crop_order="center_first", resize_mode="opencv_linear", dtype="float16",
                           random_init=True)
    assert {r.spec for r in records} == {expected}
    assert all((r.frames, r.snippets) == (32, 2) for r in records)  # 96 frames at 30 fps -> 32 at 10 fps
    assert read_run_config(chain / "run").features == expected
    stored = json.loads((chain / "run" / CONFIG_NAME).read_text())["features"]
    assert stored == expected.record_fields()  # stored whole, under the record's own keys


def test_score_on_raw_video_extracts_the_stores_features_byte_for_byte(chain, tmp_path):
    keep = _Keep()
    run = ScoringRun.load(chain / "run", "cpu")
    results = list(score_inputs([chain / "videos"], run, ScoreOptions(out=tmp_path), observer=keep))
    assert len(results) == 4 and len(keep.features) == 4
    for video, feats in keep.features.items():
        rel = video.split("videos/")[1].removesuffix(".mp4")
        stored = np.load(chain / "feats" / f"{rel}.npy")
        assert feats.dtype == stored.dtype == np.float16 and feats.shape == stored.shape == (2, 5, 1024)
        assert feats.tobytes() == stored.tobytes()


def test_score_writes_as_many_rows_as_the_features_have_frames(chain, tmp_path, capsys):
    video = chain / "videos" / "abnormal" / "abnormal0.mp4"
    npy = chain / "feats" / "abnormal" / "abnormal0.npy"
    assert main(["score", str(video), "--model", str(chain / "run"), "--out", str(tmp_path / "raw"),
                 "--device", "cpu", "--json"]) == 0
    (raw,) = json.loads(capsys.readouterr().out)["videos"]
    assert main(["score", "--features", str(npy), "--model", str(chain / "run"), "--out", str(tmp_path / "npy"),
                 "--json"]) == 0
    (pre,) = json.loads(capsys.readouterr().out)["videos"]
    assert raw["frames"] == pre["frames"] == 32 and raw["fps"] == pytest.approx(10.0)
    rows = (tmp_path / "raw" / "abnormal0.scores.csv").read_text().splitlines()
    assert len(rows) == 1 + 32
    assert raw["max_score"] == pytest.approx(pre["max_score"])


def test_a_record_written_before_the_spec_was_recorded_whole_reads_as_the_same_spec():
    old = {"video": "a.mp4", "id": "a", "features": "a.npy", "frames": 40, "fps": 25.0, "snippets": 3, "crops": 10,
           "dim": 2048, "backbone": "resnet3d", "tail": "pad", "status": "ok", "random_init": True}
    rec = IndexRecord.from_json(old)
    # Written before crop_order / resize_mode were recorded: the 10 crops were in vadpipe's first order.
    assert (rec.spec.crop_order, rec.spec.resize_mode) == ("vadpipe_v1", "short_side")
    assert not rec.made_with(FeatureSpec.resolve("resnet3d", random_init=True), "vadpipe", allow_random=True)
    spec = FeatureSpec.resolve("resnet3d", random_init=True, crop_order="vadpipe_v1")
    assert rec.spec == spec and rec.made_with(spec, "vadpipe", allow_random=True)
    assert not rec.made_with(spec, "vadpipe", allow_random=False)  # random-init features only when allowed
    assert not rec.made_with(dataclasses.replace(spec, resample_fps=10.0), "vadpipe", allow_random=True)
    assert not rec.made_with(spec, "rtfm", allow_random=True)
    again = IndexRecord.from_json(rec.to_json())
    assert again == rec and again.frame_count == 40


def test_unknown_record_keys_are_kept_and_a_record_without_backbone_has_no_spec():
    rec = IndexRecord.from_json({"id": "b", "features": "b.npy", "crops": 2, "dim": 32, "snippets": 3,
                                 "status": "ok", "engine": "onnxruntime"})
    assert rec.spec is None and rec.crops == 2 and rec.frame_count == 48
    assert rec.to_json()["engine"] == "onnxruntime"


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"crops": 3}, "crops"), ({"tail": "loop"}, "tail"), ({"dtype": "int8"}, "dtype"),
    ({"crops": 5, "crop_order": "tencrop"}, "crop_order"), ({"resize_mode": "nearest"}, "resize_mode"),
    ({"resample_fps": 0.0}, "resample_fps"), ({"resize_short": 100, "crop_size": 200}, "crop_size"),
])
def test_a_bad_setting_names_its_parameter_and_the_cli_its_flag(kwargs, param, tmp_path, capsys):
    from vadpipe.errors import UsageError

    with pytest.raises(UsageError) as caught:
        FeatureSpec.resolve("resnet3d", **kwargs)
    assert caught.value.param == param and str(caught.value).startswith(param)
    if param in ("crop_order", "resize_mode"):
        return  # no command-line flag
    flags = {"crops": ["--crops", "3"], "tail": ["--tail", "loop"], "dtype": ["--dtype", "int8"],
             "resample_fps": ["--fps", "0"], "crop_size": ["--resize-short", "100", "--crop-size", "200"]}
    assert main(["extract", str(tmp_path), "--out", str(tmp_path / "o"), *flags[param]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"vadpipe: error: {flags[param][-2 if param == 'crop_size' else 0]}")
    assert len(err.splitlines()) == 1


def test_a_format_1_run_config_still_loads(tmp_path, chain):
    data = json.loads((chain / "run" / CONFIG_NAME).read_text())
    data["format_version"] = 1
    data["features"] = {"dim": 1024, "crops": 5, "backbone": "inception_i3d", "tail": "drop", "resize_short": 36,
                        "crop_size": 32, "random_init": True, "backbone_seed": None}
    (tmp_path / CONFIG_NAME).write_text(json.dumps(data))
    spec = read_run_config(tmp_path).features
    assert spec == FeatureSpec(backbone="inception_i3d", crops=5, tail="drop", resize_short=36, crop_size=32,
                               crop_order="center_first", resize_mode="short_side", random_init=True)
    # (format 1 recorded no resampling fps or dtype; before crop_order/resize_mode it made short_side features)
    data["features"] = {"dim": 1024, "crops": 5, "backbone": None}  # trained on public features
    (tmp_path / CONFIG_NAME).write_text(json.dumps(data))
    assert read_run_config(tmp_path).features is None


def test_a_run_trained_on_public_lists_scores_as_that_public_set_was_made():
    from vadpipe.errors import UsageError
    from vadpipe.infer.scoring import scoring_spec
    from vadpipe.model.checkpoint import RunConfig
    from vadpipe.model.config import get_preset

    def config(dim):
        preset = get_preset("ucf")
        preset.scorer.feature_dim = dim
        return RunConfig(scorer=preset.scorer, loss=preset.loss, train=preset.train, features=None)

    from vadpipe.observers import Collector

    told = Collector()
    notes = told.notes
    ucf = scoring_spec(config(2048), observer=told)
    assert (ucf.backbone, ucf.crops, ucf.crop_order, ucf.tail) == ("resnet3d", 10, "tencrop", "pad")
    xd = scoring_spec(config(1024), observer=told)
    assert (xd.backbone, xd.crops, xd.crop_order, xd.tail, xd.resize_mode) == (
        "inception_i3d", 5, "center_first", "drop", "opencv_linear")
    assert "RTFM UCF-Crime" in notes[0] and "XD-Violence" in notes[1]
    assert scoring_spec(config(2048), backbone="i3d_r50").backbone == "i3d_r50"  # named: no public default
    with pytest.raises(UsageError) as caught:
        scoring_spec(config(32))
    assert caught.value.param == "backbone"


def test_watch_on_a_file_gives_scores_snippets_and_scores_with_every_spec_field_off_its_default(chain, tmp_path,
                                                                                                capsys):
    """`watch` reads, resamples (--fps 10), cuts (--tail drop), crops (5, 36 -> 32) and rounds (float16) as `score`."""
    import csv

    rng = np.random.default_rng(1)
    video = write_video(tmp_path / "odd.mp4", rng.integers(0, 255, size=(110, 40, 48, 3), dtype=np.uint8), fps=30)
    # 110 frames at 30 fps = 3.67 s -> 37 frames at 10 fps -> 2 whole snippets (tail drop; pad would make 3)
    assert main(["score", str(video), "--model", str(chain / "run"), "--out", str(tmp_path / "score"),
                 "--device", "cpu", "--quiet"]) == 0
    with open(tmp_path / "score" / "odd.scores.csv") as f:
        curve = np.array([float(r["score"]) for r in csv.DictReader(f)])
    assert len(curve) == 37 and json.loads((tmp_path / "score" / "odd.json").read_text())["snippets"] == 2
    offline = curve[: 2 * 16 : 16]  # one value per snippet (frames 32-36 carry the last snippet's score)
    capsys.readouterr()
    # The run has no band; a window and lookahead covering the whole video make the live scores the offline ones.
    assert main(["watch", str(video), "--model", str(chain / "run"), "--json", "--every-snippet", "--device", "cpu",
                 "--window", "64", "--lookahead", "4", "--behind", "queue"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    snippets = [x for x in lines if x["type"] == "snippet"]
    assert len(snippets) == 2
    assert [x["stream_time_s"] for x in snippets] == [0.0, 1.6]  # 16 frames at 10 fps
    np.testing.assert_allclose([x["score"] for x in snippets], offline, atol=1e-5)
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["model"]["resample_fps"] == 10.0
    assert summary["streams"][0]["frames"] == 37
    assert summary["streams"][0]["lookahead_s"] == 6.4  # the band's 4 snippets x 16 frames at 10 fps
