"""Title search that ignores case and diacritics, the same on SQLite and PostgreSQL.

Folding happens here, in Python, twice: when a title is written (its words go to
``vod_title_words``, one row per distinct folded word with the best field it occurs in) and on
the query. The database only compares plain strings with ``=`` and a prefix range, so neither
collations nor extensions (unaccent, ICU) decide what matches.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import String, any_, delete, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from catalog.vod.errors import InvalidSearch
from catalog.vod.models import Title, TitleText, TitleWord

WEIGHTS = {"title": 3, "people": 2, "synopsis": 1}
MAX_WORD = 40  # the column's length: longer words are cut, and so is the query's
MAX_QUERY_WORDS = 8
# The most word rows one search reads: the bound on its cost, however broad the query (docs/vod.md: why 1,000).
MAX_CANDIDATES = 1000
# Letters NFKD leaves whole (they are not a base letter plus a combining mark).
_LETTERS = str.maketrans({"ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ħ": "h", "ı": "i",
                          "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "þ": "th", "Þ": "th", "ð": "d"})
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Return text in lower case without diacritics: 'Żółw' -> 'zolw', 'Łódź' -> 'lodz', 'ß' -> 'ss'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str | None) -> list[str]:
    """Return the folded words of a text, in order, each cut to the column's length."""
    return [w[:MAX_WORD] for w in _WORD.findall(fold(text or ""))]


def title_words(title: Title, texts: list[TitleText]) -> dict[str, int]:
    """Return each folded word of a title with the weight of the best field it occurs in."""
    fields = [(WEIGHTS["title"], [title.original_title] + [t.title for t in texts]),
              (WEIGHTS["people"], [c.get("name") for c in title.credits or []]),
              (WEIGHTS["synopsis"], [x for t in texts for x in (t.synopsis, t.short_synopsis)])]
    out: dict[str, int] = {}
    for weight, values in fields:
        for value in values:
            for word in words(value):
                out[word] = max(out.get(word, 0), weight)
    return out


def reindex(*, db_session: Session, title: Title) -> None:
    """Replace a title's search words with those of its current texts and credits."""
    texts = list(db_session.scalars(select(TitleText).where(TitleText.title_id == title.id)))
    db_session.execute(delete(TitleWord).where(TitleWord.title_id == title.id))
    found = title_words(title, texts)
    if found:
        db_session.execute(insert(TitleWord), [{"word": w, "title_id": title.id, "weight": n}
                                               for w, n in found.items()])


def parse_query(q: str) -> list[str]:
    """Return the folded words of a query, or raise InvalidSearch when there are none."""
    found = list(dict.fromkeys(words(q)))
    if not found:
        raise InvalidSearch("the query has no letters or digits to search for")
    return found[:MAX_QUERY_WORDS]


def _after(prefix: str) -> str:
    # The least string greater than every string starting with prefix (code point order,
    # which is byte order in UTF-8: SQLite's BINARY and PostgreSQL's "C" collation agree).
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _prefix(column, w: str):  # noqa: ANN001, ANN202
    return (column >= w) & (column < _after(w))


def among(column, ids: list[str], *, db_session: Session):  # noqa: ANN001, ANN201
    """Return the condition "column is one of ids": one array parameter on PostgreSQL, not thousands."""
    # Up to MAX_CANDIDATES ids: as an IN list they cost more to render and bind than to look up.
    if db_session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(ids, ARRAY(String)))
    return column.in_(ids)


def word_scores(*, db_session: Session, word: str, within: list[str] | None = None,
                cap: int = MAX_CANDIDATES) -> tuple[dict[str, int], bool]:
    """Return {title_id: score} of the titles holding a word that starts with word, and whether the cap cut it.

    A match scores its field's weight twice, plus one when it matched whole, so a title word
    beats a name, a name beats the synopsis and, in a field, an exact word beats a prefix. Fields
    are read best first (index ``(weight, word)``): when more than ``cap`` rows match, the ones left
    out are in the weakest field reached, so what is ranked is the best of what matched. Among
    given candidates (``within``) one query reads every field.
    """
    scores: dict[str, int] = {}

    def add(rows) -> None:  # noqa: ANN001
        for title_id, found, weight in rows:
            score = weight * 2 + (found == word)
            if score > scores.get(title_id, 0):
                scores[title_id] = score

    if within is not None:
        add(db_session.execute(select(TitleWord.title_id, TitleWord.word, TitleWord.weight)
                               .where(_prefix(TitleWord.word, word),
                                      among(TitleWord.title_id, within, db_session=db_session))))
        return scores, False
    rows = 0
    for weight in sorted(set(WEIGHTS.values()), reverse=True):
        found = db_session.execute(
            select(TitleWord.title_id, TitleWord.word, TitleWord.weight)
            .where(TitleWord.weight == weight, _prefix(TitleWord.word, word))
            .order_by(TitleWord.word, TitleWord.title_id).limit(cap - rows + 1)).all()
        rows += len(found)
        add(found[:cap - rows + len(found)])
        if rows > cap:
            return scores, True
    return scores, False


def match(*, db_session: Session, query: list[str]) -> tuple[dict[str, int], bool]:
    """Return {title_id: score} of the titles matching every query word, and whether the cap cut it.

    The longest word (the most selective, as a rule) finds the candidates; the others are then
    looked up among those candidates only, so a broad word ("a", "bia") costs little beside a
    narrow one. Scores of the query's words add up.
    """
    driver = max(query, key=len)
    scores, capped = word_scores(db_session=db_session, word=driver)
    for w in query:
        if w == driver or not scores:
            continue
        found, _ = word_scores(db_session=db_session, word=w, within=list(scores))
        scores = {t: s + found[t] for t, s in scores.items() if t in found}
    return scores, capped


def search(*, db_session: Session, base, q: str, offset: int, limit: int) -> tuple[list[str], int, bool]:  # noqa: ANN001
    """Return a page of ids of titles in base (a select of Title) matching q, best first, the total and
    whether the total is a lower bound (more than MAX_CANDIDATES rows matched the query's main word).

    Ties in score go to the newer title. The work is bounded by MAX_CANDIDATES whatever the query.
    """
    scores, capped = match(db_session=db_session, query=parse_query(q))
    if not scores:
        return [], 0, False
    shown = db_session.execute(base.with_only_columns(Title.id, Title.published_at)
                               .where(among(Title.id, list(scores), db_session=db_session))).all()
    # Two stable sorts: ids ascending, then score and publication time descending.
    ranked = sorted(sorted(shown, key=lambda r: r[0]),
                    key=lambda r: (scores[r[0]], r[1].timestamp() if r[1] else 0.0), reverse=True)
    return [r[0] for r in ranked[offset:offset + limit]], len(ranked), capped
