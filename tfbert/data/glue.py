"""GLUE TSV files: SST-2 (single sentences) and MRPC (sentence pairs).

The files are read as GLUE distributes them, with :func:`read_text_table`:

- SST-2 ``train.tsv``/``dev.tsv``: header ``sentence<TAB>label``. The text is
  kept exactly, including the space GLUE leaves before the tab.
- MRPC ``train.tsv``/``dev.tsv`` (original layout): header
  ``Quality<TAB>#1 ID<TAB>#2 ID<TAB>#1 String<TAB>#2 String``. The file
  starts with a UTF-8 byte-order mark, and sentences contain unbalanced
  double quotes, so it is read as ``utf-8-sig`` with ``csv.QUOTE_NONE``.

Example:
>>> import os, tempfile
>>> from tfbert.data.glue import read_sst2
>>> path = os.path.join(tempfile.mkdtemp(), "train.tsv")
>>> _ = open(path, "w").write("sentence\\tlabel\\nhide new secretions \\t0\\na gem \\t1\\n")
>>> data = read_sst2(path)
>>> data.label_names, [(e.text, e.label) for e in data]
(('negative', 'positive'), [('hide new secretions ', 0), ('a gem ', 1)])
"""

import csv

from tfbert.data.csv_text import read_text_table

SST2_LABEL_NAMES = ("negative", "positive")
MRPC_LABEL_NAMES = ("not_equivalent", "equivalent")


def read_sst2(path):
    """Read a GLUE SST-2 TSV (``sentence``, ``label``) into ``ClassificationData``."""
    return read_text_table(path, text_column="sentence", label_column="label",
                           label_names=SST2_LABEL_NAMES, delimiter="\t")


def read_mrpc(path):
    """Read a GLUE MRPC TSV into ``ClassificationData`` of pairs (``#1 String``, ``#2 String``).

    The label is ``Quality`` (1 = the two sentences are paraphrases).
    """
    return read_text_table(path, text_column="#1 String", text_pair_column="#2 String",
                           label_column="Quality", label_names=MRPC_LABEL_NAMES, delimiter="\t",
                           quoting=csv.QUOTE_NONE, encoding="utf-8-sig")
