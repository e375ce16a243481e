"""BERT's pretraining heads: masked-LM (tied to the word embeddings) and next-sentence.

The MLM head gathers the masked positions, applies Dense(H) + activation and
LayerNorm (eps from the config), then multiplies by the *transposed word
embedding matrix* it is given at call time, plus a bias. Passing the
embedding variable in (rather than copying it) is what keeps the head tied.

Example:
>>> import numpy as np
>>> from tfbert import BERT, BertConfig
>>> from tfbert.heads import MaskedLMHead, NextSentenceHead
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> ids = np.array([[2, 4, 4, 3]], "int32")
>>> out = bert({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": 1 + 0 * ids})
>>> mlm = MaskedLMHead(vocab_size=64, hidden_size=16)
>>> table = bert.embeddings.word_embeddings.embeddings
>>> tuple(mlm(out["sequence_output"], np.array([[1, 2]], "int32"), table).shape)
(1, 2, 64)
>>> tuple(NextSentenceHead(16)(out["pooled_output"]).shape)
(1, 2)
"""

import keras
from keras import ops

from tfbert import activations
from tfbert.layers.normalization import float32_layer_norm
from tfbert.layers.serialization import register


@register
class MaskedLMHead(keras.layers.Layer):
    """Masked-LM logits [B, P, V] for the positions ``mask_positions`` [B, P].

    Weights: ``transform_dense`` (HF ``cls.predictions.transform.dense``),
    ``transform_layer_norm`` (``...transform.LayerNorm``) and ``output_bias``
    [V] (HF ``cls.predictions.bias``, Google ``cls/predictions/output_bias``).
    The decoder matrix is the backbone's word-embedding variable.
    """

    def __init__(self, vocab_size, hidden_size, hidden_act="gelu", layer_norm_eps=1e-12,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.transform_dense = keras.layers.Dense(
            hidden_size, activation=activations.get(hidden_act),
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="transform_dense",
        )
        self.transform_layer_norm = float32_layer_norm(layer_norm_eps, "transform_layer_norm")

    def build(self, input_shape=None):
        self.transform_dense.build((None, None, self.hidden_size))
        self.transform_layer_norm.build((None, None, self.hidden_size))
        self.output_bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="output_bias")

    def call(self, sequence_output, mask_positions, embedding_table):
        positions = ops.cast(mask_positions, "int32")[:, :, None]  # [B, P, 1]
        x = ops.take_along_axis(sequence_output, positions, axis=1)  # [B, P, H]
        x = self.transform_dense(x)
        x = ops.cast(self.transform_layer_norm(x), self.compute_dtype)
        table = ops.cast(embedding_table, self.compute_dtype)  # [V, H], the tied variable
        logits = ops.matmul(x, ops.transpose(table))  # [B, P, V]
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "hidden_act": self.hidden_act,
            "layer_norm_eps": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
        }


@register
class NextSentenceHead(keras.layers.Layer):
    """Two logits (is-next, random) from ``pooled_output`` [B, H].

    Weight ``dense`` (kernel [H, 2]) is HF ``cls.seq_relationship`` (transposed)
    and Google ``cls/seq_relationship/output_weights`` (transposed).
    """

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="dense",
        )

    def build(self, input_shape=None):
        self.dense.build((None, self.hidden_size))

    def call(self, pooled_output):
        return ops.cast(self.dense(pooled_output), "float32")  # [B, 2]

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size,
                "initializer_range": self.initializer_range}
