"""Texts for the tokenizer parity checks, shared by the tests and the fixture generator.

The corpora (Rotten Tomatoes snippets, ChnSentiCorp) are read from ``../shared/data``; the
hand-written edge cases live here. ``ids_digest`` is how the fixture stores one sentence's
reference ids compactly (4 bytes of a sha256).
"""

import bz2
import csv
import hashlib
import io
import os

import numpy as np

RT_FILE = ("rotten_tomatoes", "rotten_tomatoes_corpus_full.csv.bz2")
CHN_FILES = (("chnsenticorp", "train.tsv"), ("chnsenticorp", "dev.tsv"))


def rotten_tomatoes_snippets(path):
    """The 12,808 critic snippets (category fresh or rotten), in file order."""
    with bz2.open(path, "rb") as raw:
        rows = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        return [row["text"] for row in rows if row["category"] in ("fresh", "rotten")]


def chnsenticorp_texts(paths):
    """The ``text_a`` column of ChnSentiCorp TSV files (header ``label\\ttext_a``), in order."""
    texts = []
    for path in paths:
        with open(path, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        header = lines[0].rstrip("\r").split("\t")
        column = header.index("text_a")
        for line in lines[1:]:
            if line.strip():
                texts.append(line.rstrip("\r").split("\t")[column])
    return texts


def extra_corpora(shared_data):
    """More real text for the parity check of benchmarks/tokenizer_parity.py (name -> texts)."""
    import json
    out = {}
    with open(os.path.join(shared_data, "sst2", "train.tsv"), encoding="utf-8", newline="") as f:
        out["sst2"] = [line.rstrip("\n").rsplit("\t", 1)[0] for line in f][1:]
    with open(os.path.join(shared_data, "mrpc", "train.tsv"), encoding="utf-8-sig", newline="") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    out["mrpc"] = [r[3] for r in rows] + [r[4] for r in rows]
    sentences, words = [], []
    with open(os.path.join(shared_data, "conll2003", "train.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("-DOCSTART-"):
                if words:
                    sentences.append(" ".join(words))
                    words = []
            else:
                words.append(line.split(" ")[0])
    out["conll2003"] = sentences
    with open(os.path.join(shared_data, "squad", "squad-v1.1-dev-articles-00-37.json"), encoding="utf-8") as f:
        squad = json.load(f)["data"]
    paragraphs = [p for article in squad for p in article["paragraphs"]]
    out["squad"] = [p["context"] for p in paragraphs] + [q["question"] for p in paragraphs for q in p["qas"]]
    path = os.path.join(shared_data, "enwiki", "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    with bz2.open(path, "rt", encoding="utf-8") as f:
        out["enwiki_lines"] = [line for line in f.read().split("\n") if line.strip()]
    return out


def fuzz_texts(count=40000, seed=1):
    """Random strings over all of Unicode plus characters the reference treats specially."""
    import random
    import unicodedata
    rng = random.Random(seed)
    pool = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000 and (
        unicodedata.category(chr(c))[0] in "LMNPSZ" or c < 0x100 or unicodedata.category(chr(c)) in ("Cf", "Co", "Cn"))]
    common = list("abcABC ΣσΑİıß…é\u0301\u0345,.[]MASKSEP \t\n中文한국日本語😀\u200b\x00\ufffd") + ["[MASK]", "[SEP]", "[UNK]"]
    texts = []
    for _ in range(count):
        n = rng.randint(0, 30)
        texts.append("".join(rng.choice(pool) if rng.random() < 0.4 else rng.choice(common) for _ in range(n)))
    return texts


def ids_digest(ids):
    """4 bytes of the sha256 of one sentence's ids, as an unsigned 32-bit integer."""
    return int.from_bytes(hashlib.sha256(",".join(str(int(i)) for i in ids).encode()).digest()[:4], "little")


def digests(id_lists):
    return np.array([ids_digest(ids) for ids in id_lists], np.uint32)


def texts_digest(texts):
    """sha256 of the corpus itself, so a changed data file is reported as such."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\x00")
    return h.hexdigest()


def cased_vocabulary(uncased_tokens):
    """A cased WordPiece vocabulary built from an uncased one, to exercise the cased path.

    The uncased tokens plus: capitalized and upper-case forms of the first 4,000 ASCII
    words, the upper-case letters and accented Latin, Greek and Cyrillic letters (as
    words and "##" pieces), a few accented words. Deterministic.
    """
    base = list(uncased_tokens)
    seen = set(base)
    words = [t for t in base if t.isascii() and t.isalpha() and not t.startswith("[")][:4000]
    extra = [w.capitalize() for w in words] + [w.upper() for w in words[:600] if len(w) > 1]
    letters = [chr(c) for c in list(range(0x41, 0x5B)) + list(range(0xC0, 0x250)) + list(range(0x386, 0x3D0))
               + list(range(0x400, 0x460)) if chr(c).isalpha()]
    extra += letters + ["##" + ch for ch in letters]
    extra += ["Café", "café", "cliché", "Cliché", "naïve", "résumé", "Ångström", "São", "Straße", "İstanbul",
              "##é", "##è", "##ü", "##ö", "##ß", "Ω", "Å", "μ", "µ", "ﬁ", "Ｈ", "##ｅ", "…"]
    out = []
    for token in extra:
        if token not in seen:
            seen.add(token)
            out.append(token)
    return base + out


# Hand-written edge cases. Strings are str; entries given as bytes are raw UTF-8 input (possibly
# invalid), whose reference is computed on bytes.decode("utf-8", errors="replace").
EDGE_CASES = [
    "", " ", "\t\n\r ", "\u00a0\u3000\u2028\u2029", "a\u2003b\u2009c\u202fd\u205fe\u1680f\u180eg",
    "line1\nline2\r\nline3\rline4",
    # accents, precomposed and decomposed
    "Café crème brûlée", "naïve résumé", "cliché", "Cliché", "Ångström", "Œuvre", "Ñandú", "Dvořák", "Łódź",
    "Søren Kierkegaard", "façade", "Zoë", "São Paulo", "Ærøskøbing", "Tiếng Việt có dấu", "Phở",
    "Cafe\u0301", "e\u0301\u0301", "\u0301start", "A\u030a", "d\u0323\u0307 d\u0307\u0323", "\u0345\u0301",
    # full-width and half-width forms
    "ｈｅｌｌｏ　ｗｏｒｌｄ！", "ＡＢＣ１２３", "（括号）", "Ｔｏｋｙｏ", "ｶﾀｶﾅ", "ガ カ\u3099",
    # emoji and symbols
    "I ❤️ NY 😀👍🏽", "👨‍👩‍👧‍👦 family", "🇫🇷 flag", "☃ snowman ★", "\U0001FAE0 melting", "\U0001FAE8 shaking",
    "∑ ∫ √ ∞ ≠ ≤", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝", "① Ⅻ Ⅺ Ⓐ ⓐ", "²³¹ ½", "℃ ℉ \u2126 \u212b \u212a ℌ", "µ μ", "§ ¶ † ‡ • ‰",
    # zero-width, format and control characters
    "zero\u200bwidth", "soft\u00adhyphen", "bom\ufeffhere", "a\u200cb\u200dc", "tab\there", "null\x00char",
    "bell\x07", "vt\x0bff\x0c", "nel\x85x", "\x1c\x1d\x1e\x1f", "ctrl\x7f\x80\x9f", "rtl\u202emark\u202c",
    "\ufffd replacement", "\u2060wordjoiner", "\U000e0001tag\U000e0041", "\ue000pua\U000f0000x",
    # scripts
    "مرحبا بالعالم", "العَرَبِيَّة", "\u0628\u0651\u064e \u0628\u064e\u0651", "٣٤٥ ؟،", "שָׁלוֹם",
    "Привет, мир!", "ЁЖИК ёжик", "Й й", "Ї ї", "Երևան և", "नमस्ते दुनिया", "\u0958 \u0915\u093c",
    "สวัสดีชาวโลก", "ᲐᲑᲒ Ⴀ", "ᏣᎳᎩ ꮳꮃꭹ",
    # Greek and the final sigma
    "ΟΔΟΣ", "Σ", "ΑΣ ΣΑ", "ΑΣ.", "Α\u0301Σ", "ΟΔΟΣ\u0301", "ὈΔΥΣΣΕΎΣ", "σς", "ά έ ή", "ᾼ ᾳ ᾈ", "ΣΑΣ ΣΑΣ.",
    "Σ1", "ΑΣ1", "ΑΣ'Α", "Α'Σ", "ΑΣ\u00adΑ", "ΑΣ\u0301", "ΑΣ[MASK]", "[MASK]ΣΑ", "ΑΣ中", "ΑΣ\u200bΑ", "ΑΣ\x0bΑ",
    # Japanese, Korean, Chinese
    "東京は日本の首都です。", "カタカナ ひらがな", "안녕하세요 세계", "한국어", "\u1112\u1161\u11ab",
    "我爱NLP和BERT模型", "Python3.8版本", "中文，English混合！", "\uf900\ufa0e \U0002f800", "𠀀 \U00030000",
    "。、「」『』【】〜・",
    # casing specials
    "İstanbul", "ISTANBUL ıi", "Diyarbakır", "İ", "i\u0307", "I\u0307", "Straße", "STRASSE", "ẞ", "Fußball",
    "Größe", "ﬁﬂ ﬃ", "Ǆ ǅ ǆ", "ŉ ǰ ΐ", "Ⅻ",
    # punctuation
    "…", "Wait… what?", "“quotes” ‘single’", "em—dash – en", "¿Qué?", "¡Hola!", "«guillemets»",
    "$5.00 ^caret `backtick` ~tilde |pipe|", "100% #hashtag @user", "C++ & C#", "3.14159", "1,000,000",
    "e-mail: john.doe@example.com", "http://example.com/a?b=c&d=e", "don't won't", "##hash",
    "Mr. O'Neil's 1990s-era co-op",
    # special tokens written in the text
    "[UNK] [CLS] text [SEP] [MASK] [PAD]", "x[MASK]y", "[mask] lowercase", "[MASK", "[[SEP]]", "[SEP][SEP]",
    # long words
    "a" * 100, "a" * 101, "b" * 200 + " ok", "supercalifragilisticexpialidocious" * 4, "é" * 101,
    "e\u0301" * 60, "ǅ" * 101, "İ" * 60, "well-known " + "a-" * 60, "x" * 99 + "\u0301" * 5,
    " ".join(["word"] * 1000),
    # invalid UTF-8 (bytes)
    b"caf\xe9", b"\xff\xfe\xfd", b"ok\xc3", b"\xed\xa0\x80surrogate", b"over\xc0\xaflong", b"a\xe2\x82b",
    b"\xf4\x90\x80\x80beyond",
]


def edge_case_text(case):
    """The str the reference sees for an edge case."""
    return case.decode("utf-8", errors="replace") if isinstance(case, bytes) else case


def shared_paths(shared_data):
    return (os.path.join(shared_data, *RT_FILE), [os.path.join(shared_data, *p) for p in CHN_FILES])
