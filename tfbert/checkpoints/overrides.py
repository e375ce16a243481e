"""Changing a checkpoint's config at load time, without contradicting its weights.

``BERT.from_preset(name, hidden_dropout_prob=0.2)`` may change anything that
does not fix a weight's shape (dropout, activation, eps, initializer range).
The size fields come from the weights; an override that disagrees is an error.

Example:
>>> from tfbert import BertConfig
>>> from tfbert.checkpoints.overrides import apply_overrides
>>> cfg = BertConfig(vocab_size=64, hidden_size=16, num_attention_heads=2, intermediate_size=32)
>>> apply_overrides(cfg, {"hidden_dropout_prob": 0.0}, "config.json").hidden_dropout_prob
0.0
>>> apply_overrides(cfg, {"hidden_size": 32}, "config.json")
Traceback (most recent call last):
...
ValueError: Overrides contradict the weights described by config.json: hidden_size=32 (the checkpoint has 16). ...
"""

import dataclasses

from tfbert.config import BertConfig

# Fields that fix the shape (or, for heads, the layout) of some weight.
SHAPE_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "type_vocab_size")


def apply_overrides(config, overrides, label):
    """``config`` with ``overrides`` (BertConfig fields) applied; size fields must agree."""
    if not overrides:
        return config
    names = {f.name for f in dataclasses.fields(BertConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"Unknown override(s) {unknown}: overrides are BertConfig fields, one of {sorted(names)}.")
    conflicts = [f"{k}={overrides[k]!r} (the checkpoint has {getattr(config, k)!r})"
                 for k in SHAPE_FIELDS if k in overrides and overrides[k] != getattr(config, k)]
    if conflicts:
        free = sorted(names - set(SHAPE_FIELDS))
        raise ValueError(
            f"Overrides contradict the weights described by {label}: {', '.join(conflicts)}. "
            f"These sizes are fixed by the checkpoint; remove them. Fields you may change: {free}."
        )
    return config.replace(**overrides)
