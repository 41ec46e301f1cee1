"""The durable spool: order, atomic sealing, restart, bounds and the metered overflow policy."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_greengrass.errors import SpoolError, SpoolFullError
from edge_greengrass.spool import OverflowPolicy, Spool

TOPIC = "dt/twinledger/s/m1/telemetry"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that masks nothing: file modes then come from the code alone."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _build(seq: int, items: list[bytes]) -> bytes:
    return b"%d:" % seq + b",".join(items)


def test_seal_takes_staged_items_in_order_and_numbers_envelopes(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.stage_many([("m1", b"a"), ("m2", b"x"), ("m1", b"b")])
    first = spool.seal("m1", TOPIC, _build)
    spool.stage("m1", b"c")
    second = spool.seal("m1", TOPIC, _build)
    assert first is not None and second is not None
    assert (first.seq, first.payload, second.seq, second.payload) == (0, b"0:a,b", 1, b"1:c")
    assert spool.staged("m2") == [b"x"] and spool.seal("m3", TOPIC, _build) is None
    assert [e.seq for e in spool.pending(thing="m1")] == [0, 1]


def test_seal_limit_leaves_the_rest_staged(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.stage_many([("m1", bytes([65 + i])) for i in range(5)])
    entry = spool.seal("m1", TOPIC, _build, limit=3)
    assert entry is not None and entry.payload == b"0:A,B,C"
    assert spool.staged("m1") == [b"D", b"E"]


def test_everything_survives_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.stage("m1", b"a")
    spool.seal("m1", TOPIC, _build)
    spool.stage("m1", b"b")
    spool.set_state("last_ts/m1", "2026-01-05T06:00:00+00:00")
    spool.close()
    reopened = Spool(tmp_path / "s.db")
    assert [e.payload for e in reopened.pending()] == [b"0:a"]
    assert reopened.staged("m1") == [b"b"] and reopened.next_seq("m1") == 1
    assert reopened.get_state("last_ts/m1") == "2026-01-05T06:00:00+00:00"
    assert reopened.stats().pending_bytes == len(b"0:a")


def test_a_failing_build_rolls_back_and_loses_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.stage("m1", b"a")

    def broken(seq: int, items: list[bytes]) -> bytes:
        raise ValueError("signing key unavailable")

    with pytest.raises(ValueError):
        spool.seal("m1", TOPIC, broken)
    assert spool.staged("m1") == [b"a"] and spool.next_seq("m1") == 0 and spool.stats().pending == 0


def test_ack_deletes_only_what_was_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    for item in (b"a", b"b", b"c"):
        spool.stage("m1", item)
        spool.seal("m1", TOPIC, _build)
    ids = [e.id for e in spool.pending()]
    assert spool.ack([ids[1], 999]) == 1
    assert [e.seq for e in spool.pending()] == [0, 2]
    assert [e.seq for e in spool.pending(after_id=ids[0])] == [2]
    stats = spool.stats()
    assert (stats.appended, stats.acked, stats.pending) == (3, 1, 2)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=30), acks=st.integers(0, 5))
def test_property_overflow_keeps_the_bound_and_accounts_for_every_envelope(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], acks: int
) -> None:
    spool = Spool(tmp_path_factory.mktemp("spool") / "s.db", max_bytes=100)
    for size in sizes:
        spool.stage("m1", b"x" * size)
        spool.seal("m1", TOPIC, lambda seq, items: items[0])
    spool.ack(e.id for e in spool.pending(acks))
    stats = spool.stats()
    assert stats.pending_bytes <= 100 and stats.pending_bytes == sum(len(e.payload) for e in spool.pending(1000))
    assert stats.appended == stats.pending + stats.acked + stats.dropped_full
    dropped = sum(last - first + 1 for _, first, last, _ in spool.gaps())
    assert dropped == stats.dropped_full
    spool.close()


def test_drop_oldest_when_full_is_metered_with_gaps(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=30, policy=OverflowPolicy.DROP_OLDEST)
    for i in range(6):
        spool.stage("m1", b"x" * 8)
        spool.seal("m1", TOPIC, _build)  # 10 bytes each
        del i
    assert [e.seq for e in spool.pending()] == [3, 4, 5]
    assert spool.stats().dropped_full == 3 and spool.stats().pending_bytes == 30
    assert spool.gaps() == [("m1", 0, 0, "full"), ("m1", 1, 1, "full"), ("m1", 2, 2, "full")]


def test_reject_new_when_full_keeps_samples_staged(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=25, policy=OverflowPolicy.REJECT_NEW)
    for _ in range(2):
        spool.stage("m1", b"x" * 8)
        spool.seal("m1", TOPIC, _build)
    spool.stage("m1", b"y" * 8)
    with pytest.raises(SpoolFullError):
        spool.seal("m1", TOPIC, _build)
    assert spool.staged("m1") == [b"y" * 8] and spool.next_seq("m1") == 2
    spool.ack([spool.pending()[0].id])
    assert spool.seal("m1", TOPIC, _build) is not None


def test_age_bound_drops_old_envelopes_and_meters_them(tmp_path: Path) -> None:
    now = [dt.datetime(2026, 1, 5, tzinfo=dt.UTC)]
    spool = Spool(tmp_path / "s.db", max_age=dt.timedelta(days=1), clock=lambda: now[0])
    for _ in range(3):
        spool.stage("m1", b"a")
        spool.seal("m1", TOPIC, _build)
        now[0] += dt.timedelta(hours=12)
    # ages now: 36 h, 24 h, 12 h
    assert spool.enforce_bounds() == 1
    assert [e.seq for e in spool.pending()] == [1, 2]
    assert spool.stats().dropped_age == 1 and spool.gaps() == [("m1", 0, 0, "age")]


def test_invalid_bound_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpoolError, match="max_bytes"):
        Spool(tmp_path / "s.db", max_bytes=0)


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("stage"), st.sampled_from(["m1", "m2"]), st.integers(1, 3)),
            st.tuples(st.just("seal"), st.sampled_from(["m1", "m2"]), st.integers(1, 4)),
            st.tuples(st.just("ack"), st.just(""), st.integers(0, 3)),
            st.tuples(st.just("reopen"), st.just(""), st.just(0)),
        ),
        max_size=40,
    )
)
def test_property_nothing_is_lost_or_numbered_twice(tmp_path_factory: pytest.TempPathFactory, ops: list) -> None:  # type: ignore[type-arg]
    path = tmp_path_factory.mktemp("spool") / "s.db"
    spool = Spool(path)
    staged_in: dict[str, list[bytes]] = {"m1": [], "m2": []}
    delivered: dict[str, list[tuple[int, bytes]]] = {"m1": [], "m2": []}
    counter = 0
    for op, thing, n in ops:
        if op == "stage":
            for _ in range(n):
                item = b"%d" % counter
                counter += 1
                spool.stage(thing, item)
                staged_in[thing].append(item)
        elif op == "seal":
            spool.seal(thing, TOPIC, lambda seq, items: b"|".join(items), limit=n)
        elif op == "ack":
            entries = spool.pending(n)
            for e in entries:
                delivered[e.thing].append((e.seq, e.payload))
            spool.ack(e.id for e in entries)
        else:
            spool.close()
            spool = Spool(path)
    remaining = spool.pending(10_000)
    assert spool.stats().pending == len(remaining)  # in-memory occupancy matches the table
    assert spool.stats().pending_bytes == sum(len(e.payload) for e in remaining)
    for e in remaining:
        delivered[e.thing].append((e.seq, e.payload))
    for thing in ("m1", "m2"):
        seqs = [seq for seq, _ in delivered[thing]]
        assert seqs == list(range(len(seqs)))  # contiguous, in order, each once
        items = [i for _, payload in delivered[thing] for i in payload.split(b"|") if payload]
        assert items + spool.staged(thing) == staged_in[thing]  # every staged item exactly once, in order
    spool.close()


def test_the_spool_files_are_created_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.stage("m1", b"a")
    assert spool.seal("m1", TOPIC, _build) is not None
    spool.close()
    Spool(tmp_path / "spool.db").close()  # reopened: still private
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes["spool.db"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes  # -wal / -shm follow the database
