"""Classify text with BERT: the TensorFlow tutorial's flow, with tfbert and offline data.

    python examples/classify_text_with_bert.py          # MiniLM on Rotten Tomatoes snippets (offline, from PyPI)
    python examples/classify_text_with_bert.py --fast   # tiny random model, 48 sentences: seconds

As in https://www.tensorflow.org/text/tutorials/classify_text_with_bert: raw strings go
into a Keras model whose first layer is the BERT preprocessor (tokenize + pack), then the
encoder, dropout and a one-logit dense layer; AdamW with linear warmup; fit; export a
SavedModel that takes raw strings; reload it with plain tf.saved_model.load and predict.
The tutorial's IMDB download is replaced by the offline Rotten Tomatoes critic snippets
(fresh = 1, rotten = 0) with a test split grouped by movie.
"""

import argparse
import os

import tfbert  # noqa: F401  (selects the TensorFlow backend for Keras)
import keras
import tensorflow as tf

from tfbert.optimization import create_optimizer
from tfbert.preprocessing import BertPreprocessor, BertTokenizer

EXAMPLES = ["this is such an amazing movie!", "The movie was great!", "The movie was meh.",
            "The movie was okish.", "The movie was terrible..."]


def build_classifier_model(preset, sequence_length):
    """raw strings -> preprocessor -> encoder -> dropout -> dense (one logit)."""
    text_input = keras.Input(shape=(), dtype="string", name="text")
    preprocessor = BertPreprocessor(BertTokenizer.from_preset(preset), sequence_length=sequence_length,
                                    name="preprocessing")
    encoder = tfbert.BERT.from_preset(preset)
    outputs = encoder(preprocessor(text_input))
    net = keras.layers.Dropout(0.1)(outputs["pooled_output"])
    net = keras.layers.Dense(1, name="classifier")(net)
    return keras.Model(text_input, net)


def load_data(fast):
    """(train_texts, train_labels, test_texts, test_labels)."""
    if fast:
        from _fast import sentiment_data

        texts, labels = sentiment_data()
        return texts, labels, texts[:12], labels[:12]
    from tfbert.data import load_rotten_tomatoes

    train, test = load_rotten_tomatoes()
    return train.texts, train.labels, test.texts, test.labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="tiny random model and data (a smoke test)")
    parser.add_argument("--preset", default="minilm_l6_en_uncased")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-train", type=int, default=None, help="training examples used (default: all)")
    parser.add_argument("--output-dir", default="runs/classify_text_with_bert")
    args = parser.parse_args(argv)

    preset, sequence_length, init_lr = args.preset, 64, 1e-4
    if args.fast:
        from _fast import POSITIVE, NEGATIVE, tiny_preset

        preset, sequence_length, init_lr = tiny_preset(POSITIVE + NEGATIVE + EXAMPLES), 16, 1e-3
    train_texts, train_labels, test_texts, test_labels = load_data(args.fast)
    train_texts, train_labels = train_texts[:args.max_train], train_labels[:args.max_train]
    train_ds = tf.data.Dataset.from_tensor_slices((train_texts, train_labels)).shuffle(len(train_texts), seed=0)
    train_ds = train_ds.batch(32).prefetch(tf.data.AUTOTUNE)
    test_ds = tf.data.Dataset.from_tensor_slices((test_texts, test_labels)).batch(64)

    classifier_model = build_classifier_model(preset, sequence_length)
    steps_per_epoch = int(train_ds.cardinality())
    num_train_steps = steps_per_epoch * args.epochs
    optimizer = create_optimizer(init_lr, num_train_steps=num_train_steps, warmup_fraction=0.1)  # AdamW + warmup
    classifier_model.compile(optimizer=optimizer, loss=keras.losses.BinaryCrossentropy(from_logits=True),
                             metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
                             jit_compile=False)  # the model holds string ops, which XLA cannot compile
    classifier_model.fit(train_ds, epochs=args.epochs, verbose=2)
    loss, accuracy = classifier_model.evaluate(test_ds, verbose=0)
    print(f"test loss {loss:.4f}, accuracy {accuracy:.4f} on {len(test_texts)} held-out snippets")

    saved_model_path = os.path.join(args.output_dir, "rotten_tomatoes_bert")
    classifier_model.export(saved_model_path, format="tf_saved_model", verbose=False)  # `serve` takes raw strings
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops before loading)

    reloaded_model = tf.saved_model.load(saved_model_path)
    reloaded = tf.sigmoid(reloaded_model.serve(tf.constant(EXAMPLES)))
    original = tf.sigmoid(classifier_model(tf.constant(EXAMPLES)))
    for text, p_reloaded, p_original in zip(EXAMPLES, reloaded[:, 0].numpy(), original[:, 0].numpy()):
        print(f"input: {text:<32} : score: {p_reloaded:.6f} (in-process model: {p_original:.6f})")
    print(f"done: SavedModel in {saved_model_path}")


if __name__ == "__main__":
    main()
