"""`vadpipe train`: LA-Net + DDL on extracted features."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import typer

from vadpipe.cli.common import (
    DEVICE_HELP,
    AbnormalFirstOpt,
    FeaturesRootOpt,
    LabelsOpt,
    read_feature_set,
)
from vadpipe.cli.console import err_console, error, print_json, progress, warn
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
                                   "Snippets per training bag; " + _preset_help("seq_len", "train")),
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
    from vadpipe.devices import resolve_device
    from vadpipe.eval.groundtruth import load_ground_truth
    from vadpipe.model.checkpoint import CONFIG_NAME, read_run_config
    from vadpipe.train.data import BagSet
    from vadpipe.train.distributed import init_distributed, shutdown_distributed
    from vadpipe.train.loop import CKPT_NAME, Validation, train

    if (val is None) != (val_gt is None):
        raise UsageError("--val and --val-gt go together")
    if resume and not (out / CONFIG_NAME).is_file() and not (out / CKPT_NAME).is_file():
        if not out.is_dir():
            raise UsageError(f"{out}: no run here to resume; start it without --resume")
        warn(f"{out}: the run was stopped before its first epoch ended, so nothing was saved; "
             "starting it from epoch 1 with the options given")
        resume = False
    if resume:
        config = read_run_config(out)
    else:
        config = _config_from_options(
            preset,
            train=dict(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seq_len=seq_len,
                       seed=seed),
            scorer=dict(heads=heads, hidden_dim=hidden_dim, sigma=sigma, conv_kernel=conv_kernel, dropout=dropout,
                        window=window, lookahead=lookahead, use_prior=not no_prior, standardize=standardize),
            loss=dict(lambda_dr=lambda_dr, lambda_da=lambda_da, margin=margin, use_dr=not no_dr, use_da=not no_da),
        )
    train_set = read_feature_set(
        features, labels=labels, abnormal_first=abnormal_first, features_root=features_root,
        expected_dim=config.scorer.feature_dim if resume else None, need_labels=True,
    )
    videos, skipped = train_set.videos, len(train_set.problems)
    if not resume:
        _fit_features(config, videos, preset)
    validation = None
    if val is not None:
        val_set = read_feature_set(
            val, labels=None, abnormal_first=None, features_root=features_root,
            expected_dim=config.scorer.feature_dim,
        )
        val_videos, skipped = val_set.videos, skipped + len(val_set.problems)
        order = [(v.id, v.frame_count()) for v in val_videos]
        validation = Validation(val_videos, load_ground_truth(val_gt, video_order=order))
    dataset = BagSet(videos, config.train.seq_len)
    torch_device = resolve_device(device)
    dist = init_distributed(torch_device)  # a no-op unless started by torchrun
    quiet = quiet or not dist.is_main
    json_out = json_out and dist.is_main
    if not quiet:
        n_pos = int(dataset.labels.sum())
        err_console.print(
            f"training on {len(videos)} videos = {len(dataset)} bags ({n_pos} abnormal, {len(dataset) - n_pos} "
            f"normal), {config.scorer.feature_dim}-d, device {torch_device}, run folder {out}"
            + (f", {dist.world_size} processes" if dist.world_size > 1 else "")
        )
        note = small_store_note(config.train, n_pos, len(dataset) - n_pos)
        if note:
            err_console.print(f"note: {note}", highlight=False)
    with progress(quiet=quiet) as bar:
        task = bar.add_task("epoch", total=None, info="")

        def on_step(step: int, steps: int, parts: dict) -> None:
            bar.update(task, completed=step, total=steps, info=f"loss {parts['total']:.4f}")

        def on_epoch(record: dict) -> None:
            from vadpipe.report.training import plot_training

            plot_training(out)  # redrawn after every epoch, so a long run can be watched
            if quiet:
                return
            val_part = "".join(f"  val {k[4:]} {v:.4f}" for k, v in record.items()
                               if k.startswith("val_") and v is not None)
            parts = " ".join(f"{k[5:]} {v:.4f}" for k, v in record.items()
                             if k.startswith("loss_") and k != "loss_total")
            bar.console.print(
                f"epoch {record['epoch']}/{config.train.epochs}  loss {record['loss_total']:.4f} ({parts})"
                f"{val_part}  lr {record['lr']:.2e}  {record['seconds']:.1f}s"
            )

        try:
            with _removed_if_left_empty(out):
                final = train(out, config, dataset, validation=validation, resume=resume, device=torch_device,
                              workers=workers, on_step=on_step, on_epoch=on_epoch, dist=dist)
        finally:
            shutdown_distributed()
    summary = {
        "run": str(out), "epochs": final.epochs_done, "best_epoch": final.best_epoch,
        "metric": final.metric, "best_metric": final.best_metric, "threshold": final.threshold,
        "videos": len(videos), "bags": len(dataset), "skipped_inputs": skipped,
    }
    if json_out:
        print_json(summary)
    elif not quiet:
        err_console.print(f"done: {out / CONFIG_NAME} and model.safetensors written")
    if skipped:
        error(f"{skipped} input(s) were left out (see the lines above)")
        raise typer.Exit(1)


def small_store_note(train_config, n_abnormal: int, n_normal: int) -> str | None:
    """What a balanced batch larger than the store costs, and the batch size that avoids it (else None)."""
    half, larger = train_config.batch_size // 2, max(n_abnormal, n_normal)
    if not train_config.balanced or half <= larger:
        return None
    return (f"batch {train_config.batch_size} is more than this store's bags: every epoch is one batch of "
            f"{2 * half} bags, half abnormal and half normal, re-drawn from the {n_abnormal} abnormal and "
            f"{n_normal} normal ones (the paper's batch is for whole datasets); --batch-size {2 * larger} "
            f"draws each bag about once per epoch, with {half / larger:.1f}x less work")


@contextlib.contextmanager
def _removed_if_left_empty(folder: Path):
    """A run folder this command created is removed again when the run fails before writing anything in it
    (an error; a run killed or interrupted keeps its folder, which `--resume` starts again)."""
    existed = folder.exists()
    try:
        yield
    except Exception:
        if not existed and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise


def _config_from_options(preset_name: str, *, train: dict, scorer: dict, loss: dict):
    """The preset with every option the user gave (not None) on top of it, section by section."""
    from vadpipe.model.checkpoint import RunConfig

    preset = get_preset(preset_name)

    def given(section: dict) -> dict:
        return {k: v for k, v in section.items() if v is not None}

    # Each dataclass checks itself (ranges, heads dividing hidden_dim, ...): a ConfigError is one usage
    # line that names the flags.
    scorer_cfg = dataclasses.replace(preset.scorer, **given(scorer))
    return RunConfig(scorer=scorer_cfg, loss=dataclasses.replace(preset.loss, **given(loss)),
                     train=dataclasses.replace(preset.train, **given(train)), features=None,
                     preset=preset_name, metric=preset.metric)


def _fit_features(config, videos, preset: str) -> None:
    """Take the feature dim from the data, and the feature spec the extraction recorded (whole)."""
    t, crops, dim = videos[0].validate()
    if dim != config.scorer.feature_dim:
        warn(f"features are {dim}-d; the {preset} preset was tuned for {config.scorer.feature_dim}-d features")
        config.scorer.feature_dim = dim
    specs = {v.record.spec for v in videos if v.record is not None}
    if len(specs) > 1:
        warn(f"the training features were made with {len(specs)} different feature specs; the run records the "
             "first, which `vadpipe score` will extract with")
    config.features = videos[0].record.spec if videos[0].record is not None else None


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
