"""Run directories of the training commands: settings, resume, training length, callbacks, plots.

A run's settings come from the command line, else from the resumed run's
``run.json``, else from the command's defaults; settings that change the model
or the data (``fixed``) may not change on resume. Bad settings are caught
before anything is written.

Example:
>>> import argparse
>>> from tfbert.cli.run_dirs import resolve_settings
>>> given = argparse.Namespace(epochs=None, seed=7)
>>> resolve_settings(given, {"epochs": 3, "seed": 42}, stored={"epochs": 5})
{'epochs': 5, 'seed': 7}
"""

import math
import os
import sys

from tfbert.cli.errors import notice
from tfbert.cli.options import PROG, UsageError, flag

CHECKPOINT_EVERY = 200  # steps between mid-epoch checkpoints (and one at every epoch end)
MODEL_FILE = "model.keras"


def resolve_settings(args, defaults, stored=None, fixed=()):
    """Each setting from the command line when given, else from ``stored`` (a resumed run), else ``defaults``.

    A ``fixed`` setting (one that changes the model or the data) may not differ
    from the stored one on resume.
    """
    stored = stored or {}
    settings = {}
    for key, default in defaults.items():
        given = getattr(args, key, None)
        if key in stored and given is not None and key in fixed and given != stored[key]:
            raise ValueError(
                f"--resume continues the run with its own {flag(key)} {stored[key]!r}, but {given!r} was given; "
                f"drop {flag(key)} or start a new run (another --output-dir, or --overwrite)."
            )
        settings[key] = given if given is not None else stored.get(key, default)
    return settings


def open_run_dir(args, command, defaults, fixed, check=None):
    """Open the run directory (refuse, overwrite or resume); return ``(run, settings, check(settings))``.

    ``check(settings)`` runs before anything is written, so that bad settings
    (a missing file, an unreachable preset) leave no run directory behind.
    """
    from tfbert.runs import open_run

    if args.resume and args.overwrite:
        raise UsageError(f"--resume and --overwrite exclude each other (see `{PROG} {command} --help`)")
    if args.resume:
        run = open_run(args.output_dir, command, {}, mode="resume")
        settings = resolve_settings(args, defaults, run.settings, fixed)
        checked = check(settings) if check else None
        run.update_record(settings=settings)
        return run, settings, checked
    settings = resolve_settings(args, defaults)
    if not args.overwrite:
        open_run(args.output_dir, command, settings, mode="check")
    checked = check(settings) if check else None
    run = open_run(args.output_dir, command, settings, mode="overwrite" if args.overwrite else "new")
    return run, settings, checked


def training_length(run, settings, num_batches):
    """(epochs, steps_per_epoch) from --epochs or --steps and the number of batches in one data pass.

    With --steps an "epoch" (one line of progress, one validation, one point of the curves)
    is at most one data pass. The epoch length is stored in run.json, so that a resumed run
    (perhaps with more --steps or --epochs) keeps the step geometry of its checkpoints.
    """
    steps_per_epoch = settings.get("steps_per_epoch")
    if not steps_per_epoch:
        steps_per_epoch = max(1, min(settings.get("steps") or num_batches, num_batches))
        settings["steps_per_epoch"] = steps_per_epoch
        run.update_record(settings=settings)
    if settings.get("steps"):
        return math.ceil(settings["steps"] / steps_per_epoch), steps_per_epoch
    return settings["epochs"], steps_per_epoch


def callbacks_for(run):
    from tfbert.callbacks import run_callbacks, tensorboard_installed

    if not tensorboard_installed():
        notice("the tensorboard package is not installed: writing TensorBoard scalars with TensorFlow alone "
               f"(logs in {run.logs_dir})")
    return run_callbacks(run)


def progress_verbosity():
    """Keras progress bars (with ETA) on a terminal; one line per epoch in logs and pipes."""
    return 1 if sys.stdout.isatty() else 2


def write_history_plot(run):
    from tfbert import plots

    history = run.read_metrics().get("history")
    if not history:
        return None
    if not plots.plots_available():
        notice(f"matplotlib is not installed: skipping plots ({plots.INSTALL_HINT})")
        return None
    return plots.plot_history(history, os.path.join(run.plots_dir, "training_curves.png"),
                              title=f"{run.name}: training curves")
