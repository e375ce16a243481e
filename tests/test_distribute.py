"""tfbert.distribute in one process: the strategy choice, the chief, the per-replica rows; --dropout."""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from test_case import TINY, random_inputs
from tfbert.distribute import (STRATEGIES, choose_strategy, cluster_spec, distribute_batches, get_strategy, is_chief,
                               replica_batches, weights_digest)


def tf_config(workers, index=0, chief=False):
    cluster = {"worker": [f"10.0.0.{i}:2222" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["10.0.0.99:2222"]
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}


@pytest.mark.parametrize("environ, gpus, kind", [
    ({}, 0, "default"),
    ({}, 1, "default"),
    ({}, 8, "mirrored"),
    (tf_config(1), 8, "mirrored"),
    (tf_config(2, index=1), 0, "multi_worker"),
    (tf_config(1, chief=True), 0, "multi_worker"),  # chief + 1 worker = 2 workers
])
def test_auto_picks_by_cluster_and_gpus_and_says_why(environ, gpus, kind):
    picked, reason = choose_strategy("auto", environ=environ, num_gpus=gpus)
    assert picked == kind and reason


def test_auto_with_a_tpu_hint_but_no_tpu_falls_through():
    assert choose_strategy("auto", environ={"TPU_NAME": "no-such-tpu-here"}, num_gpus=0)[0] == "default"


def test_named_strategies_are_taken_as_asked_and_bad_names_refused():
    for name in STRATEGIES[1:]:
        assert choose_strategy(name, environ={}, num_gpus=0) == (name, "asked for")
    with pytest.raises(ValueError, match="unknown strategy 'mirorred'; expected one of auto, default"):
        choose_strategy("mirorred")


def test_bad_tf_config_is_a_clear_error():
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        cluster_spec({"TF_CONFIG": "{worker: 2}"})
    assert cluster_spec({}) == (1, None, 0)
    assert cluster_spec(tf_config(3, index=2)) == (3, "worker", 2)


def test_tpu_strategy_without_a_tpu_says_what_to_do(monkeypatch):
    for name in ("COLAB_TPU_ADDR", "TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises((RuntimeError, ValueError), match="(?i)tpu"):
        get_strategy("tpu")


def test_default_strategy_is_chief_and_leaves_the_dataset_alone():
    strategy = get_strategy("default")
    assert strategy.num_replicas_in_sync == 1 and is_chief(strategy)
    data = tf.data.Dataset.range(4).batch(2)
    assert distribute_batches(strategy, lambda: data) is data


@pytest.mark.parametrize("pipelines, pipeline, replicas", [(1, 0, 2), (2, 0, 2), (2, 1, 2), (2, 1, 4), (1, 0, 3)])
def test_replica_rows_partition_every_global_batch(pipelines, pipeline, replicas):
    batches = tf.data.Dataset.from_tensor_slices({"ids": np.arange(22)}).batch(8)  # 8, 8, 6 rows
    context = tf.distribute.InputContext(num_input_pipelines=pipelines, input_pipeline_id=pipeline,
                                         num_replicas_in_sync=replicas)
    mine = [b["ids"].numpy().tolist() for b in replica_batches(batches, context)]
    local = replicas // pipelines
    assert len(mine) == 3 * local and int(replica_batches(batches, context).cardinality()) == 3 * local
    for k, batch in enumerate(b["ids"].numpy().tolist() for b in batches):
        n = len(batch)
        for r in range(local):
            g = pipeline * local + r
            assert mine[k * local + r] == batch[n * g // replicas:n * (g + 1) // replicas]


def test_all_replicas_together_see_exactly_the_global_batch():
    batches = tf.data.Dataset.from_tensor_slices((np.arange(16), np.arange(16) * 10)).batch(8)
    rows = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(2, pipeline, 2)
        rows.append([(x.numpy().tolist(), y.numpy().tolist()) for x, y in replica_batches(batches, context)])
    for k, (x, y) in enumerate(batches):
        assert rows[0][k][0] + rows[1][k][0] == x.numpy().tolist()
        assert rows[0][k][1] + rows[1][k][1] == y.numpy().tolist()


def test_weights_digest_tells_weights_apart():
    model = tfbert.BERT(tfbert.BertConfig(**TINY))
    before = weights_digest(model)
    assert weights_digest(model) == before
    model.weights[0].assign(model.weights[0] + 1e-7)
    assert weights_digest(model) != before


def test_override_dropout_sets_every_rate_and_is_saved(tmp_path):
    import keras

    from tfbert.tasks import BertClassifier

    model = BertClassifier(tfbert.BERT(tfbert.BertConfig(**TINY)), num_classes=2)
    inputs = random_inputs(batch=4, seq_len=8)
    assert not np.allclose(model(inputs, training=True), model(inputs, training=True))  # dropout is on
    model.override_dropout(0.0)
    rates = [layer.rate for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dropout)]
    assert rates and set(rates) == {0.0}
    np.testing.assert_allclose(model(inputs, training=True), model(inputs, training=False), atol=1e-6)
    assert model.backbone.config.hidden_dropout_prob == 0.0 == model.backbone.config.attention_probs_dropout_prob
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert {layer.rate for layer in again._flatten_layers() if isinstance(layer, keras.layers.Dropout)} == {0.0}
    with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\), got 1.5"):
        model.override_dropout(1.5)


def test_dropout_and_strategy_options_parse():
    from tfbert.cli import build_parser
    from tfbert.cli.options import UsageError

    parser = build_parser()
    args = parser.parse_args(["finetune", "-o", "x", "--dropout", "0", "--strategy", "multi_worker"])
    assert args.dropout == 0.0 and args.strategy == "multi_worker"
    assert parser.parse_args(["pretrain", "-o", "x"]).strategy == "auto"
    with pytest.raises(UsageError, match=r"expected a dropout rate in \[0, 1\), got 1.0"):
        parser.parse_args(["finetune", "-o", "x", "--dropout", "1"])
    with pytest.raises(UsageError, match="did you mean 'mirrored'"):
        parser.parse_args(["pretrain", "-o", "x", "--strategy", "mirored"])
