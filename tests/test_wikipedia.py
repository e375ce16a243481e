"""Wikipedia dump -> prose documents: markup stripping, article selection, held-out pages."""

import bz2
import glob

from test_case import shared_data_path

from tfbert.data.wikipedia import iter_articles, load_articles, split_articles, wikitext_to_paragraphs

MARKUP = """{{Infobox person|name=Ada|image={{nested|x}}}}
'''Ada Lovelace''' (1815–1852) was an English [[mathematician]] and [[writer|author]].<ref name="a">{{cite book|title=T}}</ref> She worked on the [[Analytical Engine]].<ref name="a"/>
[[File:Ada.jpg|thumb|Portrait by [[Alfred Edward Chalon|Chalon]]]]
<!-- a hidden comment -->
{| class="wikitable"
|-
| cell || {{flag|UK}}
|}
== Early life ==
She was born in [[London]]&nbsp;and studied [https://example.org mathematics] with [[Mary Somerville]].
* a list item that is not prose
== See also ==
Some link text that should not appear in the output at all.
[[Category:Mathematicians]]
[[de:Ada Lovelace]]"""


def test_markup_is_stripped_to_prose():
    paragraphs = wikitext_to_paragraphs(MARKUP, min_paragraph_chars=20)
    assert paragraphs == [
        "Ada Lovelace (1815–1852) was an English mathematician and author. She worked on the Analytical Engine.",
        "She was born in London and studied mathematics with Mary Somerville.",
    ]
    text = " ".join(paragraphs)
    for debris in ("{{", "}}", "[[", "]]", "<ref", "|", "Category", "Chalon", "cell", "hidden", "list item", "Some link"):
        assert debris not in text


def test_articles_skip_redirects_and_other_namespaces(tmp_path):
    def page(title, ns, text, redirect=""):
        return (f"<page><title>{title}</title><ns>{ns}</ns>{redirect}<revision><text xml:space=\"preserve\">"
                f"{text}</text></revision></page>")
    prose = "This article has enough words to count as a paragraph of real prose text."
    xml = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">'
           + page("Real", 0, prose) + page("Moved", 0, "#REDIRECT [[Real]]", '<redirect title="Real" />')
           + page("Wikipedia:Help", 4, prose) + page("Stub", 0, "{{stub}}") + "</mediawiki>")
    path = tmp_path / "dump.xml.bz2"
    path.write_bytes(bz2.compress(xml.encode("utf-8")))
    assert [t for t, _ in iter_articles(str(path))] == ["Real", "Stub"]
    assert load_articles(str(path), min_article_chars=20) == [("Real", [prose])]


def test_held_out_pages_are_whole_and_stable():
    articles = [(f"Page {i}", [f"text {i}"]) for i in range(200)]
    train, held_out = split_articles(articles, eval_fraction=0.2)
    assert len(train) + len(held_out) == 200 and 20 < len(held_out) < 60
    assert not {t for t, _ in train} & {t for t, _ in held_out}
    again = split_articles(list(reversed(articles)), eval_fraction=0.2)[1]
    assert sorted(t for t, _ in again) == sorted(t for t, _ in held_out)  # order does not matter


def test_real_dump():
    dump = glob.glob(shared_data_path("enwiki") + "/*.bz2")[0]
    articles = load_articles(dump)
    assert 90 <= len(articles) <= 110  # 206 pages, about half are redirects
    text = " ".join(p for _, ps in articles for p in ps)
    assert len(text.split()) > 300_000
    for debris in ("{{", "}}", "[[", "<ref", "&nbsp;", "'''"):
        assert text.count(debris) < 5, debris
