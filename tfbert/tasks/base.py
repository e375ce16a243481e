"""What every task model shares: a ``BERT`` backbone, an optional preprocessor,
``from_preset``, ``compile`` defaults and ``.keras`` serialization.

A task is a ``keras.Model`` whose ``call`` takes the model input dict of int32
tensors and returns tensors (logits), so it trains with ``fit`` and compiles
under XLA. Raw text only enters through the optional ``preprocessor`` used by
the convenience methods (``predict_text`` and friends).

Example:
>>> from tfbert import BERT, BertConfig
>>> from tfbert.tasks.base import BertTask
>>> task = BertTask(BERT(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1,
...                                 num_attention_heads=2, intermediate_size=32)))
>>> task.backbone.config.hidden_size, task.preprocessor is None
(16, True)
"""

import keras

from tfbert.checkpoints.report import LoadReport, relative_variables
from tfbert.export import export_saved_model
from tfbert.optimization import create_optimizer
from tfbert.tasks.strategy_fixes import StrategyFixes


def _serialize(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


def _deserialize(config):
    if config is None or not isinstance(config, dict):
        return config
    return keras.saving.deserialize_keras_object(config)


class BertTask(StrategyFixes, keras.Model):
    """Base class of the task models; subclasses add a head and ``call``.

    Trains under any ``tf.distribute`` strategy: ``StrategyFixes``
    (``tfbert/tasks/strategy_fixes.py``) works around what Keras 3.15 gets wrong there.

    Args:
        backbone: a ``tfbert.BERT``.
        preprocessor: optional ``tfbert.preprocessing.BertPreprocessor`` (or
            any callable mapping raw text to the input dict) for the
            raw-text helpers. ``fit``/``predict`` never use it.
    """

    #: peak learning rate of the default optimizer in ``compile``.
    default_learning_rate = 5e-5
    #: whether the task reads the backbone's ``pooled_output``. When it does
    #: not, the pooler's weights get no gradient and are left out of
    #: ``trainable_weights`` (they are still saved and loaded).
    uses_pooler = True
    #: the ``tfbert.serving.ServingModule`` subclass that ``export_saved_model`` saves the task
    #: with; each task names its own (its module imports it), ``None`` here: not exportable.
    serving_class = None

    def __init__(self, backbone, preprocessor=None, **kwargs):
        super().__init__(**kwargs)
        if not hasattr(backbone, "config") or not hasattr(backbone.config, "hidden_size"):
            raise TypeError(f"backbone must be a tfbert.BERT, got {type(backbone).__name__}.")
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.load_report = None

    @property
    def hidden_size(self):
        return self.backbone.config.hidden_size

    @property
    def trainable_variables(self):
        variables = super().trainable_variables
        if self.uses_pooler:
            return variables
        pooler = {id(v) for v in self.backbone.pooler.weights}
        return [v for v in variables if id(v) not in pooler]

    @property
    def trainable_weights(self):
        return self.trainable_variables

    def override_dropout(self, rate):
        """Set every dropout rate of the model (backbone and head) to ``rate``; 0 turns dropout off.

        Call it before training (the rates are read when the step is traced). The
        backbone's config and each layer's config record the new rate, so a saved
        ``.keras`` file reloads with it.
        """
        import dataclasses

        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}.")
        self.backbone.config = dataclasses.replace(self.backbone.config, hidden_dropout_prob=rate,
                                                   attention_probs_dropout_prob=rate)
        for layer in self._flatten_layers(include_self=True):
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = rate
            for name in ("dropout_rate", "attention_dropout"):
                if isinstance(getattr(layer, name, None), float):
                    setattr(layer, name, rate)
        if isinstance(getattr(self, "dropout", None), float):
            self.dropout = rate
        return self

    # ---- compile ---------------------------------------------------------
    def default_loss(self):
        raise NotImplementedError

    def default_metrics(self):
        return None

    def compile(self, optimizer="auto", loss="auto", metrics="auto", *, learning_rate=None,
                num_train_steps=None, warmup_fraction=0.1, weight_decay=0.01, **kwargs):
        """``keras.Model.compile`` with BERT fine-tuning defaults.

        ``optimizer="auto"`` builds ``tfbert.optimization.create_optimizer``
        (AdamW, weight decay 0.01 without LayerNorm/bias, global-norm clip
        1.0) with ``learning_rate`` (default ``default_learning_rate``) and,
        when ``num_train_steps`` is given, linear warmup
        (``warmup_fraction``) then linear decay to 0. ``loss="auto"`` and
        ``metrics="auto"`` pick the task's loss and metrics. Any explicit
        value is used as given; other keyword arguments go to Keras.
        """
        if isinstance(optimizer, str) and optimizer == "auto":
            optimizer = create_optimizer(
                learning_rate if learning_rate is not None else self.default_learning_rate,
                num_train_steps=num_train_steps, warmup_fraction=warmup_fraction, weight_decay=weight_decay,
            )
        elif learning_rate is not None or num_train_steps is not None:
            raise ValueError(
                "learning_rate/num_train_steps only configure optimizer='auto'; "
                f"you passed optimizer={optimizer!r} as well. Set the rate on your optimizer instead."
            )
        if isinstance(loss, str) and loss == "auto":
            loss = self.default_loss()
        if isinstance(metrics, str) and metrics == "auto":
            metrics = self.default_metrics()
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        """Re-compile after ``keras.saving.load_model`` (needed because ``compile`` is overridden)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    # ---- presets ---------------------------------------------------------
    #: ``sequence_length`` of the preprocessor ``from_preset`` builds (None: pad each batch to its longest).
    preset_sequence_length = 128

    @classmethod
    def from_preset(cls, preset, sequence_length="default", **kwargs):
        """Pretrained backbone + its tokenizer; the task head starts fresh (see ``load_report``).

        ``preset`` is anything ``BERT.from_preset`` takes (an offline name such
        as ``minilm_l6_en_uncased``, a keras-hub name or handle, a Hugging Face,
        keras-hub or Google directory). ``sequence_length`` (default: the task's
        ``preset_sequence_length``) may not exceed the checkpoint's positions;
        every other keyword argument goes to the task's constructor.
        """
        if sequence_length == "default":
            sequence_length = cls.preset_sequence_length
        backbone, preprocessor = cls._backbone_and_preprocessor(
            preset, sequence_length, preprocessor_kwargs=cls._preset_preprocessor_options(preset, kwargs))
        model = cls(backbone, preprocessor=preprocessor, **kwargs)
        model._report_new_head(backbone.load_report, str(preset))
        return model

    @classmethod
    def _preset_preprocessor_options(cls, preset, kwargs):
        """Extra ``BertPreprocessor`` options for ``from_preset``: a task may read them from the
        preset or take (pop) its own keyword arguments out of ``kwargs``. None by default."""
        return None

    @classmethod
    def _backbone_and_preprocessor(cls, preset, sequence_length=None, preprocessor_kwargs=None):
        from tfbert.model import BERT
        from tfbert.preprocessing import BertPreprocessor, BertTokenizer

        backbone = BERT.from_preset(preset)
        tokenizer = BertTokenizer.from_preset(preset)
        options = {"max_sequence_length": backbone.config.max_position_embeddings, **(preprocessor_kwargs or {})}
        if sequence_length is not None:  # beyond the model's positions: an error, not a silent cut
            from tfbert.checkpoints.loading import check_sequence_length

            check_sequence_length(sequence_length, backbone.config, preset)
        preprocessor = BertPreprocessor(tokenizer, sequence_length=sequence_length, **options)
        return backbone, preprocessor

    def _report_new_head(self, backbone_report, source):
        """Fold the backbone's LoadReport into one for the whole task model:
        backbone weights as loaded, every head weight as newly initialised."""
        backbone_vars = {v.path for v in self.backbone.weights}
        head = sorted(n for n, v in relative_variables(self).items() if v.path not in backbone_vars)
        if backbone_report is None:
            backbone_report = LoadReport(source=source)
        prefix = f"{self.backbone.name}/"
        self.load_report = LoadReport(
            source=backbone_report.source,
            loaded=[prefix + n for n in backbone_report.loaded],
            newly_initialized=sorted([prefix + n for n in backbone_report.newly_initialized] + head),
            unused=list(backbone_report.unused),
        )
        return self.load_report

    # ---- raw text --------------------------------------------------------
    def _require_preprocessor(self, method):
        if self.preprocessor is None:
            raise ValueError(
                f"{type(self).__name__}.{method} needs a preprocessor to turn text into token ids. "
                "Build the model with from_preset(...) or pass preprocessor=BertPreprocessor(tokenizer, ...)."
            )
        return self.preprocessor

    # ---- serving ---------------------------------------------------------
    def export_saved_model(self, export_dir, **kwargs):
        """Export a TF Serving SavedModel (raw strings in) to ``export_dir/<version>/``.

        See ``tfbert.export.export_saved_model`` for the arguments and signatures, and
        the docstring of ``self.serving_class`` for this task's options.
        """
        return export_saved_model(self, export_dir, **kwargs)

    # ---- serialization ---------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": _serialize(self.backbone),
            "preprocessor": _serialize(self.preprocessor),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = _deserialize(config["backbone"])
        config["preprocessor"] = _deserialize(config.get("preprocessor"))
        return cls(**config)
