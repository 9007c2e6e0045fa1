"""The two page types of a score report: one page per video, and ``report.html`` listing them all."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING

from vadpipe.report.svg import curve_svg, runs, sparkline_svg
from vadpipe.report.template import (
    SORT_JS,
    cell,
    count,
    definition_list,
    esc,
    href,
    json_script,
    page,
    sortable_table,
    stat,
)

if TYPE_CHECKING:
    from vadpipe.model.checkpoint import RunConfig

PAGE_SUFFIX = ".report.html"  # a video's page: <stem>.report.html, beside its score outputs

# The video page's behaviour: a cursor on the curve that follows playback, click on the curve to seek,
# interval entries that seek to their start, the score under the cursor, and the overlay switch.
PLAYER_JS = """
(function () {
  var data = JSON.parse(document.getElementById('vp-data').textContent);
  var video = document.getElementById('player');
  var svg = document.getElementById('curve');
  var cursor = document.getElementById('cursor');
  var readout = document.getElementById('readout');
  var left = parseFloat(svg.dataset.left), width = parseFloat(svg.dataset.width);
  var duration = parseFloat(svg.dataset.duration);
  function scoreAt(frame) {
    var lo = 0, hi = data.starts.length - 1;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (data.starts[mid] <= frame) lo = mid; else hi = mid - 1; }
    return data.values[lo];
  }
  function alarmAt(t) {
    return data.intervals.some(function (iv) { return t >= iv[0] && t < iv[1]; });
  }
  function show(t) {
    var x = left + width * Math.min(Math.max(t / duration, 0), 1);
    cursor.setAttribute('x1', x); cursor.setAttribute('x2', x);
    var frame = Math.min(Math.floor(t * data.fps + 1e-6), data.frames - 1);
    readout.innerHTML = '';
    var parts = [['time', t.toFixed(2) + ' s'], ['frame', String(frame)], ['score', scoreAt(frame).toFixed(3)]];
    parts.forEach(function (p) {
      readout.appendChild(document.createTextNode(p[0] + ' '));
      var b = document.createElement('b'); b.textContent = p[1]; readout.appendChild(b);
      readout.appendChild(document.createTextNode('   '));
    });
    if (alarmAt(t)) { var a = document.createElement('span'); a.className = 'alarm'; a.textContent = 'ALARM';
                      readout.appendChild(a); }
    svg.dataset.cursorTime = t;
  }
  function tick() { show(video.currentTime); if (!video.paused && !video.ended) requestAnimationFrame(tick); }
  function seek(t) {
    t = Math.min(Math.max(t, 0), duration);
    if (video) video.currentTime = t;
    show(t);
  }
  if (video) {
    video.addEventListener('play', function () { requestAnimationFrame(tick); });
    ['timeupdate', 'seeked', 'loadedmetadata'].forEach(function (e) {
      video.addEventListener(e, function () { show(video.currentTime); });
    });
  }
  svg.addEventListener('click', function (e) {
    var p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY;
    var q = p.matrixTransform(svg.getScreenCTM().inverse());
    seek((q.x - left) / width * duration);
  });
  document.querySelectorAll('[data-seek]').forEach(function (b) {
    b.addEventListener('click', function () { seek(parseFloat(b.dataset.seek)); });
  });
  document.querySelectorAll('[data-src]').forEach(function (b) {
    b.addEventListener('click', function () {
      var t = video.currentTime, playing = !video.paused;
      video.src = b.dataset.src;
      document.getElementById('playing').textContent = 'playing: ' + b.dataset.how;
      video.addEventListener('loadedmetadata', function () {
        video.currentTime = t; if (playing) video.play();
      }, { once: true });
      document.querySelectorAll('[data-src]').forEach(function (o) { o.setAttribute('aria-pressed', o === b); });
    });
  });
  show(0);
})();
"""


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 60 else f"{int(s // 60)}:{s % 60:04.1f}"


def _threshold_text(threshold: float, source: str) -> str:
    """``0.412 (max frame F1 (0.601) on validation, epoch 12)``; the default's value said once:
    ``0.500, the default (the run stores no threshold)``."""
    default = re.fullmatch(r"default [\d.]+ (\(.*\))", source)
    if default:
        return f"{threshold:.3f}, the default {default.group(1)}"
    return f"{threshold:.3f} ({source})" if source else f"{threshold:.3f}"


def video_page(entry, page_path: Path, index_path: Path, media_path: Path | None, media_how: str,
               run: RunConfig | None) -> str:
    """The HTML of one video's page (written at ``page_path``; every link is relative to it).

    Args:
        entry: a :class:`vadpipe.report.build.ScoredVideo`; its score outputs are linked, and its overlay
            video (when there is one) is offered beside the original.
        run: the config of the run that scored it when it could be read (the scorer's settings), else None.
    """
    info, here = entry.info, page_path.parent
    overlay_path = entry.files.get("overlay")
    fps, threshold = float(info["fps"]), float(info["threshold"])
    name = Path(info.get("video", entry.stem)).name
    intervals = info.get("intervals", [])
    if media_path is not None:
        sources = ""
        if overlay_path is not None:
            sources = (f'<div class="toggle">show: <button type="button" aria-pressed="true" '
                       f'data-src="{esc(href(media_path, here))}" data-how="{esc(media_how)}">video</button> '
                       f'<button type="button" aria-pressed="false" data-src="{esc(href(overlay_path, here))}" '
                       f'data-how="{esc(f"the score overlay ({overlay_path.name})")}">score overlay</button></div>')
        player = (f'<video id="player" controls preload="auto" playsinline src="{esc(href(media_path, here))}">'
                  f'</video>{sources}<div class="muted" id="playing" style="font-size:12px;margin-top:4px">'
                  f'playing: {esc(media_how)}</div>')
    else:
        player = f'<div class="novideo">No video on this page: {esc(media_how)}.</div>'
    buttons = "".join(
        f'<button type="button" data-seek="{iv["start_s"]!r}"><b>#{i + 1}</b> {esc(_seconds(iv["start_s"]))} '
        f'&ndash; {esc(_seconds(iv["end_s"]))} ({iv["end_s"] - iv["start_s"]:.1f} s), peak {iv["peak_score"]:.2f}, '
        f'mean {iv["mean_score"]:.2f}</button>'
        for i, iv in enumerate(intervals)
    ) or '<p class="muted">No interval reaches the threshold.</p>'
    starts, values = runs(entry.curve)
    data = {"fps": fps, "frames": int(len(entry.curve)), "starts": starts.tolist(),
            "values": [round(float(v), 4) for v in values],
            "intervals": [[iv["start_s"], iv["end_s"]] for iv in intervals]}
    meta = info.get("metadata") or {}
    video_items = [("file", info.get("video")), ("frames", info.get("frames")), ("fps", f"{fps:g}"),
                   ("duration", _seconds(float(info.get("duration_s", 0)))), ("snippets", info.get("snippets"))]
    video_items += [(k.replace("_", " "), v) for k, v in meta.items()
                    if k not in ("frames", "fps", "duration_s")]
    if entry.truth is not None:
        spans = ", ".join(f"{_seconds(iv['start_s'])} to {_seconds(iv['end_s'])}"
                          for iv in info["ground_truth"].get("intervals") or []) or "no anomaly"
        video_items.append(("ground truth", f"{spans} (shaded grey; {info['ground_truth'].get('file')})"))
    model = info.get("model") or {}
    model_items = [("run", model.get("run")), ("preset", model.get("preset")),
                   ("threshold", _threshold_text(threshold, info.get("threshold_source") or ""))]
    model_items += [(f"interval {k.replace('_', ' ')}", v) for k, v in (info.get("interval_options") or {}).items()]
    model_items += [(f"features {k.replace('_', ' ')}", v) for k, v in (model.get("features") or {}).items()]
    if run is not None:
        model_items += [(f"scorer {k.replace('_', ' ')}", list(v) if isinstance(v, tuple) else v)
                        for k, v in dataclasses.asdict(run.scorer).items()]
    files = " &middot; ".join(f'<a href="{esc(href(path, here))}" data-output="{esc(name)}">{esc(path.name)}</a>'
                              for name, path in entry.files.items())
    flagged = sum(iv["end_s"] - iv["start_s"] for iv in intervals)
    body = (
        '<div class="stats">' + stat("max score", f"{float(info['max_score']):.3f}")
        + stat("intervals", str(len(intervals))) + stat("flagged", _seconds(flagged))
        + stat("threshold", f"{threshold:.2f}") + "</div>"
        f'<div class="player-wrap"><div class="card">{player}<div class="readout" id="readout"></div></div>'
        f'<div class="card intervals"><h2>Intervals</h2>{buttons}</div></div>'
        '<div class="card"><h2>Anomaly score <span class="muted" style="font-weight:normal">'
        '(click to seek)</span></h2>'
        + curve_svg(entry.curve, fps, threshold, intervals, smoothed=entry.smoothed, truth=entry.truth)
        + f'<div class="muted files">score outputs: {files}</div></div>'
        f'<div class="cols"><div class="card"><h2>Video</h2>{definition_list(video_items)}</div>'
        f'<div class="card"><h2>Model and settings</h2>{definition_list(model_items)}</div></div>'
        + json_script("vp-data", data)
    )
    subtitle = f"{_seconds(float(info.get('duration_s', 0)))}, {info.get('frames')} frames at {fps:g} fps"
    return page(name, body, subtitle=subtitle, back=href(index_path, here), scripts=(PLAYER_JS,))


def index_page(entries: list, pages: dict, index_path: Path, failed: list[str], title: str) -> str:
    """``report.html``: every scored video in one sortable table (highest max score first), and the failures."""
    here = index_path.parent
    rows = []
    for e in sorted(entries, key=lambda e: -float(e.info["max_score"])):
        info = e.info
        intervals = info.get("intervals", [])
        flagged = sum(iv["end_s"] - iv["start_s"] for iv in intervals)
        name = Path(info.get("video", e.stem)).name
        folder = e.rel_dir if e.rel_dir != "." else ""
        link = f'<a href="{esc(href(pages[e.key], here))}">{esc(name)}</a>'
        if folder:
            link += f' <span class="muted">{esc(folder)}/</span>'
        rows.append(
            "<tr>" + cell(link, name.lower(), raw=True, cls="name")
            + cell(_seconds(float(info["duration_s"])), info["duration_s"], num=True)
            + cell(f"{float(info['max_score']):.3f}", info["max_score"], num=True)
            + cell(str(len(intervals)), len(intervals), num=True)
            + cell(_seconds(flagged), round(flagged, 3), num=True)
            + cell(sparkline_svg(e.curve, float(info["threshold"]), truth=e.truth), None, raw=True) + "</tr>"
        )
    table = sortable_table([("video", "text"), ("duration", "num"), ("max score", "num"), ("intervals", "num"),
                            ("flagged", "num"), ("score curve", "")], rows, table_id="videos")
    alarmed = sum(1 for e in entries if e.info.get("intervals"))
    total = sum(float(e.info["duration_s"]) for e in entries)
    body = ('<div class="stats">' + stat("videos", str(len(entries))) + stat("with intervals", str(alarmed))
            + stat("failed", str(len(failed))) + stat("total duration", _seconds(total)) + "</div>")
    if failed:
        items = "".join(f"<li>{esc(line)}</li>" for line in failed)
        body += f'<div class="card" id="failed"><h2 class="bad">Failed inputs</h2><ul class="failed">{items}</ul></div>'
    body += (f'<div class="card"><h2>Scored videos <span class="muted" style="font-weight:normal">'
             f'(click a header to sort, a name to watch)</span></h2>{table}</div>')
    return page(title, body, subtitle=count(len(entries), "video"), scripts=(SORT_JS,))

