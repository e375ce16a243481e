"""Serving a ``BertMaskedLM``: the ``top_k`` fill-mask candidates for every ``[MASK]``.

``serving_default`` input: ``text`` [B] string holding one or more
``[MASK]``. The graph packs it as ``BertMaskedLM.fill_mask`` does (the text is
split at each literal "[MASK]", the stripped parts are tokenized and joined
by the mask token), so both give the same candidates. Outputs, padded to the
batch's largest number of masks P:

- ``tokens`` [B, P, k] string: the candidate word pieces, best first;
- ``token_ids`` [B, P, k] int32;
- ``probabilities`` [B, P, k] float32 (softmax over the vocabulary);
- ``mask_positions`` [B, P] int32: where each mask sits in the packed
  sequence; ``num_masks`` [B] int32.

Padding slots (a row with fewer masks) hold "", -1, 0.0 and position -1. A
text without "[MASK]" gets no slots (``num_masks`` 0). A text longer than
``sequence_length`` - 2 pieces is cut, and masks after the cut get no slot.

``serve_tokens`` finds the masks where ``token_ids`` equals the tokenizer's
mask id (``mask_token_id`` option when exporting without a tokenizer) and
returns ``token_ids``, ``probabilities``, ``mask_positions``, ``num_masks``
and, when the vocabulary is known, ``tokens``.

Example:
>>> import tensorflow as tf
>>> from tfbert import BERT, BertConfig
>>> from tfbert.tasks.pretrainer import BertMaskedLM
>>> from tfbert.serving.masked_lm import MaskedLMServing
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> fn = MaskedLMServing(BertMaskedLM(bert), top_k=3, mask_token_id=4).signatures()["serve_tokens"]
>>> ids = tf.constant([[2, 9, 4, 3]])
>>> out = fn(token_ids=ids, segment_ids=0 * ids, padding_mask=1 + 0 * ids)
>>> tuple(out["token_ids"].shape), out["mask_positions"].numpy().tolist()
((1, 1, 3), [[2]])
"""

import tensorflow as tf

from tfbert.serving.base import ServingModule

MASK_TOKEN = "[MASK]"


class MaskedLMServing(ServingModule):
    """Signatures for a ``BertMaskedLM`` (see the module docstring).

    Options (``export_saved_model`` keyword arguments): ``top_k``, the
    candidate tokens per ``[MASK]``, from 1 to ``vocab_size`` (default 5), and
    ``mask_token_id``, the id of ``[MASK]`` that ``serve_tokens`` looks for
    (default: the tokenizer's; needed only without a tokenizer).
    """

    option_names = ("top_k", "mask_token_id")

    uses_packer = False  # packs with the tokenizer, keeping piece offsets

    def _check_options(self):
        top_k = int(self.options.get("top_k", 5))  # (None was dropped: the default)
        if not 1 <= top_k <= self.config.vocab_size:
            raise ValueError(f"top_k must be in [1, vocab_size={self.config.vocab_size}], got {top_k}.")
        self.top_k = top_k
        mask_id = self.options.get("mask_token_id")
        if mask_id is None and self.tokenizer is not None:
            mask_id = self.tokenizer.mask_token_id
        if mask_id is None:
            raise ValueError("Exporting a BertMaskedLM without a tokenizer needs mask_token_id=<the id of [MASK]> "
                             "(103 in the original uncased BERT vocabulary).")
        self.mask_token_id = int(mask_id)
        vocabulary = getattr(self.tokenizer, "vocabulary", None)
        self._vocabulary = list(vocabulary) if vocabulary else None

    def outputs(self, inputs):
        is_mask = tf.equal(inputs["token_ids"], self.mask_token_id) & tf.cast(inputs["padding_mask"], tf.bool)
        return self._fill(inputs, is_mask)

    def _fill(self, inputs, is_mask):
        positions = tf.broadcast_to(tf.range(tf.shape(is_mask)[1])[None, :], tf.shape(is_mask))
        where = tf.ragged.boolean_mask(positions, is_mask)  # ragged [B, P]
        num_masks = tf.cast(where.row_lengths(), tf.int32)
        mask_positions = where.to_tensor(default_value=-1)  # [B, P]
        def mlm_logits():
            logits = self.call_model({**inputs, "mask_positions": tf.maximum(mask_positions, 0)})  # [B, P, V]
            if isinstance(logits, dict):  # BertPretrainer: MLM and NSP outputs
                logits = logits["mlm_logits"]
            return tf.cast(logits, tf.float32)

        # The MLM head's gather (keras.ops.take_along_axis) fails on an empty batch: skip the model then.
        logits = tf.cond(tf.shape(mask_positions)[0] > 0, mlm_logits,
                         lambda: tf.zeros([0, tf.shape(mask_positions)[1], self.config.vocab_size]))
        probabilities = tf.nn.softmax(logits, axis=-1)
        top_p, top_ids = tf.math.top_k(probabilities, k=self.top_k)  # [B, P, k]
        real = (mask_positions >= 0)[:, :, None]
        out = {
            "token_ids": tf.where(real, top_ids, -1),
            "probabilities": tf.where(real, top_p, 0.0),
            "mask_positions": mask_positions,
            "num_masks": num_masks,
        }
        if self._vocabulary is not None:
            out["tokens"] = tf.where(real, tf.gather(tf.constant(self._vocabulary, tf.string), top_ids), "")
        return out

    def serve_text(self, text):
        parts = tf.strings.strip(tf.strings.split(text, MASK_TOKEN))  # ragged [B, M+1]
        pieces = self.tokenize(parts.flat_values, self.max_length, ("token_ids",))["token_ids"]  # ragged [N, T]
        pieces = tf.RaggedTensor.from_row_splits(pieces, tf.cast(parts.row_splits, pieces.row_splits.dtype),
                                                 validate=False)  # [B, M+1, T]
        # A mask after every part, then drop the one after the last part.
        mask_column = tf.RaggedTensor.from_row_splits(
            tf.fill(tf.stack([tf.size(parts.flat_values), 1]), tf.constant(self.mask_token_id, pieces.dtype)),
            pieces.row_splits, validate=False)  # [B, M+1, 1]
        joined = tf.concat([pieces, mask_column], axis=2).merge_dims(1, 2)  # [B, ...]
        inputs = self.pack_single(joined[:, :-1])
        # The masks are where the joins put them: a part never yields the mask id itself,
        # as the split removed every "[MASK]".
        return self.outputs(inputs)
