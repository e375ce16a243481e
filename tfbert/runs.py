"""Run directories: the one owner of a training run's folder, from its start to its last metrics.

A run directory holds ``run.json`` (tfbert's marker, the command and the
settings that made it), ``metrics.json`` (training history and evaluation
results, rewritten atomically after every epoch), ``logs/`` (TensorBoard event
files), ``plots/`` (PNG figures), ``checkpoints/`` (the state ``--resume``
continues from, written by ``tfbert.training.fit_resumable``), the trained
``model.keras`` (and, for ``pretrain``, ``vocab.txt`` and ``preset/``) and
``run.lock``. The rules that keep a user's files safe live here, once:

- **What is a run.** Only a ``run.json`` that parses and carries tfbert's marker
  (``tfbert_version`` and a tfbert command) makes a folder a run; another tool's
  ``run.json`` is refused, never used or deleted.
- **Overwrite.** ``mode="overwrite"`` deletes only the entries tfbert writes
  (``RUN_ENTRIES``) and refuses, naming them, when anything else is there.
- **Lock.** A run holds an exclusive ``flock`` on ``run.lock`` for its life
  (its pid is written in it). A second process that opens the same directory to
  write (new, overwrite or resume) is refused at once with that pid. The OS drops
  the lock when the process dies, so even ``kill -9`` leaves no stale lock.
- **Failed starts.** Settings come from the command line, else the resumed run's
  ``run.json``, else the defaults; ``start_run`` checks them (``check``) before
  anything is written, and a run used as a context manager that fails before its
  first checkpoint removes what it wrote (and the folder, when it made it).

Example:
>>> import os, tempfile
>>> from tfbert.runs import open_run, RunExistsError
>>> path = os.path.join(tempfile.mkdtemp(), "run")
>>> with open_run(path, "finetune", {"epochs": 1}) as run:
...     _ = run.update_metrics(evaluate={"accuracy": 0.5})
...     _ = open(run.file("model.keras"), "w").close()
>>> run.read_metrics()["evaluate"]
{'accuracy': 0.5}
>>> try:
...     open_run(path, "finetune", {"epochs": 1})
... except RunExistsError as e:
...     print("refused")
refused
>>> with open_run(path, "finetune", {"epochs": 3}, mode="resume") as run:
...     run.settings["epochs"]
1
"""

import contextlib
import datetime
import fcntl
import json
import math
import os
import re
import shutil
import sys

from tfbert.fileio import atomic_write_text

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
LOCK_FILE = "run.lock"
MODEL_FILE = "model.keras"
CHECKPOINT_EVERY = 200  # steps between mid-epoch checkpoints (and one at every epoch end)
MODES = ("new", "overwrite", "resume", "check")
COMMANDS = ("finetune", "pretrain")  # the commands that make runs

# Everything tfbert writes at the top of a run directory. A folder's contents are
# checked by the pattern beside it (None: the whole folder is tfbert's).
RUN_ENTRIES = {
    RUN_FILE: None, METRICS_FILE: None, LOCK_FILE: None, MODEL_FILE: None,
    "vocab.txt": None,  # pretrain: the learned vocabulary
    "preset": None,  # pretrain: the backbone as a keras-hub preset (written whole, atomically)
    "logs": re.compile(r"^(train|validation)$"),  # TensorBoard event files
    "plots": re.compile(r"^(\.)?[^/]+\.png(\..+)?$"),  # PNG figures and their temporary files
    "checkpoints": re.compile(r"^(step-[0-9]+-epoch-[0-9]+-[0-9]+|latest|\.step-.+\.tmp-.+|\.latest\..+)$"),
}
# The temporary files of atomic writes at the top (`.run.json.XXXX`, `.model.tmp-PID.keras`, ...).
_TEMPORARY = re.compile(r"^\.(run\.json|metrics\.json|vocab\.txt|model\.keras|preset)\..+$"
                        r"|^\.model\.tmp-[0-9]+\.keras$|^\.preset\.tmp-.+$")


class RunExistsError(FileExistsError):
    """The output directory already holds a run and neither overwrite nor resume was asked."""


class ForeignDirectoryError(FileExistsError):
    """The directory holds files tfbert did not write (or another tool's ``run.json``)."""


class RunLockedError(BlockingIOError):
    """Another live process holds the run directory's lock."""


class RunDirectory:
    """A run folder: paths of its parts, atomic updates of ``metrics.json`` and ``run.json``, its lock.

    Create one with ``open_run`` or ``start_run``; ``RunDirectory(path)`` alone
    opens an existing run for reading (``tfbert evaluate``/``export`` do this).
    A run opened to write holds ``run.lock`` until ``close()`` or the end of its
    ``with`` block.

    Example:
    >>> import tempfile
    >>> from tfbert.runs import RunDirectory, open_run
    >>> with open_run(tempfile.mkdtemp() + "/r", "pretrain", {}) as run:
    ...     path = run.path
    >>> run = RunDirectory(path)
    >>> run.command, os.path.basename(run.logs_dir)
    ('pretrain', 'logs')
    """

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.record = read_record(self.path)
        self.resumed = False
        self._lock = None
        self._made_directory = False

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

    def has_checkpoint(self):
        """True once ``fit_resumable`` has saved a checkpoint (from then on ``--resume`` has a state to continue)."""
        return os.path.isdir(self.checkpoint_dir) and any(
            n.startswith("step-") for n in os.listdir(self.checkpoint_dir))

    # ---- metrics.json and run.json -------------------------------------
    def read_metrics(self):
        path = self.file(METRICS_FILE)
        if not os.path.exists(path):
            return {}
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def update_metrics(self, **sections):
        """Merge top-level sections into ``metrics.json`` and rewrite it atomically."""
        with self._writing():
            metrics = self.read_metrics()
            metrics.update(sections)
            atomic_write_text(self.file(METRICS_FILE), _json(metrics))
        return metrics

    def update_record(self, **fields):
        """Merge fields into ``run.json`` (for instance where the trained model was saved)."""
        with self._writing():
            self.record.update(fields)
            atomic_write_text(self.file(RUN_FILE), _json(self.record))

    @contextlib.contextmanager
    def _writing(self):
        """A run opened for reading (``tfbert evaluate``) takes the lock for the time of one write,
        so it never rewrites the files of a run that another process is training."""
        if self._lock is not None:
            yield
            return
        lock = RunLock(self.path).acquire("evaluate")
        try:
            yield
        finally:
            lock.release()

    # ---- the life of a run that writes ----------------------------------
    def close(self):
        """Release the run's lock (the OS does it anyway when the process ends)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        try:
            if kind is not None and self._lock is not None and not self.resumed and not self.has_checkpoint():
                self._remove_failed_start()
        finally:
            self.close()
        return False

    def _remove_failed_start(self):
        """A start that failed before its first checkpoint leaves nothing behind: there is nothing to resume."""
        for name in sorted(os.listdir(self.path)):
            if name != LOCK_FILE and _is_tfbert_entry(self.path, name):
                _remove(os.path.join(self.path, name))
        _remove(self.file(LOCK_FILE))  # still held by us until close(): no one can have taken it
        if self._made_directory and not os.listdir(self.path):
            os.rmdir(self.path)


class RunLock:
    """An exclusive ``flock`` on ``DIR/run.lock`` holding the owner's pid; ``acquire`` refuses at once when taken.

    Example:
    >>> import tempfile
    >>> from tfbert.runs import RunLock, RunLockedError
    >>> folder = tempfile.mkdtemp()
    >>> mine = RunLock(folder).acquire("finetune")
    >>> try:
    ...     RunLock(folder).acquire("finetune")
    ... except RunLockedError as e:
    ...     print(f"in use by another tfbert process (pid {os.getpid()}, `tfbert finetune`)" in str(e))
    True
    >>> mine.release()
    >>> RunLock(folder).acquire("finetune").release()
    """

    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        self.path = os.path.join(self.directory, LOCK_FILE)
        self._fd = None

    def acquire(self, command):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask applies
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLockedError(
                f"run directory {self.directory} is in use by another tfbert process ({holder}); wait for it "
                "to finish or stop it, or choose another --output-dir."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        self._fd = fd
        return self

    def held(self):
        """True if another process holds the lock now (reading only: the lock file is not created)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def holder(self):
        with open(self.path, "rb") as f:
            return _read_holder(f.fileno())

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        self.release()


def _read_holder(fd):
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    if text and text[0].isdigit():
        return f"pid {text[0]}" + (f", `tfbert {text[1]}`" if len(text) > 1 else "")
    return "pid unknown: it is starting"


# ---- reading run.json ------------------------------------------------------------------------
def read_record(path):
    """The parsed ``run.json`` of the run in ``path``; ``FileNotFoundError`` if there is none, ``ForeignDirectoryError`` if tfbert did not write it."""
    run_file = os.path.join(path, RUN_FILE)
    if not os.path.isfile(run_file):
        raise FileNotFoundError(
            f"{path} is not a tfbert run directory (no {RUN_FILE} in it); "
            "pass the --output-dir of a finished `tfbert finetune` or `tfbert pretrain`."
        )
    problem = _record_problem(run_file)
    if problem:
        raise ForeignDirectoryError(
            f"{run_file} was not written by tfbert ({problem}); tfbert neither uses nor deletes this directory: "
            "choose another --output-dir."
        )
    with open(run_file, encoding="utf-8") as f:
        return json.load(f)


def _record_problem(run_file):
    """Why ``run_file`` is not a tfbert record, or None when it is one."""
    try:
        with open(run_file, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as e:
        return f"it is not readable JSON: {type(e).__name__}"
    if not isinstance(record, dict):
        return "it holds no JSON object"
    if not isinstance(record.get("tfbert_version"), str):
        if record.get("command") in COMMANDS and isinstance(record.get("settings"), dict):
            return ('it has no "tfbert_version" marker; if an older tfbert made this run, add '
                    '"tfbert_version": "0.1.0" to its run.json')
        return 'it has no "tfbert_version" marker'
    if record.get("command") not in COMMANDS or not isinstance(record.get("settings"), dict):
        return f"its command is {record.get('command')!r}, not one of {', '.join(COMMANDS)}"
    return None


def is_run(path):
    """True if ``path`` is a directory holding a tfbert run (a ``run.json`` that tfbert wrote)."""
    run_file = os.path.join(path, RUN_FILE)
    return os.path.isfile(run_file) and _record_problem(run_file) is None


# ---- what tfbert wrote ------------------------------------------------------------------------
def _is_tfbert_entry(directory, name):
    full = os.path.join(directory, name)
    if _TEMPORARY.match(name):
        return True
    if name not in RUN_ENTRIES:
        return False
    pattern = RUN_ENTRIES[name]
    if pattern is None or os.path.islink(full) or not os.path.isdir(full):
        return pattern is None
    return all(pattern.match(child) for child in os.listdir(full))


def foreign_entries(path):
    """Entries of ``path`` (``plots/notes.txt`` style for folders) that tfbert did not write."""
    foreign = []
    for name in sorted(os.listdir(path)):
        if _is_tfbert_entry(path, name):
            continue
        pattern = RUN_ENTRIES.get(name)
        full = os.path.join(path, name)
        if pattern is not None and os.path.isdir(full) and not os.path.islink(full):
            foreign += [f"{name}/{child}" for child in sorted(os.listdir(full)) if not pattern.match(child)]
        else:
            foreign.append(name + ("/" if os.path.isdir(full) else ""))
    return foreign


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


# ---- opening a run ----------------------------------------------------------------------------
def open_run(path, command, settings, mode="new"):
    """Open ``path`` as the run directory of ``command`` and return a ``RunDirectory`` holding its lock.

    Args:
        path: the output directory.
        command: the command that makes the run ("finetune", "pretrain").
        settings: a JSON-serializable dict of the run's settings, stored in ``run.json``.
        mode: "new" refuses a directory that holds a run or any other files;
            "overwrite" replaces a previous tfbert run there, deleting only what
            tfbert wrote (refused when anything else is there); "resume"
            reopens the run there, keeping its stored settings, and fails if
            there is none; "check" raises what "new" would raise, writes nothing
            and returns None.

    Raises ``RunLockedError`` (naming the pid) when another process holds the run.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {COMMANDS}, got {command!r}.")
    path = os.path.abspath(path)
    if mode == "resume":
        return _open_resume(path, command)
    _preflight(path, mode)
    if mode == "check":
        return None
    made = not os.path.isdir(path)
    os.makedirs(path, exist_ok=True)
    try:
        lock = RunLock(path).acquire(command)
    except BaseException:
        if made and not os.listdir(path):
            os.rmdir(path)
        raise
    try:
        _preflight(path, mode, check_lock=False)  # again, under the lock: what another process did meanwhile counts
        if mode == "overwrite":
            for name in sorted(os.listdir(path)):
                if name != LOCK_FILE:
                    _remove(os.path.join(path, name))  # _preflight found only tfbert's entries
        from tfbert import __version__

        record = {"command": command, "settings": dict(settings), "tfbert_version": __version__,
                  "started": datetime.datetime.now().isoformat(timespec="seconds")}
        atomic_write_text(os.path.join(path, RUN_FILE), _json(record))
    except BaseException:
        if not is_run(path):
            _remove(os.path.join(path, LOCK_FILE))
            if made and not os.listdir(path):
                os.rmdir(path)
        lock.release()
        raise
    run = RunDirectory(path)
    run._lock, run._made_directory = lock, made
    return run


def _open_resume(path, command):
    if not os.path.isfile(os.path.join(path, RUN_FILE)):
        raise FileNotFoundError(
            f"nothing to resume: {path} holds no run ({RUN_FILE} missing); drop --resume to start a new run."
        )
    read_record(path)  # a foreign run.json is refused before a lock file is written there
    lock = RunLock(path).acquire(command)
    try:
        run = RunDirectory(path)
        if run.command != command:
            raise ValueError(f"cannot resume: {path} holds a `tfbert {run.command}` run, not `tfbert {command}`.")
    except BaseException:
        lock.release()
        raise
    run._lock, run.resumed = lock, True
    return run


def _preflight(path, mode, check_lock=True):
    """Raise what opening ``path`` in ``mode`` ("new", "check" or "overwrite") would refuse; write nothing."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(f"output directory {path} exists and is a file; choose a directory path.")
    if not os.path.isdir(path):
        return
    if os.path.exists(os.path.join(path, RUN_FILE)):
        read_record(path)  # refuses another tool's run.json
        if mode in ("new", "check"):
            previous = RunDirectory(path)
            raise RunExistsError(
                f"output directory {path} already holds a run (`tfbert {previous.command}`, "
                f"started {previous.record.get('started', '?')}); pass --overwrite to replace it, "
                "--resume to continue it, or choose another --output-dir."
            )
    foreign = foreign_entries(path)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        holds_run = is_run(path)
        raise ForeignDirectoryError(
            f"output directory {path} holds {'a run and ' if holds_run else ''}files tfbert did not write "
            f"({shown}); move them out or choose another --output-dir (tfbert never deletes files it did not write)."
        )
    lock = RunLock(path)
    if check_lock and lock.held():
        raise RunLockedError(
            f"run directory {path} is in use by another tfbert process ({lock.holder()}); wait for it to finish "
            "or stop it, or choose another --output-dir."
        )


def start_run(path, command, given, defaults, fixed=(), check=None, mode="new"):
    """Open the run directory for a training command; return ``(run, settings, check(settings))``.

    ``given`` holds the settings the user gave (an ``argparse.Namespace`` or a
    dict; ``None`` = not given). ``check(settings)`` runs before anything is
    written (for a resumed run: once its lock is held), so that bad settings (a
    missing file, an unreachable preset) leave no run directory behind. Use the
    returned run as a context manager: it releases the lock at the end and, for a
    new run that fails before its first checkpoint, removes what it wrote.
    """
    if mode not in ("new", "overwrite", "resume"):
        raise ValueError(f"mode must be new, overwrite or resume, got {mode!r}.")
    if mode == "resume":
        run = open_run(path, command, {}, mode="resume")
        try:
            settings = resolve_settings(given, defaults, run.settings, fixed)
            checked = check(settings) if check else None
            run.update_record(settings=settings)
        except BaseException:
            run.close()
            raise
        return run, settings, checked
    settings = resolve_settings(given, defaults)
    _preflight(os.path.abspath(path), mode)  # refuse at once, before a slow check
    checked = check(settings) if check else None
    return open_run(path, command, settings, mode=mode), settings, checked


def resolve_settings(given, defaults, stored=None, fixed=()):
    """Each setting from ``given`` when not None, else from ``stored`` (a resumed run), else ``defaults``.

    A ``fixed`` setting (one that changes the model or the data) may not differ
    from the stored one on resume.

    Example:
    >>> from tfbert.runs import resolve_settings
    >>> resolve_settings({"epochs": None, "seed": 7}, {"epochs": 3, "seed": 42}, stored={"epochs": 5})
    {'epochs': 5, 'seed': 7}
    """
    stored = stored or {}
    settings = {}
    for key, default in defaults.items():
        value = given.get(key) if isinstance(given, dict) else getattr(given, key, None)
        if key in stored and value is not None and key in fixed and value != stored[key]:
            flag = "--" + key.replace("_", "-")
            raise ValueError(
                f"--resume continues the run with its own {flag} {stored[key]!r}, but {value!r} was given; "
                f"drop {flag} or start a new run (another --output-dir, or --overwrite)."
            )
        settings[key] = value if value is not None else stored.get(key, default)
    return settings


# ---- while the run trains ---------------------------------------------------------------------
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
    """The callbacks that record ``run`` (history into ``metrics.json``, TensorBoard logs)."""
    from tfbert.callbacks import run_callbacks, tensorboard_installed

    if not tensorboard_installed():
        _notice("the tensorboard package is not installed: writing TensorBoard scalars with TensorFlow alone "
                f"(logs in {run.logs_dir})")
    return run_callbacks(run)


def progress_verbosity():
    """Keras progress bars (with ETA) on a terminal; one line per epoch in logs and pipes."""
    return 1 if sys.stdout.isatty() else 2


def write_history_plot(run):
    """``plots/training_curves.png`` from the run's history (skipped, with a notice, without matplotlib)."""
    from tfbert import plots

    history = run.read_metrics().get("history")
    if not history:
        return None
    if not plots.plots_available():
        _notice(f"matplotlib is not installed: skipping plots ({plots.INSTALL_HINT})")
        return None
    return plots.plot_history(history, os.path.join(run.plots_dir, "training_curves.png"),
                              title=f"{run.name}: training curves")


def _notice(message):
    print(f"tfbert: {message}", file=sys.stderr, flush=True)


def _json(value):
    return json.dumps(_plain(value), indent=2, sort_keys=True) + "\n"


def _plain(value):
    """Numpy scalars and arrays to plain Python, so json.dumps accepts them."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
