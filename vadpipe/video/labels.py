"""Video-level labels: the words that mean normal / abnormal, in a CSV cell or a folder name, and the CSV.

One home for them, so that `extract --labels`, `train --labels` and the folder convention
(``normal/`` and ``abnormal/``) accept the same words.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from vadpipe.errors import InputError
from vadpipe.textfile import read_text
from vadpipe.video.names import strip_extension

LABEL_WORDS = {
    "0": 0, "false": 0, "normal": 0, "normals": 0, "negative": 0,
    "1": 1, "true": 1, "abnormal": 1, "anomaly": 1, "anomalous": 1, "positive": 1, "violent": 1,
}
# A folder named "1" or "true" is not a label; only words are.
FOLDER_WORDS = {word: label for word, label in LABEL_WORDS.items() if word not in ("0", "1", "false", "true")}
_HEADER_WORDS = ("video", "id", "name")


def folder_label(parts: list[str] | tuple[str, ...]) -> int | None:
    """The label of the innermost folder (of ``parts``) named with a label word, else None."""
    for part in reversed(parts):
        label = FOLDER_WORDS.get(part.lower())
        if label is not None:
            return label
    return None


def read_labels_csv(path: str | Path) -> dict[str, int]:
    """``video,label`` rows (a header row is skipped) -> {video name without extension: 0/1}.

    Raises:
        InputError: missing file, or a row whose label is not one of :data:`LABEL_WORDS`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: labels CSV not found")
    text = read_text(path, "a `video,label` CSV")  # any encoding: names keep their bytes
    labels = {}
    rows = csv.reader(io.StringIO(text, newline=""))
    row_no = 0
    try:
        for row_no, row in enumerate(rows, start=1):
            if not row or row[0].strip().lower() in _HEADER_WORDS:
                continue
            if len(row) < 2 or row[1].strip().lower() not in LABEL_WORDS:
                raise InputError(f"{path}:{row_no}: expected `video,label` with label 0/1 or normal/abnormal")
            labels[strip_extension(row[0].strip())] = LABEL_WORDS[row[1].strip().lower()]
    except csv.Error as exc:  # a field past csv's limit (131072 characters), a stray quote before the end
        raise InputError(f"{path}:{row_no + 1}: not a `video,label` CSV row ({exc}); is it the labels file?") from None
    return labels
