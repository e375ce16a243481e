"""Run directories: one folder per training run, with its settings, metrics, logs and checkpoints.

A run directory holds ``run.json`` (the command and settings that made it),
``metrics.json`` (training history and evaluation results, rewritten
atomically after every epoch), ``logs/`` (TensorBoard event files),
``plots/`` (PNG figures), ``checkpoints/`` (the state ``--resume`` continues
from, written by ``tfbert.training.fit_resumable``) and the trained model. ``open_run`` refuses a directory that already holds a
run unless asked to overwrite or resume it, and never deletes a directory that
is not a tfbert run.

Example:
>>> import os, tempfile
>>> from tfbert.runs import open_run, RunExistsError
>>> path = os.path.join(tempfile.mkdtemp(), "run")
>>> run = open_run(path, "finetune", {"epochs": 1})
>>> _ = run.update_metrics(evaluate={"accuracy": 0.5})
>>> run.read_metrics()["evaluate"]
{'accuracy': 0.5}
>>> try:
...     open_run(path, "finetune", {"epochs": 1})
... except RunExistsError as e:
...     print("refused")
refused
>>> open_run(path, "finetune", {"epochs": 3}, mode="resume").settings["epochs"]
1
"""

import datetime
import json
import os
import shutil

from tfbert.fileio import atomic_write_text

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
MODES = ("new", "overwrite", "resume", "check")


class RunExistsError(FileExistsError):
    """The output directory already holds a run and neither overwrite nor resume was asked."""


class RunDirectory:
    """A run folder: paths of its parts and atomic updates of ``metrics.json``.

    Create one with ``open_run``; ``RunDirectory(path)`` alone opens an existing run
    for reading (``tfbert evaluate``/``export`` do this).

    Example:
    >>> import tempfile
    >>> from tfbert.runs import RunDirectory, open_run
    >>> path = open_run(tempfile.mkdtemp() + "/r", "pretrain", {}).path
    >>> run = RunDirectory(path)
    >>> run.command, os.path.basename(run.logs_dir)
    ('pretrain', 'logs')
    """

    def __init__(self, path):
        self.path = os.path.abspath(path)
        run_file = os.path.join(self.path, RUN_FILE)
        if not os.path.isfile(run_file):
            raise FileNotFoundError(
                f"{path} is not a tfbert run directory (no {RUN_FILE} in it); "
                "pass the --output-dir of a finished `tfbert finetune` or `tfbert pretrain`."
            )
        with open(run_file, encoding="utf-8") as f:
            self.record = json.load(f)
        self.resumed = False

    # ---- what the run is ----------------------------------------------
    @property
    def command(self):
        return self.record.get("command")

    @property
    def settings(self):
        return dict(self.record.get("settings", {}))

    @property
    def name(self):
        return os.path.basename(self.path.rstrip(os.sep))

    # ---- where its parts live -----------------------------------------
    def file(self, *parts):
        return os.path.join(self.path, *parts)

    @property
    def logs_dir(self):
        return self.file("logs")

    @property
    def plots_dir(self):
        return self.file("plots")

    @property
    def checkpoint_dir(self):
        return self.file("checkpoints")

    # ---- metrics.json --------------------------------------------------
    def read_metrics(self):
        path = self.file(METRICS_FILE)
        if not os.path.exists(path):
            return {}
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def update_metrics(self, **sections):
        """Merge top-level sections into ``metrics.json`` and rewrite it atomically."""
        metrics = self.read_metrics()
        metrics.update(sections)
        atomic_write_text(self.file(METRICS_FILE), json.dumps(_plain(metrics), indent=2, sort_keys=True) + "\n")
        return metrics

    def update_record(self, **fields):
        """Merge fields into ``run.json`` (for instance where the trained model was saved)."""
        self.record.update(fields)
        atomic_write_text(self.file(RUN_FILE), json.dumps(_plain(self.record), indent=2, sort_keys=True) + "\n")


def is_run(path):
    """True if ``path`` is a directory holding a tfbert run (a ``run.json``)."""
    return os.path.isfile(os.path.join(path, RUN_FILE))


def open_run(path, command, settings, mode="new"):
    """Open ``path`` as the run directory of ``command`` and return a ``RunDirectory``.

    Args:
        path: the output directory.
        command: the command that makes the run ("finetune", "pretrain").
        settings: a JSON-serializable dict of the run's settings, stored in ``run.json``.
        mode: "new" refuses a directory that holds a run or any other files;
            "overwrite" deletes a previous run there first (only a tfbert run,
            never a directory holding other files); "resume" reopens the run
            there, keeping its stored settings, and fails if there is none;
            "check" raises what "new" would raise, writes nothing and returns None.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(f"output directory {path} exists and is a file; choose a directory path.")
    holds_run = is_run(path)
    if mode == "resume":
        if not holds_run:
            raise FileNotFoundError(
                f"nothing to resume: {path} holds no run ({RUN_FILE} missing); drop --resume to start a new run."
            )
        run = RunDirectory(path)
        if run.command != command:
            raise ValueError(
                f"cannot resume: {path} holds a `tfbert {run.command}` run, not `tfbert {command}`."
            )
        run.resumed = True
        return run
    if holds_run:
        if mode in ("new", "check"):
            previous = RunDirectory(path)
            raise RunExistsError(
                f"output directory {path} already holds a run (`tfbert {previous.command}`, "
                f"started {previous.record.get('started', '?')}); pass --overwrite to replace it, "
                "--resume to continue it, or choose another --output-dir."
            )
        shutil.rmtree(path)
    elif os.path.isdir(path) and os.listdir(path):
        raise FileExistsError(
            f"output directory {path} is not empty and holds no tfbert run; "
            "choose a new or empty --output-dir (tfbert never deletes files it did not write)."
        )
    if mode == "check":
        return None
    os.makedirs(path, exist_ok=True)
    record = {
        "command": command,
        "settings": dict(settings),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    atomic_write_text(os.path.join(path, RUN_FILE), json.dumps(_plain(record), indent=2, sort_keys=True) + "\n")
    return RunDirectory(path)


def _plain(value):
    """Numpy scalars and arrays to plain Python, so json.dumps accepts them."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
