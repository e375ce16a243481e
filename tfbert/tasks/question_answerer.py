"""BertQuestionAnswerer: SQuAD v1.1-style extractive question answering.

``call`` maps the input dict of ``[CLS] question [SEP] context [SEP]`` windows
to ``{"start_logits": [B, S], "end_logits": [B, S]}`` (padding masked out).
The default loss is the mean of the start and end cross-entropies, with dict
labels ``{"start_logits": start_position, "end_logits": end_position}``
(Keras matches dict labels to outputs by name). ``predict_text`` windows a
long context with ``doc_stride`` (``tfbert.data.qa``), runs the model, and
decodes the n-best span back to the exact text of the context through the
tokenizer's character offsets.

Example:
>>> import numpy as np
>>> from tfbert import BERT, BertConfig, BertQuestionAnswerer
>>> backbone = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                            num_attention_heads=2, intermediate_size=32))
>>> model = BertQuestionAnswerer(backbone)
>>> ids = np.array([[2, 9, 3, 11, 12, 3, 0]], "int32")
>>> out = model({"token_ids": ids, "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 0]], "int32"),
...              "padding_mask": (ids > 0).astype("int32")})
>>> sorted(out), tuple(out["start_logits"].shape)
(['end_logits', 'start_logits'], (1, 7))
"""

import keras

from tfbert.heads.span import SpanHead
from tfbert.layers.serialization import register
from tfbert.serving.question_answerer import QuestionAnswererServing
from tfbert.tasks.base import BertTask

OUTPUTS = ("start_logits", "end_logits")


@register
class BertQuestionAnswerer(BertTask):
    """BERT + ``SpanHead``.

    Args:
        backbone: a ``tfbert.BERT``.
        preprocessor: optional ``BertPreprocessor``; its tokenizer (and its
            ``sequence_length``, else 384) are used by ``predict_text``.
        doc_stride: pieces between the starts of consecutive context windows.
        max_query_length: question pieces kept.
        max_answer_length: longest answer (in tokens) ``predict_text`` returns.
        n_best: start/end candidates considered per window when decoding.

    Call: ``model(inputs)`` returns ``{"start_logits", "end_logits"}``, float32
    [B, S] each, padded positions at -1e9.
    """

    uses_pooler = False
    default_learning_rate = 5e-5
    serving_class = QuestionAnswererServing

    preset_sequence_length = 384  # question + a window of context, as SQuAD fine-tuning uses

    def __init__(self, backbone, preprocessor=None, doc_stride=128, max_query_length=64, max_answer_length=30,
                 n_best=20, **kwargs):
        super().__init__(backbone, preprocessor=preprocessor, **kwargs)
        self.doc_stride = int(doc_stride)
        self.max_query_length = int(max_query_length)
        self.max_answer_length = int(max_answer_length)
        self.n_best = int(n_best)
        self.span_head = SpanHead(self.hidden_size, initializer_range=backbone.config.initializer_range,
                                  dtype=backbone.dtype_policy, name="span_head")
        self.build()

    def build(self, input_shape=None):
        self.span_head.build()

    def call(self, inputs, training=None):
        sequence = self.backbone(inputs, training=training)["sequence_output"]  # [B, S, H]
        return self.span_head(sequence, inputs["padding_mask"])  # {"start_logits", "end_logits"}: [B, S]

    def default_loss(self):
        return {name: keras.losses.SparseCategoricalCrossentropy(from_logits=True) for name in OUTPUTS}

    def default_metrics(self):
        return {name: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")] for name in OUTPUTS}

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """As ``BertTask.compile``; with ``loss="auto"`` the two losses are averaged (weights 0.5)."""
        if isinstance(loss, str) and loss == "auto" and "loss_weights" not in kwargs:
            kwargs["loss_weights"] = {name: 0.5 for name in OUTPUTS}
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    # ---- raw text ----------------------------------------------------------
    def _sequence_length(self):
        length = getattr(self.preprocessor, "sequence_length", None)
        return int(length) if length else min(384, self.backbone.config.max_position_embeddings)

    def encode(self, questions, contexts, answers=None, ids=None):
        """``tfbert.data.qa.encode_qa`` with this model's tokenizer and window settings."""
        from tfbert.data.qa import encode_qa

        preprocessor = self._require_preprocessor("encode")
        tokenizer = getattr(preprocessor, "tokenizer", preprocessor)
        return encode_qa(tokenizer, questions, contexts, sequence_length=self._sequence_length(),
                         doc_stride=self.doc_stride, max_query_length=self.max_query_length,
                         answers=answers, ids=ids)

    def answer(self, features, contexts, batch_size=32):
        """Decode answers for already-encoded ``features`` (see ``tfbert.data.qa.decode_answers``).

        Windows are run in order of length, each batch cut to its longest
        window, so short windows cost no padding compute.
        """
        import numpy as np

        from tfbert.data.qa import decode_answers

        total, width = features.inputs["token_ids"].shape
        start_logits = np.full((total, width), -1e9, "float32")
        end_logits = np.full((total, width), -1e9, "float32")
        lengths = features.inputs["padding_mask"].sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        for i in range(0, total, batch_size):
            rows = order[i:i + batch_size]
            cut = int(lengths[rows].max())
            out = self({k: v[rows, :cut] for k, v in features.inputs.items()}, training=False)
            start_logits[rows, :cut] = keras.ops.convert_to_numpy(out["start_logits"])
            end_logits[rows, :cut] = keras.ops.convert_to_numpy(out["end_logits"])
        return decode_answers(features, start_logits, end_logits, list(contexts), n_best=self.n_best,
                              max_answer_length=self.max_answer_length)

    def predict_text(self, questions, contexts, batch_size=32):
        """Answer questions about contexts (one context per question, or one shared context).

        Returns one dict per question: ``{"text", "start", "end", "score"}``,
        ``start``/``end`` being character offsets into the context, so
        ``context[start:end] == text``.
        """
        questions = [questions] if isinstance(questions, str) else list(questions)
        contexts = [contexts] * len(questions) if isinstance(contexts, str) else list(contexts)
        features = self.encode(questions, contexts)
        return self.answer(features, contexts, batch_size=batch_size)

    def get_config(self):
        return {**super().get_config(), "doc_stride": self.doc_stride, "max_query_length": self.max_query_length,
                "max_answer_length": self.max_answer_length, "n_best": self.n_best}
