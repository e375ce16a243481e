"""One entry point for reading a preset: ``get_preset_loader(preset)``, one loader class per format.

:func:`get_preset_loader` resolves what a user typed (an offline preset name, a keras-hub
name, a ``kaggle://``/``hf://`` handle or a local directory; see
:mod:`tfbert.checkpoints.presets`) and returns the loader of its format:
:class:`KerasHubLoader`, :class:`HuggingFaceLoader` or :class:`GoogleLoader`. Each answers the
same four questions from the preset's files:

* ``config()``: the ``BertConfig`` the files describe, without reading the weights;
* ``vocabulary()``: ``(vocabulary file or None, lowercase or None)``, what the writers reuse;
* ``tokenizer_options()``: the ``BertTokenizer`` arguments (vocabulary, casing, ...);
* ``load_backbone(cls, dtype=None, **overrides)``: an instance of ``cls`` (``tfbert.BERT`` or
  a subclass) holding the preset's weights, with ``load_report``, ``source_vocabulary`` and
  ``source_lowercase`` set.

``BERT.from_preset`` and ``BertTokenizer.from_preset`` call it from above and pass their own
class in, so this package never imports the model or the tokenizer.

Example:
>>> import os, tempfile
>>> from tfbert import BERT, BertConfig
>>> from tfbert.checkpoints.loaders import get_preset_loader
>>> path = os.path.join(tempfile.mkdtemp(), "tiny_hf")
>>> BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
...                 intermediate_size=32)).save_huggingface(path, vocabulary=[f"t{i}" for i in range(64)], lowercase=True)
>>> loader = get_preset_loader(path)
>>> type(loader).__name__, loader.config().hidden_size, sorted(loader.tokenizer_options())[:2]
('HuggingFaceLoader', 16, ['lowercase', 'strip_accents'])
"""

import logging
import os

from tfbert.checkpoints import google, huggingface, loading
from tfbert.checkpoints.keras_hub import load_from_backbone
from tfbert.checkpoints.overrides import apply_overrides
from tfbert.checkpoints.presets import resolve_preset
from tfbert.checkpoints.vocabulary import check_vocabulary_size
from tfbert.config import read_json_object

logger = logging.getLogger(__name__)


def get_preset_loader(preset):
    """The loader of ``preset``'s format, over its local directory (fetched first where it must be)."""
    directory, fmt = resolve_preset(preset)
    return LOADERS[fmt](directory, preset)


class PresetLoader:
    """What every format answers; subclasses read their own files."""

    format = None
    VOCABULARY_FILE = None  # relative to the directory

    def __init__(self, directory, preset=None):
        self.directory = os.fspath(directory)
        self.preset = os.fspath(preset) if preset is not None else self.directory

    def __repr__(self):
        return f"{type(self).__name__}({self.directory!r})"

    # ---- the four questions ---------------------------------------------
    def config(self):
        """The ``BertConfig`` of the preset's config file (weights unread)."""
        raise NotImplementedError

    def vocabulary(self):
        """``(vocabulary file or None, lowercase or None when the files do not say)``."""
        raise NotImplementedError

    def tokenizer_options(self):
        """``BertTokenizer`` constructor arguments; casing the files leave open comes from the name
        (uncased unless it says "cased", as Google's and Hugging Face's names do)."""
        vocabulary, lowercase = self.vocabulary()
        return {"vocabulary": self._require_vocabulary(vocabulary),
                "lowercase": bool(_name_says_uncased(self._name_hint()) if lowercase is None else lowercase)}

    def load_backbone(self, cls, dtype=None, **overrides):
        """An instance of ``cls`` with the preset's weights; ``overrides`` are BertConfig fields that
        may not contradict the weights' shapes (dropout rates, ...)."""
        kwargs = {"dtype": dtype} if dtype is not None else {}
        bert, report = self._build_and_load(cls, kwargs, overrides)
        vocabulary, lowercase = self.vocabulary()
        if vocabulary is not None:
            check_vocabulary_size(vocabulary, bert.config.vocab_size, report.source)
        bert.source_vocabulary, bert.source_lowercase = vocabulary, lowercase
        bert.load_report = report
        loading.log_report(report, self.preset)
        return bert

    # ---- per format -----------------------------------------------------
    def _build_and_load(self, cls, kwargs, overrides):
        raise NotImplementedError

    def _name_hint(self):
        return os.path.basename(os.path.normpath(self.directory))

    def _vocabulary_file(self):
        """The vocabulary file's path, or None when the preset has none."""
        path = os.path.join(self.directory, self.VOCABULARY_FILE)
        return path if os.path.isfile(path) else None

    def _require_vocabulary(self, vocabulary):
        if vocabulary is None:
            missing = os.path.join(self.directory, self.VOCABULARY_FILE)
            raise FileNotFoundError(f"The preset at {self.directory} has no vocabulary file ({missing} is missing); "
                                    "a tokenizer needs one. Pass BertTokenizer(vocabulary=...) instead.")
        return vocabulary


class KerasHubLoader(PresetLoader):
    """A keras-hub ``BertBackbone`` preset: ``config.json``, ``model.weights.h5``,
    ``assets/tokenizer/vocabulary.txt`` + ``tokenizer.json``, and ``tfbert.json`` when tfbert wrote it."""

    format = "keras_hub"
    VOCABULARY_FILE = os.path.join("assets", "tokenizer", "vocabulary.txt")

    def config(self):
        return loading.keras_hub_config(self.directory)[1]

    def vocabulary(self):
        lowercase = None
        tokenizer_config = os.path.join(self.directory, "tokenizer.json")
        if os.path.isfile(tokenizer_config):
            lowercase = (read_json_object(tokenizer_config).get("config") or {}).get("lowercase")
        return self._vocabulary_file(), lowercase

    def _build_and_load(self, cls, kwargs, overrides):
        config_path, config = loading.keras_hub_config(self.directory)
        bert = cls(apply_overrides(config, overrides, config_path), **kwargs)
        weights_path = loading.require_keras_hub_file(self.directory, loading.KERAS_HUB_WEIGHTS)
        backbone = loading.keras_hub_backbone(self.directory, weights_path)
        return bert, load_from_backbone(bert, backbone, source_label=weights_path)


class HuggingFaceLoader(PresetLoader):
    """A Hugging Face directory: ``config.json`` + ``model.safetensors`` (or ``pytorch_model.bin``),
    ``vocab.txt`` + ``tokenizer_config.json``."""

    format = "huggingface"
    VOCABULARY_FILE = huggingface.VOCAB_FILE

    def config(self):
        return huggingface.read_config(self.directory)

    def vocabulary(self):
        return self._vocabulary_file(), huggingface.read_lowercase(self.directory)

    def tokenizer_options(self):
        settings = self._tokenizer_config()
        lowercase = settings.get("do_lower_case")
        if lowercase is None:
            lowercase = _name_says_uncased(settings.get("name_or_path") or self._name_hint())
        return {"vocabulary": self._require_vocabulary(self._vocabulary_file()),
                "lowercase": bool(lowercase), "strip_accents": settings.get("strip_accents"),
                "tokenize_chinese_chars": settings.get("tokenize_chinese_chars", True)}

    def _tokenizer_config(self):
        path = os.path.join(self.directory, huggingface.TOKENIZER_CONFIG_FILE)
        return read_json_object(path) if os.path.isfile(path) else {}

    def _build_and_load(self, cls, kwargs, overrides):
        huggingface.check_config(self.directory)
        config = apply_overrides(huggingface.read_config(self.directory), overrides,
                                 os.path.join(self.directory, huggingface.CONFIG_FILE))
        bert = cls(config, **kwargs)
        return bert, loading.load_huggingface(bert, self.directory)


class GoogleLoader(HuggingFaceLoader):
    """A google-research/bert folder: ``bert_config.json``, ``bert_model.ckpt.*`` and ``vocab.txt``
    (casing from the folder's name, ``uncased_L-12_H-768_A-12``; its tokenizer reads a
    ``tokenizer_config.json`` beside them as a Hugging Face directory's)."""

    format = "google"
    VOCABULARY_FILE = google.VOCAB_FILE

    def config(self):
        return google.read_checkpoint_config(self.directory)

    def vocabulary(self):
        return self._vocabulary_file(), google.guess_lowercase(self.directory)

    def load_backbone(self, cls, dtype=None, **overrides):
        return google.load_tf_checkpoint(cls, self.directory, dtype=dtype, **overrides)


LOADERS = {loader.format: loader for loader in (KerasHubLoader, HuggingFaceLoader, GoogleLoader)}


def _name_says_uncased(name):
    name = name.lower()
    return "uncased" in name or "cased" not in name
