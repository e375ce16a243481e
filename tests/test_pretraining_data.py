"""create_pretraining_data, written anew: sentence splitting, packing, NSP pairs, bad input."""

import numpy as np
import pytest

from tfbert.data.masking import MaskedLMMasker
from tfbert.data.pretraining_data import build_instances, create_instances, pretraining_dataset, tokenize_documents
from tfbert.data.sentences import split_sentences
from tfbert.preprocessing.tokenizer import BertTokenizer

CLS, SEP = 2, 3


def numbered_corpus(num_docs=30, seed=0, sentence_lengths=(3, 12), sentences=(4, 15)):
    """Documents whose token ids say where they come from: doc d, k-th token -> 10000 * (d + 1) + k."""
    rng = np.random.default_rng(seed)
    docs = []
    for d in range(num_docs):
        k, doc = 0, []
        for _ in range(int(rng.integers(*sentences))):
            n = int(rng.integers(*sentence_lengths))
            doc.append(list(range(10000 * (d + 1) + k, 10000 * (d + 1) + k + n)))
            k += n
        docs.append(doc)
    return docs


def segments(row, token_ids, padding_mask):
    ids = token_ids[row][padding_mask[row] > 0].tolist()
    assert ids[0] == CLS and ids[-1] == SEP and ids.count(SEP) == 2
    middle = ids.index(SEP)
    return ids[1:middle], ids[middle + 1:-1]


def test_packing_layout_and_nsp_pairs():
    docs = numbered_corpus(sentences=(40, 60))
    inst = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=32, short_seq_prob=0.0, seed=1,
                            dupe_factor=2)
    token_ids, segment_ids, mask = inst["token_ids"], inst["segment_ids"], inst["padding_mask"]
    labels = inst["next_sentence_label"]
    assert token_ids.shape[1] == 32 and token_ids.dtype == np.int32 and len(labels) > 400
    for row in range(len(labels)):
        a, b = segments(row, token_ids, mask)
        assert a and b and len(a) + len(b) <= 29
        n = int(mask[row].sum())
        assert np.all(token_ids[row, n:] == 0) and np.all(mask[row, :n] == 1)
        assert np.array_equal(segment_ids[row, :n], [0] * (len(a) + 2) + [1] * (len(b) + 1))
        doc_a = {t // 10000 - 1 for t in a}
        doc_b = {t // 10000 - 1 for t in b}
        assert len(doc_a) == 1 and len(doc_b) == 1  # each segment comes from one document
        if labels[row] == 1:
            assert doc_a != doc_b  # a random B never comes from A's document
        else:
            assert doc_a == doc_b and max(a) < min(b)  # the actual continuation, in order
        assert inst["document_a"][row] == doc_a.pop() and inst["document_b"][row] == doc_b.pop()
    # Balanced when chunks hold several sentences (a one-sentence chunk, e.g. at a document's end,
    # always gets a random B, as in the original, which tilts short documents towards 1).
    assert abs(labels.mean() - 0.5) < 0.06, labels.mean()


def _label_given_b_document_accuracy(inst):
    """Accuracy of guessing the NSP label from B's document alone (the best guess per document)."""
    labels, docs = inst["next_sentence_label"], inst["document_b"]
    return sum(max(np.sum(labels[docs == d] == 0), np.sum(labels[docs == d] == 1))
               for d in np.unique(docs)) / len(labels)


@pytest.mark.parametrize("weighting", ["length", "uniform"])
def test_random_b_documents_follow_the_weighting(weighting):
    # 4 long documents and 36 short ones: short documents give few continuations.
    docs = numbered_corpus(num_docs=4, sentences=(150, 160)) + numbered_corpus(num_docs=36, seed=1, sentences=(2, 4))
    docs = [[[t + 10000 * 40 * (i >= 4) for t in s] for s in doc] for i, doc in enumerate(docs)]
    inst = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=32, short_seq_prob=0.0, seed=0,
                            dupe_factor=3, random_document_weighting=weighting)
    labels = inst["next_sentence_label"]
    random_b = inst["document_b"][labels == 1]
    assert np.all(random_b != inst["document_a"][labels == 1])
    tokens = np.array([sum(len(s) for s in doc) for doc in docs], float)
    share_long = np.isin(random_b, np.arange(4)).mean()
    majority = max(labels.mean(), 1 - labels.mean())
    if weighting == "length":  # random Bs land where the text is: the long documents hold most of it
        assert abs(share_long - tokens[:4].sum() / tokens.sum()) < 0.08, share_long
        assert _label_given_b_document_accuracy(inst) < majority + 0.06  # B's document tells nothing
    else:  # google-research: every document alike, 4 of 40 are long
        assert abs(share_long - 4 / 40) < 0.05, share_long
        assert _label_given_b_document_accuracy(inst) > majority + 0.15  # B's document gives the label away


def test_random_document_weighting_is_checked():
    with pytest.raises(ValueError, match="random_document_weighting must be one of"):
        create_instances([[[5]], [[6]]], cls_id=CLS, sep_id=SEP, random_document_weighting="tokens")


def test_documents_longer_than_a_sequence_and_sentences_longer_than_one():
    docs = [[list(range(100, 300))], [list(range(1000, 1010)), list(range(2000, 2010))]]  # a 200-token sentence
    inst = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=16, seed=0, dupe_factor=3)
    assert np.all(inst["padding_mask"].sum(1) <= 16)
    long_rows = inst["document_a"] == 0
    assert np.all(inst["next_sentence_label"][long_rows] == 1)  # a single-sentence chunk always gets a random B
    for row in np.flatnonzero(long_rows):
        a, _ = segments(row, inst["token_ids"], inst["padding_mask"])
        assert np.all(np.diff(a) == 1)  # trimmed at the ends only: still one contiguous stretch


def test_single_sentence_documents_get_random_next():
    docs = [[[10 + d, 20 + d, 30 + d]] for d in range(10)]
    inst = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=20, seed=0)
    assert len(inst["token_ids"]) == 10 and np.all(inst["next_sentence_label"] == 1)
    assert np.all(inst["document_a"] != inst["document_b"])


def test_short_seq_prob_dupe_factor_and_seed():
    docs = numbered_corpus(num_docs=20, sentences=(10, 20))
    full = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=64, short_seq_prob=0.0, seed=0)
    short = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=64, short_seq_prob=1.0, seed=0)
    assert short["padding_mask"].sum(1).mean() < 0.8 * full["padding_mask"].sum(1).mean()
    twice = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=64, short_seq_prob=0.0, seed=0,
                             dupe_factor=2)
    assert 1.8 < len(twice["token_ids"]) / len(full["token_ids"]) < 2.2
    again = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=64, short_seq_prob=0.0, seed=0)
    other = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=64, short_seq_prob=0.0, seed=1)
    assert np.array_equal(full["token_ids"], again["token_ids"])
    assert not np.array_equal(full["token_ids"], other["token_ids"][:len(full["token_ids"])])


def test_empty_documents_and_sentences_are_skipped():
    docs = [[], [[], [5, 6]], [[7, 8, 9]], [[]]]
    inst = create_instances(docs, cls_id=CLS, sep_id=SEP, max_seq_length=10, seed=0)
    assert len(inst["token_ids"]) == 2 and set(inst["document_a"]) == {0, 1}  # indices among non-empty docs


def test_too_few_documents_and_too_small_corpus_are_clear_errors():
    with pytest.raises(ValueError, match="at least 2 non-empty documents"):
        create_instances([[[5, 6, 7]], [], [[]]], cls_id=CLS, sep_id=SEP)
    inst = create_instances([[[5, 6]], [[7, 8]]], cls_id=CLS, sep_id=SEP, max_seq_length=8)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(5, 10)]
    with pytest.raises(ValueError, match="fewer than one batch of 32"):
        pretraining_dataset(inst, MaskedLMMasker(vocab), batch_size=32)
    with pytest.raises(ValueError, match="max_seq_length"):
        create_instances([[[5]], [[6]]], cls_id=CLS, sep_id=SEP, max_seq_length=4)
    with pytest.raises(ValueError, match="dupe_factor"):
        create_instances([[[5]], [[6]]], cls_id=CLS, sep_id=SEP, dupe_factor=0)


def test_sentence_splitter():
    assert split_sentences("It rained. Then it stopped! Did it? Yes.") == ["It rained.", "Then it stopped!", "Did it?", "Yes."]
    assert split_sentences("Mr. Smith visited Washington D.C. in 1999. He left.") == [
        "Mr. Smith visited Washington D.C. in 1999.", "He left."]
    assert split_sentences("Values e.g. 3.5 and 4.2 are small. Fine.") == ["Values e.g. 3.5 and 4.2 are small.", "Fine."]
    assert split_sentences('He said "Stop." She did.') == ['He said "Stop."', "She did."]
    assert split_sentences("第一句。第二句？第三句！") == ["第一句。", "第二句？", "第三句！"]
    assert split_sentences("line one\nline two") == ["line one", "line two"]
    assert split_sentences("   ") == []
    with pytest.raises(TypeError):
        split_sentences(None)


def test_build_instances_from_raw_text_with_the_tfbert_tokenizer():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "dog", "sat", "ran", ".", "a", "mat", "##s"]
    tokenizer = BertTokenizer(vocab)
    docs = ["The cat sat. The dogs ran. A cat sat.", ["The dog ran.", "", "A mat."], "", "Cats."]
    tokenized = tokenize_documents(docs, tokenizer)
    assert tokenized == [[[5, 6, 8, 10], [5, 7, 13, 9, 10], [11, 6, 8, 10]], [[5, 7, 9, 10], [11, 12, 10]],
                         [[6, 13, 10]]]
    inst = build_instances(docs, tokenizer, max_seq_length=16, seed=0)
    assert inst["token_ids"].shape[1] == 16 and set(np.unique(inst["token_ids"])) <= set(range(len(vocab)))
    with pytest.raises(TypeError, match="list of documents"):
        tokenize_documents("just one string", tokenizer)
    with pytest.raises(TypeError, match="Document 0"):
        tokenize_documents([42], tokenizer)
