"""Serving modules: one ``tf.Module`` per task that ``tfbert.export`` saves.

Each tfbert model class names the module that serves it in its
``serving_class`` attribute (``BERT.serving_class`` is ``BackboneServing``,
``BertClassifier.serving_class`` is ``ClassifierServing``, ...); the task
modules import their serving module, and this package imports neither
``tfbert.model`` nor ``tfbert.tasks``. ``serving_class(model)`` reads that
attribute, and each serving class declares the export options it takes
(``option_names``) and documents them in its docstring.

Example:
>>> from tfbert import BERT, BertConfig
>>> from tfbert.serving import serving_class
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> serving_class(bert).__name__, serving_class(bert).option_names
('BackboneServing', ())
"""

from tfbert.serving.backbone import BackboneServing
from tfbert.serving.base import ServingModule, UnknownOptionError
from tfbert.serving.classifier import ClassifierServing


def serving_class(model):
    """The serving module class for ``model``: ``type(model).serving_class``.

    Raises ``TypeError`` for a model whose class names none (a plain
    ``keras.Model``, or a ``BertTask`` subclass that does not set it).
    """
    cls = getattr(type(model), "serving_class", None)
    if cls is None:
        raise TypeError(
            f"tfbert cannot export a {type(model).__name__}: export_saved_model serves tfbert.BERT and the "
            "tfbert task models, whose classes name their serving module in a serving_class attribute. "
            "For another Keras model use keras.export.ExportArchive."
        )
    if not (isinstance(cls, type) and issubclass(cls, ServingModule)):
        raise TypeError(
            f"{type(model).__name__}.serving_class must be a subclass of tfbert.serving.ServingModule, "
            f"got {cls!r}."
        )
    return cls


__all__ = ["BackboneServing", "ClassifierServing", "ServingModule", "UnknownOptionError", "serving_class"]
