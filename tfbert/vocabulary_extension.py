"""Teaching a checkpoint new tokens: grow its vocabulary, word embeddings and tied MLM decoder in place.

``bert.extend_vocabulary(tokenizer, new_tokens)`` (this module's
:func:`extend_vocabulary`) appends ``new_tokens`` to the vocabulary, grows the
word-embedding matrix ``[V, H]`` to ``[V + n, H]`` and, when the MLM head is
given, its output bias ``[V]`` (the decoder matrix *is* the embedding
variable, so it grows with it), updates ``bert.config.vocab_size`` and the
vocabulary that ``save_preset`` / ``save_huggingface`` / ``save_tf_checkpoint``
write, and returns a ``BertTokenizer`` over the extended vocabulary.

- Old ids keep their rows bit for bit; new tokens get ids ``V, V + 1, ...`` in
  the order given. Tokens already in the vocabulary (or repeated) are skipped
  and counted in ``bert.vocabulary_extension``.
- A token the new tokenizer could never produce is refused (``ValueError``):
  a multi-character CJK word (the tokenizer splits every ideograph into a word
  of its own), text with spaces, upper case or accents in an uncased vocabulary.
- New rows, when the *old* tokenizer splits the token into known pieces (an
  English word, "tfbert" -> tf ##bert): the mean of those pieces' rows, and of
  their MLM biases. This is where the model already put that text.
- New rows, when the old tokenizer maps the token to ``[UNK]`` (a Chinese
  character unknown to an English vocabulary, an emoji): the ``[UNK]`` row plus
  small Gaussian noise (std ``noise_scale`` x the std of the old matrix,
  seeded). Why [UNK] rather than the mean of all rows: the model has read every
  such character as ``[UNK]`` so far, so right after extension it computes what
  it computed before (up to the noise) and fine-tuning starts from the old
  model's behaviour, not from a generic token it never saw in that place; the
  noise makes the new rows distinct so that the tied decoder can tell them
  apart once training moves them. Their MLM bias is ``[UNK]``'s minus
  ``log(n)`` for ``n`` such tokens: together they take the probability mass
  ``[UNK]`` had, instead of ``n`` times that mass.

Extend before building task models around ``bert`` or compiling: Keras traces
its train and predict functions over the variables that exist at that time.
``new_tokens_from_corpus`` finds the characters of a corpus that the tokenizer
maps to ``[UNK]``, ``character_vocabulary`` makes a vocabulary of a corpus'
characters (for Chinese from scratch) and ``unknown_rate`` measures the share
of ``[UNK]`` tokens.

Example:
>>> import numpy as np
>>> from tfbert import BERT, BertConfig, BertTokenizer
>>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "i", "am", "a", "programmer"]
>>> bert = BERT(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> old_rows = bert.embeddings.word_embeddings.embeddings.numpy().copy()
>>> tokenizer = bert.extend_vocabulary(BertTokenizer(vocab), ["我", "是", "程", "序", "员", "am"])
>>> tokenizer("我是程序员").numpy().tolist(), bert.config.vocab_size
([9, 10, 11, 12, 13], 14)
>>> bert.vocabulary_extension.added, bert.vocabulary_extension.skipped_existing
(['我', '是', '程', '序', '员'], ['am'])
>>> bool((bert.embeddings.word_embeddings.embeddings.numpy()[:9] == old_rows).all())
True
"""

import collections
import contextlib
import dataclasses
import math
import unicodedata

import keras
import numpy as np

from tfbert.preprocessing.tokenizer import BertTokenizer
from tfbert.preprocessing.unicode_tables import is_cjk, is_punctuation

UNK = "[UNK]"


@dataclasses.dataclass
class VocabularyExtension:
    """What ``extend_vocabulary`` did: tokens added (in id order), skipped, and how rows were initialised."""

    old_size: int
    added: list = dataclasses.field(default_factory=list)
    skipped_existing: list = dataclasses.field(default_factory=list)
    skipped_repeated: int = 0
    from_pieces: int = 0
    from_unknown: int = 0

    @property
    def new_size(self):
        return self.old_size + len(self.added)

    def __str__(self):
        return (f"vocabulary {self.old_size} -> {self.new_size} tokens: {len(self.added)} added "
                f"({self.from_pieces} initialised from their old pieces, {self.from_unknown} from [UNK] + noise), "
                f"{len(self.skipped_existing)} already present, {self.skipped_repeated} repeated in the input")


def _normalized(text, tokenizer):
    """The text as the tokenizer's basic step sees one word of it (casing and accent rules)."""
    strip = tokenizer.lowercase if tokenizer.strip_accents is None else tokenizer.strip_accents
    if tokenizer.lowercase:
        text = text.lower()
    if strip:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return text


def _isolated(char, tokenizer):
    """True for characters the tokenizer always makes a word of their own (CJK ideographs, punctuation)."""
    return is_punctuation(char) or (tokenizer.tokenize_chinese_chars and is_cjk(ord(char)))


@dataclasses.dataclass(frozen=True)
class _Rules:
    """The tokenizer settings that decide which characters a vocabulary needs."""

    vocabulary: tuple
    lowercase: bool = True
    strip_accents: object = None
    tokenize_chinese_chars: bool = True


def _as_ids(batch):
    return [[int(t) for t in row] for row in (batch.to_list() if hasattr(batch, "to_list") else batch.numpy())]


def _check_tokens(new_tokens):
    if isinstance(new_tokens, (str, bytes)):
        raise TypeError("new_tokens must be a list of token strings, not one string; wrap it in a list.")
    tokens = list(new_tokens)
    bad = [t for t in tokens if not isinstance(t, str) or not t or t != t.strip() or any(c.isspace() for c in t)
           or t == "##"]
    if bad:
        raise ValueError(f"new_tokens must be non-empty strings without whitespace; got {bad[:5]!r}.")
    return tokens


def _unreachable(tokens, first_id, tokenizer):
    """The new tokens the extended tokenizer would never produce, each with the reason."""
    plain = [(i, t) for i, t in enumerate(tokens) if not t.startswith("##")]
    ids = _as_ids(tokenizer([t for _, t in plain])) if plain else []
    problems = []
    for (i, token), got in zip(plain, ids):
        if got != [first_id + i]:
            problems.append(f"{token!r} ({_why(token, tokenizer)})")
    for token in (t for t in tokens if t.startswith("##")):
        body = token[2:]
        if any(_isolated(c, tokenizer) for c in body):
            problems.append(f"{token!r} (CJK characters and punctuation are always words of their own, never ## pieces)")
        elif _normalized(body, tokenizer) != body:
            problems.append(f"{token!r} (the uncased tokenizer lowercases and strips accents first)")
    return problems


def _why(token, tokenizer):
    if _normalized(token, tokenizer) != token:
        return "the uncased tokenizer lowercases and strips accents before looking tokens up"
    if len(token) > 1 and any(_isolated(c, tokenizer) for c in token):
        return "the tokenizer splits CJK characters and punctuation into words of one character"
    return "the tokenizer splits it before the vocabulary is consulted"


def _float32(variable):
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(variable, "float32")))


def _replace_variable(layer, attribute, value):
    """Swap ``layer.<attribute>`` for a new variable holding ``value``, under the same path.

    Keras has no public way to resize a built layer's weight: a layer locks its
    state after ``build`` (setting a new sublayer or variable raises "You cannot
    add new elements of state..."; ``tests/test_vocabulary_extension.py`` checks
    that this is still so), and ``Variable.assign`` refuses a new shape. So the
    variable is created under the old one's path and swapped in the layer's
    tracker, which keeps ``layer.weights`` in order and the names the
    checkpoint tables use.
    """
    old = getattr(layer, attribute)
    with contextlib.ExitStack() as scopes:
        for part in old.path.split("/")[:-1]:  # name_scope takes one name at a time
            scopes.enter_context(keras.name_scope(part))
        new = keras.Variable(value, dtype=old.dtype, trainable=old.trainable, name=old.name)  # cast by Keras
    if new.path != old.path:  # pragma: no cover - would mean Keras changed how paths are built
        raise RuntimeError(f"Resizing {old.path} produced a variable at {new.path}; the weight names would change.")
    store = "trainable_variables" if old.trainable else "non_trainable_variables"
    layer._tracker.replace_tracked_value(store, old, new)
    object.__setattr__(layer, attribute, new)  # the tracker already holds it
    return new


def extend_vocabulary(bert, tokenizer, new_tokens, mlm_head=None, noise_scale=0.1, seed=0):
    """Append ``new_tokens`` to ``bert``'s vocabulary in place; return the extended ``BertTokenizer``.

    Args:
        bert: a ``tfbert.BERT`` whose word embeddings match ``tokenizer``.
        tokenizer: the ``BertTokenizer`` of the checkpoint (its vocabulary
            size must equal ``bert.config.vocab_size``).
        new_tokens: token strings (``"##x"`` for a continuation piece), added
            in this order; present or repeated ones are skipped and counted.
        mlm_head: the ``MaskedLMHead`` tied to ``bert`` (its bias grows too).
        noise_scale: std of the noise on ``[UNK]``-initialised rows, relative to
            the std of the old embedding matrix.
        seed: seed of that noise.
    Sets ``bert.vocabulary_extension`` (a :class:`VocabularyExtension`).
    """
    if not isinstance(tokenizer, BertTokenizer):
        raise TypeError(f"tokenizer must be a tfbert BertTokenizer, got {type(tokenizer).__name__}.")
    old_vocab = tokenizer.vocabulary
    old_size = bert.config.vocab_size
    if len(old_vocab) != old_size:
        raise ValueError(f"The tokenizer has {len(old_vocab)} tokens but the model has vocab_size={old_size}; "
                         "pass the tokenizer that belongs to this checkpoint.")
    if mlm_head is not None and mlm_head.vocab_size != old_size:
        raise ValueError(f"mlm_head has vocab_size={mlm_head.vocab_size}, the model {old_size}; pass the head "
                         "trained with this backbone.")
    report = VocabularyExtension(old_size=old_size)
    known, seen = set(old_vocab), set()
    for token in _check_tokens(new_tokens):
        if token in known:
            report.skipped_existing.append(token)
        elif token in seen:
            report.skipped_repeated += 1
        else:
            seen.add(token)
            report.added.append(token)
    options = dict(lowercase=tokenizer.lowercase, strip_accents=tokenizer.strip_accents,
                   tokenize_chinese_chars=tokenizer.tokenize_chinese_chars,
                   special_tokens_in_strings=tokenizer.special_tokens_in_strings,
                   max_input_chars=tokenizer.max_input_chars)
    new_tokenizer = BertTokenizer(old_vocab + report.added, **options)
    if not report.added:
        bert.vocabulary_extension = report
        return new_tokenizer
    problems = _unreachable(report.added, old_size, new_tokenizer)
    if problems:
        raise ValueError(f"{len(problems)} of the new tokens could never be produced by this tokenizer, so their "
                         f"rows would never be used: {', '.join(problems[:8])}"
                         + (" ..." if len(problems) > 8 else "") + ". Add single characters or word pieces instead.")

    table = bert.embeddings.word_embeddings.embeddings
    rows = _float32(table)  # means and noise in float32; variables keep their own dtype (bfloat16 too)
    bias = None if mlm_head is None else _float32(mlm_head.output_bias)
    unk_id = tokenizer.token_to_id(UNK)
    surfaces = [t.removeprefix("##") for t in report.added]
    pieces = _as_ids(tokenizer(surfaces))
    from_unknown = [i for i, ids in enumerate(pieces) if not ids or unk_id in ids]
    report.from_unknown = len(from_unknown)
    report.from_pieces = len(report.added) - report.from_unknown
    new_rows = np.empty((len(report.added), rows.shape[1]), rows.dtype)
    new_bias = None if bias is None else np.empty(len(report.added), bias.dtype)
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, noise_scale * float(rows.std()), (len(report.added), rows.shape[1]))
    unknown = set(from_unknown)
    for i, ids in enumerate(pieces):
        if i in unknown:
            new_rows[i] = rows[unk_id] + noise[i]
            if new_bias is not None:
                new_bias[i] = bias[unk_id] - math.log(len(from_unknown))
        else:
            new_rows[i] = rows[ids].mean(axis=0)
            if new_bias is not None:
                new_bias[i] = bias[ids].mean()
    _replace_variable(bert.embeddings.word_embeddings, "_embeddings", np.concatenate([rows, new_rows]))
    new_size = report.new_size
    bert.embeddings.word_embeddings.input_dim = new_size
    bert.embeddings.vocab_size = new_size
    bert.config = dataclasses.replace(bert.config, vocab_size=new_size)
    if mlm_head is not None:
        _replace_variable(mlm_head, "output_bias", np.concatenate([bias, new_bias]))
        mlm_head.vocab_size = new_size
    for name in ("train_function", "test_function", "predict_function"):
        if getattr(bert, name, None) is not None:
            setattr(bert, name, None)  # traced over the old variable
    bert.source_vocabulary = new_tokenizer.vocabulary
    bert.source_lowercase = new_tokenizer.lowercase
    bert.vocabulary_extension = report
    return new_tokenizer


def _texts(texts):
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list of strings, not one string; wrap it in a list.")
    texts = list(texts)
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must be strings; got {bad[0]}.")
    return texts


def new_tokens_from_corpus(texts, tokenizer, min_count=1, max_tokens=None):
    """The characters of ``texts`` that ``tokenizer`` maps to ``[UNK]``, as ``[(token, count), ...]``.

    Every character (after the tokenizer's casing and accent rules) that is
    not a vocabulary token is a candidate; characters that can sit inside a
    word (not CJK ideographs, not punctuation) also give their ``##`` form, so
    that "hi😀" tokenizes too. Whitespace and control characters are left out.
    Candidates seen fewer than ``min_count`` times are dropped; the rest are
    ordered by count (highest first), then by code point: deterministic.
    ``max_tokens`` keeps the first that many.
    """
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a positive integer, got {min_count!r}.")
    vocabulary = set(tokenizer.vocabulary)
    chars = collections.Counter(c for text in _texts(texts) for c in text)
    counts = collections.Counter()
    for char, count in chars.items():
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") or char == "\ufffd":
            continue
        for c in _normalized(char, tokenizer):
            if c.isspace() or unicodedata.category(c).startswith(("C", "M")):
                continue
            forms = [c] if _isolated(c, tokenizer) else [c, "##" + c]
            for form in forms:
                if form not in vocabulary:
                    counts[form] += count
    ranked = sorted(((t, n) for t, n in counts.items() if n >= min_count),
                    key=lambda item: (-item[1], item[0].startswith("##"), item[0]))
    return ranked[:max_tokens] if max_tokens is not None else ranked


def character_vocabulary(texts, min_count=1, lowercase=True, layout="compact"):
    """A character vocabulary for Chinese from scratch: the special tokens of ``layout`` (see
    ``tfbert.preprocessing.vocabulary``), then every character of ``texts`` seen ``min_count`` times,
    with the ``##`` form of those that can sit inside a word, most frequent first.

    >>> character_vocabulary(["我是程序员。", "我是学生"])[:9]
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '我', '是', '。', '员']
    """
    from tfbert.preprocessing.vocabulary import reserved_tokens

    specials = reserved_tokens(layout)
    found = new_tokens_from_corpus(texts, _Rules(tuple(specials), lowercase=lowercase), min_count=min_count)
    return specials + [token for token, _ in found]


def unknown_rate(texts, tokenizer, batch_size=2048):
    """``(unknown, total)``: how many of the tokens of ``texts`` are ``[UNK]``, and how many tokens there are."""
    texts = _texts(texts)
    unk_id = tokenizer.token_to_id(UNK)
    unknown = total = 0
    for start in range(0, len(texts), batch_size):
        ids = tokenizer(texts[start:start + batch_size])
        flat = np.asarray(ids.flat_values if hasattr(ids, "flat_values") else ids)
        unknown += int((flat == unk_id).sum())
        total += int(flat.size)
    return unknown, total
