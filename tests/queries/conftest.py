"""Fixtures for the queries tests: tiny WordNet files and a tiny Wikipedia dump, written here."""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest

WORDNET_NOUN = """\
  1 This software and database is being provided to you, the LICENSEE, by
  2 Princeton University under the following license.
00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which exists
02121620 05 n 03 cat 0 true_cat 0 felis_catus 0 001 @ 02120997 n 0000 | feline mammal
02121808 05 n 02 cat 1 house_cat 0 000 | a domestic cat
this line is not a synset
09999999 05 n zz broken 0 000 | bad hex word count
"""
WORDNET_ADJ = """\
00001740 00 a 01 able 0 000 | having the necessary means
00002312 00 a 02 red(a) 0 ruby(p) 0 000 | of a red colour
"""

ARTICLE = """\
{{Infobox animal|name=Cat}}
The '''cat''' (''Felis catus'') is a [[domestic animal|domesticated]] [[species]].<ref>{{cite web|url=http://x}}</ref>
== History ==
[[File:Cat.jpg|thumb|A [[cat]] sitting]]
{| class="wikitable"
| tablecell || tablecell
|}
The new york cat sat on the new york mat. New York is big.
[[Category:Cats]]
"""


def _page(title: str, text: str, ns: int = 0, redirect: bool = False) -> str:
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    red = f'    <redirect title="{title}x" />\n' if redirect else ""
    return (
        f"  <page>\n    <title>{title}</title>\n    <ns>{ns}</ns>\n{red}"
        f'    <revision>\n      <text xml:space="preserve">{esc}</text>\n    </revision>\n'
        "  </page>\n"
    )


@pytest.fixture
def wordnet_dir(tmp_path: Path) -> str:
    """A WordNet directory with data.noun and data.adj (one bad line each kind)."""
    (tmp_path / "data.noun").write_text(WORDNET_NOUN)
    (tmp_path / "data.adj").write_text(WORDNET_ADJ)
    return str(tmp_path)


@pytest.fixture
def wiki_dump(tmp_path: Path) -> str:
    """A pages-articles .xml.bz2 with articles, a redirect, a talk page and a malformed page."""
    pages = [_page(f"Cat {i}", ARTICLE) for i in range(3)]
    pages.append(_page("Kitty", "#REDIRECT [[Cat]]", redirect=True))
    pages.append(_page("Talk:Cat", "talk talk", ns=1))
    pages.append("  <page>\n    <title>Broken</title>\n    <ns>0<ns>\n  </page>\n")
    xml = (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" xml:lang="en">\n'
        + "".join(pages)
        + "</mediawiki>\n"
    )
    path = tmp_path / "enwiki-pages-articles.xml.bz2"
    path.write_bytes(bz2.compress(xml.encode("utf-8")))
    return str(path)
