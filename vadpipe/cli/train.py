"""`vadpipe train`: LA-Net + DDL on extracted features.

Parse, build a :class:`vadpipe.train.run.TrainRequest`, call :func:`vadpipe.train.run.train_run`, print.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.markup import escape

from vadpipe.cli.common import DEVICE_HELP, AbnormalFirstOpt, FeaturesRootOpt, LabelsOpt, Lines
from vadpipe.cli.console import error, line, print_json, progress
from vadpipe.cli.ranges import PATH, number, number_of, path
from vadpipe.errors import UsageError
from vadpipe.model.config import PRESETS, LossConfig, ScorerConfig, TrainConfig, get_preset


def _preset_help(field: str, section: str) -> str:
    values = ", ".join(f"{n}: {getattr(getattr(p, section), field)}" for n, p in PRESETS.items())
    return f"default from the preset ({values})"


def _default(cls, field: str) -> str:
    """``default X`` read from the config dataclass itself, so the help never restates it."""
    return f"default {next(f.default for f in dataclasses.fields(cls) if f.name == field)}"


def _setting(cls, field: str, help: str):
    """The option of one config field: None (the preset's) or a value in the range the field declares."""
    return typer.Option(None, **number_of(cls, field), help=help)


def train_command(
    features: Path = typer.Argument(..., **path("FEATURES"), help="Training features: a vadpipe store folder, an "
                                    "RTFM/XD/ten-crop list file, or a folder of .npy files."),
    out: Path = typer.Option(..., "--out", "-o", **PATH,
                             help="Run folder to write (config.json, model.safetensors, ...)."),
    preset: str = typer.Option("ucf", help="Hyperparameters of the paper: ucf (UCF-Crime) or xd (XD-Violence)."),
    labels: Path | None = LabelsOpt,
    abnormal_first: int | None = AbnormalFirstOpt,
    features_root: Path | None = FeaturesRootOpt,
    val: Path | None = typer.Option(None, **PATH, help="Validation features (same kinds as FEATURES)."),
    val_gt: Path | None = typer.Option(None, "--val-gt", **PATH, help="Ground truth of --val (UCF/XD annotation "
                                       ".txt or concatenated .npy): keeps the best epoch and picks the threshold."),
    epochs: int | None = _setting(TrainConfig, "epochs", "Epochs; " + _preset_help("epochs", "train")),
    batch_size: int | None = _setting(TrainConfig, "batch_size",
                                      "Bags per batch, half abnormal and half normal; on a store with fewer bags than "
                                      "half a batch the few are re-drawn to fill it (train says so); "
                                      + _preset_help("batch_size", "train")),
    lr: float | None = _setting(TrainConfig, "lr", "Adam learning rate (cosine decay); " + _preset_help("lr", "train")),
    weight_decay: float | None = _setting(TrainConfig, "weight_decay",
                                          "Adam weight decay; " + _default(TrainConfig, "weight_decay") + "."),
    seq_len: int | None = _setting(TrainConfig, "seq_len",
                                   "Snippets per training bag (longer videos are subsampled, shorter ones "
                                   "zero-padded); " + _preset_help("seq_len", "train") + ", or the longest "
                                   "training video's length when every video is shorter"),
    seed: int | None = _setting(TrainConfig, "seed", "Random seed; " + _default(TrainConfig, "seed") + "."),
    heads: int | None = _setting(ScorerConfig, "heads", "Attention heads k; it must divide --hidden-dim; "
                                 + _preset_help("heads", "scorer")),
    hidden_dim: int | None = _setting(ScorerConfig, "hidden_dim",
                                      "Attention width D_h; " + _preset_help("hidden_dim", "scorer")),
    sigma: float | None = _setting(ScorerConfig, "sigma", "Locality prior sigma; " + _preset_help("sigma", "scorer")),
    conv_kernel: int | None = _setting(ScorerConfig, "conv_kernel",
                                       "Causal conv kernel K; " + _preset_help("conv_kernel", "scorer")),
    dropout: float | None = _setting(ScorerConfig, "dropout",
                                     "MLP dropout; " + _default(ScorerConfig, "dropout") + "."),
    window: int | None = _setting(ScorerConfig, "window", "Banded attention for live scoring: each snippet attends "
                                  "to the last W snippets only (saved in config.json; `watch` uses it); default 0 = "
                                  "the whole bag, as in the paper."),
    lookahead: int | None = _setting(ScorerConfig, "lookahead", "With --window: also attend L snippets ahead (live "
                                     "scores then come L snippets late); default 0."),
    lambda_dr: float | None = _setting(LossConfig, "lambda_dr",
                                       "Weight of the ranking loss; " + _preset_help("lambda_dr", "loss")),
    lambda_da: float | None = _setting(LossConfig, "lambda_da",
                                       "Weight of the alignment loss; " + _preset_help("lambda_da", "loss")),
    margin: float | None = _setting(LossConfig, "margin",
                                    "Ranking margin zeta; " + _default(LossConfig, "margin") + "."),
    standardize: bool = typer.Option(False, "--standardize", help="Not in the paper: standardise each feature "
                                     "dimension with the training set's mean and std (saved with the model)."),
    no_prior: bool = typer.Option(False, "--no-prior", help="Ablation: LA-Net without the locality prior G."),
    no_dr: bool = typer.Option(False, "--no-dr", help="Ablation: without the dynamics ranking loss."),
    no_da: bool = typer.Option(False, "--no-da", help="Ablation: without the dynamics alignment loss."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    workers: int = typer.Option(0, **number(int, min=0, max=256),
                                help="DataLoader worker processes reading the features."),
    resume: bool = typer.Option(False, "--resume", help="Continue the killed or finished run in --out."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout at the end."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-epoch lines."),
) -> None:
    """Train LA-Net + DDL on weakly labelled features (each crop of each video is one bag)."""
    if resume and not out.is_dir():
        raise UsageError(f"{out}: no run here to resume; start it without --resume")
    settings = dict(
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seq_len=seq_len, seed=seed,
        heads=heads, hidden_dim=hidden_dim, sigma=sigma, conv_kernel=conv_kernel, dropout=dropout, window=window,
        lookahead=lookahead, use_prior=not no_prior, standardize=standardize, lambda_dr=lambda_dr,
        lambda_da=lambda_da, margin=margin, use_dr=not no_dr, use_da=not no_da,
    )
    if not resume:
        _check_settings(preset, settings)
    if (val is None) != (val_gt is None):
        raise UsageError("val and val_gt go together", params=("val", "val_gt"))

    from vadpipe.train.run import TrainRequest, train_run

    request = TrainRequest(
        features=features, out=out, preset=preset, labels=labels, abnormal_first=abnormal_first,
        features_root=features_root, val=val, val_gt=val_gt, device=device, workers=workers, resume=resume,
        settings=settings,
    )
    with progress(quiet=quiet) as bar:
        result = train_run(request, _TrainLines(bar, quiet, None if resume or seq_len else
                                                get_preset(preset).train.seq_len))
    if json_out and result.main_process:
        print_json(result.summary())
    elif not quiet and result.main_process:
        line(_done_line(result))
    if result.problems:
        error(f"{len(result.problems)} input(s) were left out (see the lines above)")
        raise typer.Exit(1)


def _done_line(result) -> str:
    """What a finished training kept: the run folder, the epoch kept and its metric, and the threshold."""
    from vadpipe.infer.options import DEFAULT_THRESHOLD

    c = result.config
    if c.best_metric is not None:
        kept = f"kept epoch {c.best_epoch} of {c.epochs_done} (val {c.metric} {c.best_metric:.4f})"
    elif c.best_epoch is not None:
        kept = f"kept the last epoch, {c.best_epoch} (no --val to choose one by)"
    else:
        kept = f"no epoch kept (the val {c.metric} could not be measured on any)"
    threshold = (f"threshold {c.threshold:.4f} ({c.threshold_source})" if c.threshold is not None else
                 f"no threshold chosen (--val picks one; score and watch use {DEFAULT_THRESHOLD} or --threshold)")
    return f"done: {result.run} written (config.json, model.safetensors): {kept}; {threshold}"


def _check_settings(preset: str, settings: dict) -> None:
    """What :func:`vadpipe.train.run.config_from_preset` refuses (an unknown preset, a setting out of range,
    settings that do not fit together), said before torch is imported: each section checks itself."""
    chosen = get_preset(preset)
    given = {k: v for k, v in settings.items() if v is not None}
    for section in (chosen.scorer, chosen.loss, chosen.train):
        names = {f.name for f in dataclasses.fields(section)}
        dataclasses.replace(section, **{k: v for k, v in given.items() if k in names})


class _TrainLines(Lines):
    """The lines of a training job on stderr (the main process alone tells them): what is trained on,
    a bar over each epoch's batches, and one line per epoch; notes, warnings and errors as every command's."""

    def __init__(self, bar, quiet: bool, preset_seq_len: int | None):
        self.bar, self.quiet, self.task = bar, quiet, None
        self.preset_seq_len = preset_seq_len  # None: --seq-len was given, or the run resumed

    def event(self, kind: str, data: dict) -> None:
        if self.quiet:
            return
        if kind == "training":
            config = data["config"]
            bags = data["abnormal"] + data["normal"]
            line(
                f"training on {data['videos']} videos = {bags} bags ({data['abnormal']} abnormal, {data['normal']} "
                f"normal), {config.scorer.feature_dim}-d, device {data['device']}, "
                f"run folder {escape(str(data['run']))}"
                + (f", {data['processes']} processes" if data["processes"] > 1 else "")
            )
            for note in (small_store_note(config.train, data["abnormal"], data["normal"]),
                         seq_len_note(config.train.seq_len, data["longest"], self.preset_seq_len)):
                if note:
                    self.note(note)
        elif kind == "epoch":
            record = data["metrics"]
            val_part = "".join(f"  val {k[4:]} {v:.4f}" for k, v in record.items()
                               if k.startswith("val_") and v is not None)
            parts = " ".join(f"{k[5:]} {v:.4f}" for k, v in record.items()
                             if k.startswith("loss_") and k != "loss_total")
            self.bar.update(self.task, info=f"loss {record['loss_total']:.4f}")
            self.bar.console.print(  # above the bar; one line, however narrow the terminal
                f"epoch {record['epoch']}/{data['epochs']}  loss {record['loss_total']:.4f} ({parts})"
                f"{val_part}  lr {record['lr']:.2e}  {record['seconds']:.1f}s", highlight=False, soft_wrap=True
            )

    def started(self, epoch: object, size: int | None = None) -> None:
        if self.task is None:
            self.task = self.bar.add_task("epoch", total=size, info="")
        self.bar.update(self.task, completed=0, total=size, description=f"epoch {epoch}")

    def advanced(self, units: int) -> None:
        self.bar.advance(self.task, units)


def small_store_note(train_config, n_abnormal: int, n_normal: int) -> str | None:
    """What a balanced batch larger than the store costs, and the batch size that avoids it (else None)."""
    half, larger = train_config.batch_size // 2, max(n_abnormal, n_normal)
    if not train_config.balanced or half <= larger:
        return None
    return (f"batch {train_config.batch_size} is more than this store's bags: every epoch is one batch of "
            f"{2 * half} bags, half abnormal and half normal, re-drawn from the {n_abnormal} abnormal and "
            f"{n_normal} normal ones (the paper's batch is for whole datasets); --batch-size {2 * larger} "
            f"draws each bag about once per epoch, with {half / larger:.1f}x less work")


def seq_len_note(seq_len: int, longest: int, preset_seq_len: int | None) -> str | None:
    """What the bag length costs when every training video is shorter than it, or that train shortened the
    preset's to the longest video (``preset_seq_len``: the preset's, when --seq-len was not given)."""
    if preset_seq_len is not None and seq_len < preset_seq_len:
        return (f"every training video is at most {longest} snippets, fewer than the preset's --seq-len "
                f"{preset_seq_len}: bags are {seq_len} snippets long, whole and unpadded (padded to {preset_seq_len}, "
                f"each would cost about {preset_seq_len / seq_len:.0f}x the work for the same bags); --seq-len "
                "sets another length")
    if preset_seq_len is None and seq_len > longest:
        return (f"--seq-len {seq_len} is more than the longest training video ({longest} snippets): every bag is "
                f"zero-padded to {seq_len}, about {seq_len / longest:.0f}x the work of --seq-len {longest} for the "
                "same bags")
    return None


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
