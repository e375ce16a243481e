"""The tasks ``tfbert finetune --task`` trains and ``tfbert evaluate`` scores.

Each task knows how to read its data files, its splits, its model, its
batches (and ``label_padding``, what pads a label sequence under
``--static-shapes``), its evaluation and how to print it, so the finetune and
evaluate commands are the same for every task:

========================  ==========================================  =============================
task                      data                                        evaluate reports
========================  ==========================================  =============================
``classification``        table: text [, text pair], label            accuracy, confusion matrix
``regression``            table: text [, text pair], numeric label    Pearson, Spearman, MSE
``ner``                   CoNLL file (word ... tag), ``conll2003``    entity F1 (conlleval)
``qa``                    SQuAD v1.1 JSON, ``squad``                  exact match, F1 (official)
``multiple_choice``       table: context, ending0..N, label index     accuracy
``embedding``             table: text, text pair, score or 0/1        Spearman (and Pearson)
========================  ==========================================  =============================

Example:
>>> from tfbert.cli.tasks import TASKS
>>> sorted(TASKS)
['classification', 'embedding', 'multiple_choice', 'ner', 'qa', 'regression']
"""

import math
import os

import numpy as np

from tfbert.cli.data_sets import (assemble_splits, classification_batches, classification_splits, random_sentences,
                                  read_labelled_table)
from tfbert.cli.errors import notice, one_line
from tfbert.cli.options import positive_int
from tfbert.runs import progress_verbosity

# ---- the task options of `tfbert finetune` (settings stored in run.json) -----------------------
TASK_DEFAULTS = dict(validation_data=None, test_data=None, doc_stride=None, choice_columns=None)
TASK_FIXED = ("validation_data", "test_data", "doc_stride", "choice_columns")
TASK_HELP = ("classification: a label per text or text pair (DATA as above); regression: a number per text "
             "or pair (a table with a numeric label column, STS-B style); ner: a tag per word, DATA a CoNLL "
             "file or the tfds name conll2003; qa: extractive question answering, DATA a SQuAD v1.1 JSON "
             "file or the tfds name squad; multiple_choice: a table with a context, choice columns "
             "ending0, ending1, ... and the right one's index (SWAG layout); embedding: sentence vectors "
             "trained on pairs with a similarity score or a 0/1 label (cosine loss)")


def _file_path(text):
    """argparse type of a split file: stored as an absolute path, so evaluate finds it from anywhere."""
    return os.path.abspath(os.path.expanduser(text))


def add_task_options(parser):
    """Add the split files and the task-specific options to `tfbert finetune`."""
    parser.add_argument("--validation-data", metavar="FILE", type=_file_path,
                        help="validation file in --data's format (e.g. CoNLL valid.txt, GLUE dev.tsv); with "
                             "--validation-data or --test-data nothing is carved out of --data: all of it trains")
    parser.add_argument("--test-data", metavar="FILE", type=_file_path,
                        help="test file for `tfbert evaluate` (default: 10%% held out of a --data file, "
                             "or a named data set's own test split)")
    parser.add_argument("--doc-stride", metavar="N", type=positive_int,
                        help="qa: context pieces between the starts of a long context's windows "
                             "(default: a third of --max-seq-len)")
    parser.add_argument("--choice-columns", metavar="A,B,...",
                        help="multiple_choice: the candidate columns (default: ending0, ending1, ... or "
                             "choice0, choice1, ...); --text-column names the context (default: startphrase, "
                             "context, question, text)")


# ---- classification and regression ---------------------------------------------------------------
class ClassificationTask:
    """``--task classification``: texts or text pairs -> one label (``BertClassifier``)."""

    name = "classification"
    unit = "examples"
    label_padding = 0  # what pads the labels' sequence axis under --static-shapes (none here)

    def splits(self, settings):
        return classification_splits(settings)

    def read(self, path, settings, model):
        return read_labelled_table(path, settings, label_names=list(model.class_names))

    def sample(self, data, n, seed):
        return data.sample(n, seed=seed)

    def describe(self, data):
        return ", ".join(f"{k} {v}" for k, v in data.label_counts().items())

    def build(self, settings, train):
        from tfbert.tasks import BertClassifier

        return BertClassifier.from_preset(settings["preset"], num_classes=train.num_classes, pair=train.is_pair,
                                          label_names=list(train.class_names), sequence_length=settings["max_seq_len"])

    def training_model(self, model):
        """The model ``fit`` trains (the saved model, except for embeddings)."""
        return model

    def batches(self, data, model, batch_size, shuffle_seed=None):
        return classification_batches(data, model, batch_size, shuffle_seed)

    def evaluate(self, model, data, batch_size):
        from tfbert import plots

        outputs, labels = predict_outputs(model, self.batches(data, model, batch_size), len(data))
        predictions = np.argmax(outputs, axis=-1)
        matrix = plots.confusion_matrix(labels, predictions, model.num_classes)
        return {"accuracy": float(np.mean(predictions == labels)), "examples": int(len(labels)),
                "label_names": list(model.class_names), "confusion_matrix": matrix}

    def report(self, result, split, run):
        from tfbert import plots

        accuracy, matrix, names = result["accuracy"], result["confusion_matrix"], result["label_names"]
        if plots.plots_available():
            plots.plot_confusion_matrix(matrix, names, os.path.join(run.plots_dir, f"confusion_matrix_{split}.png"),
                                        title=f"{run.name}: {split} (accuracy {accuracy:.3f})")
        else:
            notice(f"matplotlib is not installed: skipping plots ({plots.INSTALL_HINT})")
        print(f"{split} accuracy: {accuracy:.4f} ({int(np.trace(matrix))}/{result['examples']} correct)")
        print("confusion matrix (rows: true, columns: predicted; " + ", ".join(names) + "):")
        for name, row in zip(names, matrix):
            print(f"  {name:>12}: " + " ".join(f"{v:6d}" for v in row))


class RegressionTask(ClassificationTask):
    """``--task regression``: texts or text pairs -> one number (``BertClassifier(num_classes=1)``, MSE)."""

    name = "regression"

    def splits(self, settings):
        return classification_splits(settings, scores=True)

    def read(self, path, settings, model):
        return read_labelled_table(path, settings, scores=True)

    def describe(self, data):
        return f"scores {data.labels.min():.4g} to {data.labels.max():.4g}" if len(data) else "no scores"

    def build(self, settings, train):
        from tfbert.tasks import BertClassifier

        return BertClassifier.from_preset(settings["preset"], num_classes=1, pair=train.is_pair,
                                          sequence_length=settings["max_seq_len"])

    def evaluate(self, model, data, batch_size):
        from tfbert.metrics.correlation import regression_scores

        outputs, labels = predict_outputs(model, self.batches(data, model, batch_size), len(data))
        return regression_scores(outputs[:, 0], labels)

    def report(self, result, split, run):
        print(f"{split}: Pearson {result['pearson']:.4f}, Spearman {result['spearman']:.4f}, "
              f"MSE {result['mse']:.4f} on {result['examples']} examples")


# ---- named entities ------------------------------------------------------------------------------
CONLL_FILE = "CoNLL file (word ... tag per line, blank line between sentences)"


def tfds_train_validation(data, tfds_name, task, file_kind):
    """The train and validation splits of the tfds data set ``tfds_name`` that ``--data`` names.

    Any other ``--data`` value is a file that does not exist; offline, the
    error says to use a local ``file_kind`` instead.
    """
    if data != tfds_name:
        raise FileNotFoundError(f"{task} data file not found: {data}. Give a {file_kind} or the tfds name "
                                f"{tfds_name}.")
    from tfbert.data import load_tfds

    try:
        return load_tfds(data, "train"), load_tfds(data, "validation")
    except ConnectionError as e:
        raise ConnectionError(f"{one_line(e, hint=False).split('. Offline')[0]}. Use a local {file_kind}.") from e


class FileOrTfdsTask:
    """What ``ner`` and ``qa`` share: ``--data`` is a file in the task's format or the tfds name of its data set.

    A subclass names the data set (``tfds_name``), how errors call the task
    (``title``) and its file (``file_kind``), and gives ``read_file(path)``
    (importing its reader only when called) and ``carve(data, fraction, seed)``
    (the held-out split of a local file).
    """

    tfds_name = title = file_kind = None
    label_padding = 0  # what pads the labels' sequence axis under --static-shapes (qa has none)

    def splits(self, settings):
        def named(data):
            return tfds_train_validation(data, self.tfds_name, self.title, self.file_kind)

        return assemble_splits(settings, self.read_file, self.carve, named)

    def read(self, path, settings, model):
        return self.read_file(path)

    def training_model(self, model):
        return model


class TaggingTask(FileOrTfdsTask):
    """``--task ner``: words -> one tag per word, CoNLL files (``BertTokenClassifier``)."""

    name = "ner"
    unit = "sentences"
    label_padding = -100  # tfbert.data.ner.IGNORE_LABEL: padding is not scored
    tfds_name, title, file_kind = "conll2003", "NER", CONLL_FILE

    @staticmethod
    def read_file(path):
        from tfbert.data.conll import read_conll

        return read_conll(path)

    carve = staticmethod(random_sentences)

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

    def report(self, result, split, run):
        print(f"{split}: entity F1 {result['f1']:.4f} (precision {result['precision']:.4f}, recall "
              f"{result['recall']:.4f}; tag accuracy {result['accuracy']:.4f}) on {result['examples']} sentences")


# ---- question answering --------------------------------------------------------------------------
def _articles_split(examples, fraction, seed):
    """(rest, held) SQuAD questions: a seeded random ``fraction`` of the articles held out whole."""
    titles = sorted({(e.article, e.title) for e in examples})
    held = set(random_sentences(titles, fraction, seed)[1])
    rest = [e for e in examples if (e.article, e.title) not in held]
    return rest, [e for e in examples if (e.article, e.title) in held]


class QuestionAnsweringTask(FileOrTfdsTask):
    """``--task qa``: a question and a context -> the answer span (``BertQuestionAnswerer``), SQuAD v1.1."""

    name = "qa"
    unit = "questions"
    tfds_name, title, file_kind = "squad", "QA", "SQuAD v1.1 JSON file"

    @staticmethod
    def read_file(path):
        from tfbert.data.squad import read_squad

        return read_squad(path)

    carve = staticmethod(_articles_split)

    def sample(self, data, n, seed):
        from tfbert.data.choices import sample_examples

        return sample_examples(data, n, seed)

    def describe(self, data):
        return f"{len({e.article for e in data})} articles"

    def build(self, settings, train):
        from tfbert.tasks import BertQuestionAnswerer

        length = settings["max_seq_len"]
        return BertQuestionAnswerer.from_preset(settings["preset"], sequence_length=length,
                                                doc_stride=settings.get("doc_stride") or max(1, length // 3),
                                                max_query_length=min(64, length // 4))

    def batches(self, data, model, batch_size, shuffle_seed=None):
        import tensorflow as tf

        from tfbert.data.qa import qa_dataset

        features = model.encode([e.question for e in data], [e.context for e in data],
                                answers=[(e.answers[0].text, e.answers[0].start) if e.answers else ("", 0)
                                         for e in data], ids=[e.qid for e in data])
        bucket_width = 32
        dataset = qa_dataset(features, batch_size, shuffle=shuffle_seed is not None, seed=shuffle_seed or 0,
                             dynamic_padding=True, bucket_width=bucket_width)
        # qa_dataset's length buckets hide the batch count from tf.data; it is known, so say it.
        width = features.inputs["token_ids"].shape[1]
        boundaries = list(range(bucket_width + 1, width + 1, bucket_width))
        buckets = np.searchsorted(boundaries, features.inputs["padding_mask"].sum(axis=1), side="right")
        count = int(sum(math.ceil(n / batch_size) for n in np.bincount(buckets) if n))
        return dataset.apply(tf.data.experimental.assert_cardinality(count))

    def evaluate(self, model, data, batch_size):
        from tfbert.data.squad import to_squad_dataset
        from tfbert.metrics.squad import evaluate

        contexts = [e.context for e in data]
        answers = model.answer(model.encode([e.question for e in data], contexts), contexts, batch_size=batch_size)
        scores = evaluate(to_squad_dataset(data), {e.qid: a["text"] for e, a in zip(data, answers)})
        return {"exact_match": scores["exact_match"], "f1": scores["f1"], "examples": len(data)}

    def report(self, result, split, run):
        print(f"{split}: exact match {result['exact_match']:.2f}, F1 {result['f1']:.2f} (SQuAD v1.1, percent) "
              f"on {result['examples']} questions")


# ---- multiple choice -----------------------------------------------------------------------------
_CONTEXT_COLUMNS = ("startphrase", "context", "question", "text", "sent1")


class MultipleChoiceTask:
    """``--task multiple_choice``: a context and N candidates -> the right one (``BertMultipleChoice``)."""

    name = "multiple_choice"
    unit = "examples"
    label_padding = 0  # what pads the labels' sequence axis under --static-shapes (none here)

    def splits(self, settings):
        def named(data):
            raise FileNotFoundError(f"multiple choice data file not found: {data}. Give a .csv/.tsv/.txt file "
                                    "with a context column, choice columns ending0, ending1, ... and a label "
                                    "column (the right choice's index), as SWAG's files are.")

        return assemble_splits(settings, lambda path: self._read_file(path, settings), random_sentences, named)

    @staticmethod
    def _read_file(path, settings):
        from tfbert.cli.data_sets import table_delimiter
        from tfbert.cli.options import flag
        from tfbert.data.choices import read_choice_table
        from tfbert.data.csv_text import iter_rows

        if not os.path.isfile(path):
            raise FileNotFoundError(f"data file not found: {path}.")
        delimiter = table_delimiter(path)
        context = settings.get("text_column")
        if context is None:
            _, header = next(iter_rows(path, delimiter))
            context = next((c for c in _CONTEXT_COLUMNS if c in header), None)
            if context is None:
                raise KeyError(f"{path}: no context column among {header}; name it with {flag('text_column')}.")
        choices = settings.get("choice_columns")
        return read_choice_table(path, context, choices.split(",") if choices else None,
                                 settings.get("label_column") or "label", delimiter=delimiter)

    def read(self, path, settings, model):
        return self._read_file(path, settings)

    def sample(self, data, n, seed):
        from tfbert.data.choices import sample_examples

        return sample_examples(data, n, seed)

    def describe(self, data):
        return f"{len(data[0].choices)} choices each" if data else "no examples"

    def build(self, settings, train):
        from tfbert.tasks import BertMultipleChoice

        return BertMultipleChoice.from_preset(settings["preset"], sequence_length=settings["max_seq_len"])

    def training_model(self, model):
        return model

    def batches(self, data, model, batch_size, shuffle_seed=None):
        import tensorflow as tf

        counts = {len(e.choices) for e in data}
        if len(counts) != 1:
            raise ValueError(f"every example needs the same number of choices; got {sorted(counts)}.")
        preprocessor = model.preprocessor
        dataset = tf.data.Dataset.from_tensor_slices((
            tf.constant([e.context for e in data], tf.string), tf.constant([list(e.choices) for e in data], tf.string),
            tf.constant([e.label for e in data], tf.int32)))
        if shuffle_seed is not None:
            dataset = dataset.shuffle(len(data), seed=shuffle_seed, reshuffle_each_iteration=True)

        num_choices = counts.pop()  # static, so that --static-shapes can fix every axis

        def pack(contexts, choices, labels):  # [B], [B, C] -> [B, C, S] inputs
            firsts = tf.reshape(tf.repeat(contexts[:, None], num_choices, axis=1), [-1])
            packed = preprocessor((firsts, tf.reshape(choices, [-1])))
            return {k: tf.reshape(v, [tf.shape(choices)[0], num_choices, -1]) for k, v in packed.items()}, labels

        return dataset.batch(batch_size).map(pack, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def evaluate(self, model, data, batch_size):
        outputs, labels = predict_outputs(model, self.batches(data, model, batch_size), len(data))
        return {"accuracy": float(np.mean(np.argmax(outputs, axis=-1) == labels)), "examples": int(len(labels))}

    def report(self, result, split, run):
        correct = int(round(result["accuracy"] * result["examples"]))
        print(f"{split} accuracy: {result['accuracy']:.4f} ({correct}/{result['examples']} correct)")


# ---- sentence embeddings -------------------------------------------------------------------------
class EmbeddingTask:
    """``--task embedding``: sentence pairs with a score -> a sentence encoder (``BertEmbedder``, cosine loss)."""

    name = "embedding"
    unit = "pairs"
    label_padding = 0  # what pads the labels' sequence axis under --static-shapes (none here)

    def splits(self, settings):
        return classification_splits(settings, scores=True, pairs=True)

    def read(self, path, settings, model):
        return read_labelled_table(path, settings, scores=True, pairs=True)

    def sample(self, data, n, seed):
        return data.sample(n, seed=seed)

    def describe(self, data):
        return f"scores {data.labels.min():.4g} to {data.labels.max():.4g}" if len(data) else "no scores"

    def build(self, settings, train):
        from tfbert.tasks import BertEmbedder

        return BertEmbedder.from_preset(settings["preset"], max_sequence_length=settings["max_seq_len"])

    def training_model(self, model):
        from tfbert.tasks.embedder import EmbedderPairTrainer

        return EmbedderPairTrainer(model)

    def batches(self, data, model, batch_size, shuffle_seed=None):
        """((a, b) inputs, target) batches; scores above 1 are divided by the data's largest (STS-B 0-5 -> 0-1)."""
        import tensorflow as tf

        if not data.is_pair:
            raise ValueError(f"{data.source}: embedding trains on sentence pairs; name the second text's column "
                             "with --text-pair-column.")
        labels = data.labels
        scale = max(1.0, float(np.abs(labels).max())) if len(labels) else 1.0
        preprocessor = model.preprocessor
        dataset = tf.data.Dataset.from_tensor_slices((tf.constant(data.texts, tf.string),
                                                      tf.constant(data.text_pairs, tf.string),
                                                      tf.constant(labels / scale, tf.float32)))
        if shuffle_seed is not None:
            dataset = dataset.shuffle(len(data), seed=shuffle_seed, reshuffle_each_iteration=True)

        def pack(a, b, y):
            return {"a": preprocessor(a), "b": preprocessor(b)}, y

        return dataset.batch(batch_size).map(pack, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def evaluate(self, model, data, batch_size):
        from tfbert.metrics.correlation import pearson, spearman

        outputs, labels = predict_outputs(self.training_model(model), self.batches(data, model, batch_size), len(data))
        return {"spearman": spearman(outputs, labels), "pearson": pearson(outputs, labels),
                "examples": int(len(labels))}

    def report(self, result, split, run):
        print(f"{split}: Spearman {result['spearman']:.4f} (Pearson {result['pearson']:.4f}) between cosine "
              f"similarity and score on {result['examples']} pairs")


TASKS = {task.name: task for task in (ClassificationTask(), RegressionTask(), TaggingTask(), QuestionAnsweringTask(),
                                      MultipleChoiceTask(), EmbeddingTask())}


def predict_outputs(model, batches, num_examples):
    """(model outputs, true labels) over a dataset of (inputs, labels), through Keras' compiled
    ``predict_on_batch``, with a progress bar."""
    import keras

    bar = keras.utils.Progbar(num_examples, verbose=progress_verbosity(), unit_name="example")
    outputs, labels = [], []
    for x, y in batches:
        outputs.append(np.asarray(model.predict_on_batch(x)))
        labels.append(np.asarray(y))
        bar.add(len(labels[-1]))
    return np.concatenate(outputs), np.concatenate(labels)

