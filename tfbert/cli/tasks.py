"""The tasks ``tfbert finetune --task`` trains and ``tfbert evaluate`` scores.

Each task knows its splits, its model, its batches and its evaluation, so the
finetune and evaluate commands are the same for every task.

Example:
>>> from tfbert.cli.tasks import TASKS
>>> sorted(TASKS)
['classification', 'ner']
"""

import os

import numpy as np

from tfbert.cli.data_sets import (TEST_FRACTION, VALIDATION_FRACTION, classification_batches, classification_splits,
                                  random_sentences)
from tfbert.cli.errors import one_line
from tfbert.runs import progress_verbosity


class ClassificationTask:
    """``--task classification``: texts or text pairs -> one label (``BertClassifier``)."""

    name = "classification"

    def splits(self, settings):
        return classification_splits(settings["data"], settings["text_column"], settings["label_column"],
                                     settings["text_pair_column"])

    def sample(self, data, n, seed):
        return data.sample(n, seed=seed)

    def describe(self, data):
        return ", ".join(f"{k} {v}" for k, v in data.label_counts().items())

    def build(self, settings, train):
        from tfbert.tasks import BertClassifier

        return BertClassifier.from_preset(settings["preset"], num_classes=train.num_classes,
                                          label_names=list(train.class_names), sequence_length=settings["max_seq_len"])

    def batches(self, data, model, batch_size, shuffle_seed=None):
        return classification_batches(data, model, batch_size, shuffle_seed)

    def evaluate(self, model, data, batch_size):
        from tfbert import plots

        predictions, labels = predict_labels(model, self.batches(data, model, batch_size), len(data))
        matrix = plots.confusion_matrix(labels, predictions, model.num_classes)
        return {"accuracy": float(np.mean(predictions == labels)), "examples": int(len(labels)),
                "label_names": list(model.class_names), "confusion_matrix": matrix}


class TaggingTask:
    """``--task ner``: words -> one tag per word, CoNLL files (``BertTokenClassifier``)."""

    name = "ner"

    def splits(self, settings):
        from tfbert.data.conll import read_conll

        data = settings["data"]
        if data == "conll2003":
            from tfbert.data import load_tfds

            try:
                train, test = load_tfds(data, "train"), load_tfds(data, "validation")
            except ConnectionError as e:
                raise ConnectionError(f"{one_line(e, hint=False).split('. Offline')[0]}. Use a local CoNLL "
                                      "file (word ... tag per line, blank line between sentences).") from e
            rest = train
        elif os.path.isfile(data):
            rest, test = random_sentences(read_conll(data), TEST_FRACTION, seed=0)
        else:
            raise FileNotFoundError(f"NER data file not found: {data}. Give a CoNLL file (word ... tag per line, "
                                    "blank line between sentences) or the tfds name conll2003.")
        train, validation = random_sentences(rest, VALIDATION_FRACTION, seed=1)
        return {"train": train, "validation": validation, "test": test}

    def sample(self, data, n, seed):
        return data if n is None or n >= len(data) else random_sentences(data, n / len(data), seed)[1]

    def describe(self, data):
        from tfbert.data.conll import tag_names

        return f"{len(tag_names(data))} tags"

    def build(self, settings, train):
        from tfbert.data.conll import tag_names
        from tfbert.tasks import BertTokenClassifier

        return BertTokenClassifier.from_preset(settings["preset"], label_names=tag_names(train),
                                               sequence_length=settings["max_seq_len"])

    def batches(self, data, model, batch_size, shuffle_seed=None):
        from tfbert.data.ner import encode_words, token_classification_dataset

        tokenizer = getattr(model.preprocessor, "tokenizer", model.preprocessor)
        features = encode_words(tokenizer, [s.words for s in data],
                                sequence_length=getattr(model.preprocessor, "sequence_length", None) or 128,
                                tags=[s.tags for s in data], label_names=model.label_names,
                                origins=[s.origin for s in data])
        return token_classification_dataset(features, batch_size, shuffle=shuffle_seed is not None,
                                            seed=shuffle_seed or 0)

    def evaluate(self, model, data, batch_size):
        from tfbert.metrics.conlleval import evaluate

        scores = evaluate([s.tags for s in data], model.predict_words([s.words for s in data], batch_size=batch_size))
        return {"f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
                "accuracy": scores["accuracy"], "examples": len(data), "label_names": list(model.label_names)}


TASKS = {task.name: task for task in (ClassificationTask(), TaggingTask())}


def predict_labels(model, batches, num_examples):
    """(predicted class ids, true labels) over a dataset of (inputs, labels), with a progress bar."""
    import keras

    bar = keras.utils.Progbar(num_examples, verbose=progress_verbosity(), unit_name="example")
    predictions, labels = [], []
    for x, y in batches:
        predictions.append(np.argmax(model.predict_on_batch(x), axis=-1))
        labels.append(np.asarray(y))
        bar.add(len(labels[-1]))
    return np.concatenate(predictions), np.concatenate(labels)
