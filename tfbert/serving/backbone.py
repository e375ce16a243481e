"""Serving a bare ``BERT`` backbone: the encoder's outputs.

``serving_default`` (``text``) and ``serve_tokens`` both return
``pooled_output`` [B, H], ``sequence_output`` [B, S, H] and the
``padding_mask`` [B, S] that says which of the S positions are real tokens.

Example:
>>> import tensorflow as tf
>>> from tfbert import BERT, BertConfig
>>> from tfbert.serving.backbone import BackboneServing
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> serving = BackboneServing(bert)
>>> fn = serving.signatures()["serve_tokens"]
>>> ids = tf.constant([[2, 7, 3]])
>>> sorted(fn(token_ids=ids, segment_ids=0 * ids, padding_mask=1 + 0 * ids))
['padding_mask', 'pooled_output', 'sequence_output']
"""

import tensorflow as tf

from tfbert.serving.base import ServingModule


class BackboneServing(ServingModule):
    """Signatures for a ``tfbert.BERT``: encoder outputs (see the module docstring).

    No task options: only ``pad_to_multiple_of``, which every serving module takes.
    """

    def outputs(self, inputs):
        out = self.call_model(inputs)
        return {
            "pooled_output": tf.cast(out["pooled_output"], tf.float32),
            "sequence_output": tf.cast(out["sequence_output"], tf.float32),
            "padding_mask": inputs["padding_mask"],
        }
