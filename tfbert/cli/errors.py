"""How the command reports: failures as one line, tfbert's notices on stderr, TensorFlow kept quiet.

Example:
>>> from tfbert.cli.errors import one_line
>>> one_line(FileNotFoundError("data file not found: x.csv.\\nGive a CSV file with a header row."))
'data file not found: x.csv. ... Give a CSV file with a header row.'
>>> one_line(ZeroDivisionError("division by zero"))
'ZeroDivisionError: division by zero (run with --verbose for the traceback)'
"""

import logging
import sys

from tfbert.cli.options import PROG


_USER_ERRORS = (OSError, ValueError, LookupError, TypeError, ImportError, RuntimeError)


def one_line(error, hint=True):
    """An exception as one line: its first line, plus its last when that says what to do."""
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


def configure_logging(verbose):
    """Quiet TensorFlow/absl unless --verbose; tfbert's own notices go to stderr."""
    import absl.logging
    import tensorflow as tf

    log = logging.getLogger("tfbert")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    absl.logging.set_verbosity(absl.logging.INFO if verbose else absl.logging.ERROR)
    tf.get_logger().setLevel(logging.INFO if verbose else logging.ERROR)
