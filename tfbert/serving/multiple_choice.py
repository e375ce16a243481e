"""Serving a ``BertMultipleChoice``: the best candidate for each context.

``serving_default`` inputs: ``text`` [B] string (the context or question) and
``choices`` [B, C] string (C candidates per row; an empty string marks an
unused slot, so rows with fewer candidates can share one rectangular tensor).
Each (text, candidate) pair is packed like a sentence pair. Outputs:
``logits`` [B, C] (unused slots get -1e9), ``probabilities`` [B, C] (softmax
over the used slots), ``choice_id`` [B] int32 and ``choice`` [B] string (the
chosen candidate's text).

``serve_tokens`` takes [B, C, S] int32 tensors (C packed pairs per row) and
returns ``logits``, ``probabilities`` and ``choice_id``.

Example:
>>> import tensorflow as tf
>>> from tfbert import BERT, BertConfig
>>> from tfbert.tasks import BertMultipleChoice
>>> from tfbert.serving.multiple_choice import MultipleChoiceServing
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> fn = MultipleChoiceServing(BertMultipleChoice(bert)).signatures()["serve_tokens"]
>>> ids = tf.constant([[[2, 7, 3], [2, 9, 3]]])          # one row, two choices
>>> out = fn(token_ids=ids, segment_ids=0 * ids, padding_mask=1 + 0 * ids)
>>> tuple(out["logits"].shape), tuple(out["choice_id"].shape)
((1, 2), (1,))
"""

import tensorflow as tf

from tfbert.serving.base import TOKEN_INPUTS, ServingModule, fit_length, string_spec

UNUSED_LOGIT = -1.0e9


class MultipleChoiceServing(ServingModule):
    """Signatures for a ``BertMultipleChoice`` (see the module docstring).

    No task options: only ``pad_to_multiple_of``, which every serving module takes.
    """

    text_inputs = ("text", "choices")

    def token_specs(self):
        return [tf.TensorSpec([None, None, self.sequence_length], tf.int32, name=name) for name in TOKEN_INPUTS]

    def text_function(self):
        specs = [string_spec("text"), tf.TensorSpec([None, None], tf.string, name="choices")]
        return self.function(self.serve_choices, specs)

    def serve_choices(self, text, choices):
        checks = [
            tf.debugging.assert_equal(
                tf.shape(choices)[0], tf.shape(text)[0],
                message="choices must have one row of candidates per text entry (the same batch size)"),
            tf.debugging.assert_positive(tf.shape(choices)[1], message="choices needs at least one candidate per row"),
        ]
        with tf.control_dependencies(checks):
            shape = tf.shape(choices)  # [B, C]
        firsts = tf.reshape(tf.repeat(text[:, None], shape[1], axis=1), [-1])  # [B*C]
        seconds = tf.reshape(choices, [-1])  # [B*C]
        packed = fit_length(self.packer((firsts, seconds)), self.sequence_length,
                            self.pad_to_multiple_of, self.max_length)
        width = tf.shape(packed["token_ids"])[1]
        inputs = {name: tf.reshape(value, [shape[0], shape[1], width]) for name, value in packed.items()}
        out = self.outputs(inputs, used=tf.strings.length(choices) > 0)
        out["choice"] = tf.gather(choices, out["choice_id"], batch_dims=1)
        return out

    def outputs(self, inputs, used=None):
        logits = tf.cast(self.call_model(inputs), tf.float32)  # [B, C]
        if used is not None:
            logits = tf.where(used, logits, UNUSED_LOGIT)
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "choice_id": tf.argmax(logits, axis=-1, output_type=tf.int32),
        }
