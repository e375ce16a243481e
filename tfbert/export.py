"""SavedModel export for TF Serving: raw strings in, readable answers out.

``export_saved_model(model, export_dir)`` writes ``export_dir/<version>/``, the
integer version directory TF Serving watches (by default the next free number),
atomically: the SavedModel is built in a hidden, locked temporary directory
(``.<version>.tmp-XXXX``, a name TF Serving skips) and renamed into place, so a
failed or killed export leaves no partial version behind. With
``overwrite=True`` the new version is complete on disk before the old one goes:
the two are exchanged in one rename (``tfbert.fileio.atomic_directory``), so
``export_dir/<version>`` always holds a complete SavedModel. Temporary
directories that killed exports left behind (no live process holds their lock)
are deleted by the next export into the same ``export_dir``.

Every export has two signatures:

- ``serving_default`` takes raw strings ([None] tf.string; tokenization runs
  inside the graph, with the tokenizer's vocabulary saved in the SavedModel)
  and returns readable outputs (labels, answers, entity spans, ...);
- ``serve_tokens`` takes int32 ``token_ids``, ``segment_ids``, ``padding_mask``
  ([None, S]) for servers where tokenization runs on the client or host.

Without a preprocessor (neither passed nor attached to the model) only token
ids can be served: ``serving_default`` is then the ``serve_tokens`` signature.

``sequence_length=None`` (the default) pads each batch only to its longest
sequence, rounded up to a multiple of 8 (``pad_to_multiple_of``) and truncated at
the preprocessor's ``sequence_length`` (or the model's
``max_position_embeddings``). ``sequence_length=int`` exports static
[None, sequence_length] shapes for TPU and XLA.

Each version also holds ``assets.extra/tf_serving_warmup_requests``, two
requests per signature that TF Serving replays when it loads the version
(``warmup=False`` leaves it out), and ``xla=True`` compiles the model part of
every signature with XLA, keeping the string ops outside. The ops of every
export are on ``tfbert.serving.ops``' allow-list: what TF Serving 2.12 and
later can run.

The SavedModel needs only ``tensorflow`` and ``tensorflow_text`` to load::

    import tensorflow as tf, tensorflow_text  # registers the tokenizer ops
    served = tf.saved_model.load("export/1")
    served.signatures["serving_default"](text=tf.constant(["a great movie"]))

Example:
>>> import os, tempfile
>>> import numpy as np, tensorflow as tf
>>> from tfbert import BERT, BertConfig
>>> from tfbert.export import export_saved_model
>>> bert = BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                        num_attention_heads=2, intermediate_size=32))
>>> root = tempfile.mkdtemp()
>>> path = export_saved_model(bert, root)
>>> os.path.basename(path), sorted(os.listdir(root))
('1', ['1'])
>>> served = tf.saved_model.load(path)
>>> sorted(served.signatures)
['serve_tokens', 'serving_default']
>>> ids = tf.constant([[2, 7, 3, 0]])
>>> out = served.signatures["serve_tokens"](token_ids=ids, segment_ids=0 * ids,
...                                         padding_mask=tf.cast(ids > 0, tf.int32))
>>> tuple(out["pooled_output"].shape)
(1, 16)
"""

import os
import re

import tensorflow as tf

from tfbert.fileio import atomic_directory, remove_stale_temporaries
from tfbert.serving import serving_class
from tfbert.serving.warmup import warmup_requests, write_warmup_requests

_VERSION = re.compile(r"^[0-9]+$")
_TEMPORARY = r"^\.[0-9]+\.(tmp|old)-[A-Za-z0-9_]+$"  # what atomic_directory leaves when its writer is killed


# ---- public API --------------------------------------------------------------
def export_saved_model(model, export_dir, preprocessor=None, version=None, sequence_length=None, *,
                       overwrite=False, warmup=True, xla=False, **options):
    """Export ``model`` as a TF Serving SavedModel in ``export_dir/<version>/``.

    Args:
        model: a ``tfbert.BERT`` or a task model (``BertClassifier``,
            ``BertTokenClassifier``, ``BertQuestionAnswerer``,
            ``BertMultipleChoice``, ``BertEmbedder``, ``BertMaskedLM``):
            any model whose class names its serving module in
            ``serving_class``.
        export_dir: the model's base directory (what TF Serving's
            ``--model_base_path`` points at).
        preprocessor: a ``BertPreprocessor``; defaults to
            ``model.preprocessor``. Without one only token ids are served.
        version: integer version directory; default: the next free number
            (1 for a new ``export_dir``).
        sequence_length: ``None`` for dynamic padding (multiple of
            ``pad_to_multiple_of``), or an int for static shapes (TPU/XLA).
        overwrite: replace an existing ``export_dir/<version>``.
        warmup: write ``assets.extra/tf_serving_warmup_requests`` (two
            requests per signature, see ``tfbert.serving.warmup``), which TF
            Serving runs at load time so the first real request is not slow.
        xla: compile the model part of every signature with XLA
            (``jit_compile=True``) for GPU/TPU servers; the string ops
            (tokenizing, decoding answers) stay outside the compiled function.
        **options: the task's options. The model's serving class,
            ``tfbert.serving.serving_class(model)``, declares them in its
            ``option_names`` and documents them in its docstring:

            - ``ClassifierServing``: ``pair``;
            - ``TokenClassifierServing``: ``doc_stride``;
            - ``QuestionAnswererServing``: ``doc_stride``,
              ``max_query_length``, ``max_answer_length``, ``n_best``,
              ``max_windows``;
            - ``MaskedLMServing`` (also ``BertPretrainer``): ``top_k``,
              ``mask_token_id``;
            - ``BackboneServing``, ``EmbedderServing``,
              ``MultipleChoiceServing``: none;
            - all of them: ``pad_to_multiple_of`` (default 8, see
              ``tfbert.serving.base.ServingModule``).

            An option given as ``None`` takes its default. One the serving
            class does not take raises ``tfbert.serving.UnknownOptionError``
            (both a ``TypeError`` and a ``ValueError``) naming the options it
            does take.

    Returns:
        the path of the written version directory.
    """
    version = _resolve_version(export_dir, version, overwrite)
    serving = build_serving_module(model, preprocessor=preprocessor, sequence_length=sequence_length, xla=xla,
                                   **options)
    signatures = serving.signatures()
    path = os.path.join(os.path.abspath(export_dir), str(version))
    remove_stale_temporaries(os.path.abspath(export_dir), _TEMPORARY)
    with atomic_directory(path, overwrite=overwrite) as tmp:
        _save(serving, tmp, signatures)
        if warmup:  # inside the temporary directory: it appears with the version, never after it
            _write_warmup(serving, tmp, signatures)
    return path


def build_serving_module(model, preprocessor=None, sequence_length=None, xla=False, **options):
    """The ``tf.Module`` that ``export_saved_model`` saves (for inspection and tests).

    ``serving_class(model)`` built with the arguments and ``options`` of
    ``export_saved_model``. Its ``signatures()`` returns the concrete
    functions by signature name.
    """
    serving_cls = serving_class(model)  # first: a model tfbert cannot serve is a TypeError, whatever else
    if sequence_length is not None:
        sequence_length = int(sequence_length)
        limit = model_config(model).max_position_embeddings
        if not 2 < sequence_length <= limit:
            raise ValueError(
                f"sequence_length={sequence_length} is out of range: it must be > 2 (room for [CLS] and [SEP]) "
                f"and <= the model's max_position_embeddings={limit}."
            )
    if preprocessor is None:
        preprocessor = getattr(model, "preprocessor", None)
    return serving_cls(model, preprocessor, sequence_length, xla=xla, **options)


def next_version(export_dir):
    """The next free integer version in ``export_dir`` (1 when it holds none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if _VERSION.match(name)]
    return max(versions, default=0) + 1


def model_config(model):
    """The ``BertConfig`` of a backbone or of a task model's backbone."""
    backbone = getattr(model, "backbone", model)
    config = getattr(backbone, "config", None)
    if config is None or not hasattr(config, "max_position_embeddings"):
        raise TypeError(
            f"export_saved_model expects a tfbert.BERT or a tfbert task model, got {type(model).__name__}."
        )
    return config


# ---- internals ---------------------------------------------------------------
def _resolve_version(export_dir, version, overwrite):
    if version is None:
        return next_version(export_dir)
    if isinstance(version, bool) or not isinstance(version, int) and not (
            isinstance(version, str) and _VERSION.match(version)):
        raise ValueError(f"version must be a non-negative integer (TF Serving's version directory), got {version!r}.")
    version = int(version)
    if version < 0:
        raise ValueError(f"version must be a non-negative integer, got {version}.")
    existing = os.path.join(export_dir, str(version))
    if os.path.exists(existing) and not overwrite:
        raise FileExistsError(
            f"{existing} already exists. Pass version=None for the next free version "
            f"({next_version(export_dir)}), or overwrite=True to replace it."
        )
    return version


def _save(serving, path, signatures):
    """Write the SavedModel (a separate function so tests can force a failure mid-write)."""
    # Serving needs no gradients: skip tracing them (faster, smaller).
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
    tf.saved_model.save(serving, path, signatures=signatures, options=options)


def _write_warmup(serving, path, signatures):
    write_warmup_requests(path, warmup_requests(serving, signatures))
