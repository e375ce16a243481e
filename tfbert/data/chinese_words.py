"""Chinese words over character tokens, for whole-word masking (Chinese-BERT-wwm's recipe).

BERT's tokenizer makes every CJK ideograph a token of its own, so
"使用语言模型" is six tokens and the ``##`` rule of whole-word masking sees six
words. A segmenter (``jieba`` by default, the optional extra ``tfbert[zh]``)
says which characters form a word ("使用 / 语言 / 模型"); :func:`word_continuations`
turns that into one flag per token, 1 where the token continues the word of the
token before it, which ``MaskedLMMasker(whole_word=True)`` honours beside the
``##`` rule. Only the masking changes: the model still reads characters.

Alignment is checked, never assumed. Words are placed on the text by their
lengths, so they must spell the text exactly; a sentence whose words do not
(a segmenter that normalises or drops characters) falls back to single
characters, and so does every word that a token crosses into or out of (a
segmenter that splits "BERT" while the tokenizer keeps it whole, a 100+
character run that is one [UNK]). Fallbacks are counted in
:class:`SegmentationStats`, so a bad segmenter shows up in the report instead
of producing misaligned masks.

Example:
>>> from tfbert.data.chinese_words import ChineseWordSegmenter, word_continuations
>>> segmenter = ChineseWordSegmenter(lambda text: ["使用", "语言", "模型"])   # any callable text -> words
>>> word_continuations("使用语言模型", list(range(6)), list(range(1, 7)), segmenter)
[0, 1, 0, 1, 0, 1]
>>> word_continuations("使用语言模型", list(range(6)), list(range(1, 7)), ChineseWordSegmenter(lambda t: ["使用"]))
[0, 0, 0, 0, 0, 0]
>>> segmenter.stats.words, segmenter.stats.fallback_sentences
(3, 0)
"""

import collections
import dataclasses
import logging

logger = logging.getLogger(__name__)

JIEBA_HINT = ("Chinese whole-word masking needs the word segmenter jieba: pip install 'tfbert[zh]' "
              "(or pip install jieba==0.42.1).")


@dataclasses.dataclass
class SegmentationStats:
    """Counts over the sentences segmented so far."""

    sentences: int = 0
    words: int = 0
    multi_character_words: int = 0
    fallback_words: int = 0       # words a token crossed: masked as single characters
    fallback_sentences: int = 0   # sentences whose words did not spell the text: all single characters

    def __str__(self):
        return (f"segmented {self.sentences} sentences into {self.words} words ({self.multi_character_words} of "
                f"several tokens); fell back to single characters for {self.fallback_words} words that disagreed "
                f"with the tokens and {self.fallback_sentences} sentences whose words did not spell the text")


def _jieba():
    try:
        import jieba
    except ImportError:
        raise ImportError(JIEBA_HINT) from None
    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter
    return lambda text: list(jieba.cut(text, HMM=True))


class ChineseWordSegmenter:
    """A word segmenter (``segment(text) -> list of words``) with :class:`SegmentationStats`.

    Args:
        segment: a callable, or ``"jieba"`` (default) for ``jieba.cut`` with
            its HMM for unknown words.
    """

    def __init__(self, segment="jieba"):
        if segment == "jieba":
            segment = _jieba()
        elif not callable(segment):
            raise TypeError(f"segment must be 'jieba' or a callable text -> words, got {type(segment).__name__}.")
        self.segment = segment
        self.stats = SegmentationStats()

    def __call__(self, text):
        words = self.segment(text)
        if isinstance(words, (str, bytes)) or not all(isinstance(w, str) for w in words):
            raise TypeError(f"The segmenter must return a list of strings; got {type(words).__name__} for {text[:30]!r}.")
        return list(words)


def word_continuations(text, starts, ends, segmenter):
    """One flag per token of ``text``: 1 where it continues the previous token's word, else 0.

    ``starts``/``ends`` are the tokens' code-point spans in ``text`` (as
    ``BertTokenizer.tokenize_with_offsets`` returns them).
    """
    stats = segmenter.stats
    stats.sentences += 1
    flags = [0] * len(starts)
    words = [w for w in segmenter(text) if w]
    if "".join(words) != text:
        stats.fallback_sentences += 1
        return flags
    word_of = []  # word index of every code point
    for index, word in enumerate(words):
        word_of.extend([index] * len(word))
    bad = set()
    for start, end in zip(starts, ends):
        if end > start and word_of[start] != word_of[end - 1]:
            bad.update(range(word_of[start], word_of[end - 1] + 1))  # the token crosses these words
    counted = collections.Counter(word_of[s] for s, e in zip(starts, ends) if e > s)
    stats.words += len(words)
    stats.multi_character_words += sum(1 for w, n in counted.items() if n > 1 and w not in bad)
    stats.fallback_words += len(bad)
    for k in range(1, len(starts)):
        s0, e0, s1, e1 = starts[k - 1], ends[k - 1], starts[k], ends[k]
        if e0 > s0 and e1 > s1 and word_of[s1] == word_of[s0] and word_of[s1] not in bad:
            flags[k] = 1
    return flags


def log_stats(segmenter):
    """Log the stats: a warning when anything fell back, else info."""
    stats = segmenter.stats
    level = logging.WARNING if stats.fallback_words or stats.fallback_sentences else logging.INFO
    logger.log(level, "Chinese whole-word masking: %s.", stats)
