"""How the command reports: failures as one line, tfbert's notices on stderr, TensorFlow kept quiet.

TensorFlow 2.21 prints its start-up lines ("oneDNN custom operations are on",
"Could not find cuda drivers", the absl "before InitializeLog" warning) from
C++ while it is imported, before ``TF_CPP_MIN_LOG_LEVEL`` is read (measured: level
3 still prints them). So :func:`import_tensorflow_quietly` points file
descriptor 2 at a temporary file during the import and writes back every
captured line that is not one of those start-up lines; afterwards
``TF_CPP_MIN_LOG_LEVEL=3`` silences the rest (the ``E0000 ... cuInit`` line on
machines without a GPU). ``--verbose`` skips both and shows everything.

Example:
>>> from tfbert.cli.errors import one_line
>>> one_line(FileNotFoundError("data file not found: x.csv.\\nGive a CSV file with a header row."))
'data file not found: x.csv. ... Give a CSV file with a header row.'
>>> one_line(ZeroDivisionError("division by zero"))
'ZeroDivisionError: division by zero (run with --verbose for the traceback)'
"""

import errno
import logging
import os
import re
import sys
import tempfile

from tfbert.cli.options import PROG


_USER_ERRORS = (OSError, ValueError, LookupError, TypeError, ImportError, RuntimeError)


_OS_ERROR_ADVICE = {
    errno.ENOTDIR: "a part of this path is a file, not a folder; choose another path",
    errno.EISDIR: "this is a folder, not a file; give a file path",
    errno.EACCES: "permission denied; choose a path you may write to, or change its permissions",
    errno.EPERM: "operation not permitted; choose another path",
    errno.EROFS: "the file system is read-only; choose a path on a writable disk",
    errno.ENOSPC: "no space left on the device; free some space or choose another disk",
    errno.ENAMETOOLONG: "the file name is too long; choose a shorter path",
}


def one_line(error, hint=True):
    """An exception as one line: its first line, plus its last when that says what to do."""
    if isinstance(error, OSError) and error.errno in _OS_ERROR_ADVICE and error.filename is not None and \
            len(error.args) == 2:  # a raw "[Errno N] ..." from the OS: name the path and what to do
        if error.errno == errno.ENOTDIR:
            blocker = _file_in_the_way(str(error.filename))
            if blocker:
                return f"{error.filename}: {blocker} is a file, not a folder; choose another path."
        return f"{error.filename}: {_OS_ERROR_ADVICE[error.errno]}."
    message = error.args[0] if len(error.args) == 1 and isinstance(error.args[0], str) else str(error)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        lines = [type(error).__name__]
    text = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
    if not isinstance(error, _USER_ERRORS) or type(error).__module__.startswith("tensorflow"):
        text = f"{type(error).__name__}: {text}"
        if hint:
            text += " (run with --verbose for the traceback)"
    return text


def _file_in_the_way(path):
    """The nearest ancestor of ``path`` that exists and is not a folder, or None."""
    parent = os.path.dirname(os.path.abspath(path))
    while parent and parent != os.path.dirname(parent):
        if os.path.lexists(parent):
            return parent if not os.path.isdir(parent) else None
        parent = os.path.dirname(parent)
    return None


def print_error(message):
    sys.stdout.flush()
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def notice(message):
    """A one-line notice on stderr, e.g. that plots were skipped."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


class _StderrHandler(logging.Handler):
    """Writes to the current ``sys.stderr`` (not the one at creation, which tests replace)."""

    def emit(self, record):
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - logging's own convention
            self.handleError(record)


# TensorFlow's C++ start-up lines (absl's format "I0000 <time> <thread> file.cc:line] ..."), the absl
# notice before them, and the continuation line of the CPU-instructions notice.
_STARTUP_LINE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:. ]+\d+ \w+\.cc:\d+\] .*"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.)$"
)


def import_tensorflow_quietly(verbose=False):
    """Import TensorFlow without its start-up lines on stderr (all of them shown when ``verbose``)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "3"
    if verbose or "tensorflow" in sys.modules:
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to protect
        import tensorflow

        return tensorflow
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines()
                    if not _STARTUP_LINE.match(line)]
            if kept:  # anything else TensorFlow printed is not ours to hide
                print("\n".join(kept), file=sys.stderr, flush=True)
    return tensorflow


def configure_logging(verbose):
    """Quiet TensorFlow/absl unless --verbose; tfbert's own notices go to stderr."""
    tf = import_tensorflow_quietly(verbose)
    import absl.logging

    log = logging.getLogger("tfbert")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    absl.logging.set_verbosity(absl.logging.INFO if verbose else absl.logging.ERROR)
    tf.get_logger().setLevel(logging.INFO if verbose else logging.ERROR)
