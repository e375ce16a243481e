"""BERT: the backbone, a subclassed ``keras.Model``.

Inputs are a dict of int32 [B, S] tensors: ``token_ids``, ``segment_ids`` and
``padding_mask`` (1 for real tokens, 0 for padding). Outputs are a dict with
``sequence_output`` [B, S, H] and ``pooled_output`` [B, H]; call with
``output_hidden_states=True`` to also get ``hidden_states``, the embedding
output followed by every layer's output (L + 1 tensors of [B, S, H]).

Example:
>>> import numpy as np
>>> from tfbert import BERT, BertConfig
>>> model = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2,
...                         num_attention_heads=2, intermediate_size=32))
>>> out = model({"token_ids": np.array([[2, 7, 3, 0]]),
...              "segment_ids": np.zeros((1, 4), "int32"),
...              "padding_mask": np.array([[1, 1, 1, 0]])})
>>> tuple(out["sequence_output"].shape), tuple(out["pooled_output"].shape)
((1, 4, 16), (1, 16))
"""

import keras
import tensorflow as tf
from keras import ops

from tfbert.config import BertConfig
from tfbert.layers import BertEmbeddings, BertPooler, TransformerEncoderBlock
from tfbert.layers.serialization import register
from tfbert.serving.backbone import BackboneServing

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


@register
class BERT(keras.Model):
    """The BERT encoder: embeddings, ``num_hidden_layers`` post-LN blocks, pooler.

    Args:
        config: a ``BertConfig``, a dict of its fields, or a size name
            ("tiny", "mini", "small", "medium", "base", "large").
    """

    #: the ``tfbert.serving`` module ``export_saved_model`` saves a backbone with.
    serving_class = BackboneServing

    def __init__(self, config="base", **kwargs):
        super().__init__(**kwargs)
        self.config = BertConfig.coerce(config)
        c, policy = self.config, self.dtype_policy
        self.embeddings = BertEmbeddings(
            c.vocab_size, c.hidden_size, c.max_position_embeddings, c.type_vocab_size,
            dropout=c.hidden_dropout_prob, layer_norm_eps=c.layer_norm_eps,
            initializer_range=c.initializer_range, dtype=policy, name="embeddings",
        )
        self.encoder_layers = [
            TransformerEncoderBlock(
                c.hidden_size, c.num_attention_heads, c.intermediate_size, c.hidden_act,
                dropout=c.hidden_dropout_prob, attention_dropout=c.attention_probs_dropout_prob,
                layer_norm_eps=c.layer_norm_eps, initializer_range=c.initializer_range,
                dtype=policy, name=f"layer_{i}",
            )
            for i in range(c.num_hidden_layers)
        ]
        self.pooler = BertPooler(c.hidden_size, c.initializer_range, dtype=policy, name="pooler")
        # Set by the checkpoint loaders (tfbert.checkpoints) and by extend_vocabulary; None for a
        # model built from a config. The writers (save_preset, save_huggingface,
        # save_tf_checkpoint) reuse the source's vocabulary and casing.
        self.load_report = None        # LoadReport: loaded / newly initialised / unused / skipped
        self.source_vocabulary = None  # list of tokens (or a vocab.txt path) that came with the weights
        self.source_lowercase = None   # whether that vocabulary is uncased
        self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings.build()
        for layer in self.encoder_layers:
            layer.build()
        self.pooler.build()

    def call(self, inputs, training=None, output_hidden_states=False):
        token_ids, segment_ids, padding_mask = self._check_inputs(inputs)
        x = self.embeddings(token_ids, segment_ids, training=training)  # [B, S, H]
        hidden_states = [x]
        for layer in self.encoder_layers:
            x = layer(x, padding_mask, training=training)  # [B, S, H]
            hidden_states.append(x)
        outputs = {"sequence_output": x, "pooled_output": self.pooler(x)}
        if output_hidden_states:
            outputs["hidden_states"] = hidden_states
        return outputs

    def _check_inputs(self, inputs):
        """Validate the input dict; return int32 token_ids, segment_ids, padding_mask."""
        if not isinstance(inputs, dict):
            raise TypeError(
                f"BERT expects a dict with keys {list(INPUT_NAMES)}, got {type(inputs).__name__}. "
                "Use tfbert.BertPreprocessor to build it from text."
            )
        missing = [name for name in INPUT_NAMES if name not in inputs]
        if missing:
            raise KeyError(
                f"BERT inputs are missing {missing}; expected keys {list(INPUT_NAMES)}, "
                f"got {sorted(inputs)}."
            )
        checked = []
        for name in INPUT_NAMES:
            value = inputs[name]
            dtype = keras.backend.standardize_dtype(value.dtype) if hasattr(value, "dtype") else None
            allowed = dtype is not None and ("int" in dtype or (name == "padding_mask" and dtype == "bool"))
            if not allowed:
                expected = "an integer or bool" if name == "padding_mask" else "an integer"
                raise TypeError(f"BERT input {name!r} must be {expected} tensor (int32), got dtype {dtype}.")
            if len(value.shape) != 2:
                raise ValueError(f"BERT input {name!r} must have shape [batch, seq_len], got {tuple(value.shape)}.")
            checked.append(ops.cast(value, "int32"))
        self._check_length(checked[0])
        return checked

    def _check_length(self, token_ids):
        limit = self.config.max_position_embeddings
        static_len = token_ids.shape[1]
        message = (
            f"sequence length exceeds max_position_embeddings={limit}; "
            f"truncate the input (BertPreprocessor(sequence_length<={limit}))."
        )
        if static_len is not None:
            if static_len > limit:
                raise ValueError(f"Got sequence length {static_len}: {message}")
        elif isinstance(token_ids, tf.Tensor):
            tf.debugging.assert_less_equal(tf.shape(token_ids)[1], limit, message=message)

    # ---- checkpoints (tfbert/checkpoints sits below the model and never imports it: the class is
    # passed in; imported here on first use, so that `import tfbert.model` stays light) ----
    @classmethod
    def from_preset(cls, preset, dtype=None, **overrides):
        """Load a pretrained BERT: an offline preset name ("minilm_l6_en_uncased"), a keras-hub
        preset name, a ``kaggle://``/``hf://`` handle, or a local keras-hub / Hugging Face /
        Google directory. ``overrides`` are BertConfig fields (dropout, ...) that must not
        contradict the weights. The result carries ``load_report``.
        See ``tfbert.checkpoints.loaders``."""
        from tfbert.checkpoints.loaders import get_preset_loader

        return get_preset_loader(preset).load_backbone(cls, dtype=dtype, **overrides)

    @classmethod
    def from_tf_checkpoint(cls, ckpt_prefix, config=None, dtype=None, **overrides):
        """Load an original google-research/bert checkpoint (``.../bert_model.ckpt``); ``config``
        defaults to the ``bert_config.json`` beside it. See ``tfbert.checkpoints.google``."""
        from tfbert.checkpoints.google import load_tf_checkpoint

        return load_tf_checkpoint(cls, ckpt_prefix, config=config, dtype=dtype, **overrides)

    def save_preset(self, directory, vocabulary=None, lowercase=None, overwrite=False):
        """Write a keras-hub preset (config, weights, vocabulary) that ``BERT.from_preset`` and
        ``keras_hub.models.BertBackbone.from_preset`` both load."""
        from tfbert.checkpoints.loading import save_preset

        return save_preset(self, directory, vocabulary=vocabulary, lowercase=lowercase, overwrite=overwrite)

    def save_tf_checkpoint(self, prefix, mlm_head=None, nsp_head=None, vocabulary=None):
        """Write a google-research/bert TF1 checkpoint (+ ``bert_config.json``) at ``prefix``."""
        from tfbert.checkpoints.google import save_tf_checkpoint

        return save_tf_checkpoint(self, prefix, mlm_head=mlm_head, nsp_head=nsp_head, vocabulary=vocabulary)

    def save_huggingface(self, directory, vocabulary=None, lowercase=None, mlm_head=None, nsp_head=None,
                         overwrite=False):
        """Write a Hugging Face directory (``config.json`` + ``model.safetensors`` [+ vocab])."""
        from tfbert.checkpoints.huggingface import save_huggingface

        return save_huggingface(self, directory, vocabulary=vocabulary, lowercase=lowercase,
                                mlm_head=mlm_head, nsp_head=nsp_head, overwrite=overwrite)

    # ---- vocabulary extension (tfbert/vocabulary_extension.py, below the model; imported on first use) ----
    def extend_vocabulary(self, tokenizer, new_tokens, mlm_head=None, noise_scale=0.1, seed=0):
        """Append ``new_tokens`` to the vocabulary in place (word embeddings, config, tied MLM bias
        when ``mlm_head`` is given; old rows unchanged) and return the extended ``BertTokenizer``.
        See ``tfbert.vocabulary_extension``."""
        from tfbert.vocabulary_extension import extend_vocabulary

        return extend_vocabulary(self, tokenizer, new_tokens, mlm_head=mlm_head, noise_scale=noise_scale, seed=seed)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "config" not in config:
            raise ValueError(f"BERT.from_config needs a 'config' entry with BertConfig fields; got keys {sorted(config)}.")
        return cls(config=BertConfig.coerce(config.pop("config")), **config)
