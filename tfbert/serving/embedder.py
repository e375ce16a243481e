"""Serving a ``BertEmbedder``: one ``embedding`` [B, H] (float32) per text.

The vector is the model's own (pooled as the model pools, unit length when
the model normalises), for ``serving_default`` (``text``) and ``serve_tokens``.

Example:
>>> import tensorflow as tf
>>> from tfbert import BERT, BertConfig
>>> from tfbert.tasks import BertEmbedder
>>> from tfbert.serving.embedder import EmbedderServing
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> fn = EmbedderServing(BertEmbedder(bert)).signatures()["serve_tokens"]
>>> ids = tf.constant([[2, 7, 3]])
>>> tuple(fn(token_ids=ids, segment_ids=0 * ids, padding_mask=1 + 0 * ids)["embedding"].shape)
(1, 16)
"""

import tensorflow as tf

from tfbert.serving.base import ServingModule


class EmbedderServing(ServingModule):
    """Signatures for a ``BertEmbedder``: ``embedding`` [B, H].

    No task options: only ``pad_to_multiple_of``, which every serving module takes.
    """

    def outputs(self, inputs):
        return {"embedding": tf.cast(self.call_model(inputs), tf.float32)}
