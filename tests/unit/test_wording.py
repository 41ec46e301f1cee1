"""Counts in words: singular for exactly one, the plural for every other count."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from twinledger.wording import counted, plural

nouns = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)


@given(count=st.integers(min_value=-(10**12), max_value=10**12), noun=nouns)
def test_one_is_singular_every_other_count_plural(count: int, noun: str) -> None:
    words = counted(count, noun)
    number, _, rest = words.partition(" ")
    assert int(number) == count  # the count itself, unchanged
    assert rest == (noun if count == 1 else plural(noun))


@given(noun=nouns)
def test_the_plural_is_the_noun_with_an_ending(noun: str) -> None:
    many = plural(noun)
    assert many != noun and many.endswith("s")
    # the stem is kept, but for a consonant's y, which becomes "ies"
    stem = noun[:-1] if many.endswith("ies") and noun.endswith("y") else noun
    assert many.startswith(stem) and many[len(stem) :] in ("s", "es", "ies")


@given(count=st.integers(min_value=0, max_value=10**6), head=nouns, last=nouns)
def test_only_the_last_word_of_a_phrase_takes_the_plural(count: int, head: str, last: str) -> None:
    assert counted(count, f"{head} {last}") == f"{count} {head} {last if count == 1 else plural(last)}"


@given(count=st.integers(min_value=0, max_value=10**6))
def test_an_irregular_plural_is_given(count: int) -> None:
    assert counted(count, "entry", "entries") == (f"{count} entry" if count == 1 else f"{count} entries")


def test_the_words_the_demo_prints() -> None:
    assert [counted(n, "ticket") for n in (0, 1, 7)] == ["0 tickets", "1 ticket", "7 tickets"]
    assert [plural(w) for w in ("hash", "box", "day", "factory", "entry", "batch", "machine")] == [
        "hashes",
        "boxes",
        "days",
        "factories",
        "entries",
        "batches",
        "machines",
    ]
