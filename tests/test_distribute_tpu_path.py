"""The TPU code path, run on CPU: the default strategy with the TPU settings of tfbert.distribute.

There is no TPU here. The test runs what ``--strategy tpu`` and
``examples/colab_tpu.ipynb`` run (static shapes from a fixed sequence length and
``drop_remainder=True``, host-side tokenization in tf.data, ``mixed_bfloat16``,
``jit_compile`` and ``steps_per_execution``) and asserts that every tensor
entering the compiled step has a fully defined shape and that the step compiles
with XLA.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbert
from test_case import TINY
from tfbert.distribute import assert_static_shapes, pin_batch_size, tpu_compile_options
from tfbert.preprocessing import BertPreprocessor, BertTokenizer
from tfbert.tasks import BertClassifier

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "bad", "film", "dull", "fun"]
TEXTS = ["a good film", "a bad film", "dull", "good fun", "a dull bad film", "fun"] * 4
LABELS = [1, 0, 0, 1, 0, 1] * 4


def tpu_batches(preprocessor, batch):
    ds = tf.data.Dataset.from_tensor_slices((TEXTS, LABELS)).shuffle(len(TEXTS), seed=0).repeat()
    ds = ds.batch(batch, drop_remainder=True)
    ds = ds.map(lambda text, label: (preprocessor(text), label))  # tokenized on the host, in tf.data
    return pin_batch_size(ds, batch)


def test_tpu_settings_on_cpu_give_static_shapes_and_an_xla_step():
    keras.config.set_dtype_policy("mixed_bfloat16")
    strategy = tf.distribute.get_strategy()
    preprocessor = BertPreprocessor(BertTokenizer(VOCAB), sequence_length=16)
    train = tpu_batches(preprocessor, 8)
    spec = assert_static_shapes(train)
    assert spec[0]["token_ids"].shape == (8, 16) and spec[1].shape == (8,)
    with strategy.scope():
        config = tfbert.BertConfig(**{**TINY, "vocab_size": len(VOCAB), "num_hidden_layers": 1})
        model = BertClassifier(tfbert.BERT(config), num_classes=2)
        model.compile(learning_rate=1e-3, num_train_steps=4, **tpu_compile_options(steps_per_epoch=4,
                                                                                    steps_per_execution=2))
    assert model.jit_compile is True and int(model.steps_per_execution) == 2
    history = model.fit(train, epochs=1, steps_per_epoch=4, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][-1]) and int(model.optimizer.iterations) == 4

    x, y = next(iter(train))
    step = tf.function(lambda x, y: model.train_step((x, y)), jit_compile=True)
    concrete = step.get_concrete_function(x, y)
    entering = [t for t in concrete.inputs if t.dtype != tf.resource]  # the data, not the variables
    assert entering and all(t.shape.is_fully_defined() for t in entering), [t.shape for t in entering]
    hlo = step.experimental_get_compiler_ir(x, y)(stage="hlo")
    assert "HloModule" in hlo and "bf16" in hlo  # XLA compiled it, with bfloat16 compute


def test_preprocessor_output_loses_the_static_batch_size():
    # why pin_batch_size exists: BertPreprocessor gives segment_ids and padding_mask a [None, S] shape
    preprocessor = BertPreprocessor(BertTokenizer(VOCAB), sequence_length=16)
    ds = tf.data.Dataset.from_tensor_slices(TEXTS).batch(8, drop_remainder=True).map(preprocessor)
    assert not all(spec.shape.is_fully_defined() for spec in ds.element_spec.values())
    assert all(spec.shape == (8, 16) for spec in pin_batch_size(ds, 8).element_spec.values())


def test_dynamic_shapes_are_refused_with_what_to_do():
    from tfbert.data.examples import ClassificationData, TextExample
    from tfbert.data.pipeline import classification_dataset

    data = ClassificationData([TextExample(t, l) for t, l in zip(TEXTS, LABELS)], num_classes=2)
    bucketed = classification_dataset(data, BertPreprocessor(BertTokenizer(VOCAB), sequence_length=16), 4)
    with pytest.raises(ValueError, match=r"\[0\]\['padding_mask'\] \(None, None\).*drop_remainder=True"):
        assert_static_shapes(bucketed)


def test_colab_notebook_uses_the_same_library_calls():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "colab_tpu.ipynb")
    with open(path, encoding="utf-8") as f:
        code = "\n".join("".join(c["source"]) for c in json.load(f)["cells"] if c["cell_type"] == "code")
    for call in ("get_strategy(\"auto\")", "assert_static_shapes(train_ds)", "tpu_compile_options(", "pin_batch_size(",
                 "drop_remainder=True", "mixed_bfloat16", "experimental_io_device"):
        assert call in code, call
