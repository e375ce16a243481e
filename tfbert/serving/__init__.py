"""Serving modules: one ``tf.Module`` per task that ``tfbert.export`` saves.

``serving_class(model)`` picks the module for a model: the module of the
most specific tfbert class the model is an instance of.

Example:
>>> from tfbert import BERT, BertConfig
>>> from tfbert.serving import serving_class
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> serving_class(bert).__name__
'BackboneServing'
"""

from tfbert.serving.backbone import BackboneServing
from tfbert.serving.base import ServingModule
from tfbert.serving.classifier import ClassifierServing


def _task_table():
    import importlib

    from tfbert.model import BERT

    table = [(BERT, BackboneServing)]
    for task_module, task_name, module_name, class_name in _TASKS:
        try:
            task_cls = getattr(importlib.import_module(task_module), task_name)
        except (ImportError, AttributeError):  # a task this installation does not have
            continue
        serving_module = importlib.import_module(f"tfbert.serving.{module_name}")
        table.append((task_cls, getattr(serving_module, class_name)))
    return table


_TASKS = [
    ("tfbert.tasks.classifier", "BertClassifier", "classifier", "ClassifierServing"),
    ("tfbert.tasks.token_classifier", "BertTokenClassifier", "token_classifier", "TokenClassifierServing"),
    ("tfbert.tasks.question_answerer", "BertQuestionAnswerer", "question_answerer", "QuestionAnswererServing"),
    ("tfbert.tasks.multiple_choice", "BertMultipleChoice", "multiple_choice", "MultipleChoiceServing"),
    ("tfbert.tasks.embedder", "BertEmbedder", "embedder", "EmbedderServing"),
    ("tfbert.tasks.pretrainer", "BertMaskedLM", "masked_lm", "MaskedLMServing"),
]


def serving_class(model):
    """The serving module class for ``model``; ``TypeError`` if tfbert cannot serve it."""
    table = dict(_task_table())
    for klass in type(model).__mro__:
        if klass in table:
            return table[klass]
    known = ", ".join(cls.__name__ for cls in table)
    raise TypeError(
        f"tfbert cannot export a {type(model).__name__}: export_saved_model serves {known}. "
        "For another Keras model use keras.export.ExportArchive."
    )


__all__ = ["BackboneServing", "ClassifierServing", "ServingModule", "serving_class"]
