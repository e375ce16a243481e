"""Atomic file and directory writes: a reader sees the old file or the whole new one.

Every writer in tfbert (configs, checkpoints, presets, SavedModels) goes through
these helpers, so a crash mid-write never leaves a half-written file behind.

Example:
>>> import os, tempfile
>>> from tfbert.fileio import atomic_write_text
>>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
>>> atomic_write_text(path, "[PAD]\\n")
>>> open(path).read()
'[PAD]\\n'
"""

import contextlib
import os
import shutil
import tempfile


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with atomic_file(path, "w") as f:
        f.write(text)


@contextlib.contextmanager
def atomic_file(path, mode="wb"):
    """Open a temporary file beside ``path``; rename it over ``path`` on success."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    os.close(fd)
    try:
        encoding = None if "b" in mode else "utf-8"
        with open(tmp, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path, overwrite=False):
    """Yield a temporary directory that is renamed to ``path`` when the block succeeds.

    On failure the temporary directory is removed and ``path`` is untouched.
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it.")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    try:
        yield tmp
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
