"""Loading and saving BERT weights: keras-hub, Hugging Face and Google TF1 formats.

``get_preset_loader(preset)`` (``loaders.py``) is the one entry point for reading a preset,
with one loader class per format. Each format has one module holding its weight-name table;
``report.py`` holds the shared assignment logic and the ``LoadReport`` every loader returns.
Nothing here imports the model or the tokenizer: their ``from_preset`` pass their class in.
"""

from tfbert.checkpoints.report import LoadReport
from tfbert.checkpoints.presets import list_presets, resolve_preset
from tfbert.checkpoints.loading import load_pretraining_heads
from tfbert.checkpoints.loaders import get_preset_loader

__all__ = ["LoadReport", "get_preset_loader", "list_presets", "load_pretraining_heads", "resolve_preset"]
