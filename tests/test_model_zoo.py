"""weights/README.md, the model zoo a user opens, and vadpipe/weights/registry.json say the same thing."""

from __future__ import annotations

from pathlib import Path

from vadpipe.core.backbone_facts import BACKBONES
from vadpipe.weights import entries

ZOO = Path(__file__).resolve().parents[1] / "weights" / "README.md"


def _zoo_rows() -> dict[str, dict[str, str]]:
    lines = ZOO.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("<!-- zoo-table"))
    header = [c.strip() for c in lines[start + 1].strip("|").split("|")]
    rows = {}
    for line in lines[start + 3:]:
        if not line.startswith("|"):
            break
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        rows[cells["name"].strip("`")] = cells
    return rows


def test_every_registry_entry_has_one_zoo_row_with_the_same_facts():
    rows = _zoo_rows()
    assert set(rows) == set(entries())
    for name, e in entries().items():
        row = rows[name]
        assert row["backbone"].strip("`") == e.backbone
        assert int(row["dim"]) == e.feature_dim == BACKBONES[e.backbone].feature_dim
        assert row["file"].strip("`") == e.file_name
        assert row["URL"] == (e.url or "none")
        assert row["sha256"] == (e.sha256 or "not published")
        assert e.license.startswith(row["licence"])


def test_every_backbone_default_weights_is_in_the_zoo():
    rows = _zoo_rows()
    assert all(spec.weights in rows for spec in BACKBONES.values())
