"""`--static-shapes` (what `--strategy tpu` turns on): the training commands on fixed shapes and an XLA step.

There is no TPU here: these run the TPU's data and compile path on the default strategy. For tasks
of each input layout and for pretraining, what reaches `fit` has fully defined shapes (batch x
--max-seq-len), the model is compiled with jit_compile and several steps per call, and the run
trains to the end.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfbert.training
from test_case import save_tiny_hf_preset
from test_cli_tasks import VOCAB, run_cli, write_task_files
from tfbert.distribute import replica_batches, static_batches, steps_per_execution_for


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    """A Hugging Face directory holding a tiny random BERT whose vocabulary has every word of the data."""
    return save_tiny_hf_preset(str(tmp_path_factory.mktemp("presets") / "tiny_hf"), VOCAB)


class FitSpy:
    """Records what the CLI hands to the real fit_resumable, then runs it."""

    def __init__(self, monkeypatch):
        self.calls = []
        real = tfbert.training.fit_resumable

        def spy(model, dataset, **kwargs):
            validation = kwargs.get("validation_data")
            self.calls.append({"spec": dataset.element_spec, "jit_compile": model.jit_compile,
                               "steps_per_execution": int(model.steps_per_execution),
                               "validation_spec": None if validation is None else validation.element_spec})
            return real(model, dataset, **kwargs)

        monkeypatch.setattr(tfbert.training, "fit_resumable", spy)


def all_static(spec):
    return all(leaf.shape.is_fully_defined() for leaf in tf.nest.flatten(spec))


def write_data(task, directory):
    """(train, validation) files of the task's format."""
    if task == "ner":
        sentences = [("a good film", "O B-MISC I-MISC"), ("great fun", "B-PER O"), ("dull plot", "O B-LOC"),
                     ("an awful movie", "O O B-MISC")]
        paths = []
        for name, repeat in (("train", 6), ("valid", 2)):
            path = directory / f"{name}.conll"
            path.write_text("-DOCSTART- -X- -X- O\n\n" + "\n".join(
                "".join(f"{w} NN O {t}\n" for w, t in zip(words.split(), tags.split()))
                for words, tags in sentences * repeat))
            paths.append(path)
        return paths
    return write_task_files(task, directory)[:2]


# Three tasks cover the three shapes of what static_batches re-batches: ner (a label per token, padded
# with -100), multiple_choice ([B, C, S] inputs) and embedding (two input dicts). classification,
# regression and qa hand it flat [B, S] inputs and one label per row, as the unit tests below do.
@pytest.mark.parametrize("task", ["ner", "multiple_choice", "embedding"])
def test_finetune_with_static_shapes_feeds_fit_fixed_shapes_and_compiles_with_xla(capsys, tmp_path, monkeypatch,
                                                                                tiny_preset, task):
    spy = FitSpy(monkeypatch)
    train, valid = write_data(task, tmp_path)
    run_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "finetune", "--task", task, "--preset", tiny_preset, "--data", train,
                             "--validation-data", valid, "-o", run_dir, "--epochs", "1", "--batch-size", "2",
                             "--max-seq-len", "32", "--learning-rate", "1e-3", "--static-shapes",
                             *(["--doc-stride", "8"] if task == "qa" else []))
    assert code == 0, err
    (call,) = spy.calls
    assert all_static(call["spec"]), call["spec"]
    assert all_static(call["validation_spec"]), call["validation_spec"]
    inputs = call["spec"][0]
    token_ids = (inputs["a"] if task == "embedding" else inputs)["token_ids"]
    assert token_ids.shape[0] == 2 and token_ids.shape[-1] == 32  # --batch-size x --max-seq-len
    assert call["jit_compile"] is True and call["steps_per_execution"] >= 1
    record = json.loads((run_dir / "run.json").read_text())
    assert record["settings"]["static_shapes"] is True and record.get("finished") is True
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert np.isfinite(metrics["history"]["loss"][-1])


def test_pretrain_with_static_shapes_compiles_with_xla(capsys, tmp_path, monkeypatch):
    spy = FitSpy(monkeypatch)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(" ".join(f"word{(d * 7 + i) % 40} is here." for i in range(12))
                                  for d in range(6)) + "\n")
    code, out, err = run_cli(capsys, "pretrain", "--corpus", corpus, "--config", "tiny", "--vocab-size", "120",
                             "-o", tmp_path / "pt", "--steps", "4", "--batch-size", "4", "--max-seq-len", "32",
                             "--static-shapes")
    assert code == 0, err
    (call,) = spy.calls
    steps_per_epoch = json.loads((tmp_path / "pt" / "metrics.json").read_text())["steps_per_epoch"]
    assert all_static(call["spec"]) and call["jit_compile"] is True
    assert call["steps_per_execution"] == steps_per_execution_for(steps_per_epoch, 4)
    assert json.loads((tmp_path / "pt" / "run.json").read_text())["settings"]["static_shapes"] is True


def test_static_shapes_refuses_a_batch_that_does_not_split_over_the_replicas(capsys, tmp_path):
    # two logical CPUs make a MirroredStrategy of 2 replicas only in a fresh process; the check itself
    # is plain arithmetic, run here on the strategy the test process has (1 replica: every size splits)
    import argparse

    from tfbert.cli.distributed import static_shapes
    from tfbert.cli.options import UsageError

    class Run:
        def update_record(self, **kwargs):
            raise AssertionError("not a TPU: nothing to record")

    class TwoReplicas:
        num_replicas_in_sync = 2

    args = argparse.Namespace(distribute_strategy=TwoReplicas())
    with pytest.raises(UsageError, match="--batch-size 5 is not a multiple of 2"):
        static_shapes(args, Run(), {"static_shapes": True, "batch_size": 5})
    assert static_shapes(args, Run(), {"static_shapes": True, "batch_size": 6}) is True
    assert static_shapes(args, Run(), {"static_shapes": False, "batch_size": 5}) is False


def ragged_batches():
    """Two length buckets as tfbert's pipelines make them: (inputs, labels) with [B, L] of varying B and L."""
    first = ({"token_ids": tf.constant([[5, 6, 7], [8, 9, 0]]), "padding_mask": tf.constant([[1, 1, 1], [1, 1, 0]])},
             tf.constant([[1, 2, 3], [4, 5, -100]]))
    second = ({"token_ids": tf.constant([[10, 11, 12, 13, 14]]), "padding_mask": tf.constant([[1, 1, 1, 1, 1]])},
              tf.constant([[6, 7, 8, 9, 10]]))
    third = ({"token_ids": tf.constant([[15], [16]]), "padding_mask": tf.constant([[1], [1]])},
             tf.constant([[11], [12]]))
    parts = [tf.data.Dataset.from_tensors(b) for b in (first, second, third)]
    return parts[0].concatenate(parts[1]).concatenate(parts[2])


def test_static_batches_keeps_the_rows_in_order_pads_the_sequence_axis_and_drops_the_remainder():
    fixed = static_batches(ragged_batches(), 2, 6, label_padding=-100)
    spec = fixed.element_spec
    assert spec[0]["token_ids"].shape == (2, 6) and spec[1].shape == (2, 6)
    assert len(fixed) == 2  # 5 rows -> 2 full batches, the fifth row left out
    batches = list(fixed.as_numpy_iterator())
    token_ids = np.concatenate([x["token_ids"] for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    np.testing.assert_array_equal(token_ids, [[5, 6, 7, 0, 0, 0], [8, 9, 0, 0, 0, 0], [10, 11, 12, 13, 14, 0],
                                              [15, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(labels, [[1, 2, 3, -100, -100, -100], [4, 5, -100, -100, -100, -100],
                                           [6, 7, 8, 9, 10, -100], [11, -100, -100, -100, -100, -100]])


def test_static_batches_says_when_there_is_not_one_full_batch():
    with pytest.raises(ValueError, match="the validation data has 5 rows and the batch size is 8"):
        static_batches(ragged_batches(), 8, 6, what="the validation data")


def test_a_static_global_batch_keeps_a_static_replica_batch():
    class Context:  # what tf.distribute hands the dataset function: 2 replicas, 1 input pipeline
        num_replicas_in_sync, num_input_pipelines, input_pipeline_id = 2, 1, 0

    fixed = static_batches(ragged_batches(), 2, 6)
    per_replica = replica_batches(fixed, Context())
    assert per_replica.element_spec[0]["token_ids"].shape == (1, 6)
    rows = [x["token_ids"][0, 0] for x, _ in per_replica.as_numpy_iterator()]
    assert rows == [5, 8, 10, 15]  # replica 0 then 1 of each batch: every row once, in order


def test_steps_per_execution_divides_the_epoch_and_the_run():
    assert steps_per_execution_for(100) == 25 and steps_per_execution_for(7) == 7
    assert steps_per_execution_for(96, total_steps=150) == 6 and steps_per_execution_for(1) == 1
    for spe, total in ((100, 250), (64, 640), (13, 20)):
        d = steps_per_execution_for(spe, total)
        assert spe % d == 0 and total % d == 0 and 1 <= d <= 32
