"""Serving a ``BertClassifier``: label, label id, probabilities and logits.

Inputs: ``text`` [None] string, plus ``text_pair`` [None] when exported with
``pair=True`` (sentence-pair tasks: both are packed as ``[CLS] text [SEP]
text_pair [SEP]``). Outputs:

- classification: ``logits`` [B, C], ``probabilities`` [B, C] (softmax),
  ``label_id`` [B] int32 (argmax) and, when the model has ``label_names``,
  ``label`` [B] string;
- regression (``num_classes=1``): ``score`` [B] float32 and ``logits`` [B, 1].

Example:
>>> import tensorflow as tf
>>> from tfbert import BERT, BertConfig
>>> from tfbert.tasks import BertClassifier
>>> from tfbert.serving.classifier import ClassifierServing
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> model = BertClassifier(bert, num_classes=2, label_names=["neg", "pos"])
>>> fn = ClassifierServing(model).signatures()["serve_tokens"]
>>> ids = tf.constant([[2, 7, 3]])
>>> out = fn(token_ids=ids, segment_ids=0 * ids, padding_mask=1 + 0 * ids)
>>> sorted(out), out["label"].dtype.name
(['label', 'label_id', 'logits', 'probabilities'], 'string')
"""

import tensorflow as tf

from tfbert.serving.base import ServingModule, string_spec


class ClassifierServing(ServingModule):
    """Signatures for a ``BertClassifier`` (see the module docstring).

    Option (``export_saved_model`` keyword argument): ``pair=True`` adds the
    ``text_pair`` input to ``serving_default`` (sentence-pair tasks such as
    MRPC or NLI); the default is the model's ``pair`` attribute if it has
    one, else single sentences.
    """

    option_names = ("pair",)

    def __init__(self, model, preprocessor=None, sequence_length=None, **options):
        super().__init__(model, preprocessor, sequence_length, **options)
        pair = self.options.get("pair", getattr(model, "pair", False))  # a model may say it reads pairs
        self.text_inputs = ("text", "text_pair") if pair else ("text",)
        names = getattr(model, "label_names", None)
        self._label_names = list(names) if names else None

    def text_function(self):
        if len(self.text_inputs) == 1:
            return super().text_function()
        return self.function(self.serve_text_pair, [string_spec(n) for n in self.text_inputs])

    def serve_text_pair(self, text, text_pair):
        return self.outputs(self.pack(text, text_pair))

    def outputs(self, inputs):
        logits = tf.cast(self.call_model(inputs), tf.float32)  # [B, C]
        if self.model.num_classes == 1:
            return {"score": logits[:, 0], "logits": logits}
        label_id = tf.argmax(logits, axis=-1, output_type=tf.int32)  # [B]
        out = {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1), "label_id": label_id}
        if self._label_names:
            out["label"] = tf.gather(tf.constant(self._label_names, tf.string), label_id)
        return out
