"""Plain prose from a MediaWiki XML dump (``enwiki-*-pages-articles*.xml[.bz2]``).

Pretraining wants documents of running text, one per page. This module streams
the dump (bz2 or plain XML) and turns each article's wikitext into paragraphs of
prose. The cleaning is deliberately simple and documented rather than a full
wikitext parser:

- dropped with their content: comments, ``<ref>`` and other non-prose tags
  (``math``, ``gallery``, ``timeline``, ``score``, ...), ``{{templates}}``
  (nested), ``{| tables |}`` (nested), ``[[File:]]``/``[[Image:]]``/
  ``[[Category:]]`` and interlanguage links, headings, list and indented lines,
  and whole trailing sections such as "References", "See also",
  "External links", "Further reading";
- kept as their visible text: ``[[target|text]]`` and ``[[target]]`` links,
  ``[http://url text]`` links, ``'''bold'''`` and ``''italic''``, HTML
  entities (``&nbsp;`` becomes a space), and the content of other tags.

Only namespace-0 pages that are not redirects are articles. Paragraphs shorter
than ``min_paragraph_chars`` (captions, stray fragments) are dropped.

Example:
>>> from tfbert.data.wikipedia import wikitext_to_paragraphs
>>> markup = ("{{Infobox|name=X}}'''Paris''' is the [[capital city|capital]] of "
...           "[[France]].<ref>{{cite web|url=x}}</ref> It has a [[Seine|river]].\\n"
...           "[[File:Paris.jpg|thumb|The [[Eiffel Tower]]]]\\n== History ==\\n"
...           "* a list item\\nThe city grew in the Middle Ages.\\n"
...           "== References ==\\n{{Reflist}}\\nSome reference text here.")
>>> wikitext_to_paragraphs(markup, min_paragraph_chars=10)
['Paris is the capital of France. It has a river.', 'The city grew in the Middle Ages.']
"""

import bz2
import hashlib
import html
import re
import xml.etree.ElementTree as ET

# Sections whose content is lists of references or links, not prose.
SKIP_SECTIONS = frozenset({
    "references", "notes", "footnotes", "see also", "external links", "further reading",
    "bibliography", "sources", "citations", "notes and references", "works cited",
    "selected bibliography", "discography", "filmography", "works", "publications",
})
# Tags dropped together with their content.
_DROP_TAGS = ("ref", "math", "gallery", "timeline", "score", "syntaxhighlight", "source",
              "imagemap", "hiero", "chem", "graph", "mapframe", "templatedata", "code", "pre")
_NON_TEXT_LINK = re.compile(r"^\s*:?\s*(file|image|media|category|[a-z]{2,3}(-[a-z]+)?|simple|wikt|wiktionary)\s*:",
                            re.IGNORECASE)


def iter_articles(path):
    """Yield ``(title, wikitext)`` for every article (namespace 0, not a redirect).

    ``path`` is a MediaWiki XML export, bz2-compressed (``.bz2``) or plain.
    The file is streamed, so dumps larger than memory are fine.
    """
    opener = bz2.open if str(path).endswith(".bz2") else open
    with opener(path, "rb") as f:
        title = ns = text = None
        redirect = False
        for _, element in ET.iterparse(f, events=("end",)):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "title":
                title = element.text or ""
            elif tag == "ns":
                ns = (element.text or "").strip()
            elif tag == "redirect":
                redirect = True
            elif tag == "text":
                text = element.text or ""
            elif tag == "page":
                if ns == "0" and not redirect and not text.lstrip().upper().startswith("#REDIRECT"):
                    yield title, text
                title = ns = text = None
                redirect = False
                element.clear()


def _remove_nested(text, opener, closer):
    """Remove innermost ``opener ... closer`` spans repeatedly (handles nesting)."""
    pattern = re.compile(re.escape(opener) + r"(?:(?!" + re.escape(opener) + r")(?!" + re.escape(closer) + r").)*"
                         + re.escape(closer), re.DOTALL)
    while True:
        text, count = pattern.subn(" ", text)
        if not count:
            return text


def _replace_links(text):
    """Innermost ``[[...]]`` first: drop file/category/interlanguage links, keep link text."""
    inner = re.compile(r"\[\[((?:(?!\[\[)(?!\]\]).)*)\]\]", re.DOTALL)

    def visible(match):
        body = match.group(1)
        if _NON_TEXT_LINK.match(body):
            return " "
        return body.rsplit("|", 1)[-1]

    while True:
        text, count = inner.subn(visible, text)
        if not count:
            return text


def _strip_markup(text):
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    for tag in _DROP_TAGS:
        text = re.sub(rf"<{tag}\b[^>]*/>", " ", text, flags=re.IGNORECASE)
        text = re.sub(rf"<{tag}\b[^>]*>.*?</{tag}\s*>", " ", text, flags=re.IGNORECASE | re.DOTALL)
    text = _remove_nested(text, "{{", "}}")
    text = _remove_nested(text, "{|", "|}")
    text = _replace_links(text)
    text = re.sub(r"\[(?:https?:)?//[^\s\]]+\s+([^\]]*)\]", r"\1", text)  # [url text] -> text
    text = re.sub(r"\[(?:https?:)?//[^\]]*\]", " ", text)  # bare [url]
    text = re.sub(r"<[^>]+>", " ", text)  # any other tag: keep its content
    text = re.sub(r"'{2,}", "", text)  # bold / italic
    text = re.sub(r"__[A-Z]+__", " ", text)  # magic words such as __TOC__
    return html.unescape(text).replace("\u00a0", " ")


def wikitext_to_paragraphs(markup, min_paragraph_chars=40):
    """The prose paragraphs of one article's wikitext, as a list of strings."""
    text = _strip_markup(markup)
    paragraphs, current, skipping = [], [], False

    def flush():
        paragraph = re.sub(r"\s+", " ", " ".join(current)).strip()
        paragraph = re.sub(r"\s+([,.;:!?)])", r"\1", paragraph)
        paragraph = re.sub(r"\(\s*[,;]?\s*\)", "", paragraph).replace("  ", " ").strip()
        if len(paragraph) >= min_paragraph_chars:
            paragraphs.append(paragraph)
        current.clear()

    for line in text.split("\n"):
        stripped = line.strip()
        heading = re.fullmatch(r"(={2,6})\s*(.*?)\s*\1", stripped)
        if heading:
            flush()
            skipping = heading.group(2).strip().lower() in SKIP_SECTIONS
            continue
        if not stripped or stripped[0] in "*#:;|!" or stripped.startswith("----"):
            flush()
            continue
        if not skipping:
            current.append(stripped)
    flush()
    return paragraphs


def load_articles(path, min_paragraph_chars=40, min_article_chars=200):
    """``[(title, [paragraph, ...]), ...]`` for every article with enough prose."""
    articles = []
    for title, markup in iter_articles(path):
        paragraphs = wikitext_to_paragraphs(markup, min_paragraph_chars)
        if sum(len(p) for p in paragraphs) >= min_article_chars:
            articles.append((title, paragraphs))
    if not articles:
        raise ValueError(f"{path}: no article with at least {min_article_chars} characters of prose was found; "
                         "is it a MediaWiki pages-articles XML dump?")
    return articles


def split_articles(articles, eval_fraction=0.1, salt="tfbert"):
    """Hold out whole pages: ``(train, eval)`` lists, chosen by a hash of each title.

    The split depends only on the titles (not on their order or on a random
    state), so the same page is always on the same side.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction!r}.")
    train, held_out = [], []
    for article in articles:
        digest = hashlib.sha256(f"{salt}:{article[0]}".encode("utf-8")).digest()
        (held_out if int.from_bytes(digest[:8], "big") / 2**64 < eval_fraction else train).append(article)
    if not train or not held_out:
        raise ValueError(f"Splitting {len(articles)} articles with eval_fraction={eval_fraction} left one side empty; "
                         "use more articles or another eval_fraction.")
    return train, held_out
