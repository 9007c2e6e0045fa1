"""Reading the text files users hand over (lists of paths, labels CSVs, annotations), whatever their encoding.

Such files name files, and a file name is bytes: a list saved in Latin-1 (or any other 8-bit
encoding) names its files in those bytes. The text is decoded as UTF-8 (a BOM dropped) and a
byte that is not UTF-8 is kept as the same byte of a file name (``surrogateescape``, Python's own
way with file names), so such a line still finds its file. UTF-16 with a BOM (Windows' "Unicode")
is read as such. A file that holds NUL bytes is not text (a video or an archive given in the
place of a list): :class:`~vadpipe.errors.InputError` names it and what was expected.
Pure Python: no numpy, no torch.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from vadpipe.errors import InputError

# a list of 100 000 paths is ~10 MB; a file far past this is not a list someone wrote
MAX_TEXT_BYTES = 256 * 1024 * 1024


def read_text(path: str | os.PathLike, what: str) -> str:
    """The text of ``path``, decoded as the module docstring says.

    Args:
        what: what the file should be, for the message (``"a list of videos"``).

    Raises:
        InputError: unreadable, larger than :data:`MAX_TEXT_BYTES`, or binary (naming the file and ``what``).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise InputError(f"{path}: {size / 2**20:,.0f} MiB is too large for {what}; is it the right file?")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check the path and its permissions") from None
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec)
            except UnicodeDecodeError:
                break  # not UTF-16 after all: judged below
    if b"\0" in data:
        raise InputError(f"{path}: holds binary data, not {what}; give a text file (a video or other binary file "
                         "is given as itself, not in the place of a text file)")
    return data.decode("utf-8-sig", errors="surrogateescape")


def text_lines(path: str | os.PathLike, what: str) -> list[str]:
    """The lines of :func:`read_text` (CRLF or LF line ends)."""
    return read_text(path, what).splitlines()
