"""tfbert: BERT for Keras 3 / TensorFlow: pretrain, fine-tune and serve.

The package pins the Keras backend to TensorFlow before Keras is imported,
so users never have to set ``KERAS_BACKEND`` themselves.
"""

import os

_backend = os.environ.get("KERAS_BACKEND")
if _backend not in (None, "", "tensorflow"):
    raise ImportError(
        f"tfbert runs on the TensorFlow backend, but KERAS_BACKEND={_backend!r}. "
        "Unset KERAS_BACKEND or set it to 'tensorflow' before importing tfbert."
    )
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The public names load on first use (PEP 562), so that the ``tfbert`` command (``tfbert --help``)
# starts without importing TensorFlow; ``from tfbert import BERT`` works as usual. (A library
# user's ``import tfbert`` imports ``tfbert.tasks``, and with it TensorFlow, at the end of this file.)
_EXPORTS = {
    "BertConfig": "tfbert.config",
    "BERT": "tfbert.model",
    "BertClassifier": "tfbert.tasks.classifier",
    "BertEmbedder": "tfbert.tasks.embedder",
    "BertMultipleChoice": "tfbert.tasks.multiple_choice",
    "BertMaskedLM": "tfbert.tasks.pretrainer",
    "BertPretrainer": "tfbert.tasks.pretrainer",
    "BertQuestionAnswerer": "tfbert.tasks.question_answerer",
    "BertTokenClassifier": "tfbert.tasks.token_classifier",
    "BertPreprocessor": "tfbert.preprocessing",
    "BertTokenizer": "tfbert.preprocessing",
    "train_wordpiece_vocabulary": "tfbert.preprocessing.vocabulary",
    "fit_resumable": "tfbert.training",
    "export_saved_model": "tfbert.export",
}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tfbert' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__version__ = "0.1.0"

__all__ = [
    "BERT",
    "BertClassifier",
    "BertConfig",
    "BertEmbedder",
    "BertMaskedLM",
    "BertMultipleChoice",
    "BertPreprocessor",
    "BertPretrainer",
    "BertQuestionAnswerer",
    "BertTokenClassifier",
    "BertTokenizer",
    "__version__",
    "export_saved_model",
    "fit_resumable",
    "train_wordpiece_vocabulary",
]


def _started_as_the_command():
    """Whether this process is the ``tfbert`` command (console script or ``python -m tfbert``)."""
    import sys

    if sys.argv and os.path.basename(sys.argv[0]) == "tfbert":
        return True
    argv = list(getattr(sys, "orig_argv", ()))
    return any(flag == "-m" and name == "tfbert" for flag, name in zip(argv, argv[1:]))


if not _started_as_the_command():
    # A library user: register every class a .keras file may name now, so that
    # ``keras.saving.load_model`` reads tfbert models after a plain ``import tfbert``.
    # The command imports them only when it loads a model (cli/sources.py), so that
    # ``tfbert --help`` never imports TensorFlow.
    import tfbert.tasks  # noqa: E402, F401

