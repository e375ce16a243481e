"""BertMultipleChoice: SWAG-style multiple choice, one score per candidate.

Each example is C (context, candidate) pairs packed as usual, so the inputs
are [B, C, S] int32 tensors. ``call`` flattens them to [B*C, S], runs the
backbone once, scores each pooled vector and reshapes the scores to
[B, C]; the loss is a softmax cross-entropy over the choices.

Example:
>>> import numpy as np
>>> from tfbert import BERT, BertConfig, BertMultipleChoice
>>> backbone = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                            num_attention_heads=2, intermediate_size=32))
>>> model = BertMultipleChoice(backbone)
>>> ids = np.random.default_rng(0).integers(4, 64, (2, 4, 6)).astype("int32")   # [B, C, S]
>>> scores = model({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": 1 + 0 * ids})
>>> tuple(scores.shape)
(2, 4)
"""

import keras
import numpy as np
from keras import ops

from tfbert.heads.multiple_choice import MultipleChoiceHead
from tfbert.layers.serialization import register
from tfbert.model import INPUT_NAMES
from tfbert.serving.multiple_choice import MultipleChoiceServing
from tfbert.tasks.base import BertTask


@register
class BertMultipleChoice(BertTask):
    """BERT + ``MultipleChoiceHead``.

    Args:
        backbone: a ``tfbert.BERT``.
        preprocessor: optional ``BertPreprocessor`` (pairs) for ``predict_text``.
        dropout: dropout before the scoring layer.

    Call: ``model(inputs)`` with ``token_ids``, ``segment_ids``,
    ``padding_mask`` int32 [B, C, S] returns scores [B, C] (float32 logits).
    Labels for ``fit`` are the index of the right choice [B].
    """

    default_learning_rate = 5e-5
    serving_class = MultipleChoiceServing

    def __init__(self, backbone, preprocessor=None, dropout=0.1, **kwargs):
        super().__init__(backbone, preprocessor=preprocessor, **kwargs)
        self.dropout = float(dropout)
        self.choice_head = MultipleChoiceHead(
            self.hidden_size, dropout=dropout, initializer_range=backbone.config.initializer_range,
            dtype=backbone.dtype_policy, name="choice_head",
        )
        self.build()

    def build(self, input_shape=None):
        self.choice_head.build()

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict) or any(name not in inputs for name in INPUT_NAMES):
            raise KeyError(f"BertMultipleChoice expects a dict with keys {list(INPUT_NAMES)} of [B, C, S] tensors.")
        token_ids = inputs["token_ids"]
        if len(token_ids.shape) != 3:
            raise ValueError(
                f"BertMultipleChoice inputs must be [batch, choices, seq_len]; got shape {tuple(token_ids.shape)}."
            )
        num_choices = token_ids.shape[1] if token_ids.shape[1] is not None else ops.shape(token_ids)[1]
        seq_len = token_ids.shape[2] if token_ids.shape[2] is not None else ops.shape(token_ids)[2]
        flat = {name: ops.reshape(inputs[name], (-1, seq_len)) for name in INPUT_NAMES}  # [B*C, S]
        pooled = self.backbone(flat, training=training)["pooled_output"]  # [B*C, H]
        return self.choice_head(pooled, num_choices=num_choices, training=training)  # [B, C]

    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    # ---- raw text ----------------------------------------------------------
    def encode_choices(self, contexts, choices):
        """Pack each (context, candidate) pair with the preprocessor: dict of [B, C, S] tensors.

        ``choices`` is a list (one per context) of equally long candidate lists.
        """
        preprocessor = self._require_preprocessor("encode_choices")
        contexts = [contexts] if isinstance(contexts, str) else list(contexts)
        if choices and isinstance(choices[0], str):
            choices = [choices]
        if len(choices) != len(contexts):
            raise ValueError(f"Got {len(contexts)} contexts but {len(choices)} choice lists; give one list per context.")
        counts = {len(c) for c in choices}
        if len(counts) != 1:
            raise ValueError(f"Every context needs the same number of choices; got counts {sorted(counts)}.")
        num_choices = counts.pop()
        firsts = [ctx for ctx, options in zip(contexts, choices) for _ in options]
        seconds = [option for options in choices for option in options]
        packed = preprocessor((firsts, seconds))
        return {name: ops.reshape(packed[name], (len(contexts), num_choices, -1)) for name in INPUT_NAMES}

    def predict_text(self, contexts, choices):
        """Pick a candidate per context.

        Returns one dict per context: ``{"choice": text, "index": i,
        "score": probability, "probabilities": [p_0, ..., p_C-1]}``.
        """
        contexts = [contexts] if isinstance(contexts, str) else list(contexts)
        if choices and isinstance(choices[0], str):
            choices = [choices]
        scores = keras.ops.convert_to_numpy(self(self.encode_choices(contexts, choices), training=False))
        shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = shifted / shifted.sum(axis=-1, keepdims=True)
        results = []
        for options, row in zip(choices, probs):
            best = int(row.argmax())
            results.append({"choice": options[best], "index": best, "score": float(row[best]),
                            "probabilities": [float(p) for p in row]})
        return results


    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}
