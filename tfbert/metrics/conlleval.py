"""Entity-level precision, recall and F1 with the semantics of CoNLL's ``conlleval`` script.

A chunk (entity) starts and ends exactly where ``conlleval.pl`` says it does:
``B-X`` always starts a chunk; ``I-X`` after ``O`` or after a chunk of a
different type also starts one (so an ``I-`` without a preceding ``B-``
still counts, which makes IOB1 files score correctly); a type change ends a
chunk; ``E-`` (IOE) is understood as conlleval understands it. A predicted chunk is
correct when it starts and ends at the same tokens with the same type as a
gold chunk. Sentences are scored as if separated by an ``O`` line.

Example:
>>> from tfbert.metrics.conlleval import evaluate, get_entities
>>> gold = [["B-PER", "I-PER", "O", "B-LOC"]]
>>> pred = [["I-PER", "I-PER", "O", "B-ORG"]]        # I- without B- still starts PER
>>> get_entities(pred[0])
[('PER', 0, 2), ('ORG', 3, 4)]
>>> scores = evaluate(gold, pred)
>>> scores["precision"], scores["recall"], scores["f1"]
(0.5, 0.5, 0.5)
"""

import collections


def split_tag(tag):
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``, as conlleval splits on the first dash."""
    if tag is None:
        raise ValueError("A tag is None; every token needs a tag string such as 'O' or 'B-PER'.")
    prefix, dash, kind = str(tag).partition("-")
    return (prefix, kind) if dash else (prefix, "")


_END_PAIRS = frozenset([("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")])
_START_PAIRS = frozenset([("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")])


def end_of_chunk(prev_tag, tag, prev_type, type_):
    """True when a chunk ended between the previous and the current token
    (conlleval 2004's ``endOfChunk``, prefix pairs and type changes)."""
    if (prev_tag, tag) in _END_PAIRS or prev_tag in ("[", "]"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def start_of_chunk(prev_tag, tag, prev_type, type_):
    """True when a chunk starts at the current token (conlleval 2004's ``startOfChunk``)."""
    if (prev_tag, tag) in _START_PAIRS or tag in ("[", "]"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def get_entities(tags):
    """Chunks of one tag sequence as ``(type, start, end)`` with ``end`` exclusive."""
    entities, start, prev_tag, prev_type = [], None, "O", ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = split_tag(tag)
        if start is not None and end_of_chunk(prev_tag, prefix, prev_type, kind):
            entities.append((prev_type, start, i))
            start = None
        if start_of_chunk(prev_tag, prefix, prev_type, kind):
            start = i
        prev_tag, prev_type = prefix, kind
    return entities


def evaluate(gold_sentences, predicted_sentences):
    """Score predicted tag sequences against gold ones, the way conlleval does.

    Args:
        gold_sentences, predicted_sentences: lists of sentences, each a list
            of tag strings; the two must have the same shapes.
    Returns:
        dict with ``precision``, ``recall``, ``f1`` (fractions in [0, 1],
        conlleval prints them x100), ``accuracy`` (token level), the counts
        ``correct``, ``predicted``, ``gold``, and ``per_type``: type -> dict
        of precision/recall/f1/correct/predicted/gold.
    """
    gold_sentences, predicted_sentences = list(gold_sentences), list(predicted_sentences)
    if len(gold_sentences) != len(predicted_sentences):
        raise ValueError(f"Got {len(gold_sentences)} gold sentences but {len(predicted_sentences)} predicted ones.")
    correct = collections.Counter()
    found_gold = collections.Counter()
    found_pred = collections.Counter()
    correct_tags = tokens = 0
    for index, (gold, pred) in enumerate(zip(gold_sentences, predicted_sentences)):
        gold, pred = list(gold), list(pred)
        if len(gold) != len(pred):
            raise ValueError(
                f"Sentence {index} has {len(gold)} gold tags but {len(pred)} predicted tags; "
                "predict one tag per word."
            )
        in_correct = False
        last_g, last_g_type, last_p, last_p_type = "O", "", "O", ""
        for position, (g_tag, p_tag) in enumerate(zip(gold + ["O"], pred + ["O"])):
            g, g_type = split_tag(g_tag)
            p, p_type = split_tag(p_tag)
            g_end = end_of_chunk(last_g, g, last_g_type, g_type)
            p_end = end_of_chunk(last_p, p, last_p_type, p_type)
            if in_correct:
                if g_end and p_end and last_g_type == last_p_type:
                    in_correct = False
                    correct[last_g_type] += 1
                elif g_end != p_end or g_type != p_type:
                    in_correct = False
            g_start = start_of_chunk(last_g, g, last_g_type, g_type)
            p_start = start_of_chunk(last_p, p, last_p_type, p_type)
            if g_start and p_start and g_type == p_type:
                in_correct = True
            if g_start:
                found_gold[g_type] += 1
            if p_start:
                found_pred[p_type] += 1
            if position < len(gold):  # the appended boundary is not a token
                tokens += 1
                correct_tags += int(g == p and g_type == p_type)
            last_g, last_g_type, last_p, last_p_type = g, g_type, p, p_type
        if in_correct:  # cannot happen after the "O" boundary, kept for fidelity
            correct[last_g_type] += 1

    def prf(c, p, g):
        precision = c / p if p else 0.0
        recall = c / g if g else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "correct": c, "predicted": p, "gold": g}

    total = prf(sum(correct.values()), sum(found_pred.values()), sum(found_gold.values()))
    types = sorted(set(found_gold) | set(found_pred))
    total["accuracy"] = correct_tags / tokens if tokens else 0.0
    total["per_type"] = {t: prf(correct[t], found_pred[t], found_gold[t]) for t in types}
    return total
