"""The one table of score outputs: what `score` writes, the report finds and links, and `watch` writes per event."""

import json

import numpy as np
import pytest

from tests.helpers.scores import write_scored
from vadpipe.infer import outputs
from vadpipe.infer.outputs import SCORE_OUTPUTS, ScoreOutput, score_output
from vadpipe.live import outputs as live_outputs
from vadpipe.report.build import build_report
from vadpipe.report.media import PLAY_SUFFIX
from vadpipe.report.pages import PAGE_SUFFIX

SCORES = [0.1, 0.9, 0.2]  # T = 3; 40 frames; one interval: frames [16, 32)


def _write_peak(path, job):  # a new output format's writer: the peak score as text
    path.write_text(f"{job.scored.curve.max():.3f}\n")


@pytest.fixture
def peak_output(monkeypatch) -> ScoreOutput:
    """The table with one more entry, as a maintainer adding a format would write it."""
    entry = ScoreOutput("peak", ".peak.txt", _write_peak)
    monkeypatch.setattr(outputs, "SCORE_OUTPUTS", (*SCORE_OUTPUTS, entry))
    return entry


def test_the_table_names_the_files_score_writes(tmp_path):
    assert [(o.name, o.suffix) for o in SCORE_OUTPUTS] == [
        ("csv", ".scores.csv"), ("json", ".json"), ("png", ".png"), ("overlay", ".overlay.mp4")]
    result = write_scored(tmp_path, "cam", SCORES, frames=40)
    assert result.outputs == {name: str(tmp_path / f"cam{suffix}")
                              for name, suffix in [("csv", ".scores.csv"), ("json", ".json"), ("png", ".png")]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cam.json", "cam.png", "cam.scores.csv"]
    assert score_output("csv").stem_of(tmp_path / "a.b.scores.csv") == "a.b"
    assert score_output("csv").stem_of(tmp_path / "a.json") is None
    with pytest.raises(KeyError, match="no score output 'mkv'"):
        score_output("mkv")


def test_no_file_name_of_one_video_can_be_read_as_another_videos():
    # <stem><suffix> is unambiguous only when no suffix ends with another one (".mp4" vs ".overlay.mp4").
    suffixes = [o.suffix for o in SCORE_OUTPUTS] + [PAGE_SUFFIX, f"{PLAY_SUFFIX}.mp4", f"{PLAY_SUFFIX}.webm"]
    assert len(set(suffixes)) == len(suffixes)
    for a in suffixes:
        assert not [b for b in suffixes if b != a and b.endswith(a)], a


def test_a_new_table_entry_is_written_by_score_and_linked_by_the_report(tmp_path, peak_output):
    out = tmp_path / "scores"
    result = write_scored(out, "cam", SCORES, frames=40)
    assert (out / "cam.peak.txt").read_text() == "0.900\n"
    assert result.outputs["peak"] == str(out / "cam.peak.txt")
    assert json.loads((out / "cam.json").read_text())["outputs"]["peak"] == str(out / "cam.peak.txt")
    build_report(out, video="none")
    page = (out / f"cam{PAGE_SUFFIX}").read_text()
    assert [o.name for o in outputs.SCORE_OUTPUTS if f'data-output="{o.name}"' in page] == \
        ["csv", "json", "png", "peak"]  # each file that is there, in table order; no overlay was written
    assert 'href="cam.peak.txt" data-output="peak"' in page


def test_the_report_finds_scored_videos_by_the_tables_curve_file(tmp_path, monkeypatch):
    out = tmp_path / "scores"
    write_scored(out, "cam", SCORES, frames=40)
    curve = score_output("csv")
    (out / "cam.scores.csv").rename(out / "cam.curve.csv")
    moved = ScoreOutput("csv", ".curve.csv", curve.write)
    monkeypatch.setattr(outputs, "SCORE_OUTPUTS", tuple(moved if o.name == "csv" else o for o in SCORE_OUTPUTS))
    report = build_report(out, video="none")
    assert report.pages == [str(out / f"cam{PAGE_SUFFIX}")]
    assert 'href="cam.curve.csv"' in (out / f"cam{PAGE_SUFFIX}").read_text()


def _event() -> dict:
    return {"id": "cam-0001", "stream": "cam", "start_s": 1.28, "end_s": 2.56, "peak_score": 0.9,
            "mean_score": 0.85, "outputs": {"clip": "events/cam-0001.mp4"}}


def test_watch_writes_the_tables_outputs_per_event(tmp_path, monkeypatch):
    scores = [(i, i * 0.64, s) for i, s in enumerate([0.1, 0.2, 0.9, 0.8, 0.1])]  # 16 frames a snippet at 25 fps
    paths = live_outputs.write_event_files(tmp_path, _event(), scores, 25.0, threshold=0.5, release=0.4)
    assert paths == {"clip": "events/cam-0001.mp4", "json": str(tmp_path / "cam-0001.json"),
                     "png": str(tmp_path / "cam-0001.png")}
    record = json.loads((tmp_path / "cam-0001.json").read_text())
    assert record["outputs"] == paths and [s["score"] for s in record["scores"]] == [0.1, 0.2, 0.9, 0.8, 0.1]
    assert (tmp_path / "cam-0001.png").read_bytes()[:4] == b"\x89PNG"
    # An event's curve: its clip's snippets, 16 frames each, with the event as its one interval.
    curve = live_outputs.event_curve(_event(), scores, 25.0, 0.5)
    assert curve.frames == 80 and [(iv.start_s, iv.end_s) for iv in curve.intervals] == [(1.28, 2.56)]
    # Naming another of the table's outputs per event is one word, written by the same writer as `score`'s.
    monkeypatch.setattr(live_outputs, "EVENT_OUTPUTS", ("json", "png", "csv"))
    paths = live_outputs.write_event_files(tmp_path / "more", _event(), scores, 25.0, threshold=0.5, release=0.4)
    rows = (tmp_path / "more" / "cam-0001.scores.csv").read_text().splitlines()
    assert paths["csv"] == str(tmp_path / "more" / "cam-0001.scores.csv") and len(rows) == 1 + 80
    assert rows[33] == "32,1.280,0.900000"
    assert live_outputs.event_clip_path(tmp_path, "cam", "cam-0001") == tmp_path / "cam" / "events" / "cam-0001.mp4"


def test_score_output_writers_take_the_scored_curve_not_the_snippet_scores(tmp_path):
    from vadpipe.infer.intervals import scored_curve
    from vadpipe.infer.options import IntervalOptions
    from vadpipe.infer.outputs import OutputJob, select_outputs, write_outputs

    scored = scored_curve(np.array([0.1, 0.9, 0.2]), 40, 25.0, IntervalOptions(), _config())
    job = OutputJob(scored, title="cam", record=lambda: {"intervals": len(scored.intervals)})
    chosen = select_outputs(job)
    assert [o.name for o in chosen] == ["csv", "json", "png"]  # no overlay source: no overlay
    timings = {}
    write_outputs(chosen, tmp_path, "cam", job, timings=timings)
    assert json.loads((tmp_path / "cam.json").read_text()) == {"intervals": 1}
    assert list(timings) == ["writing"] and timings["writing"] > 0  # the record's own seconds are not in it


def _config():
    from tests.helpers.scores import tiny_config

    return tiny_config()
