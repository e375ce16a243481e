"""Data readers that feed ``model.fit``: files, tfds names and offline demo sets, as records and ``tf.data``.

Classification readers return :class:`ClassificationData` (labelled texts or
text pairs with their label names); ``tfbert.data.pipeline`` turns it into a
batched, padded ``tf.data`` pipeline.

Example:
>>> from tfbert.data import ClassificationData, TextExample
>>> ClassificationData([TextExample("fine", 1)], label_names=["neg", "pos"]).label_counts()
{'neg': 0, 'pos': 1}
"""

from tfbert.data.conll import TaggedSentence, read_conll, tag_names
from tfbert.data.csv_text import read_text_table
from tfbert.data.examples import ClassificationData, TextExample
from tfbert.data.glue import read_mrpc, read_sst2
from tfbert.data.pipeline import classification_dataset
from tfbert.data.rotten_tomatoes import load_rotten_tomatoes
from tfbert.data.squad import SquadExample, read_squad
from tfbert.data.splits import group_split, random_split, sentence_holdout_split
from tfbert.data.tfds_datasets import load_tfds

__all__ = [
    "ClassificationData",
    "SquadExample",
    "TaggedSentence",
    "TextExample",
    "classification_dataset",
    "group_split",
    "load_rotten_tomatoes",
    "load_tfds",
    "random_split",
    "read_conll",
    "read_mrpc",
    "read_squad",
    "read_sst2",
    "read_text_table",
    "sentence_holdout_split",
    "tag_names",
]
