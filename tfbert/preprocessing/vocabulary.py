"""Learning a WordPiece vocabulary from raw text, and writing ``vocab.txt``.

``train_wordpiece_vocabulary`` splits text into words with the very basic
tokenizer that ``tfbert.BertTokenizer`` runs
(``tfbert.preprocessing.basic_tokenizer``: control characters cleaned,
punctuation split off, every CJK ideograph its own word, and for
``lowercase=True`` lowercasing plus NFD accent stripping), so the vocabulary is
learned on exactly the words the tokenizer will later see. It counts the words
and learns sub-word pieces with tensorflow-text's WordPiece learner
(``tensorflow_text.tools.wordpiece_vocab``). Continuation pieces carry the
``##`` prefix, as in Google's vocabularies; Chinese text therefore yields each
ideograph as a single-character token (and its ``##`` form).

Special-token layout (``layout=``):

- ``"bert"``: the released BERT layout, so the standard ids hold:
  ``[PAD]=0``, ``[unused0]..[unused98]=1..99``, ``[UNK]=100``, ``[CLS]=101``,
  ``[SEP]=102``, ``[MASK]=103``, learned tokens from 104 on. The ``[unusedN]``
  fillers are the slots users later turn into domain tokens.
- ``"compact"``: ``[PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4``, learned
  tokens from 5 on, for tiny vocabularies where 99 fillers would crowd out
  the real tokens.
- ``"auto"`` (default): ``"bert"`` when ``vocab_size >= 1000``, else
  ``"compact"``.

``vocab_size`` is the learner's target: the result is at most ``vocab_size``
tokens whenever the alphabet fits (usually within 5% below it). Every
character kept in the alphabet (``max_unique_chars`` most frequent, with its
``##`` form) is always included so that no kept character becomes ``[UNK]``;
when those alone exceed ``vocab_size`` the result is larger than asked and a
warning says so. Use ``len(vocabulary)`` as the model's ``vocab_size``.

Example:
>>> from tfbert.preprocessing.vocabulary import train_wordpiece_vocabulary, special_token_ids
>>> texts = ["The cat sat on the mat.", "The dog sat on the log.", "猫坐在垫子上。"] * 20
>>> vocab = train_wordpiece_vocabulary(texts, vocab_size=60)
>>> vocab[:5]
['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
>>> special_token_ids(vocab)
{'[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4}
>>> len(vocab) <= 60, "the" in vocab, "猫" in vocab, "##t" in vocab
(True, True, True, True)
"""

import warnings

import tensorflow as tf

from tfbert.fileio import atomic_write_text

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: The ids that released BERT vocabularies give the special tokens.
BERT_SPECIAL_IDS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}
#: ``layout="auto"`` uses the BERT layout from this vocabulary size on.
BERT_LAYOUT_MIN_SIZE = 1000


def reserved_tokens(layout="bert"):
    """The tokens that open the vocabulary, in id order, for ``layout``."""
    if layout == "bert":
        return ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    if layout == "compact":
        return list(SPECIAL_TOKENS)
    raise ValueError(f"layout must be 'bert', 'compact' or 'auto', got {layout!r}.")


def _text_dataset(texts):
    """A tf.data.Dataset of string batches from a dataset, a string or an iterable of strings."""
    if isinstance(texts, tf.data.Dataset):
        spec = texts.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
            raise TypeError(f"Expected a dataset of strings, got elements {spec}. Map it to the text first.")
        return texts.batch(1024) if spec.shape.rank == 0 else texts
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    texts = [t.decode("utf-8") if isinstance(t, bytes) else t for t in texts]
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"Texts must be strings; got {bad[0]} among them.")
    return tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).batch(1024)


def train_wordpiece_vocabulary(texts_or_dataset, vocab_size, lowercase=True, *, strip_accents=None,
                               tokenize_chinese_chars=True, layout="auto", max_unique_chars=None,
                               learn_params=None):
    """Learn a WordPiece vocabulary (a list of tokens, index = id) from raw text.

    Args:
        texts_or_dataset: a list/iterable of strings, or a ``tf.data.Dataset``
            of strings (scalars or batches).
        vocab_size: target number of tokens, special tokens included.
        lowercase: True for an uncased vocabulary (lowercase + strip accents),
            False for a cased one. Use the same value for the tokenizer.
        strip_accents, tokenize_chinese_chars: as for ``BertTokenizer``
            (``None`` strips accents exactly when lowercasing).
        layout: "auto", "bert" or "compact"; see the module docstring.
        max_unique_chars: size of the alphabet kept; words holding a rarer
            character are not counted (and the character becomes [UNK]).
            Default ``max(1000, vocab_size // 4)``, which keeps the
            several thousand ideographs a Chinese vocabulary needs.
        learn_params: extra keyword arguments for tensorflow-text's
            ``wordpiece_tokenizer_learner_lib.learn``.
    """
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    from tfbert.preprocessing.basic_tokenizer import BasicTokenizer

    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < len(SPECIAL_TOKENS) + 1:
        raise ValueError(f"vocab_size must be an integer > {len(SPECIAL_TOKENS)}, got {vocab_size!r}.")
    if layout == "auto":
        layout = "bert" if vocab_size >= BERT_LAYOUT_MIN_SIZE else "compact"
    reserved = reserved_tokens(layout)
    if vocab_size <= len(reserved):
        raise ValueError(f"vocab_size={vocab_size} leaves no room after the {len(reserved)} reserved tokens of "
                         f"layout={layout!r}; raise vocab_size or use layout='compact'.")
    basic = BasicTokenizer(lowercase, strip_accents, tokenize_chinese_chars)
    words = _text_dataset(texts_or_dataset).map(lambda batch: basic.split(batch)["words"])
    try:
        word_counts = learner.count_words(words)
    except StopIteration:  # the learner peeks at the first word; there is none
        word_counts = {}
    word_counts.pop("", None)
    if not word_counts:
        raise ValueError("The texts hold no words; cannot learn a vocabulary from empty text.")
    params = dict(max_unique_chars=max_unique_chars or max(1000, vocab_size // 4), lower_thresh=1)
    params.update(learn_params or {})
    vocabulary = learner.learn(word_counts, vocab_size, reserved, **params)
    vocabulary = _trim(vocabulary, vocab_size, len(reserved))
    if len(vocabulary) > vocab_size:
        warnings.warn(f"The learned vocabulary has {len(vocabulary)} tokens, more than vocab_size={vocab_size}: "
                      "the alphabet alone (every kept character and its ## form) needs that many. "
                      "Lower max_unique_chars or raise vocab_size.", stacklevel=2)
    special_token_ids(vocabulary)  # the layout guarantees them; checked anyway
    return vocabulary


def _trim(vocabulary, vocab_size, num_reserved):
    """Drop the rarest multi-character pieces until ``vocab_size`` fits.

    The learner's binary search over count thresholds can stop above the
    target; its output lists learned pieces by falling count, so the tail holds
    the rarest. Reserved tokens and the alphabet (single characters and their
    ``##`` forms) are never dropped.
    """
    excess = len(vocabulary) - vocab_size
    if excess <= 0:
        return vocabulary
    def is_alphabet(token):
        return len(token) == 1 or (token.startswith("##") and len(token) == 3)
    drop = set()
    for i in range(len(vocabulary) - 1, num_reserved - 1, -1):
        if len(drop) == excess:
            break
        if not is_alphabet(vocabulary[i]):
            drop.add(i)
    return [t for i, t in enumerate(vocabulary) if i not in drop]


def special_token_ids(vocabulary):
    """``{token: id}`` for [PAD], [UNK], [CLS], [SEP], [MASK]; a ValueError names any missing."""
    index = {}
    for i, token in enumerate(vocabulary):
        index.setdefault(token, i)
    missing = [t for t in SPECIAL_TOKENS if t not in index]
    if missing:
        raise ValueError(f"The vocabulary lacks the special token(s) {missing}; a BERT vocabulary needs all of "
                         f"{list(SPECIAL_TOKENS)}. Add them (train_wordpiece_vocabulary places them for you).")
    return {t: index[t] for t in SPECIAL_TOKENS}


def write_vocabulary(path, tokens):
    """Write ``tokens`` one per line (line number = id) to ``path``, atomically.

    The special tokens are checked first, and tokens must be unique,
    non-empty and free of whitespace line breaks, so the file round-trips.
    """
    tokens = list(tokens)
    special_token_ids(tokens)
    bad = [t for t in tokens if not isinstance(t, str) or not t or "\n" in t or "\r" in t]
    if bad:
        raise ValueError(f"Tokens must be non-empty strings without line breaks; got {bad[:3]!r}.")
    seen, duplicates = set(), []
    for t in tokens:
        (duplicates.append(t) if t in seen else seen.add(t))
    if duplicates:
        raise ValueError(f"Duplicate tokens would give one token two ids: {duplicates[:5]!r}.")
    atomic_write_text(path, "\n".join(tokens) + "\n")


def read_vocabulary(path):
    """The tokens of a ``vocab.txt`` (one per line; line number = id)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]
