"""What a run folder holds, and whether a path is one: checked without torch.

`score`, `evaluate` and `watch` check ``--model`` with :func:`check_run_folder` before they
import torch, so a mistyped path is one line at once; :func:`vadpipe.model.checkpoint.read_run_config`
checks the same way before it reads ``config.json``.
"""

from __future__ import annotations

from pathlib import Path

from vadpipe.errors import VadpipeError

CONFIG_NAME = "config.json"
MODEL_NAME = "model.safetensors"


def check_run_folder(path: str | Path) -> Path:
    """``path`` as a run folder (one holding ``config.json``).

    Raises:
        VadpipeError: no such folder; a file; a folder that holds no run, naming the run folders
            one level down when there are (the demo's run is ``<out>/run``).
    """
    folder = Path(path)
    if not folder.exists():
        raise VadpipeError(f"{folder}: no such folder; give a run folder written by `vadpipe train`")
    if not folder.is_dir():
        raise VadpipeError(f"{folder}: a file, not a run folder; give the folder `vadpipe train` wrote")
    if (folder / CONFIG_NAME).is_file():
        return folder
    try:
        below = sorted(d for d in folder.iterdir() if d.is_dir() and (d / CONFIG_NAME).is_file())
    except OSError:
        below = []
    if len(below) == 1:
        raise VadpipeError(f"{folder}: not a run folder, but {below[0]} is one; give that")
    if below:
        names = ", ".join(str(d) for d in below[:3]) + (", ..." if len(below) > 3 else "")
        raise VadpipeError(f"{folder}: not a run folder, but the {len(below)} folders in it are ({names}); "
                           "give one of them")
    raise VadpipeError(f"{folder}: no {CONFIG_NAME}, so not a run folder; give a folder written by `vadpipe train`")
