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
    from tfbert.model import BERT
    from tfbert import tasks

    table = [(BERT, BackboneServing)]
    for task_name, module_name, class_name in _TASKS:
        task_cls = getattr(tasks, task_name, None)
        if task_cls is None:
            continue
        module = __import__(f"tfbert.serving.{module_name}", fromlist=[class_name])
        table.append((task_cls, getattr(module, class_name)))
    return table


_TASKS = [
    ("BertClassifier", "classifier", "ClassifierServing"),
    ("BertTokenClassifier", "token_classifier", "TokenClassifierServing"),
    ("BertQuestionAnswerer", "question_answerer", "QuestionAnswererServing"),
    ("BertMultipleChoice", "multiple_choice", "MultipleChoiceServing"),
    ("BertEmbedder", "embedder", "EmbedderServing"),
    ("BertMaskedLM", "masked_lm", "MaskedLMServing"),
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
