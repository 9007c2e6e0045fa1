"""The HTML around every report page: one stylesheet, the small scripts, and escaping.

Every page is one self-contained file: the CSS and JavaScript are inlined, nothing is fetched
from the network, and every link is a relative, percent-encoded path, so a report folder can be
zipped, sent and opened from disk (``file://``). Every text that comes from outside (file names,
metadata) goes through :func:`esc`; data for the scripts goes through :func:`json_script`.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import vadpipe

CSS = """
:root { --fg:#1d2330; --muted:#5d6575; --line:#dde1e8; --bg:#f6f7f9; --card:#fff; --accent:#2f6fde;
        --alarm:#d6333a; --alarm-bg:rgba(214,51,58,.16); --truth:rgba(30,30,30,.10); }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg);
       background:var(--bg); }
header { background:#1d2330; color:#fff; padding:14px 28px; display:flex; align-items:baseline; gap:18px; }
header h1 { font-size:18px; margin:0; font-weight:600; word-break:break-all; }
header a { color:#b9cdf5; }
header .sub { color:#aab3c5; font-size:13px; }
main { padding:20px 28px; max-width:1280px; margin:0 auto; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px 18px;
        margin-bottom:18px; }
.card h2 { font-size:15px; margin:0 0 10px; }
.stats { display:flex; flex-wrap:wrap; gap:12px; margin-bottom:18px; }
.stat { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 16px; min-width:130px; }
.stat b { display:block; font-size:22px; font-weight:600; }
.stat span { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:middle; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
th { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; white-space:nowrap; }
th.sortable { cursor:pointer; user-select:none; }
th.sortable::after { content:" \\2195"; color:#b4bac6; }
th[aria-sort=ascending]::after { content:" \\25B2"; color:var(--accent); }
th[aria-sort=descending]::after { content:" \\25BC"; color:var(--accent); }
tbody tr:hover { background:#f0f4fc; }
td.name { word-break:break-all; }
a { color:var(--accent); text-decoration:none; }
a:hover { text-decoration:underline; }
.bad { color:var(--alarm); }
.muted { color:var(--muted); }
ul.failed li { margin:4px 0; word-break:break-word; }
.player-wrap { display:grid; grid-template-columns:minmax(0,3fr) minmax(240px,1fr); gap:18px; }
@media (max-width:900px) { .player-wrap { grid-template-columns:1fr; } }
video { width:100%; max-height:60vh; background:#000; border-radius:6px; display:block; }
.novideo { padding:40px; text-align:center; background:#eceef2; border-radius:6px; color:var(--muted); }
.readout { font-variant-numeric:tabular-nums; margin-top:8px; color:var(--muted); }
.readout b { color:var(--fg); }
.readout .alarm { color:var(--alarm); font-weight:600; }
svg.curve { width:100%; height:auto; display:block; cursor:crosshair; }
svg text { font:11px system-ui,sans-serif; fill:#5d6575; }
.intervals button { display:block; width:100%; text-align:left; border:1px solid var(--line); background:#fff;
                    border-radius:6px; padding:6px 10px; margin:0 0 6px; cursor:pointer; font:inherit; }
.intervals button:hover { border-color:var(--alarm); background:#fff6f6; }
.intervals button b { color:var(--alarm); }
.files { font-size:12px; margin-top:6px; word-break:break-all; }
dl.meta { display:grid; grid-template-columns:max-content 1fr; gap:3px 14px; margin:0; font-size:13px; }
dl.meta dt { color:var(--muted); }
dl.meta dd { margin:0; word-break:break-all; font-variant-numeric:tabular-nums; }
.cols { display:grid; grid-template-columns:1fr 1fr; gap:18px; }
@media (max-width:900px) { .cols { grid-template-columns:1fr; } }
.toggle { margin-top:8px; }
.toggle button { font:inherit; border:1px solid var(--line); background:#fff; border-radius:6px; padding:3px 10px;
                 cursor:pointer; }
.toggle button[aria-pressed=true] { background:var(--accent); color:#fff; border-color:var(--accent); }
img.plot { max-width:100%; border:1px solid var(--line); border-radius:6px; background:#fff; }
footer { color:var(--muted); font-size:12px; padding:10px 28px 30px; text-align:center; }
"""

# Sorting of any <table class="sortable">: click a header; cells sort by their data-v (numbers when the
# header says data-type="num"), rows without a value last.
SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.querySelectorAll('th.sortable');
  heads.forEach(function (th, col) {
    th.addEventListener('click', function () {
      var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var num = th.dataset.type === 'num';
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var v = row.cells[idx].dataset.v;
        if (v === undefined || v === '') return null;
        return num ? parseFloat(v) : v.toLowerCase();
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) return (x === null) - (y === null);
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def esc(value) -> str:
    """Any value as HTML text (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def json_script(element_id: str, obj) -> str:
    """Data for a page's script, inert as HTML: ``</script>`` and ``<!--`` cannot appear inside."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def href(target: Path, page_dir: Path) -> str:
    """The relative, percent-encoded link from a page in ``page_dir`` to ``target`` (never absolute)."""
    rel = os.path.relpath(target, page_dir)
    return quote(PurePosixPath(*Path(rel).parts).as_posix())


def page(title: str, body: str, *, subtitle: str = "", back: str | None = None, scripts: tuple[str, ...] = ()) -> str:
    """A whole HTML document. ``title``/``subtitle`` are plain text; ``body`` is HTML built with :func:`esc`.

    The Content-Security-Policy allows inline script and style and local files only (media and
    pictures; from ``file://``, 'self' is any local file), so a report cannot reach the network
    even if asked to; that every link stays inside the folder is :func:`href`'s job.
    """
    nav = f'<a href="{esc(back)}">&larr; all videos</a>' if back else ""
    script = "".join(f"<script>{s}</script>" for s in scripts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self' data:; "
        "media-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header>{nav}<h1>{esc(title)}</h1><span class=\"sub\">{esc(subtitle)}</span></header>"
        f"<main>{body}</main><footer>vadpipe {esc(vadpipe.__version__)} &middot; a self-contained report: "
        f"no network, open from disk</footer>{script}</body></html>\n"
    )


def stat(label: str, value: str) -> str:
    return f'<div class="stat"><b>{esc(value)}</b><span>{esc(label)}</span></div>'


def count(n: int, noun: str) -> str:
    """``1 video``, ``3 videos``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _value(value) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def definition_list(items: list[tuple[str, object]]) -> str:
    """Terms and their values; a flag reads yes or no, and an empty value leaves its term out."""
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(_value(v))}</dd>" for k, v in items if v is not None and v != "")
    return f'<dl class="meta">{rows}</dl>'


def sortable_table(columns: list[tuple[str, str]], rows: list[str], *, table_id: str) -> str:
    """``columns``: (header text, "num" | "text" | "" for not sortable); ``rows``: ready ``<tr>`` HTML."""
    head = "".join(
        f'<th class="{"sortable " if kind else ""}{"num" if kind == "num" else ""}" data-type="{kind}">{esc(name)}</th>'
        for name, kind in columns
    )
    return (f'<table class="sortable" id="{esc(table_id)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def cell(text: str, sort_value=None, *, num: bool = False, raw: bool = False, cls: str = "") -> str:
    """A ``<td>``; ``sort_value`` goes to data-v for sorting; ``raw`` marks ``text`` as HTML already."""
    v = "" if sort_value is None else f' data-v="{esc(sort_value)}"'
    classes = " ".join(c for c in ("num" if num else "", cls) if c)
    attr = f' class="{classes}"' if classes else ""
    return f"<td{v}{attr}>{text if raw else esc(text)}</td>"
