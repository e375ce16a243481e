"""Assigning named source arrays to a model's variables, and reporting what happened.

Every loader builds a list of ``(target_name, source_name)`` pairs from its
weight table and hands it to :func:`assign`, which checks every shape before
writing anything (a mismatch is an error naming each offending weight) and
returns a :class:`LoadReport`: what was loaded, what kept its fresh
initialisation, and which source weights were not used. Nothing is silent.

Example:
>>> import numpy as np, keras
>>> from tfbert.checkpoints.report import assign
>>> v = keras.Variable(np.zeros((2,)), name="bias")
>>> report = assign({"dense/bias": v}, {"b": np.ones(2), "extra": np.ones(1)},
...                 [("dense/bias", "b")], source_label="demo")
>>> report.loaded, report.unused
(['dense/bias'], ['extra'])
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class LoadReport:
    """What a checkpoint load did, weight by weight."""

    source: str
    loaded: list = dataclasses.field(default_factory=list)
    newly_initialized: list = dataclasses.field(default_factory=list)
    unused: list = dataclasses.field(default_factory=list)
    # Source entries deliberately not loaded (optimizer slots, global_step, buffers).
    skipped: list = dataclasses.field(default_factory=list)

    def merge(self, other):
        """Fold a second load into the first (e.g. heads read from another file)."""
        newly = [n for n in self.newly_initialized + other.newly_initialized if n not in other.loaded and n not in self.loaded]
        unused = sorted(set(self.unused) & set(other.unused)) if other.source == self.source else sorted(set(self.unused) | set(other.unused))
        return LoadReport(
            source=self.source if other.source == self.source else f"{self.source} + {other.source}",
            loaded=self.loaded + [n for n in other.loaded if n not in self.loaded],
            newly_initialized=sorted(set(newly)),
            unused=unused,
            skipped=sorted(set(self.skipped) | set(other.skipped)),
        )

    def __str__(self):
        if self.loaded or not self.newly_initialized:
            lines = [f"Loaded {len(self.loaded)} weights from {self.source}."]
        else:
            lines = [f"{self.source} holds none of these weights; they keep their fresh initialisation."]
        if self.newly_initialized:
            lines.append(f"Newly initialised ({len(self.newly_initialized)}): " + ", ".join(self.newly_initialized))
        if self.unused:
            lines.append(f"Unused source weights ({len(self.unused)}): " + ", ".join(self.unused))
        if self.skipped:
            lines.append(f"Skipped (not model weights) ({len(self.skipped)}): " + ", ".join(self.skipped))
        return "\n".join(lines)


def relative_variables(layer):
    """Map each variable of ``layer`` to its path below the layer, e.g.
    ``"layer_0/attention/query/kernel"``, independent of where the layer sits."""
    prefix = f"{layer.path}/"
    names = {}
    for variable in layer.weights:
        path = variable.path
        names[path[len(prefix):] if path.startswith(prefix) else path] = variable
    return names


def assign(targets, source, pairs, source_label, transforms=None):
    """Copy ``source[source_name]`` into ``targets[target_name]`` for each pair.

    Args:
        targets: dict target name -> Keras variable.
        source: mapping source name -> array (a dict or a lazy reader with
            ``keys()`` and ``__getitem__``).
        pairs: iterable of (target_name, source_name). Pairs whose source name
            is absent leave the target at its initial value (reported).
        source_label: text naming the source in messages (a path).
        transforms: optional dict target name -> fn(array, target_shape) -> array.
            By default the array is reshaped to the target's shape, which
            covers keras-hub's split-head kernels.
    Returns:
        LoadReport. Raises ValueError listing every shape mismatch, before
        anything is assigned.
    """
    transforms = transforms or {}
    available = set(source.keys())
    updates, mismatches, used = [], [], set()
    for target_name, source_name in pairs:
        variable = targets[target_name]
        if source_name not in available:
            continue
        value = np.asarray(source[source_name])
        transform = transforms.get(target_name)
        target_shape = tuple(variable.shape)
        if transform is not None:
            value = transform(value, target_shape)
        if value.size != int(np.prod(target_shape)) or (transform is not None and value.shape != target_shape):
            mismatches.append(f"{source_name} {tuple(np.shape(source[source_name]))} -> {target_name} {target_shape}")
            continue
        updates.append((target_name, variable, value.reshape(target_shape)))
        used.add(source_name)
    if mismatches:
        raise ValueError(
            f"Shape mismatch loading {source_label}: the config does not match the weights.\n  "
            + "\n  ".join(mismatches)
            + "\nCheck that the config (hidden_size, num_hidden_layers, vocab_size, ...) belongs to this checkpoint."
        )
    for _, variable, value in updates:
        variable.assign(value.astype(variable.dtype))
    loaded = [name for name, _, _ in updates]
    return LoadReport(
        source=source_label,
        loaded=loaded,
        newly_initialized=sorted(set(targets) - set(loaded)),
        unused=sorted(available - used),
    )
