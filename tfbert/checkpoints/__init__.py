"""Loading and saving BERT weights: keras-hub, Hugging Face and Google TF1 formats.

Each format has one module holding its weight-name table; ``report.py`` holds
the shared assignment logic and the ``LoadReport`` every loader returns.
"""

from tfbert.checkpoints.report import LoadReport

__all__ = ["LoadReport"]
