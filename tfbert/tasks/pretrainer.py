"""BERT pretraining task models: ``BertPretrainer`` (MLM + NSP) and ``BertMaskedLM`` (MLM, fill-mask).

Both take the backbone's three inputs plus ``mask_positions`` (int32 [B, P],
the keras-hub name) and predict only those positions. The MLM head is
Dense(H) + activation, LayerNorm (eps from the config), then the backbone's
word-embedding *variable* transposed plus a bias: it is tied, so a gradient
through the decoder reaches the embeddings. ``BertPretrainer`` adds the
next-sentence head on the pooled output.

Outputs: ``BertMaskedLM`` returns ``mlm_logits`` [B, P, V] (a tensor, as
keras-hub's ``BertMaskedLM``); ``BertPretrainer`` returns the dict
``{"mlm_logits": [B, P, V], "nsp_logits": [B, 2]}``, float32 logits.

Labels for ``fit``/``evaluate``: the dict that ``tfbert.data`` pipelines yield,
``{"mask_ids": [B, P], "mask_weights": [B, P], "next_sentence_label": [B]}``
(``next_sentence_label`` 0 = B follows A, 1 = random; BertMaskedLM ignores it),
or for ``BertMaskedLM`` also the keras-hub form ``y=mask_ids,
sample_weight=mask_weights``. The loss is the masked-LM cross-entropy
averaged over real predictions (weight 1), plus for ``BertPretrainer`` the
NSP cross-entropy. Metrics: ``mlm_accuracy`` (weighted), ``mlm_perplexity``,
``mlm_loss``, and ``nsp_accuracy``/``nsp_loss``. Everything runs under
``jit_compile=True`` and ``mixed_bfloat16``.

Head weights are named as the checkpoint loaders (``tfbert/checkpoints/``) expect: layers ``mlm_head``
(``transform_dense``, ``transform_layer_norm``, ``output_bias``) and
``nsp_head`` (``dense``), i.e. HF ``cls.predictions.*`` /
``cls.seq_relationship.*`` and Google ``cls/...``.

Example:
>>> import numpy as np
>>> from tfbert import BERT, BertConfig
>>> from tfbert.tasks.pretrainer import BertPretrainer
>>> backbone = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                            num_attention_heads=2, intermediate_size=32))
>>> model = BertPretrainer(backbone)
>>> ids = np.array([[2, 4, 9, 3, 11, 3]], "int32")
>>> x = {"token_ids": ids, "segment_ids": np.array([[0, 0, 0, 0, 1, 1]]),
...      "padding_mask": np.ones_like(ids), "mask_positions": np.array([[1, 4]], "int32")}
>>> out = model(x)
>>> tuple(out["mlm_logits"].shape), tuple(out["nsp_logits"].shape)
((1, 2, 64), (1, 2))
>>> any(tuple(w.shape) == (64, 16) for w in model.mlm_head.weights)   # the decoder is not copied into the head
False
"""

import keras
import numpy as np
from keras import ops

from tfbert.checkpoints.report import LoadReport
from tfbert.heads.pretraining import MaskedLMHead, NextSentenceHead
from tfbert.layers.serialization import register
from tfbert.metrics.perplexity import MaskedLMPerplexity
from tfbert.model import INPUT_NAMES
from tfbert.serving.masked_lm import MaskedLMServing
from tfbert.tasks.base import BertTask

MASK_TOKEN = "[MASK]"


def _labels(y, sample_weight):
    """(mask_ids, mask_weights, next_sentence_label or None) from the accepted label forms."""
    if isinstance(y, dict):
        if "mask_ids" not in y:
            raise KeyError(f"Pretraining labels need 'mask_ids' (and 'mask_weights', 'next_sentence_label'); "
                           f"got keys {sorted(y)}.")
        ids, weights, nsp = y["mask_ids"], y.get("mask_weights"), y.get("next_sentence_label")
    else:
        ids, weights, nsp = y, None, None
    if weights is None:
        weights = sample_weight if sample_weight is not None else ops.ones_like(ids, dtype="float32")
    return ops.cast(ids, "int32"), ops.cast(weights, "float32"), nsp


def masked_lm_loss(mask_ids, mlm_logits, mask_weights):
    """Cross-entropy averaged over real predictions: ``sum(w * CE) / sum(w)`` (0 if no prediction)."""
    cross_entropy = keras.losses.sparse_categorical_crossentropy(mask_ids, mlm_logits, from_logits=True)  # [B, P]
    return ops.divide_no_nan(ops.sum(cross_entropy * mask_weights), ops.sum(mask_weights))


@register
class BertMaskedLM(BertTask):
    """BERT + the tied masked-LM head; ``fill_mask`` predicts the words behind ``[MASK]``.

    Args:
        backbone: a ``tfbert.BERT``.
        preprocessor: optional ``BertPreprocessor`` (or ``BertTokenizer``);
            ``fill_mask`` uses its tokenizer.
    """

    default_learning_rate = 1e-4
    uses_pooler = False  # masked-LM reads the sequence output only; BertPretrainer's NSP head reads the pooler
    serving_class = MaskedLMServing  # BertPretrainer inherits it: the module reads its mlm_logits

    def __init__(self, backbone, preprocessor=None, **kwargs):
        super().__init__(backbone, preprocessor=preprocessor, **kwargs)
        c = backbone.config
        self.mlm_head = MaskedLMHead(c.vocab_size, c.hidden_size, c.hidden_act, c.layer_norm_eps,
                                     c.initializer_range, dtype=backbone.dtype_policy, name="mlm_head")
        self.mlm_loss = keras.metrics.Mean(name="mlm_loss")
        self.mlm_accuracy = keras.metrics.SparseCategoricalAccuracy(name="mlm_accuracy")
        self.mlm_perplexity = MaskedLMPerplexity(name="mlm_perplexity")
        self._make_more_heads()
        self.build()

    def _make_more_heads(self):
        """Subclasses create further heads here, before the model is built."""

    def build(self, input_shape=None):
        for head in self._heads().values():
            if head is not None and not head.built:
                head.build()

    @property
    def embedding_table(self):
        """The backbone's word-embedding variable [V, H]: the MLM decoder itself."""
        return self.backbone.embeddings.word_embeddings.embeddings

    def _encode(self, inputs, training):
        if not isinstance(inputs, dict) or "mask_positions" not in inputs:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise KeyError(f"{type(self).__name__} inputs need 'mask_positions' (int32 [B, P]) beside "
                           f"{list(INPUT_NAMES)}; got {got}. tfbert.data pretraining pipelines provide it.")
        outputs = self.backbone({name: inputs[name] for name in INPUT_NAMES}, training=training)
        mlm_logits = self.mlm_head(outputs["sequence_output"], inputs["mask_positions"], self.embedding_table)
        return outputs, mlm_logits  # [B, P, V]

    def call(self, inputs, training=None):
        return self._encode(inputs, training)[1]

    def _mlm_logits(self, y_pred):
        return y_pred["mlm_logits"] if isinstance(y_pred, dict) else y_pred

    # ---- loss and metrics --------------------------------------------------
    def default_loss(self):
        return None  # compute_loss below

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self._compile_loss is not None:  # an explicit loss given to compile() wins
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        ids, weights, _ = _labels(y, sample_weight)
        loss = masked_lm_loss(ids, self._mlm_logits(y_pred), weights)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self._compile_metrics is not None or self._compile_loss is not None:
            super().compute_metrics(x, y, y_pred, sample_weight)
        ids, weights, _ = _labels(y, sample_weight)
        logits = self._mlm_logits(y_pred)
        self.mlm_loss.update_state(masked_lm_loss(ids, logits, weights), sample_weight=ops.sum(weights))
        self.mlm_accuracy.update_state(ids, logits, sample_weight=weights)
        self.mlm_perplexity.update_state(ids, logits, sample_weight=weights)
        return self.get_metrics_result()

    # ---- fill-mask ---------------------------------------------------------
    @property
    def tokenizer(self):
        """The tokenizer of the ``preprocessor`` (a ``BertTokenizer`` or a preprocessor holding one), or None."""
        return getattr(self.preprocessor, "tokenizer", self.preprocessor)

    def _tokenizer(self):
        self._require_preprocessor("fill_mask")
        return self.tokenizer

    def fill_mask(self, texts, top_k=5):
        """The ``top_k`` most likely tokens for each ``[MASK]`` in each text.

        Returns one list per text, holding one list per ``[MASK]`` (in order)
        of ``{"token": str, "token_id": int, "score": probability}``, best first
        (for a single string, just that text's list). The text is split at
        each literal "[MASK]" and the parts are tokenized separately, so it
        works whether or not the tokenizer keeps special tokens in strings.
        """
        tokenizer = self._tokenizer()
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        top_k = int(top_k)
        if not 1 <= top_k <= self.backbone.config.vocab_size:
            raise ValueError(f"top_k must be in [1, {self.backbone.config.vocab_size}], got {top_k}.")
        cls_id, sep_id, mask_id = (int(tokenizer.token_to_id(t)) for t in ("[CLS]", "[SEP]", MASK_TOKEN))
        rows, positions = [], []
        for text in texts:
            if not isinstance(text, str) or MASK_TOKEN not in text:
                raise ValueError(f"fill_mask needs texts containing {MASK_TOKEN!r}; got {text!r}.")
            pieces = [p.strip() for p in text.split(MASK_TOKEN)]
            ids = tokenizer(pieces)
            ids = [[int(t) for t in row] for row in (ids.to_list() if hasattr(ids, "to_list") else ids)]
            row = [cls_id]
            where = []
            for i, piece_ids in enumerate(ids):
                row.extend(piece_ids)
                if i < len(ids) - 1:
                    where.append(len(row))
                    row.append(mask_id)
            row.append(sep_id)
            limit = self.backbone.config.max_position_embeddings
            if len(row) > limit:
                raise ValueError(f"A fill_mask text is {len(row)} tokens long, more than the model's "
                                 f"max_position_embeddings={limit}; shorten it.")
            rows.append(row)
            positions.append(where)
        length = max(len(r) for r in rows)
        num_masks = max(len(p) for p in positions)
        token_ids = np.zeros((len(rows), length), "int32")
        padding_mask = np.zeros((len(rows), length), "int32")
        mask_positions = np.zeros((len(rows), num_masks), "int32")
        for i, (row, where) in enumerate(zip(rows, positions)):
            token_ids[i, :len(row)] = row
            padding_mask[i, :len(row)] = 1
            mask_positions[i, :len(where)] = where
        inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids), "padding_mask": padding_mask,
                  "mask_positions": mask_positions}
        logits = ops.convert_to_numpy(self._mlm_logits(self(inputs, training=False))).astype("float64")
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        results = []
        for i, where in enumerate(positions):
            per_mask = []
            for j in range(len(where)):
                best = np.argsort(-probs[i, j], kind="stable")[:top_k]
                per_mask.append([{"token": str(tokenizer.id_to_token(int(t))), "token_id": int(t),
                                  "score": float(probs[i, j, t])} for t in best])
            results.append(per_mask)
        return results[0] if single else results

    # ---- presets -----------------------------------------------------------
    def _heads(self):
        return {"mlm_head": self.mlm_head, "nsp_head": None}

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """Continued pretraining: the preset's backbone, tokenizer and (if it has them) pretraining heads.

        The preset's ``BertTokenizer`` becomes the ``preprocessor`` (all that
        ``fill_mask`` and the pretraining data builders need). Heads the
        checkpoint lacks (MiniLM, keras-hub presets) start fresh and are
        listed in ``model.load_report.newly_initialized``.
        """
        from tfbert.checkpoints.loading import load_pretraining_heads
        from tfbert.model import BERT
        from tfbert.preprocessing.tokenizer import BertTokenizer

        backbone = BERT.from_preset(preset)
        model = cls(backbone, preprocessor=BertTokenizer.from_preset(preset), **kwargs)
        heads = model._heads()
        head_report = load_pretraining_heads(preset, mlm_head=heads["mlm_head"], nsp_head=heads["nsp_head"])
        backbone_report = getattr(backbone, "load_report", None) or LoadReport(source=str(preset))
        prefix = f"{backbone.name}/"
        model.load_report = LoadReport(
            source=backbone_report.source,
            loaded=[prefix + n for n in backbone_report.loaded] + list(head_report.loaded),
            newly_initialized=sorted([prefix + n for n in backbone_report.newly_initialized]
                                     + list(head_report.newly_initialized)),
            unused=sorted(set(backbone_report.unused) | set(head_report.unused)),
        )
        return model


@register
class BertPretrainer(BertMaskedLM):
    """BERT + tied masked-LM head + next-sentence head: BERT's pretraining objective.

    Args:
        backbone: a ``tfbert.BERT``.
        preprocessor: optional, for ``fill_mask``.
    """

    uses_pooler = True  # the NSP head reads pooled_output

    def _make_more_heads(self):
        c = self.backbone.config
        self.nsp_head = NextSentenceHead(c.hidden_size, c.initializer_range, dtype=self.backbone.dtype_policy,
                                         name="nsp_head")
        self.nsp_loss = keras.metrics.Mean(name="nsp_loss")
        self.nsp_accuracy = keras.metrics.SparseCategoricalAccuracy(name="nsp_accuracy")

    def call(self, inputs, training=None):
        outputs, mlm_logits = self._encode(inputs, training)
        return {"mlm_logits": mlm_logits, "nsp_logits": self.nsp_head(outputs["pooled_output"])}

    @staticmethod
    def _nsp_labels(nsp):
        if nsp is None:
            raise KeyError("BertPretrainer labels need 'next_sentence_label' ([B], 0 = B follows A, 1 = random) "
                           "beside 'mask_ids' and 'mask_weights'. Use BertMaskedLM to train without NSP.")
        return ops.reshape(ops.cast(nsp, "int32"), (-1,))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self._compile_loss is not None:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        ids, weights, nsp = _labels(y, sample_weight)
        nsp = self._nsp_labels(nsp)
        loss = masked_lm_loss(ids, y_pred["mlm_logits"], weights) + ops.mean(
            keras.losses.sparse_categorical_crossentropy(nsp, y_pred["nsp_logits"], from_logits=True))
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        _, _, nsp = _labels(y, sample_weight)
        nsp = self._nsp_labels(nsp)
        self.nsp_loss.update_state(ops.mean(
            keras.losses.sparse_categorical_crossentropy(nsp, y_pred["nsp_logits"], from_logits=True)))
        self.nsp_accuracy.update_state(nsp, y_pred["nsp_logits"])
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def _heads(self):
        return {"mlm_head": self.mlm_head, "nsp_head": self.nsp_head}
