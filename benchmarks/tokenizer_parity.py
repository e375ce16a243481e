"""Token-id parity with the reference tokenizer on more real text than the test fixtures hold.

Reads the reference file written by
    /tmp/refvenv/bin/python tests/fixtures/make_tokenizer_fixtures.py --extra VOCAB_TXT ../shared/data REF.json.gz
(Hugging Face's slow BertTokenizer on SST-2, MRPC, CoNLL-2003, SQuAD, the enwiki sample and 40,000
seeded random strings; uncased MiniLM vocabulary and the derived cased one), tokenizes the same
texts with tfbert's BertTokenizer and prints, per set and vocabulary, how many texts differ.

Run:  python benchmarks/tokenizer_parity.py REF.json.gz
Writes benchmarks/results/tokenizer_parity.json.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import gzip  # noqa: E402
import json  # noqa: E402

import tfbert  # noqa: E402,F401  (sets KERAS_BACKEND)
import tokenizer_corpora as corpora  # noqa: E402

from tfbert.fileio import atomic_write_text  # noqa: E402
from tfbert.preprocessing import BertTokenizer  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with gzip.open(sys.argv[1], "rt", encoding="utf-8") as f:
        reference = json.load(f)
    with gzip.open(os.path.join(ROOT, "tests", "fixtures", "minilm_vocab.txt.gz"), "rt", encoding="utf-8",
                   newline="") as f:
        uncased = [line.rstrip("\n") for line in f.read().split("\n")[:-1]]
    tokenizers = {"uncased": BertTokenizer(uncased, lowercase=True),
                  "cased": BertTokenizer(corpora.cased_vocabulary(uncased), lowercase=False)}
    results = {"reference": reference["meta"], "sets": {}}
    for name, data in reference["sets"].items():
        texts = data["texts"]
        row = {"texts": len(texts)}
        for vocab, tok in tokenizers.items():
            got = []
            for i in range(0, len(texts), 512):
                got += tok(texts[i:i + 512]).to_list()
            bad = [i for i, (g, r) in enumerate(zip(got, data[vocab])) if g != r]
            row[f"{vocab}_mismatches"] = len(bad)
            for i in bad[:3]:
                print(f"  {name}/{vocab} #{i}: {texts[i]!r:.100}\n    got {got[i][:16]}\n    ref {data[vocab][i][:16]}")
        results["sets"][name] = row
        print(f"{name:>14}: {row['texts']:6d} texts, mismatches uncased {row['uncased_mismatches']}, "
              f"cased {row['cased_mismatches']}")
    out = os.path.join(ROOT, "benchmarks", "results", "tokenizer_parity.json")
    atomic_write_text(out, json.dumps(results, indent=2) + "\n")
    print(f"wrote {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    main()
