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

_VERSION = re.compile(r"^[0-9]+$")
_TEMPORARY = r"^\.[0-9]+\.(tmp|old)-[A-Za-z0-9_]+$"  # what atomic_directory leaves when its writer is killed


# ---- public API --------------------------------------------------------------
def export_saved_model(model, export_dir, preprocessor=None, version=None, sequence_length=None, *,
                       pad_to_multiple_of=8, pair=None, top_k=None, doc_stride=None, max_query_length=None,
                       max_answer_length=None, n_best=None, max_windows=None, mask_token_id=None,
                       overwrite=False):
    """Export ``model`` as a TF Serving SavedModel in ``export_dir/<version>/``.

    Args:
        model: a ``tfbert.BERT`` or a task model (``BertClassifier``,
            ``BertTokenClassifier``, ``BertQuestionAnswerer``,
            ``BertMultipleChoice``, ``BertEmbedder``, ``BertMaskedLM``).
        export_dir: the model's base directory (what TF Serving's
            ``--model_base_path`` points at).
        preprocessor: a ``BertPreprocessor``; defaults to
            ``model.preprocessor``. Without one only token ids are served.
        version: integer version directory; default: the next free number
            (1 for a new ``export_dir``).
        sequence_length: ``None`` for dynamic padding (multiple of
            ``pad_to_multiple_of``), or an int for static shapes (TPU/XLA).
        pair: classifier: ``True`` adds the ``text_pair`` input (sentence-pair
            tasks such as MRPC or NLI); default ``False``.
        top_k: masked LM: candidate tokens per ``[MASK]`` (default 5).
        mask_token_id: masked LM exported without a tokenizer: the id of
            ``[MASK]`` for ``serve_tokens``.
        doc_stride, max_query_length, max_answer_length, n_best, max_windows:
            question answering: pieces between window starts, the question's
            piece budget, the longest answer in tokens, start/end candidates
            per window (default: the model's own settings), and how many
            windows of one context are read (default 16; context beyond them
            is not searched).
        overwrite: replace an existing ``export_dir/<version>``.

    Returns:
        the path of the written version directory.
    """
    version = _resolve_version(export_dir, version, overwrite)
    serving = build_serving_module(
        model, preprocessor=preprocessor, sequence_length=sequence_length,
        pad_to_multiple_of=pad_to_multiple_of, pair=pair, top_k=top_k, mask_token_id=mask_token_id,
        doc_stride=doc_stride, max_query_length=max_query_length, max_answer_length=max_answer_length,
        n_best=n_best, max_windows=max_windows,
    )
    signatures = serving.signatures()
    path = os.path.join(os.path.abspath(export_dir), str(version))
    remove_stale_temporaries(os.path.abspath(export_dir), _TEMPORARY)
    with atomic_directory(path, overwrite=overwrite) as tmp:
        _save(serving, tmp, signatures)
    return path


def build_serving_module(model, preprocessor=None, sequence_length=None, **options):
    """The ``tf.Module`` that ``export_saved_model`` saves (for inspection and tests).

    Its ``signatures()`` returns the concrete functions by signature name.
    """
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
    serving_cls = _serving_class(model)
    return serving_cls(model, preprocessor, sequence_length, **options)


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


def _serving_class(model):
    from tfbert.serving import serving_class

    return serving_class(model)
