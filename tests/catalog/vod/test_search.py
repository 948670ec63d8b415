"""Search: folding as pure cases, then ranking, every-word matching and filters on the real database."""

from __future__ import annotations

import random
import string

import pytest

from catalog.vod.search import fold, parse_query, words
from tests.catalog.conftest import make_title, publish_title
from tests.entitlements.conftest import bearer, login


@pytest.mark.parametrize("text, folded", [
    ("Żółw", "zolw"), ("ŁÓDŹ", "lodz"), ("łódź", "lodz"), ("Gęślą jaźń", "gesla jazn"), ("Straße", "strasse"),
    ("Crème Brûlée", "creme brulee"), ("Ærøskøbing", "aeroskobing"), ("ﬁlm", "film"), ("İstanbul", "istanbul"),
    ("Ğüç", "guc"), ("Дом", "дом"), ("ZOLW", "zolw"),
])
def test_fold(text, folded) -> None:  # noqa: ANN001
    assert fold(text) == folded


@pytest.mark.parametrize("text, expected", [
    ("Pan Tadeusz, czyli ostatni zajazd", ["pan", "tadeusz", "czyli", "ostatni", "zajazd"]),
    ("Rock'n'Roll 2: część_druga", ["rock", "n", "roll", "2", "czesc", "druga"]),
    ("  --  ", []), (None, []), ("x" * 50, ["x" * 40]),
])
def test_words(text, expected) -> None:  # noqa: ANN001
    assert words(text) == expected


def test_a_query_needs_a_word() -> None:
    assert parse_query("Zółw ZÓŁW zolw") == ["zolw"]
    with pytest.raises(Exception, match="no letters"):
        parse_query(" ?! ")


def _tag() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=10))


@pytest.fixture
def viewer(http, make_subscriber) -> dict:  # noqa: ANN001
    return bearer(login(http, make_subscriber()["customer_number"]).json())


def _ids(http, viewer, **params) -> list[str]:  # noqa: ANN001, ANN003
    resp = http.get("/v1/vod/search", params=params, headers=viewer)
    assert resp.status_code == 200, resp.text
    return [t["id"] for t in resp.json()["items"]]


def test_diacritics_and_case_are_ignored(http, rt, staff_keys, viewer) -> None:  # noqa: ANN001
    tag = _tag()
    turtle = publish_title(http, rt, staff_keys["admin"], texts={"pol": {"title": f"Żółw{tag} i przyjaciele"}})
    city = publish_title(http, rt, staff_keys["admin"], texts={"eng": {"title": f"Łódź{tag} by night"}})
    assert _ids(http, viewer, q=f"zolw{tag}") == [turtle["id"]]
    assert _ids(http, viewer, q=f"ŻÓŁW{tag[:4]}") == [turtle["id"]], "the last word matches as a prefix"
    assert _ids(http, viewer, q=f"LODZ{tag}") == [city["id"]]
    assert _ids(http, viewer, q=f"lódź{tag} night") == [city["id"]]
    assert _ids(http, viewer, q=f"lodz{tag} day") == [], "every word must match"


def test_ranking_title_then_people_then_synopsis_exact_before_prefix_newer_first(
        http, rt, staff_keys, viewer) -> None:  # noqa: ANN001
    tag, admin = _tag(), staff_keys["admin"]

    def titled(text: str, synopsis: str | None = None) -> str:
        return publish_title(http, rt, admin, texts={"pol": {"title": text, "synopsis": synopsis}})["id"]

    synopsis = titled("Bez nazwy", synopsis=f"Opowieść o {tag}.")
    person = publish_title(http, rt, admin, texts={"pol": {"title": "Inny"}},
                           credits=[{"role": "actor", "name": f"Jan {tag.capitalize()}"}])["id"]
    prefix = titled(f"{tag}owie")
    exact_old = titled(f"Wielki {tag}")
    exact_new = titled(f"Mały {tag}")
    make_title(http, admin, texts={"pol": {"title": f"Szkic {tag}"}})  # a draft never shows
    assert _ids(http, viewer, q=tag) == [exact_new, exact_old, prefix, person, synopsis]
    page = http.get("/v1/vod/search", params={"q": tag, "offset": 1, "limit": 2}, headers=viewer).json()
    assert [t["id"] for t in page["items"]] == [exact_old, prefix] and page["total"] == 5
    assert _ids(http, viewer, q=f"mały {tag}") == [exact_new]


def test_search_filters(http, rt, staff_keys, viewer) -> None:  # noqa: ANN001
    tag, admin = _tag(), staff_keys["admin"]
    old = publish_title(http, rt, admin, year=1999, genres=["comedy"], age_rating="7",
                        texts={"pol": {"title": f"Komedia {tag}"}})["id"]
    new = publish_title(http, rt, admin, year=2024, genres=["horror"], age_rating="18",
                        texts={"pol": {"title": f"Horror {tag}"}})["id"]
    series = publish_title(http, rt, admin, kind="series", genres=["horror"], texts={"pol": {"title": f"Serial {tag}"}})
    assert _ids(http, viewer, q=tag, year=1999) == [old]
    assert _ids(http, viewer, q=tag, genre="horror") == [series["id"], new]
    assert _ids(http, viewer, q=tag, kind="series") == [series["id"]]
    assert _ids(http, viewer, q=tag, age_rating="12") == [old]
    bad = http.get("/v1/vod/search", params={"q": "?!"}, headers=viewer)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_SEARCH"
    assert http.get("/v1/vod/search", params={"q": tag}).status_code == 401
