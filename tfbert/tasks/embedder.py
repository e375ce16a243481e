"""BertEmbedder: sentence vectors with cls/mean/max pooling and optional L2 normalisation.

With ``pooling="mean"`` and ``normalize=True`` on the all-MiniLM-L6-v2
checkpoint this is the sentence-transformers embedding (mean of the token
vectors over the attention mask, then unit length).

Example:
>>> import numpy as np
>>> from tfbert import BERT, BertConfig, BertEmbedder
>>> backbone = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                            num_attention_heads=2, intermediate_size=32))
>>> model = BertEmbedder(backbone, pooling="mean", normalize=True)
>>> ids = np.array([[2, 9, 11, 3, 0], [2, 5, 3, 0, 0]], "int32")
>>> vectors = model({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": (ids > 0).astype("int32")})
>>> tuple(vectors.shape), np.allclose(np.linalg.norm(vectors, axis=-1), 1.0, atol=1e-5)
((2, 16), True)
>>> float(np.round(model.cosine_similarity(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]]))[0, 0], 4))
0.7071
"""

import keras
import numpy as np
from keras import ops

from tfbert.layers.pooling import POOLING_MODES, SequencePooling
from tfbert.layers.serialization import register
from tfbert.serving.embedder import EmbedderServing
from tfbert.tasks.base import BertTask
from tfbert.tasks.strategy_fixes import StrategyFixes


def _sentence_transformers_max_length(preset):
    """``max_seq_length`` from the preset's ``sentence_bert_config.json``, or None."""
    import json
    import os

    from tfbert.checkpoints.presets import resolve_preset

    path = os.path.join(resolve_preset(preset)[0], "sentence_bert_config.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f).get("max_seq_length")


def cosine_similarity_matrix(a, b):
    """Cosine similarity matrix [len(a), len(b)] between two sets of vectors (float64)."""
    a = np.atleast_2d(np.asarray(a, "float64"))
    b = np.atleast_2d(np.asarray(b, "float64"))
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    return a @ b.T


@register
class BertEmbedder(BertTask):
    """BERT + ``SequencePooling`` (+ L2 normalisation): one vector per text.

    Args:
        backbone: a ``tfbert.BERT``.
        pooling: "mean" (over real tokens, [CLS]/[SEP] included, as
            sentence-transformers does), "cls" (the [CLS] vector, no pooler
            dense) or "max".
        normalize: scale each vector to unit L2 norm.
        preprocessor: optional ``BertPreprocessor`` for ``embed``.

    Call: ``model(inputs)`` returns float32 [B, H].
    """

    uses_pooler = False
    default_learning_rate = 2e-5
    serving_class = EmbedderServing

    def __init__(self, backbone, pooling="mean", normalize=True, preprocessor=None, **kwargs):
        super().__init__(backbone, preprocessor=preprocessor, **kwargs)
        if pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}, got {pooling!r}.")
        self.pooling_mode = pooling
        self.normalize = bool(normalize)
        self.pooling = SequencePooling(pooling, dtype=backbone.dtype_policy, name="pooling")
        self.build()

    def build(self, input_shape=None):
        pass

    def call(self, inputs, training=None):
        sequence = self.backbone(inputs, training=training)["sequence_output"]  # [B, S, H]
        vectors = ops.cast(self.pooling(sequence, inputs["padding_mask"]), "float32")  # [B, H]
        if self.normalize:
            norm = ops.sqrt(ops.maximum(ops.sum(ops.square(vectors), axis=-1, keepdims=True), 1e-24))
            vectors = vectors / norm
        return vectors

    def default_loss(self):
        # Distillation / regression onto target vectors; pass your own loss for contrastive training.
        return keras.losses.CosineSimilarity()

    # ---- raw text ----------------------------------------------------------
    def embed(self, texts, batch_size=32):
        """Embed raw strings: float32 numpy array [N, H]."""
        preprocessor = self._require_preprocessor("embed")
        texts = [texts] if isinstance(texts, str) else list(texts)
        chunks = [keras.ops.convert_to_numpy(self(preprocessor(texts[i:i + batch_size]), training=False))
                  for i in range(0, len(texts), batch_size)]
        return np.concatenate(chunks, axis=0) if chunks else np.zeros((0, self.hidden_size), "float32")

    def predict_text(self, texts, batch_size=32):
        """Same as ``embed``: one vector per text."""
        return self.embed(texts, batch_size=batch_size)

    def cosine_similarity(self, a, b, batch_size=32):
        """Cosine similarity matrix [len(a), len(b)]; ``a`` and ``b`` are texts or vectors."""
        return cosine_similarity_matrix(self._as_vectors(a, batch_size), self._as_vectors(b, batch_size))

    def _as_vectors(self, values, batch_size):
        if isinstance(values, str) or (isinstance(values, (list, tuple)) and values and isinstance(values[0], str)):
            return self.embed(values, batch_size=batch_size)
        return values

    preset_sequence_length = None  # pad each batch to its longest text

    @classmethod
    def _preset_preprocessor_options(cls, preset, kwargs):
        """``from_preset(..., max_sequence_length=N)`` cuts texts at N tokens; by default at the
        ``max_seq_length`` of the checkpoint's ``sentence_bert_config.json`` (256 for
        all-MiniLM-L6-v2, as sentence-transformers cuts), else at the backbone's positions.
        Nothing is newly initialised: the embedder has no head weights."""
        max_sequence_length = kwargs.pop("max_sequence_length", None)
        if max_sequence_length is None:
            max_sequence_length = _sentence_transformers_max_length(preset)
        return {} if max_sequence_length is None else {"max_sequence_length": int(max_sequence_length)}

    def get_config(self):
        return {**super().get_config(), "pooling": self.pooling_mode, "normalize": self.normalize}


class EmbedderPairTrainer(StrategyFixes, keras.Model):  # the Keras fixes under tf.distribute, as BertTask
    """Fine-tunes a ``BertEmbedder`` on sentence pairs with a cosine loss.

    ``call`` embeds both sides of a pair with the same embedder and returns
    their cosine similarity [B]; the default loss is the mean squared error
    between it and the target score (sentence-transformers'
    ``CosineSimilarityLoss``), so targets belong in [-1, 1] (a 0/1 label, or
    an STS score divided by its maximum). Only the embedder's weights train;
    save the embedder, not this wrapper.

    Inputs: ``{"a": inputs, "b": inputs}``, each the usual dict of int32 [B, S].

    Example:
    >>> import numpy as np
    >>> from tfbert import BERT, BertConfig, BertEmbedder
    >>> from tfbert.tasks.embedder import EmbedderPairTrainer
    >>> embedder = BertEmbedder(BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
    ...                                          num_attention_heads=2, intermediate_size=32)))
    >>> ids = np.array([[2, 9, 11, 3], [2, 5, 3, 0]], "int32")
    >>> side = {"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": (ids > 0).astype("int32")}
    >>> trainer = EmbedderPairTrainer(embedder)
    >>> tuple(trainer({"a": side, "b": side}).shape), bool(np.allclose(trainer({"a": side, "b": side}), 1.0))
    ((2,), True)
    """

    def __init__(self, embedder, **kwargs):
        super().__init__(**kwargs)
        self.embedder = embedder

    @property
    def trainable_variables(self):
        return self.embedder.trainable_variables  # the unused pooler stays out, as in the embedder itself

    @property
    def trainable_weights(self):
        return self.trainable_variables

    def call(self, inputs, training=None):
        u = self.embedder(inputs["a"], training=training)
        v = self.embedder(inputs["b"], training=training)
        dot = ops.sum(u * v, axis=-1)
        if self.embedder.normalize:
            return dot
        norms = ops.sqrt(ops.maximum(ops.sum(u * u, axis=-1) * ops.sum(v * v, axis=-1), 1e-24))
        return dot / norms

    def compile(self, optimizer="auto", loss="auto", *, learning_rate=None, num_train_steps=None, **kwargs):
        """``optimizer="auto"``: ``create_optimizer`` (AdamW, warmup then linear decay); ``loss="auto"``: MSE."""
        from tfbert.optimization import create_optimizer

        if isinstance(optimizer, str) and optimizer == "auto":
            rate = learning_rate if learning_rate is not None else self.embedder.default_learning_rate
            optimizer = create_optimizer(rate, num_train_steps=num_train_steps)
        if isinstance(loss, str) and loss == "auto":
            loss = keras.losses.MeanSquaredError()
        super().compile(optimizer=optimizer, loss=loss, **kwargs)
