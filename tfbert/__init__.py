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

from tfbert.config import BertConfig  # noqa: E402
from tfbert.model import BERT  # noqa: E402
from tfbert.tasks.classifier import BertClassifier  # noqa: E402
from tfbert.tasks.embedder import BertEmbedder  # noqa: E402
from tfbert.tasks.multiple_choice import BertMultipleChoice  # noqa: E402
from tfbert.tasks.pretrainer import BertMaskedLM, BertPretrainer  # noqa: E402
from tfbert.tasks.question_answerer import BertQuestionAnswerer  # noqa: E402
from tfbert.tasks.token_classifier import BertTokenClassifier  # noqa: E402

from tfbert.preprocessing import BertPreprocessor, BertTokenizer  # noqa: E402
from tfbert.preprocessing.vocabulary import train_wordpiece_vocabulary  # noqa: E402
from tfbert.training import fit_resumable  # noqa: E402
from tfbert.export import export_saved_model  # noqa: E402

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
