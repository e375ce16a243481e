"""BertConfig: the sizes and numerics of a BERT encoder.

Field names are those of Google's ``bert_config.json`` and Hugging Face's
``config.json``, so a config file from either loads unchanged.

Example:
>>> from tfbert import BertConfig
>>> cfg = BertConfig.from_preset_size("mini")
>>> cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads
(4, 256, 4)
>>> BertConfig(hidden_size=30, num_attention_heads=4)
Traceback (most recent call last):
...
ValueError: hidden_size (30) must be divisible by num_attention_heads (4); ...
"""

import dataclasses
import json
import os

from tfbert import activations
from tfbert.fileio import atomic_write_text

# Google's official BERT family (Turc et al. 2019): name -> (layers, hidden).
# Heads are hidden / 64 and the intermediate size is 4 * hidden.
SIZES = {
    "tiny": (2, 128),
    "mini": (4, 256),
    "small": (4, 512),
    "medium": (8, 512),
    "base": (12, 768),
    "large": (24, 1024),
}

_POSITIVE_INT_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
)
_PROBABILITY_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob")


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Hyperparameters of a BERT encoder, validated on construction."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self):
        for name in _POSITIVE_INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"BertConfig.{name} must be a positive integer, got {value!r}."
                )
        for name in _PROBABILITY_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(
                    f"BertConfig.{name} must be a probability in [0, 1), got {value!r}."
                )
        for name in ("initializer_range", "layer_norm_eps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(
                    f"BertConfig.{name} must be a positive number, got {value!r}."
                )
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads}); "
                f"try num_attention_heads={max(1, self.hidden_size // 64)}."
            )
        activations.get(self.hidden_act)  # raises on an unknown name

    @property
    def head_size(self):
        """Width of one attention head: hidden_size / num_attention_heads."""
        return self.hidden_size // self.num_attention_heads

    # ---- constructors -------------------------------------------------
    @classmethod
    def from_preset_size(cls, size, **overrides):
        """Google's BERT family by name: tiny, mini, small, medium, base, large."""
        if size not in SIZES:
            raise ValueError(f"Unknown BERT size {size!r}. Expected one of {list(SIZES)}.")
        layers, hidden = SIZES[size]
        fields = dict(
            num_hidden_layers=layers,
            hidden_size=hidden,
            num_attention_heads=hidden // 64,
            intermediate_size=4 * hidden,
        )
        fields.update(overrides)
        return cls.from_dict(fields)

    @classmethod
    def from_dict(cls, values, strict=True):
        """Build from a dict of field values.

        With ``strict=True`` an unknown key is an error (a mismatched config);
        with ``strict=False`` unknown keys are ignored, as HF files carry many
        keys that do not concern the encoder.
        """
        if not isinstance(values, dict):
            raise TypeError(f"BertConfig.from_dict expects a dict, got {type(values).__name__}.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown and strict:
            raise ValueError(
                f"Unknown BertConfig field(s) {unknown}. Expected a subset of {sorted(names)}."
            )
        return cls(**{k: v for k, v in values.items() if k in names})

    @classmethod
    def coerce(cls, config):
        """Accept a BertConfig, a dict of fields, or a size name such as "tiny"."""
        if isinstance(config, cls):
            return config
        if isinstance(config, dict):
            return cls.from_dict(config)
        if isinstance(config, str):
            return cls.from_preset_size(config)
        raise TypeError(
            "config must be a BertConfig, a dict of BertConfig fields or a size name "
            f"({list(SIZES)}); got {type(config).__name__}."
        )

    @classmethod
    def from_json(cls, path_or_text):
        """Read a Google ``bert_config.json`` or an HF ``config.json``.

        Accepts a file path or the JSON text itself. Keys that do not describe
        the encoder (``architectures``, ``pad_token_id``, ...) are ignored; an
        HF ``model_type`` other than BERT-like or a non-absolute position
        embedding is rejected because the weights would not mean the same.
        """
        source = path_or_text
        if isinstance(path_or_text, (str, os.PathLike)) and os.path.exists(path_or_text):
            with open(path_or_text, encoding="utf-8") as f:
                text = f.read()
        elif isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
            text, source = path_or_text, "<json text>"
        else:
            raise FileNotFoundError(f"BERT config file not found: {path_or_text!r}.")
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{source}: not valid JSON ({e}).") from None
        _require_object(values, source)
        position_type = values.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError(
                f"{source}: position_embedding_type={position_type!r} is not supported; "
                "tfbert implements BERT's absolute learned positions."
            )
        return cls.from_dict(values, strict=False)

    # ---- writers ------------------------------------------------------
    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self, path=None, style="google"):
        """Write (or return, if ``path`` is None) the config as JSON text.

        ``style="google"`` writes the ``bert_config.json`` keys;
        ``style="hf"`` adds the keys transformers needs to load a ``BertModel``.
        """
        values = self.to_dict()
        if style == "hf":
            values = {"architectures": ["BertModel"], "model_type": "bert", **values,
                      "pad_token_id": 0, "position_embedding_type": "absolute"}
        elif style != "google":
            raise ValueError(f"style must be 'google' or 'hf', got {style!r}.")
        text = json.dumps(values, indent=2, sort_keys=True) + "\n"
        if path is not None:
            atomic_write_text(path, text)
        return text

    def replace(self, **changes):
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _require_object(values, source):
    if not isinstance(values, dict):
        raise ValueError(f"{source} holds {json.dumps(values)[:40]}, not a JSON object of settings: the file is "
                         "damaged or not a model config; write it again (or fetch the model again).")
    return values


def read_json_object(path):
    """The JSON object (a dict) in the file ``path``; ``ValueError`` naming the file if it is not one.

    Config files of checkpoints go through this, so a file holding ``null``, a
    list or broken JSON fails with one clear line instead of a TypeError later.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "config.json")
    >>> with open(path, "w") as f:
    ...     _ = f.write("null")
    >>> read_json_object(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: ...config.json holds null, not a JSON object of settings: ...
    """
    with open(path, encoding="utf-8") as f:
        try:
            values = json.load(f)
        except ValueError as e:
            raise ValueError(f"{path}: not valid JSON ({e}); the file is damaged: write it again (or fetch the "
                             "model again).") from None
    return _require_object(values, path)
