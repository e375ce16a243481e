"""Loading and saving BERT weights: keras-hub, Hugging Face and Google TF1 formats.

Each format has one module holding its weight-name table; ``report.py`` holds
the shared assignment logic and the ``LoadReport`` every loader returns.
"""

from tfbert.checkpoints.report import LoadReport
from tfbert.checkpoints.presets import list_presets, preset_vocabulary, resolve_preset
from tfbert.checkpoints.loading import load_pretraining_heads

__all__ = ["LoadReport", "list_presets", "load_pretraining_heads", "preset_vocabulary", "resolve_preset"]
