"""What every serving module shares: the two signatures, packing and input checks.

A serving module is a ``tf.Module`` that uses the Keras model and the
preprocessor and builds two concrete functions; the SavedModel keeps what
those functions read (the model's variables, tracked as a plain list, and the
tokenizer's vocabulary, traced into the graph as constants):

- ``serving_default``: raw strings [None] -> readable outputs (``serve_text``);
- ``serve_tokens``: int32 ``token_ids``, ``segment_ids``, ``padding_mask``
  [None, S] -> outputs (``serve_token_ids``).

Subclasses (one per task) set ``text_inputs`` and implement ``outputs``
(model outputs for an input dict) and, when they read more than the packed
ids, ``serve_text``. A subclass declares its task options (the keyword
arguments ``export_saved_model`` passes on) in ``option_names`` and documents
them in its docstring; any other option is refused with
``UnknownOptionError``. The model class it serves names it in its
``serving_class`` attribute.

Example:
>>> import tensorflow as tf
>>> from tfbert.serving.base import fit_length
>>> inputs = {"token_ids": tf.constant([[2, 5, 3, 0, 0, 0, 0, 0, 0, 0]]),
...           "segment_ids": tf.zeros((1, 10), tf.int32),
...           "padding_mask": tf.constant([[1, 1, 1, 0, 0, 0, 0, 0, 0, 0]])}
>>> tuple(fit_length(inputs, None, 8, 512)["token_ids"].shape)  # 3 tokens -> 8
(1, 8)
>>> tuple(fit_length(inputs, 16, 8, 512)["token_ids"].shape)    # static
(1, 16)
"""

import tensorflow as tf

from tfbert.config import BertConfig

TOKEN_INPUTS = ("token_ids", "segment_ids", "padding_mask")
#: characters kept per word piece a task can read, before tokenizing (BertPreprocessor's rule).
CHARS_PER_PIECE = 100


def string_spec(name):
    """A [None] tf.string input of a raw-text signature."""
    return tf.TensorSpec([None], tf.string, name=name)


def fit_length(inputs, sequence_length, multiple, limit):
    """Pad or cut the packed inputs to their serving width.

    Static (``sequence_length`` an int): exactly that width. Dynamic: the
    longest real sequence in the batch rounded up to ``multiple``, at most
    ``limit`` and at least ``multiple`` (so an empty batch still has a width).
    Only padding is ever cut: the preprocessor already truncated the text.
    """
    mask = tf.cast(inputs["padding_mask"], tf.int32)
    width = serving_width(tf.reduce_sum(mask, axis=1), sequence_length, multiple, limit)
    out = {}
    for name in TOKEN_INPUTS:
        value = tf.cast(inputs[name], tf.int32)
        value = tf.pad(value, [[0, 0], [0, tf.maximum(width - tf.shape(value)[1], 0)]])[:, :width]
        if sequence_length is not None:
            value = tf.ensure_shape(value, [None, sequence_length])
        out[name] = value
    return out


def serving_width(lengths, sequence_length, multiple, limit):
    """The padded width for rows of ``lengths`` tokens: static, or dynamic (see ``fit_length``)."""
    if sequence_length is not None:
        return tf.constant(sequence_length, tf.int32)
    longest = tf.reduce_max(tf.concat([tf.cast(lengths, tf.int32), [0]], axis=0))
    return tf.minimum(tf.maximum((longest + multiple - 1) // multiple * multiple, multiple), limit)


def piece_windows(row_splits, budget, stride, limit=None):
    """Overlapping windows over each row's pieces, and which window each piece is read in.

    The graph twin of ``tfbert.data.tokens.window_starts`` / ``best_windows``:
    windows of at most ``budget[b]`` pieces start every ``stride`` pieces
    until the row's last piece is in one (an empty row gets one empty
    window), and a piece belongs to the window where it has the most context
    (min distance to the window's edges + 0.01 x its length), the earliest on
    a tie.

    Args:
        row_splits: int [B+1] row splits of the flat pieces.
        budget: int [B] pieces per window of each row.
        stride: int, pieces between window starts (1 <= stride <= budget).
        limit: optional int [B]: read only the first ``limit[b]`` pieces.
    Returns:
        ``(example, flat_index, owns)``: the row of each window [W]; ragged
        [W, None] indices of its pieces into the flat pieces; ragged [W, None]
        bool, True where this window is the one a piece is read in.
    """
    row_splits = tf.cast(row_splits, tf.int32)
    lengths = row_splits[1:] - row_splits[:-1]
    if limit is not None:
        lengths = tf.minimum(lengths, limit)
    num_windows = 1 + tf.maximum(0, (lengths - budget + stride - 1) // stride)  # [B]
    example = tf.repeat(tf.range(tf.shape(lengths)[0]), num_windows)  # [W]
    win_start = tf.ragged.range(num_windows).flat_values * stride
    win_end = tf.minimum(win_start + tf.gather(budget, example), tf.gather(lengths, example))
    win_len = win_end - win_start
    row_start = tf.gather(row_splits[:-1], example)
    flat_index = tf.ragged.range(row_start + win_start, row_start + win_end)  # ragged [W, len]
    j = tf.ragged.range(win_len)
    spread = (tf.cast(tf.minimum(j, win_len[:, None] - 1 - j), tf.float64)
              + 0.01 * tf.cast(win_len[:, None], tf.float64)).flat_values
    pieces, total = flat_index.flat_values, row_splits[-1]
    best = tf.math.unsorted_segment_max(spread, pieces, total)
    window_of = tf.cast(flat_index.value_rowids(), tf.int32)
    first_best = tf.math.unsorted_segment_min(
        tf.where(spread >= tf.gather(best, pieces), window_of, tf.int32.max), pieces, total)
    owns = flat_index.with_flat_values(tf.equal(window_of, tf.gather(first_best, pieces)))
    return example, flat_index, owns


def same_batch(first_name, first, *others):
    """Assert that every (name, tensor) in ``others`` has ``first``'s batch size."""
    checks = []
    for name, value in others:
        checks.append(tf.debugging.assert_equal(
            tf.shape(value)[0], tf.shape(first)[0],
            message=f"{name} must have one entry per {first_name} entry (the same batch size)",
        ))
    return checks


class UnknownOptionError(TypeError, ValueError):
    """An export option the model's serving module does not take.

    Both a ``TypeError`` (as for any unexpected keyword argument) and a
    ``ValueError`` (an option that exists for another task), so either
    ``except`` catches it.
    """


class ServingModule(tf.Module):
    """Base serving module: see the module docstring.

    Args:
        model: the Keras model (a ``BERT`` or a task model).
        preprocessor: a ``BertPreprocessor`` or ``None`` (token ids only).
        sequence_length: ``None`` (dynamic) or a static int width.
        pad_to_multiple_of: dynamic widths are rounded up to this (default
            8; every serving module takes it).
        xla: run the model (and only the model: no string op) in a
            ``tf.function(jit_compile=True)``, for GPU/TPU servers.
        **options: the subclass's task options, named in its
            ``option_names`` and documented in its docstring. An option
            given as ``None`` means its default and is dropped; any other
            name raises ``UnknownOptionError``.
    """

    #: names of the [None] tf.string inputs of ``serving_default``.
    text_inputs = ("text",)

    def __init__(self, model, preprocessor=None, sequence_length=None, pad_to_multiple_of=8, xla=False, **options):
        options = self.accepted_options(model, options)  # first: a wrong option fails before any work
        super().__init__(name=f"{type(model).__name__.lower()}_serving")
        self.xla = bool(xla)
        # The Keras objects are held outside TF's object tracking: the SavedModel keeps only
        # what the traced functions use (the variables, see track_variables, and constants).
        # Saving the Keras objects' own attribute graph is not needed and breaks on
        # attributes TF cannot checkpoint (e.g. caches of tf.functions keyed by tuples).
        self._keras = _Untracked(model=model)
        # Untracked too: the SavedModel keeps it as the (XLA-marked) function the signatures call.
        self._keras.compiled = tf.function(lambda inputs: model(inputs, training=False), jit_compile=True,
                                           autograph=False) if self.xla else None
        self.config = BertConfig.coerce(_backbone(model).config.to_dict())
        self.sequence_length = sequence_length
        self.pad_to_multiple_of = 8 if pad_to_multiple_of is None else int(pad_to_multiple_of)
        if self.pad_to_multiple_of < 1:
            raise ValueError(f"pad_to_multiple_of must be >= 1, got {pad_to_multiple_of}.")
        self._keras.preprocessor = preprocessor
        self._keras.tokenizer = tokenizer_of(preprocessor)
        self.max_length = self._truncation_length(model, preprocessor)
        # Tasks that pack with the preprocessor get a copy that truncates at max_length (it
        # shares the tokenizer); fit_length then drops the padding a dynamic batch does not need.
        self._keras.packer = None
        if self.uses_packer and preprocessor is not None:
            if not hasattr(preprocessor, "get_config") or preprocessor is self.tokenizer:
                raise TypeError(
                    f"Serving a {type(model).__name__} from raw text needs a BertPreprocessor (it packs the "
                    f"segments), got {type(preprocessor).__name__}. Pass preprocessor=BertPreprocessor(tokenizer)."
                )
            self._keras.packer = _with_sequence_length(preprocessor, self.max_length)
        self.options = options
        self._check_options()

    @property
    def model(self):
        return self._keras.model

    @property
    def preprocessor(self):
        return self._keras.preprocessor

    @property
    def tokenizer(self):
        return self._keras.tokenizer

    @property
    def packer(self):
        """The preprocessor (a copy truncating at ``max_length``) for tasks that pack with it."""
        return self._keras.packer

    #: whether serving_default packs text with the preprocessor (else with the tokenizer only).
    uses_packer = True
    #: the task options (``export_saved_model`` keyword arguments) this module reads,
    #: besides ``pad_to_multiple_of``, which every serving module takes.
    option_names = ()

    @classmethod
    def accepted_options(cls, model, options):
        """``options`` without the ones given as ``None`` (their defaults apply);
        ``UnknownOptionError`` naming this class's options for any name it does not take."""
        options = {name: value for name, value in options.items() if value is not None}
        unknown = sorted(set(options) - set(cls.option_names))
        if unknown:
            takes = (f"takes {', '.join(cls.option_names)} and pad_to_multiple_of" if cls.option_names
                     else "takes no task option, only pad_to_multiple_of")
            raise UnknownOptionError(
                f"{', '.join(unknown)}: {'not an export option' if len(unknown) == 1 else 'not export options'} "
                f"for a {type(model).__name__}. Its serving module "
                f"{cls.__name__} {takes} (see help({cls.__module__}.{cls.__name__}))."
            )
        return options

    def _truncation_length(self, model, preprocessor):
        """Longest packed sequence served: the static width, else the preprocessor's
        ``sequence_length`` (the task's default window without one), at most
        ``max_position_embeddings``."""
        limit = self.config.max_position_embeddings
        if self.sequence_length is not None:
            return self.sequence_length
        own = getattr(preprocessor, "sequence_length", None)
        if not own and hasattr(model, "_sequence_length"):
            own = model._sequence_length()  # the window the task's predict_text uses
        if not own:
            own = getattr(preprocessor, "max_sequence_length", None)  # a dynamic BertPreprocessor's cap
        return min(int(own), limit) if own else limit

    def _check_options(self):
        """Subclasses validate their options here."""

    def tokenize(self, strings, pieces_needed, keys=None):
        """``tokenizer.tokenize_batch`` keeping the first ``CHARS_PER_PIECE * pieces_needed``
        characters of each string (so a 1 MB request costs what a long paragraph costs), or
        every character with ``pieces_needed=None`` (tasks that read the whole text)."""
        max_chars = None if pieces_needed is None else CHARS_PER_PIECE * pieces_needed
        return self.tokenizer.tokenize_batch(strings, max_chars, keys)

    # ---- signatures ----------------------------------------------------------
    def function(self, fn, specs):
        """``tf.function`` of ``fn`` with a runtime shape check of every input.

        The graph is traced for ``specs``, but a server (or a loaded
        signature) may still feed another rank; ``tf.ensure_shape`` turns that
        into an ``InvalidArgumentError`` naming the input instead of a wrong
        or wrongly shaped result.
        """
        def checked(*args):
            return fn(*[tf.ensure_shape(value, spec.shape) for value, spec in zip(args, specs)])

        return tf.function(checked, input_signature=list(specs), autograph=False)

    def token_specs(self):
        return [tf.TensorSpec([None, self.sequence_length], tf.int32, name=name) for name in TOKEN_INPUTS]

    def signatures(self):
        """``{"serving_default": ..., "serve_tokens": ...}`` concrete functions."""
        tokens = self.function(self.serve_token_ids, self.token_specs())
        signatures = {"serve_tokens": tokens.get_concrete_function()}
        if self.preprocessor is None:
            signatures["serving_default"] = signatures["serve_tokens"]
        else:
            signatures["serving_default"] = self.text_function().get_concrete_function()
        self.track_variables(signatures.values())
        return signatures

    def text_function(self):
        """The ``tf.function`` behind ``serving_default`` (raw strings in)."""
        return self.function(self.serve_text, [string_spec(n) for n in self.text_inputs])

    def track_variables(self, functions):
        """Track the ``tf.Variable`` objects the functions read, as a plain list.

        Keras 3 variables wrap a ``tf.Variable``; tracking the wrapped variables
        directly is what lets TF1-style loaders (TF Serving, ``saved_model_cli
        run``) restore them. Without it those loaders fail with "Could not
        find variable".
        """
        seen, variables = set(), []
        for fn in functions:
            for variable in fn.variables:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    variables.append(variable)
        self.served_variables = variables

    def serve_token_ids(self, token_ids, segment_ids, padding_mask):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        checks = [tf.debugging.assert_equal(
            tf.shape(value), tf.shape(token_ids),
            message=f"{name} must have the shape of token_ids",
        ) for name, value in inputs.items() if name != "token_ids"]
        checks.append(tf.debugging.assert_less_equal(
            tf.shape(token_ids)[-1], self.config.max_position_embeddings,
            message=f"seq_len must be <= max_position_embeddings={self.config.max_position_embeddings}",
        ))
        checks.append(tf.debugging.assert_non_negative(token_ids, message="token_ids must be >= 0"))
        checks.append(tf.debugging.assert_less(
            token_ids, self.config.vocab_size, message=f"token_ids must be < vocab_size={self.config.vocab_size}",
        ))
        with tf.control_dependencies(checks):
            inputs = {name: tf.identity(value) for name, value in inputs.items()}
        return self.outputs(inputs)

    def serve_text(self, text):
        return self.outputs(self.pack(text))

    # ---- helpers -------------------------------------------------------------
    def pack(self, *segments):
        """Raw string segments -> the model input dict at the serving width."""
        if len(segments) > 1:
            checks = same_batch(self.text_inputs[0], segments[0],
                                *zip(self.text_inputs[1:], segments[1:]))
            with tf.control_dependencies(checks):
                segments = tuple(tf.identity(s) for s in segments)
        packed = self.packer(segments[0] if len(segments) == 1 else tuple(segments))
        return fit_length(packed, self.sequence_length, self.pad_to_multiple_of, self.max_length)

    def width(self, lengths):
        """Serving width for packed rows of ``lengths`` tokens."""
        return serving_width(lengths, self.sequence_length, self.pad_to_multiple_of, self.max_length)

    def pack_single(self, ids):
        """Ragged piece ids [B, T] -> ``[CLS] ids [SEP]`` input dict (cut to fit), at the serving width.

        The same packing as ``BertPreprocessor`` for one segment; used by tasks
        that must keep the alignment between pieces and their offsets.
        """
        tok = self.tokenizer
        ids = ids[:, :self.max_length - 2]
        column = tf.ones_like(ids.row_lengths(), tf.int32)[:, None]
        packed = tf.concat([column * tok.cls_token_id, tf.cast(ids, tf.int32), column * tok.sep_token_id], axis=1)
        size = tf.stack([tf.cast(packed.nrows(), tf.int32), self.width(packed.row_lengths())])
        return {
            "token_ids": packed.to_tensor(default_value=tok.pad_token_id, shape=size),
            "segment_ids": tf.zeros(size, tf.int32),
            "padding_mask": tf.ones_like(packed).to_tensor(default_value=0, shape=size),
        }

    def outputs(self, inputs):
        """Model outputs (a dict of tensors) for an input dict."""
        raise NotImplementedError

    def call_model(self, inputs):
        """The model's outputs; with ``xla`` through one jit-compiled function of the token ids."""
        if self._keras.compiled is not None:
            return self._keras.compiled(inputs)
        return self.model(inputs, training=False)


class _Untracked:
    """A plain attribute holder: objects stored here are invisible to TF's object tracking."""

    def __init__(self, **values):
        self.__dict__.update(values)


def tokenizer_of(preprocessor):
    """The tokenizer of a ``BertPreprocessor``, or the argument itself if it is a tokenizer."""
    if preprocessor is None:
        return None
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if tokenizer is None and hasattr(preprocessor, "tokenize_batch"):
        tokenizer = preprocessor
    return tokenizer


def _backbone(model):
    return getattr(model, "backbone", model)


def _with_sequence_length(preprocessor, sequence_length):
    """The preprocessor, or a copy sharing its tokenizer that packs to ``sequence_length``."""
    if preprocessor is None:
        return preprocessor
    if getattr(preprocessor, "sequence_length", None) == sequence_length:
        return preprocessor
    config = preprocessor.get_config()
    config.pop("tokenizer", None)
    config["sequence_length"] = sequence_length
    if "max_sequence_length" in config:
        config["max_sequence_length"] = max(int(config["max_sequence_length"] or 0), sequence_length)
    return type(preprocessor)(tokenizer=preprocessor.tokenizer, **{
        k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")})
