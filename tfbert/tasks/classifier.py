"""BertClassifier: sentence and sentence-pair classification, or regression.

``call`` maps the input dict to logits [B, num_classes] (float32);
``num_classes=1`` is regression (one score, MSE loss, e.g. STS-B).
``predict_text`` takes raw strings (or pairs) through the attached
preprocessor and returns readable labels with probabilities.

Example:
>>> import numpy as np
>>> from tfbert import BERT, BertConfig, BertClassifier
>>> backbone = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                            num_attention_heads=2, intermediate_size=32))
>>> model = BertClassifier(backbone, num_classes=2, label_names=["negative", "positive"])
>>> ids = np.array([[2, 9, 11, 3]], "int32")
>>> logits = model({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": 1 + 0 * ids})
>>> tuple(logits.shape)
(1, 2)
>>> model.decode(np.array([[0.0, 2.0]]))[0]["label"]
'positive'
"""

import keras
import numpy as np

from tfbert.heads.classification import ClassificationHead
from tfbert.layers.serialization import register
from tfbert.serving.classifier import ClassifierServing
from tfbert.tasks.base import BertTask


@register
class BertClassifier(BertTask):
    """BERT + ``ClassificationHead`` on the pooled output.

    Args:
        backbone: a ``tfbert.BERT``.
        num_classes: number of classes; 1 means regression.
        preprocessor: optional ``BertPreprocessor`` for ``predict_text``.
        label_names: optional list of ``num_classes`` names used by
            ``predict_text``/``decode`` (default "0", "1", ...).
        dropout: dropout before the classification layer.
        pair: whether the model reads text pairs; an exported SavedModel then
            takes ``text`` and ``text_pair`` (stored in the config).

    Call: ``model(inputs)`` with ``inputs`` the dict ``token_ids``,
    ``segment_ids``, ``padding_mask`` (int32 [B, S]) returns logits
    [B, num_classes] (float32). Labels for ``fit`` are int class ids [B]
    (float targets [B] or [B, 1] for regression).
    """

    default_learning_rate = 5e-5
    serving_class = ClassifierServing

    def __init__(self, backbone, num_classes=2, preprocessor=None, label_names=None, dropout=0.1, pair=False,
                 **kwargs):
        super().__init__(backbone, preprocessor=preprocessor, **kwargs)
        self.pair = bool(pair)
        num_classes = int(num_classes)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 (1 means regression), got {num_classes}.")
        if label_names is not None:
            label_names = [str(name) for name in label_names]
            if len(label_names) != num_classes:
                raise ValueError(
                    f"label_names has {len(label_names)} names {label_names} but num_classes={num_classes}; "
                    "give exactly one name per class."
                )
        self.num_classes = num_classes
        self.label_names = label_names
        self.dropout = float(dropout)
        self.classification_head = ClassificationHead(
            num_classes, self.hidden_size, dropout=dropout,
            initializer_range=backbone.config.initializer_range, dtype=backbone.dtype_policy,
            name="classification_head",
        )
        self.build()

    def build(self, input_shape=None):
        self.classification_head.build()

    def call(self, inputs, training=None):
        outputs = self.backbone(inputs, training=training)
        return self.classification_head(outputs["pooled_output"], training=training)  # [B, num_classes]

    @property
    def is_regression(self):
        return self.num_classes == 1

    def default_loss(self):
        if self.is_regression:
            return keras.losses.MeanSquaredError()
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        if self.is_regression:
            return [keras.metrics.MeanAbsoluteError(name="mae")]
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    # ---- readable output -------------------------------------------------
    @property
    def class_names(self):
        return self.label_names or [str(i) for i in range(self.num_classes)]

    def decode(self, logits):
        """Turn logits [B, num_classes] into one dict per row.

        Classification: ``{"label": name, "score": p, "probabilities": {name: p, ...}}``.
        Regression: ``{"score": value}``.
        """
        logits = np.asarray(keras.ops.convert_to_numpy(logits), dtype="float64")
        if self.is_regression:
            return [{"score": float(row[0])} for row in logits]
        shifted = logits - logits.max(axis=-1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
        names = self.class_names
        results = []
        for row in probs:
            best = int(row.argmax())
            results.append({
                "label": names[best],
                "score": float(row[best]),
                "probabilities": {name: float(p) for name, p in zip(names, row)},
            })
        return results

    def predict_text(self, texts, text_pairs=None, batch_size=32):
        """Classify raw strings (or pairs with ``text_pairs``); returns ``decode``'s dicts."""
        preprocessor = self._require_preprocessor("predict_text")
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(text_pairs, str):
            text_pairs = [text_pairs]
        texts = list(texts)
        if text_pairs is not None and len(text_pairs) != len(texts):
            raise ValueError(f"Got {len(texts)} texts but {len(text_pairs)} text_pairs; they must pair up one to one.")
        results = []
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            if text_pairs is None:
                inputs = preprocessor(chunk)
            else:
                inputs = preprocessor((chunk, list(text_pairs[start:start + batch_size])))
            results.extend(self.decode(self(inputs, training=False)))
        return results

    # ---- presets / config -----------------------------------------------

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "label_names": self.label_names, "dropout": self.dropout, "pair": self.pair}
