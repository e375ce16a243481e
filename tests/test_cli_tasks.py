"""Every task from the command line: finetune -> evaluate -> export -> predict on a tiny model and tiny data,
with --validation-data/--test-data; table delimiters found from content; the splits those files give."""

import json
import shutil

import numpy as np
import pytest

import tfbert
from test_case import TINY, save_tiny_hf_preset, shared_data_path
from tfbert import cli

CONTEXT = "the tower was built in paris by gustave eiffel and it opened in the spring of that year for the fair"
QUESTIONS = [("who built the tower", "gustave eiffel"), ("where was the tower built", "paris"),
             ("when did it open", "the spring")]
PAIRS = [("a good film", "a great movie", 4.5), ("a good film", "dull and awful", 0.5),
         ("great fun", "good acting", 4.0), ("an awful movie", "a bad film", 4.2),
         ("dull plot", "great fun", 1.0), ("bad acting", "a good plot", 0.8)]
STORIES = [("she opens the door", ["and walks in", "and eats the door", "and the door sings"], 0),
           ("he picks up the cup", ["and drinks the tea", "and the cup flies", "and sleeps on it"], 0),
           ("they run to the park", ["and the park runs", "and play a game", "and eat the park"], 1)]
WORDS = sorted({w for text in [CONTEXT] + [q for q, _ in QUESTIONS] + [a for p in PAIRS for a in p[:2]]
                + [s for story in STORIES for s in [story[0]] + story[1]] for w in text.split()})
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    """A Hugging Face directory holding a tiny random BERT whose vocabulary has every word of the data."""
    return save_tiny_hf_preset(str(tmp_path_factory.mktemp("presets") / "tiny_hf"), VOCAB)


def squad_json(path, articles):
    data = []
    for a in range(articles):
        qas = [{"id": f"a{a}q{i}", "question": q, "answers": [{"text": ans, "answer_start": CONTEXT.index(ans)}]}
               for i, (q, ans) in enumerate(QUESTIONS)]
        data.append({"title": f"article {a}", "paragraphs": [{"context": CONTEXT, "qas": qas}]})
    path.write_text(json.dumps({"data": data, "version": "1.1"}))
    return path


def write_task_files(task, directory):
    """(train, validation, test) files of the task's format."""
    files = []
    for name, repeat in (("train", 4), ("valid", 1), ("test", 1)):
        if task == "qa":
            files.append(squad_json(directory / f"{name}.json", repeat))
        elif task == "multiple_choice":
            path = directory / f"{name}.csv"
            rows = [f"{s},{','.join(c)},{label}" for s, c, label in STORIES] * repeat
            path.write_text("startphrase,ending0,ending1,ending2,label\n" + "\n".join(rows) + "\n")
            files.append(path)
        else:  # regression and embedding: sentence pairs with a score (tab-separated .txt: read by content)
            path = directory / f"{name}.txt"
            rows = [f"{a}\t{b}\t{s}" for a, b, s in PAIRS] * repeat
            path.write_text("sentence1\tsentence2\tscore\n" + "\n".join(rows) + "\n")
            files.append(path)
    return files


EXPECTED = {  # task: (metric keys of evaluate, line evaluate prints, predict arguments, output field)
    "regression": (("pearson", "spearman", "mse"), "test: Pearson", ["a good film\ta great movie"], "score"),
    "embedding": (("spearman", "pearson"), "test: Spearman", ["a good film", "dull plot"], "embedding"),
    "qa": (("exact_match", "f1"), "test: exact match", ["--question", "who built the tower", "--context", CONTEXT],
           "answer"),
    "multiple_choice": (("accuracy",), "test accuracy:", ["--context", "she opens the door", "--choice",
                                                          "and walks in", "--choice", "and eats the door"], "choice"),
}


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_finetune_evaluate_export_predict_every_task(capsys, tmp_path, tiny_preset, task):
    metrics, line, predict_args, field = EXPECTED[task]
    train, valid, test = write_task_files(task, tmp_path)
    run_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "finetune", "--task", task, "--preset", tiny_preset, "--data", train,
                             "--validation-data", valid, "--test-data", test, "-o", run_dir, "--steps", "2",
                             "--batch-size", "4", "--max-seq-len", "32", "--learning-rate", "1e-3",
                             *(["--doc-stride", "8"] if task == "qa" else []))
    assert code == 0, err
    train_size = 4 * {"qa": len(QUESTIONS), "multiple_choice": len(STORIES)}.get(task, len(PAIRS))
    assert f"for {task} on {train_size} " in out  # all of --data trains: nothing carved out of it
    if task in ("regression", "embedding"):
        assert "train.txt: tab-separated columns" in err
    settings = json.loads((run_dir / "run.json").read_text())["settings"]
    assert settings["validation_data"] == str(valid) and settings["test_data"] == str(test)
    assert settings["doc_stride"] == (8 if task == "qa" else None)
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    assert "val_loss" in history  # validated on the --validation-data file

    code, out, err = run_cli(capsys, "evaluate", run_dir)
    assert code == 0, err
    result = json.loads((run_dir / "metrics.json").read_text())["evaluate_test"]
    assert line in out and result["data"] == str(test)
    expected_examples = {"qa": len(QUESTIONS), "multiple_choice": len(STORIES)}.get(task, len(PAIRS))
    assert result["examples"] == expected_examples  # the whole --test-data file, nothing else
    for key in metrics:
        assert key in result and (np.isnan(result[key]) or np.isfinite(result[key]))
    if task == "qa":  # (one task is enough: the split is picked the same way for all)
        code, out, err = run_cli(capsys, "evaluate", run_dir, "--split", "validation")
        assert code == 0, err
        assert json.loads((run_dir / "metrics.json").read_text())["evaluate_validation"]["data"] == str(valid)

    code, out, err = run_cli(capsys, "export", run_dir, "--export-dir", tmp_path / "exported")
    assert code == 0, err
    assert "try it: tfbert predict" in out
    if task == "regression":
        import tensorflow as tf

        signature = tf.saved_model.load(str(tmp_path / "exported" / "1")).signatures["serving_default"]
        assert sorted(signature.structured_input_signature[1]) == ["text", "text_pair"]
    code, out, err = run_cli(capsys, "predict", tmp_path / "exported", *predict_args, "--json")
    assert code == 0, err
    served = [json.loads(line) for line in out.splitlines()]
    code, out, err = run_cli(capsys, "predict", run_dir, *predict_args, "--json")
    assert code == 0, err
    in_process = [json.loads(line) for line in out.splitlines()]
    assert len(served) == len(in_process) >= 1
    for a, b in zip(served, in_process):
        assert field in a and field in b
        if field == "embedding":
            np.testing.assert_allclose(a["embedding"], b["embedding"], atol=1e-4)
            assert len(a["embedding"]) == TINY["hidden_size"]
        elif field == "choice":  # the same probabilities (a near tie may pick either candidate)
            np.testing.assert_allclose(a["probabilities"], b["probabilities"], atol=1e-4)
            for row in (a, b):
                assert row["choice_id"] == int(np.argmax(row["probabilities"]))
        elif field == "score":  # a pair model: both split 'TEXT<TAB>TEXT_PAIR' and pack the pair
            assert a["score"] == pytest.approx(b["score"], rel=1e-3, abs=1e-6)
        else:
            assert a[field] == b[field]
    if task == "qa":
        assert served[0]["answer"] == CONTEXT[served[0]["start"]:served[0]["end"]]
        questions = tmp_path / "questions.jsonl"
        questions.write_text("\n".join(json.dumps({"question": q, "context": CONTEXT}) for q, _ in QUESTIONS) + "\n")
        code, out, err = run_cli(capsys, "predict", tmp_path / "exported", "--input", questions)
        assert code == 0, err
        lines = out.splitlines()
        assert len(lines) == len(QUESTIONS) and lines[0].endswith("\twho built the tower")
        code, _, err = run_cli(capsys, "predict", run_dir, "who built it")
        assert code == 1 and "record 1 has no 'question'" in err
        code, _, err = run_cli(capsys, "predict", tmp_path / "exported", "who built it")
        assert code == 2 and "give --question and --context" in err


# ---- the splits --validation-data and --test-data give -------------------------------------------
def test_split_files_replace_the_carved_splits(tmp_path):
    from tfbert.cli.finetune import FINETUNE_DEFAULTS
    from tfbert.cli.tasks import TASKS

    data = tmp_path / "all.csv"
    data.write_text("text,label\n" + "\n".join(f"text {i},{i % 2}" for i in range(50)) + "\n")
    valid = tmp_path / "valid.csv"
    valid.write_text("text,label\nv one,0\nv two,1\n")
    settings = {**FINETUNE_DEFAULTS, "data": str(data)}
    carved = TASKS["classification"].splits(settings)
    assert [len(carved[k]) for k in ("train", "validation", "test")] == [41, 4, 5]  # 10% test, then 10% of the rest
    given = TASKS["classification"].splits({**settings, "validation_data": str(valid)})
    assert len(given["train"]) == 50 and len(given["validation"]) == 2 and given["test"] is None
    both = TASKS["classification"].splits({**settings, "validation_data": str(valid), "test_data": str(valid)})
    assert len(both["train"]) == 50 and [e.text for e in both["test"]] == ["v one", "v two"]
    with pytest.raises(FileNotFoundError, match="--test-data file not found"):
        TASKS["classification"].splits({**settings, "test_data": str(tmp_path / "none.csv")})


def test_conll_validation_file_trains_on_all_of_train(tmp_path):
    from tfbert.cli.finetune import FINETUNE_DEFAULTS
    from tfbert.cli.tasks import TASKS

    def conll(path, n):
        path.write_text("".join(f"w{i} NN O B-PER\nx{i} NN O O\n\n" for i in range(n)))
        return str(path)

    settings = {**FINETUNE_DEFAULTS, "task": "ner", "data": conll(tmp_path / "train.txt", 30),
                "validation_data": conll(tmp_path / "valid.txt", 7)}
    splits = TASKS["ner"].splits(settings)
    assert len(splits["train"]) == 30 and len(splits["validation"]) == 7 and splits["test"] is None


def test_evaluate_names_a_missing_split(capsys, tmp_path):
    from tfbert.runs import open_run

    run = open_run(str(tmp_path / "run"), "finetune", {"task": "classification", "data": str(tmp_path / "a.csv"),
                                                        "validation_data": str(tmp_path / "v.csv")})
    (tmp_path / "a.csv").write_text("text,label\na,0\nb,1\n")
    (tmp_path / "v.csv").write_text("text,label\na,0\n")
    tfbert.BertClassifier(tfbert.BERT(tfbert.BertConfig(**TINY))).save(run.file("model.keras"))
    run.update_record(model="model.keras")
    code, _, err = run_cli(capsys, "evaluate", tmp_path / "run")
    assert code == 1 and "has no test split" in err and "--data FILE" in err


# ---- table files read by content -----------------------------------------------------------------
def test_mrpc_test_file_layout_reads_as_tab_separated(tmp_path, capsys):
    """msr_paraphrase_test.txt has train.tsv's layout: a .txt name must not make it one comma column."""
    from tfbert.cli.data_sets import read_labelled_table

    source = shared_data_path("mrpc", "train.tsv")
    path = tmp_path / "msr_paraphrase_test.txt"
    shutil.copyfile(source, path)
    data = read_labelled_table(str(path), {})
    assert len(data) == 3668 and data.is_pair and data.num_classes == 2
    assert data[0].text.startswith('Amrozi accused his brother, whom he called "the witness"')
    assert "msr_paraphrase_test.txt: tab-separated columns" in capsys.readouterr().err


@pytest.mark.parametrize("delimiter, name", [("\t", "x.txt"), (";", "x.csv"), ("|", "x.txt"), (",", "x.tsv"),
                                             ("\t", "x.txt.gz"), (";", "x.csv.bz2"), (",", "x.txt.xz")])
def test_sniff_delimiter_finds_the_delimiter_by_content(tmp_path, delimiter, name):
    import bz2
    import gzip
    import lzma

    from tfbert.data.csv_text import read_text_table, sniff_delimiter

    rows = [("text", "label"), ("a film, really good", "1"), ("dull; slow", "0"), ("fine", "1")]
    if delimiter != "\t":
        rows = [(t.replace(delimiter, " "), label) for t, label in rows]
    text = "".join(delimiter.join(r) + "\n" for r in rows)
    path = str(tmp_path / name)
    opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(name.rsplit(".", 1)[-1], open)
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(text)
    assert sniff_delimiter(path) == delimiter
    data = read_text_table(path)
    assert [e.text for e in data] == [r[0] for r in rows[1:]]


def test_sniff_delimiter_falls_back_for_one_column_and_keeps_quote_none_for_tabs(tmp_path):
    from tfbert.data.csv_text import iter_rows, sniff_delimiter

    one = tmp_path / "one.tsv"
    one.write_text("text\nhello\n")
    assert sniff_delimiter(str(one)) == "\t"
    one_csv = tmp_path / "one.txt"
    one_csv.write_text("text\nhello\n")
    assert sniff_delimiter(str(one_csv)) == ","
    quoted = tmp_path / "quoted.txt"
    quoted.write_text('text\tlabel\n"quoted" start\t1\nend "half\t0\n')
    rows = [row for _, row in list(iter_rows(str(quoted)))[1:]]
    assert [r["text"] for r in rows] == ['"quoted" start', 'end "half']


# ---- readers and metrics of the new tasks --------------------------------------------------------
def test_choice_table_reader_checks_labels(tmp_path):
    from tfbert.data.choices import find_choice_columns, read_choice_table

    assert find_choice_columns(["ending10", "ending2", "label", "sent1"]) == ["ending2", "ending10"]
    path = tmp_path / "swag.csv"
    path.write_text("startphrase,ending0,ending1,label\nctx,a,b,2\n")
    with pytest.raises(ValueError, match=r"swag.csv:2: label '2' is not the index of one of the 2 choices"):
        read_choice_table(str(path))


def test_correlations_match_their_definitions():
    from tfbert.metrics.correlation import average_ranks, pearson, regression_scores, spearman

    np.testing.assert_array_equal(average_ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=40), rng.normal(size=40)
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert spearman(x, np.exp(x)) == pytest.approx(1.0) and spearman(x, -x) == pytest.approx(-1.0)
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert regression_scores([1, 2], [1, 4])["mse"] == 2.0


def test_ner_evaluation_scores_the_tags_of_predict_words(tiny_preset):
    from tfbert.cli.tasks import TASKS
    from tfbert.data.conll import TaggedSentence
    from tfbert.metrics.conlleval import evaluate
    from tfbert.tasks import BertTokenClassifier

    names = ["O", "B-PER", "I-PER"]
    model = BertTokenClassifier.from_preset(tiny_preset, label_names=names, sequence_length=8)
    words = [CONTEXT.split()[:n] for n in (1, 3, 9, 2, 15, 4)]  # rows of many lengths, long ones in windows
    data = [TaggedSentence(w, [names[i % 3] for i in range(len(w))], f"x:{k}") for k, w in enumerate(words)]
    result = TASKS["ner"].evaluate(model, data, batch_size=2)
    expected = evaluate([s.tags for s in data], model.predict_words(words, batch_size=2))
    assert {k: result[k] for k in ("f1", "precision", "recall", "accuracy")} == \
        {k: expected[k] for k in ("f1", "precision", "recall", "accuracy")}
    assert result["examples"] == 6 and result["label_names"] == names


@pytest.mark.parametrize("task, message", [
    ("ner", "NER data file not found: nowhere. Give a CoNLL file (word ... tag per line, blank line between "
            "sentences) or the tfds name conll2003."),
    ("qa", "QA data file not found: nowhere. Give a SQuAD v1.1 JSON file or the tfds name squad.")])
def test_ner_and_qa_name_their_file_kind_and_tfds_name(task, message):
    import re

    from tfbert.cli.finetune import FINETUNE_DEFAULTS
    from tfbert.cli.tasks import TASKS

    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        TASKS[task].splits({**FINETUNE_DEFAULTS, "task": task, "data": "nowhere"})
