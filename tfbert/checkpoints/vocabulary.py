"""WordPiece vocabulary files beside checkpoints: read, check against the embeddings, write.

A checkpoint's vocabulary (``vocab.txt``, one token a line; keras-hub's
``assets/tokenizer/vocabulary.txt``) must have exactly as many lines as the
word-embedding matrix has rows, otherwise token ids and embedding rows do not
mean the same thing. Every loader and writer checks this here.

Example:
>>> import os, tempfile
>>> from tfbert.checkpoints.vocabulary import read_tokens, check_vocabulary_size
>>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
>>> _ = open(path, "w").write("[PAD]\\n[UNK]\\nhello\\n")
>>> read_tokens(path)
['[PAD]', '[UNK]', 'hello']
>>> check_vocabulary_size(path, 3, "model.safetensors")
>>> check_vocabulary_size(path, 4, "model.safetensors")
Traceback (most recent call last):
...
ValueError: Vocabulary size mismatch: .../vocab.txt has 3 tokens but the word-embedding matrix in ...
"""

import os

from tfbert.fileio import atomic_write_text


def read_tokens(path):
    """The tokens of a vocabulary file, one per line (a trailing newline adds none)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Vocabulary file not found: {path}.")
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def check_vocabulary_size(path, rows, weights_label):
    """Raise ``ValueError`` unless the file at ``path`` has exactly ``rows`` tokens."""
    count = len(read_tokens(path))
    if count != rows:
        raise ValueError(
            f"Vocabulary size mismatch: {path} has {count} tokens but the word-embedding matrix in "
            f"{weights_label} has {rows} rows. The vocabulary belongs to another checkpoint: use the "
            "vocabulary file shipped with these weights (or weights trained with this vocabulary)."
        )


def vocabulary_tokens(vocabulary, vocab_size, label="the model"):
    """Accept a vocabulary file path or a list of tokens; return the tokens, checked against ``vocab_size``."""
    if isinstance(vocabulary, (str, os.PathLike)):
        tokens = read_tokens(os.fspath(vocabulary))
        source = os.fspath(vocabulary)
    elif isinstance(vocabulary, (list, tuple)) and all(isinstance(t, str) for t in vocabulary):
        tokens, source = list(vocabulary), "the vocabulary list"
    else:
        raise TypeError(
            "vocabulary must be a path to a vocab.txt file or a list of token strings, "
            f"got {type(vocabulary).__name__}."
        )
    if len(tokens) != vocab_size:
        raise ValueError(
            f"Vocabulary size mismatch: {source} has {len(tokens)} tokens but {label} has vocab_size={vocab_size} "
            "word-embedding rows. Pass the vocabulary the model was trained with."
        )
    return tokens


def model_vocabulary(bert, vocabulary=None, lowercase=None, require_casing=True):
    """The (tokens, lowercase) a writer should store with ``bert``.

    Each defaults to what the model was loaded with (``bert.source_vocabulary``,
    ``bert.source_lowercase``, set by the checkpoint loaders). Returns
    ``(None, lowercase)`` when there is no vocabulary; raises when a vocabulary
    is given but its casing is unknown (unless ``require_casing=False``: formats
    that store no casing), since a wrong guess changes every token id.
    """
    if vocabulary is None:
        vocabulary = getattr(bert, "source_vocabulary", None)
        if lowercase is None:
            lowercase = getattr(bert, "source_lowercase", None)
    if vocabulary is None:
        return None, lowercase
    tokens = vocabulary_tokens(vocabulary, bert.config.vocab_size, f"BERT {bert.name!r}")
    if lowercase is None and require_casing:
        raise ValueError(
            "The vocabulary's casing is unknown: pass lowercase=True for an uncased vocabulary "
            "or lowercase=False for a cased one."
        )
    return tokens, None if lowercase is None else bool(lowercase)


def write_tokens(path, tokens):
    """Write one token a line, atomically."""
    atomic_write_text(path, "".join(f"{t}\n" for t in tokens))
