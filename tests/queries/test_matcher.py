"""Boundary semantics, normalisation, scripts without spaces, save/load of the automaton."""

from __future__ import annotations

import random
import string
import unicodedata

import pytest

import queries.text as text_mod
from queries.matcher import QueryMatcher, load_queries
from queries.text import match_form, tokens


@pytest.fixture
def matcher() -> QueryMatcher:
    return QueryMatcher(["cat", "red circle", "Cat", "猫", "c++", "New York", "café", "แมว"])


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("a cat.", (0,)),
        ("Cat", (0,)),
        ("CAT!", (0,)),
        ("category", ()),
        ("concatenate", ()),
        ("cats", ()),
        ("A red circle and a Cat.", (0, 1)),
        ("red  circle", (1,)),
        ("redcircle", ()),
        ("I love C++!", (4,)),
        ("new\tyork", (5,)),
        ("Café au lait", (6,)),
        ("CAFE\u0301", (6,)),  # decomposed accent: NFKC composes it
        ("黑猫很可爱", (3,)),  # no-space script: every character is a boundary
        ("iPhone猫cat", (0, 3)),
        ("แมวดำ", (7,)),
        ("", ()),
        ("\udcff cat \x00", (0,)),  # lone surrogate and NUL: no crash
    ],
)
def test_match_boundaries(matcher: QueryMatcher, caption: str, expected: tuple[int, ...]) -> None:
    assert matcher.match(caption) == expected


def test_duplicate_forms_keep_first_id(matcher: QueryMatcher) -> None:
    assert 2 not in matcher.match("cat Cat CAT")
    assert matcher.names((0, 1)) == ("cat", "red circle")


def test_combining_marks_stay_in_words() -> None:
    assert tokens("किताब पढ़ो") == ["किताब", "पढ़ो"]
    assert QueryMatcher(["कि"]).match("किताब") == ()


def test_ascii_fast_path_equals_general_path() -> None:
    rng = random.Random(0)
    for _ in range(500):
        text = "".join(rng.choice(string.printable) for _ in range(30))
        general = unicodedata.normalize("NFKC", text).casefold().translate(text_mod._TABLE)
        assert match_form(text) == f" {' '.join(general.split())} "


def test_save_and_load(tmp_path, matcher: QueryMatcher) -> None:
    path = str(tmp_path / "q.aca")
    matcher.save(path)
    loaded = QueryMatcher.from_file(path)
    assert loaded.queries == matcher.queries
    for caption in ["a cat.", "黑猫", "new york c++ red circle"]:
        assert loaded.match(caption) == matcher.match(caption)


def test_empty_matcher_saves_and_loads(tmp_path) -> None:
    path = str(tmp_path / "e.aca")
    QueryMatcher([]).save(path)
    assert QueryMatcher.from_file(path).match("anything") == ()


def test_from_text_and_parquet(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "q.txt").write_text("# comment\ncat\n\nred circle\n")
    pq.write_table(pa.table({"query": ["cat", "dog"]}), tmp_path / "q.parquet")
    assert load_queries(str(tmp_path / "q.txt")) == ["cat", "red circle"]
    assert QueryMatcher.from_file(str(tmp_path / "q.parquet")).match("a dog") == (1,)


def test_load_rejects_other_files(tmp_path) -> None:
    (tmp_path / "x.aca").write_bytes(b"nope")
    with pytest.raises(ValueError):
        QueryMatcher.load(str(tmp_path / "x.aca"))
