"""Pretraining data built once, offline: masked examples in sharded TFRecord files.

``write_pretraining_records`` masks packed instances (from
``tfbert.data.pretraining_data.build_instances``) with a ``MaskedLMMasker``
and a fixed seed, and writes them round-robin into ``num_shards`` files plus a
``metadata.json``, all inside a temporary directory that is renamed into place
at the end: a crash leaves either no output directory or a complete one.
Each ``tf.train.Example`` holds int64 lists ``token_ids``, ``segment_ids``,
``padding_mask`` [S], ``mask_positions``, ``mask_ids`` [P],
``next_sentence_label`` [1], and the float list ``mask_weights`` [P]. Masks
are static (drawn once); use ``dupe_factor`` when building the instances to
get several maskings of the same text, as the original does.

``read_pretraining_records`` returns the ``tf.data`` pipeline for ``fit``: the
same ``(x, y)`` batches as the dynamic pipeline, with static shapes when
``drop_remainder=True`` (for TPU hosts, each host can read its own shards).

Example:
>>> import os, tempfile
>>> from tfbert.data.masking import MaskedLMMasker
>>> from tfbert.data.pretraining_data import create_instances
>>> from tfbert.data.pretraining_records import write_pretraining_records, read_pretraining_records
>>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(20)]
>>> docs = [[[5, 6, 7], [8, 9]], [[10, 11], [12, 13, 14]], [[15, 16, 17, 18]]] * 2
>>> inst = create_instances(docs, cls_id=2, sep_id=3, max_seq_length=12, seed=0)
>>> out = os.path.join(tempfile.mkdtemp(), "records")
>>> meta = write_pretraining_records(inst, MaskedLMMasker(vocab, max_predictions=3), out, num_shards=2)
>>> sorted(os.listdir(out))
['metadata.json', 'pretraining-00000-of-00002.tfrecord', 'pretraining-00001-of-00002.tfrecord']
>>> x, y = next(iter(read_pretraining_records(out, batch_size=2, shuffle=False)))
>>> tuple(x["token_ids"].shape), tuple(x["mask_positions"].shape), tuple(y["next_sentence_label"].shape)
((2, 12), (2, 3), (2,))
"""

import json
import os

import numpy as np
import tensorflow as tf

from tfbert.data.masking import as_seed
from tfbert.data.pretraining_data import INSTANCE_FEATURES, check_enough, split_features
from tfbert.fileio import atomic_directory

METADATA = "metadata.json"
_INT_FEATURES = ("token_ids", "segment_ids", "padding_mask", "mask_positions", "mask_ids", "next_sentence_label")


def _example(features, row):
    feature = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=np.atleast_1d(features[name][row])))
               for name in _INT_FEATURES}
    feature["mask_weights"] = tf.train.Feature(float_list=tf.train.FloatList(value=features["mask_weights"][row]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_pretraining_records(instances, masker, output_dir, *, num_shards=1, seed=0, overwrite=False,
                              batch_size=256):
    """Mask ``instances`` once and write them to ``output_dir`` (atomically); return the metadata dict."""
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards must be a positive integer, got {num_shards!r}.")
    num = len(instances["token_ids"])
    check_enough(num, 1, False, what="The instances")
    max_seq_length = int(instances["token_ids"].shape[1])
    names = [f"pretraining-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    base_seed = as_seed(seed)
    with atomic_directory(output_dir, overwrite=overwrite) as tmp:
        writers = [tf.io.TFRecordWriter(os.path.join(tmp, name)) for name in names]
        try:
            row = 0
            for start in range(0, num, batch_size):
                chunk = {name: instances[name][start:start + batch_size] for name in INSTANCE_FEATURES}
                batch_seed = tf.random.experimental.stateless_fold_in(base_seed, start)
                words = instances.get("word_continuation")  # Chinese whole-word masking
                masked = masker(chunk["token_ids"], chunk["padding_mask"], batch_seed,
                                word_continuation=None if words is None else words[start:start + batch_size])
                features = {**chunk, **{k: v.numpy() for k, v in masked.items()}}
                for i in range(len(chunk["token_ids"])):
                    writers[row % num_shards].write(_example(features, i))
                    row += 1
        finally:
            for writer in writers:
                writer.close()
        metadata = {
            "num_examples": num,
            "max_seq_length": max_seq_length,
            "max_predictions_per_seq": masker.max_predictions,
            "vocabulary_size": masker.vocabulary_size,
            "mask_rate": masker.mask_rate,
            "whole_word": masker.whole_word,
            "seed": seed if isinstance(seed, int) else list(np.asarray(seed).tolist()),
            "shards": names,
        }
        with open(os.path.join(tmp, METADATA), "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=2)
    return metadata


def read_metadata(directory):
    """The ``metadata.json`` of a records directory, with a clear error if it is not one."""
    path = os.path.join(directory, METADATA)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{directory} is not a pretraining-records directory: {METADATA} is missing. "
                                "Write one with write_pretraining_records(...).")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_pretraining_records(directory, batch_size, *, shuffle=True, seed=0, drop_remainder=True, repeat=False,
                             shard_index=0, num_readers=1):
    """A ``tf.data`` pipeline of ``(x, y)`` batches from a records directory.

    ``shard_index``/``num_readers`` let several hosts each read a disjoint
    subset of the shard files.
    """
    metadata = read_metadata(directory)
    num_shards, total = len(metadata["shards"]), metadata["num_examples"]
    if not 0 <= shard_index < num_readers <= num_shards:
        raise ValueError(f"Need 0 <= shard_index < num_readers <= {num_shards} shards; got shard_index={shard_index}, "
                         f"num_readers={num_readers}.")
    mine = list(range(num_shards))[shard_index::num_readers]
    files = [os.path.join(directory, metadata["shards"][i]) for i in mine]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise FileNotFoundError(f"Shard file(s) missing from {directory}: {missing}.")
    mine_examples = sum(len(range(i, total, num_shards)) for i in mine)  # written round-robin
    check_enough(mine_examples, batch_size, drop_remainder, what=f"{directory}")
    s, p = metadata["max_seq_length"], metadata["max_predictions_per_seq"]
    spec = {name: tf.io.FixedLenFeature([s], tf.int64) for name in ("token_ids", "segment_ids", "padding_mask")}
    spec.update({name: tf.io.FixedLenFeature([p], tf.int64) for name in ("mask_positions", "mask_ids")})
    spec["mask_weights"] = tf.io.FixedLenFeature([p], tf.float32)
    spec["next_sentence_label"] = tf.io.FixedLenFeature([1], tf.int64)

    def parse(serialized):
        example = tf.io.parse_example(serialized, spec)
        features = {k: (v if v.dtype == tf.float32 else tf.cast(v, tf.int32)) for k, v in example.items()}
        features["next_sentence_label"] = features["next_sentence_label"][:, 0]
        return split_features(features)

    data = tf.data.TFRecordDataset(files)
    if shuffle:
        data = data.shuffle(min(metadata["num_examples"], 100_000), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size, drop_remainder=drop_remainder).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    batches = mine_examples // batch_size if drop_remainder else -(-mine_examples // batch_size)
    data = data.apply(tf.data.experimental.assert_cardinality(batches))  # lets fit/evaluate know the length
    if repeat:
        data = data.repeat()
    return data.prefetch(tf.data.AUTOTUNE)
