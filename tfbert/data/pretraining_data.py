"""BERT pretraining examples from raw documents: sentence packing, NSP pairs, and a
``tf.data`` pipeline with fresh masks every epoch.

This is the google-research/bert ``create_pretraining_data`` algorithm,
written anew:

1. Each document (a string, or a list of sentences) is split into sentences
   (``tfbert.data.sentences.split_sentences`` by default) and each sentence
   is tokenized with tfbert's ``BertTokenizer``. Empty sentences and
   documents left empty are dropped; at least two documents must remain,
   because a random B segment must come from another document.
2. ``create_instances`` walks each document, gathering sentences into a chunk
   until it reaches a target length: ``max_seq_length - 3`` tokens, or with
   probability ``short_seq_prob`` a random length in ``[2, max_seq_length - 3]``
   (drawn once per document, as in the original). A random number of the
   chunk's sentences become segment A. With probability 0.5, or always when
   the chunk holds one sentence (single-sentence documents included), B is a
   run of sentences from a random *other* document (never the same one, a
   slight tightening of the original's "ten tries") and
   ``next_sentence_label`` is 1; the unused sentences are put back for the
   next chunk. Otherwise B is the rest of the chunk and the label is 0.
   Which other document: ``random_document_weighting="length"`` (the
   default) draws it in proportion to its token count, so a random B starts
   at a uniformly random place of the rest of the corpus; ``"uniform"``
   draws every document alike, as google-research does. The difference
   matters on a small corpus of uneven documents (we measured it only there): with
   uniform draws a short document supplies as many random Bs as a long one
   but few true continuations, so *which document B comes from* predicts
   the label (67% NSP accuracy from B's document alone on 84 Wikipedia
   pages, against a 53% majority class) and the model learns that instead
   of whether B follows A, which does not carry over to held-out text.
   Length weighting leaves B's document with no such information (53%).
   Pairs longer than ``max_seq_length - 3`` are trimmed one token at a time
   from the longer segment, at its front or back at random, which is how
   sentences longer than a whole sequence end up inside one.
3. The whole pass runs ``dupe_factor`` times (each time with new chunk
   boundaries and pairs) and the instances are shuffled.
4. ``pretraining_dataset`` batches the packed instances and masks them with a
   ``MaskedLMMasker`` inside the pipeline, with a new stateless seed for each
   batch of each epoch: dynamic masking. ``pretraining_records`` writes
   statically masked TFRecord shards instead.

A batch is ``(x, y)``: ``x`` holds the model inputs ``token_ids``,
``segment_ids``, ``padding_mask`` and ``mask_positions`` (int32), ``y`` holds
``mask_ids`` (int32), ``mask_weights`` (float32) and ``next_sentence_label``
(int32, 0 = B follows A, 1 = B is random).

Example:
>>> from tfbert.data.pretraining_data import create_instances
>>> docs = [[[7, 8], [9], [10, 11, 12]], [[20, 21, 22]], [[30], [31, 32]]]   # token ids per sentence
>>> inst = create_instances(docs, cls_id=2, sep_id=3, max_seq_length=8, seed=0)
>>> inst["token_ids"].shape[1], sorted(set(inst["next_sentence_label"].tolist())) <= [0, 1]
(8, True)
>>> bool((inst["document_a"] != inst["document_b"])[inst["next_sentence_label"] == 1].all())
True
"""

import bisect
import itertools
import random

import numpy as np
import tensorflow as tf

from tfbert.data.sentences import split_sentences
from tfbert.preprocessing.vocabulary import special_token_ids

#: Features of a packed (unmasked) instance, as numpy arrays with a leading [N] axis.
INSTANCE_FEATURES = ("token_ids", "segment_ids", "padding_mask", "next_sentence_label")
MODEL_INPUTS = ("token_ids", "segment_ids", "padding_mask", "mask_positions")
LABELS = ("mask_ids", "mask_weights", "next_sentence_label")


def vocabulary_of(tokenizer):
    """The token list of a tokenizer (tfbert ``BertTokenizer`` or anything with ``get_vocabulary``)."""
    for name in ("get_vocabulary", "vocabulary"):
        value = getattr(tokenizer, name, None)
        value = value() if callable(value) else value
        if value is not None and not isinstance(value, (str, bytes)):
            return [t.decode("utf-8") if isinstance(t, bytes) else t for t in list(value)]
    raise TypeError(f"Cannot read the vocabulary of {type(tokenizer).__name__}; pass vocabulary= explicitly.")


def _split_documents(documents, sentence_splitter):
    """(sentences, index of the document of each sentence)."""
    if isinstance(documents, (str, bytes)):
        raise TypeError("documents must be a list of documents, not a single string; wrap it in a list.")
    sentences, owner = [], []
    for index, document in enumerate(documents):
        if isinstance(document, str):
            parts = sentence_splitter(document)
        elif isinstance(document, (list, tuple)) and all(isinstance(s, str) for s in document):
            parts = [s for s in document if s.strip()]
        else:
            raise TypeError(f"Document {index} is a {type(document).__name__}; expected a string or a list of "
                            "sentence strings.")
        sentences.extend(parts)
        owner.extend([index] * len(parts))
    return sentences, owner


def _ragged_rows(batch):
    if isinstance(batch, tf.RaggedTensor) and batch.ragged_rank > 1:  # [B, words, pieces]
        batch = batch.merge_dims(1, -1)
    return batch.to_list() if isinstance(batch, tf.RaggedTensor) else batch.numpy().tolist()


def _by_document(documents, owner, rows):
    grouped = [[] for _ in documents]
    for index, row in zip(owner, rows):
        if row[0]:
            grouped[index].append(row)
    return [doc for doc in grouped if doc]


def tokenize_documents(documents, tokenizer, sentence_splitter=split_sentences, chunk_size=4096):
    """``[[sentence ids, ...], ...]``: each document split into sentences and tokenized.

    ``documents`` is a list whose items are strings (split with
    ``sentence_splitter``) or lists of sentence strings. ``tokenizer`` maps a
    batch of strings to ragged int ids (tfbert's ``BertTokenizer``). Empty
    sentences and empty documents are dropped.
    """
    sentences, owner = _split_documents(documents, sentence_splitter)
    ids = []
    for start in range(0, len(sentences), chunk_size):
        ids.extend(_ragged_rows(tokenizer(tf.constant(sentences[start:start + chunk_size], tf.string))))
    rows = [([int(t) for t in sentence],) for sentence in ids]
    return [[row[0] for row in doc] for doc in _by_document(documents, owner, rows)]


def tokenize_documents_with_words(documents, tokenizer, word_segmenter, sentence_splitter=split_sentences,
                                  chunk_size=4096):
    """``(tokenized, continuations)``: ``tokenize_documents``' ids and, in the same nesting, one flag per
    token, 1 where it continues the previous token's word as ``word_segmenter`` (a
    ``tfbert.data.chinese_words.ChineseWordSegmenter``) segments the sentence.
    ``tokenizer`` must have ``tokenize_with_offsets`` (tfbert's ``BertTokenizer``)."""
    from tfbert.data.chinese_words import word_continuations

    sentences, owner = _split_documents(documents, sentence_splitter)
    rows = []
    for start in range(0, len(sentences), chunk_size):
        chunk = sentences[start:start + chunk_size]
        ids, starts, ends = (_ragged_rows(t) for t in tokenizer.tokenize_with_offsets(tf.constant(chunk, tf.string)))
        for text, row, s, e in zip(chunk, ids, starts, ends):
            rows.append(([int(t) for t in row], word_continuations(text, s, e, word_segmenter)))
    grouped = _by_document(documents, owner, rows)
    return [[r[0] for r in doc] for doc in grouped], [[r[1] for r in doc] for doc in grouped]


def _trim_pair(tokens_a, tokens_b, max_tokens, rng):
    """Trim the longer segment one token at a time, from the front or back at random."""
    while len(tokens_a) + len(tokens_b) > max_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


#: How the document of a random B segment is drawn (see the module docstring).
RANDOM_DOCUMENT_WEIGHTINGS = ("length", "uniform")


def _other_document(index, num_documents, cumulative, rng):
    """A random document index other than ``index``.

    ``cumulative`` is None (every document alike) or the running totals of
    the documents' weights; the draw skips ``index``'s own interval.
    """
    if cumulative is None:
        other = rng.randrange(num_documents - 1)
        return other + (other >= index)
    start = cumulative[index - 1] if index else 0
    own = cumulative[index] - start
    point = rng.random() * (cumulative[-1] - own)
    if point >= start:
        point += own
    return min(bisect.bisect_right(cumulative, point), num_documents - 1)


def _instances_from_document(documents, index, max_tokens, short_seq_prob, rng, cumulative=None):
    document = documents[index]
    target = rng.randint(2, max_tokens) if rng.random() < short_seq_prob else max_tokens
    out, chunk, chunk_length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        chunk_length += len(document[i])
        if i == len(document) - 1 or chunk_length >= target:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            tokens_a = [t for sentence in chunk[:a_end] for t in sentence]
            if len(chunk) == 1 or rng.random() < 0.5:
                other = _other_document(index, len(documents), cumulative, rng)  # any document but this one
                random_document = documents[other]
                tokens_b = []
                for sentence in random_document[rng.randrange(len(random_document)):]:
                    tokens_b.extend(sentence)
                    if len(tokens_b) >= target - len(tokens_a):
                        break
                i -= len(chunk) - a_end  # the unused sentences start the next chunk
                label, b_doc = 1, other
            else:
                tokens_b = [t for sentence in chunk[a_end:] for t in sentence]
                label, b_doc = 0, index
            _trim_pair(tokens_a, tokens_b, max_tokens, rng)
            out.append((tokens_a, tokens_b, label, index, b_doc))
            chunk, chunk_length = [], 0
        i += 1
    return out


def create_instances(tokenized_documents, *, cls_id, sep_id, max_seq_length=128, short_seq_prob=0.1,
                     dupe_factor=1, seed=0, pad_id=0, random_document_weighting="length", word_continuations=None):
    """Pack tokenized documents into NSP pairs; return a dict of numpy arrays.

    Args:
        tokenized_documents: ``[[sentence ids, ...], ...]`` (from
            ``tokenize_documents``); empty sentences/documents are skipped.
        cls_id, sep_id, pad_id: the special token ids.
        max_seq_length: S, the packed length ([CLS] A [SEP] B [SEP] + padding).
        short_seq_prob: probability of a shorter target length for a document.
        dupe_factor: how many passes (with different packings) over the data.
        seed: seed of the Python random generator; equal seeds, equal output.
        random_document_weighting: ``"length"`` (a random B's document is
            drawn in proportion to its tokens) or ``"uniform"`` (every
            document alike, as google-research); see the module docstring.
        word_continuations: optional flags in the nesting of
            ``tokenized_documents`` (1 = the token continues the previous
            token's word; ``tokenize_documents_with_words``) for Chinese
            whole-word masking; they travel with their tokens through packing
            and trimming. The packing itself (every random draw) is the same
            with or without them.
    Returns:
        ``token_ids``, ``segment_ids``, ``padding_mask`` [N, S] int32,
        ``next_sentence_label`` [N] int32, and ``document_a``/``document_b``
        [N] (indices of the non-empty documents the segments came from);
        with ``word_continuations`` also ``word_continuation`` [N, S] int32
        (0 on [CLS], [SEP], padding and the first token of each segment).
    """
    if isinstance(max_seq_length, bool) or not isinstance(max_seq_length, int) or max_seq_length < 5:
        raise ValueError(f"max_seq_length must be an integer >= 5 ([CLS] a [SEP] b [SEP]), got {max_seq_length!r}.")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"short_seq_prob must be in [0, 1], got {short_seq_prob!r}.")
    if isinstance(dupe_factor, bool) or not isinstance(dupe_factor, int) or dupe_factor < 1:
        raise ValueError(f"dupe_factor must be a positive integer, got {dupe_factor!r}.")
    with_words = word_continuations is not None
    if with_words:
        tokenized_documents = _zip_flags(tokenized_documents, word_continuations)
    documents = [[list(s) for s in doc if len(s)] for doc in tokenized_documents]
    documents = [doc for doc in documents if doc]
    if random_document_weighting not in RANDOM_DOCUMENT_WEIGHTINGS:
        raise ValueError(f"random_document_weighting must be one of {RANDOM_DOCUMENT_WEIGHTINGS}, "
                         f"got {random_document_weighting!r}.")
    if len(documents) < 2:
        raise ValueError(f"Need at least 2 non-empty documents for next-sentence pairs (a random B comes from "
                         f"another document); got {len(documents)}. Add documents, or split a long text into several.")
    rng = random.Random(seed)
    order = list(range(len(documents)))
    rng.shuffle(order)
    cumulative = None
    if random_document_weighting == "length":
        cumulative = list(itertools.accumulate(sum(len(s) for s in doc) for doc in documents))
    pairs = []
    for _ in range(dupe_factor):
        for index in order:
            pairs.extend(_instances_from_document(documents, index, max_seq_length - 3, short_seq_prob, rng,
                                                  cumulative))
    rng.shuffle(pairs)
    n, s = len(pairs), max_seq_length
    out = {name: np.full((n, s), pad_id if name == "token_ids" else 0, np.int32)
           for name in ("token_ids", "segment_ids", "padding_mask")}
    out["next_sentence_label"] = np.zeros(n, np.int32)
    out["document_a"] = np.zeros(n, np.int32)
    out["document_b"] = np.zeros(n, np.int32)
    if with_words:
        out["word_continuation"] = np.zeros((n, s), np.int32)
    for row, (a, b, label, doc_a, doc_b) in enumerate(pairs):
        if with_words:
            flags = [0] + _segment_flags(a) + [0] + _segment_flags(b) + [0]
            a, b = [t for t, _ in a], [t for t, _ in b]
            out["word_continuation"][row, :len(flags)] = flags
        tokens = [cls_id] + a + [sep_id] + b + [sep_id]
        out["token_ids"][row, :len(tokens)] = tokens
        out["segment_ids"][row, len(a) + 2:len(tokens)] = 1
        out["padding_mask"][row, :len(tokens)] = 1
        out["next_sentence_label"][row] = label
        out["document_a"][row], out["document_b"][row] = doc_a, doc_b
    return out


def _zip_flags(tokenized_documents, word_continuations):
    """Pair every token id with its flag, checking that the two nestings agree."""
    tokenized_documents, word_continuations = list(tokenized_documents), list(word_continuations)
    if len(tokenized_documents) != len(word_continuations):
        raise ValueError(f"word_continuations has {len(word_continuations)} documents, tokenized_documents "
                         f"{len(tokenized_documents)}; build both with tokenize_documents_with_words.")
    zipped = []
    for d, (doc, flags) in enumerate(zip(tokenized_documents, word_continuations)):
        if len(doc) != len(flags) or any(len(s) != len(f) for s, f in zip(doc, flags)):
            raise ValueError(f"word_continuations of document {d} do not match its tokens sentence by sentence; "
                             "build both with tokenize_documents_with_words.")
        zipped.append([list(zip((int(t) for t in s), (int(x) for x in f))) for s, f in zip(doc, flags)])
    return zipped


def _segment_flags(segment):
    """A segment's word flags, the first forced to 0: a word cut by packing or trimming starts anew."""
    return [0] + [flag for _, flag in segment[1:]] if segment else []


#: ``whole_word_mask`` values of ``build_instances`` and ``tfbert pretrain --whole-word-mask``.
WHOLE_WORD_MASKS = ("none", "wordpiece", "zh")


def build_instances(documents, tokenizer, *, vocabulary=None, max_seq_length=128, short_seq_prob=0.1,
                    dupe_factor=1, seed=0, sentence_splitter=split_sentences, random_document_weighting="length",
                    word_segmenter=None):
    """Raw documents -> packed NSP instances (``create_instances`` output).

    ``tokenizer`` is tfbert's ``BertTokenizer`` (the one used at serving
    time); ``vocabulary`` defaults to its token list. ``word_segmenter``
    (a ``tfbert.data.chinese_words.ChineseWordSegmenter``, or ``"jieba"``)
    adds the ``word_continuation`` feature for Chinese whole-word masking; its
    ``stats`` count the words and the fallbacks to single characters (logged
    here when a name such as ``"jieba"`` was passed).
    """
    vocabulary = vocabulary if vocabulary is not None else vocabulary_of(tokenizer)
    ids = special_token_ids(vocabulary)
    continuations = None
    if word_segmenter is None:
        tokenized = tokenize_documents(documents, tokenizer, sentence_splitter)
    else:
        from tfbert.data.chinese_words import ChineseWordSegmenter, log_stats

        own = not isinstance(word_segmenter, ChineseWordSegmenter)
        if own:
            word_segmenter = ChineseWordSegmenter(word_segmenter)
        tokenized, continuations = tokenize_documents_with_words(documents, tokenizer, word_segmenter,
                                                                 sentence_splitter)
        if own:  # nobody else holds its stats: report them (a warning when words fell back)
            log_stats(word_segmenter)
    return create_instances(tokenized, cls_id=ids["[CLS]"], sep_id=ids["[SEP]"], pad_id=ids["[PAD]"],
                            max_seq_length=max_seq_length, short_seq_prob=short_seq_prob,
                            dupe_factor=dupe_factor, seed=seed, random_document_weighting=random_document_weighting,
                            word_continuations=continuations)


def split_features(features):
    """A dict of model inputs and labels -> the ``(x, y)`` pair that ``fit`` takes."""
    return ({name: features[name] for name in MODEL_INPUTS}, {name: features[name] for name in LABELS})


def check_enough(num_examples, batch_size, drop_remainder, what="The corpus"):
    """Raise a clear error when there is not one full batch of examples."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if num_examples == 0 or (drop_remainder and num_examples < batch_size):
        raise ValueError(f"{what} yields {num_examples} pretraining instance(s), fewer than one batch of "
                         f"{batch_size}. Add text, raise dupe_factor, or lower batch_size.")


def pretraining_dataset(instances, masker, batch_size, *, seed=0, shuffle=True, drop_remainder=True,
                        repeat=False):
    """A ``tf.data`` pipeline of ``(x, y)`` batches with dynamic masking.

    Every iteration over the dataset (each epoch) shuffles the instances and
    draws new masks; the sequence of epochs is the same for the same ``seed``.
    With ``drop_remainder=True`` (the default) all shapes are static, as TPUs
    and XLA want.
    """
    num = len(instances["token_ids"])
    check_enough(num, batch_size, drop_remainder)
    names = INSTANCE_FEATURES + (("word_continuation",) if "word_continuation" in instances else ())
    tensors = {name: tf.constant(instances[name], tf.int32) for name in names}
    data = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        data = data.shuffle(num, seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size, drop_remainder=drop_remainder)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    data = tf.data.Dataset.zip(data, seeds)

    def mask(features, batch_seed):
        masked = masker(features["token_ids"], features["padding_mask"], batch_seed,
                        word_continuation=features.get("word_continuation"))
        return split_features({**features, **masked})

    data = data.map(mask, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if repeat:
        data = data.repeat()
    return data.prefetch(tf.data.AUTOTUNE)
