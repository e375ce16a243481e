"""Changing a checkpoint's config at load time, without contradicting its weights.

``BERT.from_preset(name, hidden_dropout_prob=0.2)`` may change anything that
does not fix a weight's shape (dropout, activation, eps, initializer range).
The size fields come from the weights; an override that disagrees is an error.
:func:`check_config_matches_weights` compares a checkpoint's own config file
with its weights (the encoder layers present, the hidden width) before the
model is built, so a config naming more or fewer layers than the weights hold
is an error naming those layers, not random layers added or trained ones dropped.

Example:
>>> from tfbert import BertConfig
>>> from tfbert.checkpoints.overrides import apply_overrides, check_config_matches_weights
>>> cfg = BertConfig(vocab_size=64, hidden_size=16, num_attention_heads=2, intermediate_size=32)
>>> apply_overrides(cfg, {"hidden_dropout_prob": 0.0}, "config.json").hidden_dropout_prob
0.0
>>> apply_overrides(cfg, {"hidden_size": 32}, "config.json")
Traceback (most recent call last):
...
ValueError: Overrides contradict the weights described by config.json: hidden_size=32 (the checkpoint has 16). ...
>>> check_config_matches_weights({"num_hidden_layers": 3, "hidden_size": 16}, "config.json", "model.safetensors",
...                              layers=[0, 1], hidden_size=16)
Traceback (most recent call last):
...
ValueError: config.json does not match the weights in model.safetensors: num_hidden_layers=3, but the weights hold 2 encoder layers (0, 1), so layer 2 would be random. ...
"""

import dataclasses
import re

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


def encoder_layer_indices(names, pattern):
    """The sorted encoder layer numbers found in weight ``names`` (``pattern``: a regex whose group 1 is the number)."""
    found = set()
    for name in names:
        match = re.search(pattern, name)
        if match:
            found.add(int(match.group(1)))
    return sorted(found)


def _span(indices):
    if not indices:
        return "none"
    if indices == list(range(indices[0], indices[-1] + 1)) and len(indices) > 2:
        return f"{indices[0]}-{indices[-1]}"
    return ", ".join(map(str, indices))


def check_config_matches_weights(values, config_label, weights_label, layers=None, hidden_size=None):
    """Raise ``ValueError`` if a checkpoint's config disagrees with its weights.

    ``values``: the config (a BertConfig or the raw dict of its file, checked
    before BertConfig validates it, so a wrong ``hidden_size`` is reported as
    such). ``layers``: the encoder layer numbers the weights hold;
    ``hidden_size``: the width of their word embeddings.
    """
    get = values.get if isinstance(values, dict) else lambda key, default=None: getattr(values, key, default)
    problems, fixes = [], []
    wanted_layers = get("num_hidden_layers")
    if layers is not None and isinstance(wanted_layers, int) and layers and list(range(wanted_layers)) != layers:
        missing = [i for i in range(wanted_layers) if i not in layers]
        extra = [i for i in layers if i >= wanted_layers]
        what = []
        if missing:
            what.append(f"layer{'s' if len(missing) > 1 else ''} {_span(missing)} would be random")
        if extra:
            what.append(f"the trained layer{'s' if len(extra) > 1 else ''} {_span(extra)} would be dropped")
        problems.append(f"num_hidden_layers={wanted_layers}, but the weights hold {len(layers)} encoder layers "
                        f"({_span(layers)}), so {' and '.join(what)}")
        fixes.append(f"num_hidden_layers={len(layers)}")
    wanted_hidden = get("hidden_size")
    if hidden_size is not None and isinstance(wanted_hidden, int) and wanted_hidden != hidden_size:
        problems.append(f"hidden_size={wanted_hidden}, but the weights are {hidden_size} wide")
        fixes.append(f"hidden_size={hidden_size}")
    if problems:
        raise ValueError(f"{config_label} does not match the weights in {weights_label}: {'; '.join(problems)}. "
                         f"Use the config that came with these weights ({', '.join(fixes)}).")
