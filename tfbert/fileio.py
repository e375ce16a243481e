"""Atomic file and directory writes: a reader sees the old file or the whole new one.

Every writer in tfbert (configs, checkpoints, presets, SavedModels) goes through
these helpers, so a crash mid-write never leaves a half-written file behind.

- Files and folders get the modes the user's umask gives (0644 / 0755 under
  umask 022), not the private 0600 / 0700 of ``tempfile``, so that another user
  (a TF Serving process, a colleague) can read what tfbert wrote.
- ``atomic_directory(path, overwrite=True)`` swaps a complete new folder with the
  old one in one step (``renameat2(RENAME_EXCHANGE)``), so at every instant
  ``path`` names a complete folder; the old one is deleted afterwards. Where the
  file system or the OS lacks the exchange (not Linux, NFS, old kernels), the
  old folder is renamed aside first, so ``path`` is absent for the instant
  between two renames, but both versions stay complete on disk.
- The temporary folder is hidden (``.NAME.tmp-XXXX``) and locked (``flock``)
  while it is written; ``remove_stale_temporaries`` deletes those that no live
  process holds (what a killed writer left behind).

Example:
>>> import os, tempfile
>>> from tfbert.fileio import atomic_directory, atomic_write_text
>>> root = tempfile.mkdtemp()
>>> path = os.path.join(root, "vocab.txt")
>>> atomic_write_text(path, "[PAD]\\n")
>>> open(path).read()
'[PAD]\\n'
>>> for text in ("old", "new"):
...     with atomic_directory(os.path.join(root, "1"), overwrite=True) as tmp:
...         atomic_write_text(os.path.join(tmp, "file"), text)
>>> open(os.path.join(root, "1", "file")).read(), sorted(os.listdir(root))
('new', ['1', 'vocab.txt'])
"""

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import secrets
import shutil
import tempfile

_AT_FDCWD = -100
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2


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
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600 whatever the umask
    finally:
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
    """Yield a temporary directory that replaces ``path`` when the block succeeds.

    The new folder is complete on disk before the old one goes: with
    ``overwrite=True`` the two are exchanged in one rename where the OS allows
    it (see the module docstring for the fallback), then the old one is
    deleted. Without ``overwrite`` an existing ``path`` is never replaced, even
    one that appeared while the block ran. On failure the temporary directory is
    removed and ``path`` is untouched.
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it.")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    lock = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # "held": remove_stale_temporaries leaves it alone
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700 whatever the umask
        yield tmp
        _umask_folder_modes(tmp)
        if os.path.lexists(path):
            if not overwrite:
                raise FileExistsError(f"{path} appeared while it was being written; nothing was replaced.")
            _swap_in(tmp, path)  # the old version now lies at `tmp`
        else:
            _rename_noreplace(tmp, path)
            tmp = None
    except BaseException:
        if tmp is not None and os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    else:
        if tmp is not None:
            _remove_tree(tmp)
    finally:
        os.close(lock)


def remove_stale_temporaries(directory, pattern=r"^\..+\.(tmp|old)-[A-Za-z0-9_]+$"):
    """Delete the hidden temporary folders in ``directory`` that no live process holds; return their names.

    A writer holds an ``flock`` on its temporary folder until it is renamed into
    place, and the OS drops that lock when the process dies (even by SIGKILL),
    so a folder whose lock can be taken was left behind by a killed writer.
    Only names matching ``pattern`` (what ``atomic_directory`` makes) are considered.
    A ``.NAME.old-*`` folder (the fallback swap's old version) whose ``NAME`` is
    missing is renamed back to ``NAME`` instead: it is the last complete version.
    """
    removed = []
    if not os.path.isdir(directory):
        return removed
    for name in sorted(os.listdir(directory)):
        full = os.path.join(directory, name)
        if not re.match(pattern, name) or os.path.islink(full) or not os.path.isdir(full):
            continue
        try:
            fd = os.open(full, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # renamed into place or removed meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live writer holds it
        else:
            aside = re.match(r"^\.(.+)\.old-[A-Za-z0-9_]+$", name)
            target = aside and os.path.join(directory, aside.group(1))
            if target and not os.path.lexists(target):
                os.rename(full, target)  # the complete old version of a writer killed mid-swap: put it back
            else:
                _remove_tree(full)
                removed.append(name)
        finally:
            os.close(fd)
    return removed


def _umask_folder_modes(root):
    """Give the folders under ``root`` the mode of the umask.

    TensorFlow's POSIX file system makes every folder with ``mkdir(path, 0755)``
    (tensorflow/tensorflow#32963), so a SavedModel's ``variables/`` and ``assets/``
    would lack group write under umask 002 (test_runs.py checks that this is still so).
    Files need nothing: TensorFlow and Python create them with 0666 minus the umask.
    """
    mode = 0o777 & ~current_umask()
    for folder, children, _ in os.walk(root):
        for child in children:
            full = os.path.join(folder, child)
            if not os.path.islink(full):
                os.chmod(full, mode)


def current_umask():
    """The process's umask, read without changing it where Linux allows (``/proc/self/status``)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but only there)
    os.umask(mask)
    return mask


# ---- renames -------------------------------------------------------------------------------
def _renameat2(source, target, flags):
    """``renameat2(2)`` through ctypes; False where the OS or the file system lacks it."""
    rename = getattr(_libc(), "renameat2", None)
    if rename is None:
        return False
    if rename(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM):
        return False  # not supported here: fall back
    raise OSError(code, os.strerror(code), target)


def _swap_in(new, path):
    """Put the folder ``new`` at ``path`` and the old ``path`` at ``new``, with ``path`` never absent where possible."""
    if _renameat2(new, path, _RENAME_EXCHANGE):
        return
    # Fallback: both versions stay complete on disk, but `path` is absent between the two renames.
    # The old version is locked while it lies aside, and remove_stale_temporaries puts back an
    # unlocked `.NAME.old-*` whose NAME is missing (a writer killed between the renames).
    aside = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.old-{secrets.token_hex(4)}")
    held = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        os.rename(path, aside)
        try:
            os.rename(new, path)
        except BaseException:
            os.rename(aside, path)
            raise
        os.rename(aside, new)
    finally:
        os.close(held)


def _rename_noreplace(source, target):
    try:
        done = _renameat2(source, target, _RENAME_NOREPLACE)
    except FileExistsError:
        raise FileExistsError(f"{target} appeared while it was being written; nothing was replaced.") from None
    if not done:
        if os.path.lexists(target):
            raise FileExistsError(f"{target} appeared while it was being written; nothing was replaced.")
        os.rename(source, target)


def _remove_tree(path):
    """Delete a folder tfbert wrote; entries that vanish meanwhile (another cleaner) are fine."""
    def ignore_vanished(function, name, exc_info):
        if not issubclass(exc_info[0], FileNotFoundError):
            raise exc_info[1]

    shutil.rmtree(path, onerror=ignore_vanished)  # (`onerror`: Python 3.11 has no `onexc`)


_LIBC = []


def _libc():
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        except OSError:
            _LIBC.append(None)
    return _LIBC[0]
