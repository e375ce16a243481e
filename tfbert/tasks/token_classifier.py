"""BertTokenClassifier: named-entity recognition and POS tagging, one tag per word.

Only the first word piece of each word carries a label; the other pieces,
[CLS], [SEP] and padding carry ``IGNORE_LABEL`` (-100), which the default
loss (``SparseCategoricalCrossentropy(ignore_class=-100)``) and metric
(``MaskedAccuracy``) skip. Predictions are read at the same first pieces and
mapped back to words and, with BIO/IOB1 tags, to entity spans with conlleval's
chunk rules (``tfbert.metrics.conlleval``). ``tfbert.data.ner`` builds the
aligned features from words and tags.

Example:
>>> import numpy as np
>>> from tfbert import BERT, BertConfig, BertTokenClassifier
>>> backbone = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                            num_attention_heads=2, intermediate_size=32))
>>> model = BertTokenClassifier(backbone, label_names=["O", "B-PER", "I-PER"])
>>> ids = np.array([[2, 9, 11, 12, 3]], "int32")
>>> logits = model({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": 1 + 0 * ids})
>>> tuple(logits.shape)
(1, 5, 3)
>>> fake = np.log(np.eye(3)[[[0, 1, 1, 2, 0]]] + 1e-3)   # tags per piece
>>> model.decode_tags(fake, word_ids=np.array([[-1, 0, -1, 1, -1]]))   # piece 2 continues word 0
[['B-PER', 'I-PER']]
"""

import keras
import numpy as np

from tfbert.heads.token import TokenClassificationHead
from tfbert.layers.serialization import register
from tfbert.metrics.conlleval import get_entities
from tfbert.metrics.masked_accuracy import IGNORE_LABEL, MaskedAccuracy
from tfbert.serving.token_classifier import TokenClassifierServing
from tfbert.tasks.base import BertTask


@register
class BertTokenClassifier(BertTask):
    """BERT + ``TokenClassificationHead``: logits per token.

    Args:
        backbone: a ``tfbert.BERT``.
        num_labels: number of tags; may be left out when ``label_names`` is given.
        label_names: the tags in id order (e.g. ``["O", "B-PER", "I-PER", ...]``);
            needed for readable output and entity spans.
        preprocessor: optional ``BertPreprocessor`` (its tokenizer) for ``predict_text``.
        dropout: dropout before the tagging layer.

    Call: ``model(inputs)`` returns logits [B, S, num_labels] (float32).
    Labels for ``fit`` are int32 [B, S] tag ids with ``IGNORE_LABEL`` (-100)
    on every position that is not the first piece of a word.
    """

    uses_pooler = False
    default_learning_rate = 5e-5
    ignore_label = IGNORE_LABEL
    serving_class = TokenClassifierServing
    predict_width_step = 16  # predict_words' batches are cut to a multiple of this many pieces

    def __init__(self, backbone, num_labels=None, label_names=None, preprocessor=None, dropout=0.1, **kwargs):
        super().__init__(backbone, preprocessor=preprocessor, **kwargs)
        if label_names is not None:
            label_names = [str(name) for name in label_names]
            if len(set(label_names)) != len(label_names):
                raise ValueError(f"label_names has duplicates: {label_names}.")
            if num_labels is not None and int(num_labels) != len(label_names):
                raise ValueError(
                    f"label_names has {len(label_names)} names but num_labels={num_labels}; give one name per label."
                )
            num_labels = len(label_names)
        if num_labels is None or int(num_labels) < 1:
            raise ValueError("BertTokenClassifier needs num_labels >= 1 or label_names (e.g. ['O', 'B-PER', 'I-PER']).")
        self.num_labels = int(num_labels)
        self.label_names = label_names
        self.dropout = float(dropout)
        self.token_head = TokenClassificationHead(
            self.num_labels, self.hidden_size, dropout=dropout,
            initializer_range=backbone.config.initializer_range, dtype=backbone.dtype_policy, name="token_head",
        )
        self.build()

    def build(self, input_shape=None):
        self.token_head.build()

    def call(self, inputs, training=None):
        sequence = self.backbone(inputs, training=training)["sequence_output"]  # [B, S, H]
        return self.token_head(sequence, training=training)  # [B, S, num_labels]

    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE_LABEL)

    def default_metrics(self):
        return [MaskedAccuracy(IGNORE_LABEL, name="accuracy")]

    # ---- readable output ---------------------------------------------------
    @property
    def tag_names(self):
        return self.label_names or [str(i) for i in range(self.num_labels)]

    def decode_tags(self, logits, word_ids, num_words=None):
        """Tags per word from logits [B, S, L] and the alignment ``word_ids`` [B, S].

        ``word_ids`` holds the word index at each word's first piece and -1
        elsewhere (as ``tfbert.data.ner`` builds it). A word that has no
        piece in the row (an empty token) gets "O". ``num_words`` (per row)
        defaults to 1 + the largest word index.
        """
        logits = np.asarray(keras.ops.convert_to_numpy(logits))
        word_ids = np.asarray(word_ids)
        best = logits.argmax(axis=-1)
        names = self.tag_names
        outside = "O" if "O" in names else names[0]
        rows = []
        for r in range(best.shape[0]):
            count = int(num_words[r]) if num_words is not None else int(word_ids[r].max(initial=-1)) + 1
            tags = [outside] * count
            for position in np.nonzero(word_ids[r] >= 0)[0]:
                word = int(word_ids[r, position])
                if word < count:
                    tags[word] = names[int(best[r, position])]
            rows.append(tags)
        return rows

    def predict_words(self, sentences, batch_size=32, doc_stride=None):
        """Tag pre-split sentences (lists of words) of any length: one list of tags per sentence.

        A sentence longer than one window is read in overlapping windows
        ``doc_stride`` pieces apart (default: half a window); each word's tag
        comes from the window where it has the most context
        (``tfbert.data.ner.encode_word_windows``).

        The rows are run in order of length, ``batch_size`` at a time, each
        batch only as wide as its longest row rounded up to a multiple of
        ``predict_width_step`` (16) pieces (so few shapes are traced), through
        Keras' compiled ``predict_on_batch``; the tags come back in the
        sentences' order.
        """
        from tfbert.data.ner import encode_word_windows, merge_chunk_tags

        tokenizer = self._tokenizer("predict_words")
        features = encode_word_windows(tokenizer, sentences, sequence_length=self._sequence_length(),
                                       doc_stride=doc_stride)
        full_width = features.inputs["token_ids"].shape[1]
        step = self.predict_width_step
        order = np.argsort(features.lengths, kind="stable")
        row_tags = [None] * len(order)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = min(full_width, -(-int(features.lengths[rows].max()) // step) * step)
            logits = self.predict_on_batch({k: v[rows, :width] for k, v in features.inputs.items()})
            tags = self.decode_tags(logits, features.word_ids[rows, :width], features.num_words[rows])
            for row, tags_of_row in zip(rows, tags):
                row_tags[row] = tags_of_row
        return merge_chunk_tags(features, row_tags, [len(s) for s in sentences])

    def predict_text(self, texts, batch_size=32, doc_stride=None):
        """Tag raw strings of any length (a long text is read in overlapping windows, see ``predict_words``).

        Returns one dict per text: ``{"words": [...], "tags": [...],
        "entities": [{"type", "text", "start", "end"}, ...]}`` where
        ``start``/``end`` are character offsets into the text and words are
        BERT's basic-tokenizer words (punctuation split off).
        """
        from tfbert.data.ner import split_words

        tokenizer = self._tokenizer("predict_text")
        texts = [texts] if isinstance(texts, str) else list(texts)
        spans = [split_words(tokenizer, text) for text in texts]
        words = [[text[s:e] for s, e in row] for text, row in zip(texts, spans)]
        tags = self.predict_words(words, batch_size=batch_size, doc_stride=doc_stride)
        results = []
        for text, row, sentence_words, sentence_tags in zip(texts, spans, words, tags):
            entities = []
            for kind, first, last in get_entities(sentence_tags):
                start, end = row[first][0], row[last - 1][1]
                entities.append({"type": kind, "text": text[start:end], "start": start, "end": end})
            results.append({"words": sentence_words, "tags": sentence_tags, "entities": entities})
        return results

    def _tokenizer(self, method):
        preprocessor = self._require_preprocessor(method)
        return getattr(preprocessor, "tokenizer", preprocessor)

    def _sequence_length(self):
        length = getattr(self.preprocessor, "sequence_length", None)
        return int(length) if length else min(128, self.backbone.config.max_position_embeddings)


    def get_config(self):
        return {**super().get_config(), "num_labels": self.num_labels, "label_names": self.label_names,
                "dropout": self.dropout}
