"""The parts store's two adapters keep the same promises: a piece and a part record written once, listing by
cycle end, shares, inspections numbered once, schemes (DynamoDB on moto and the in-process store)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.memory_parts import MemoryParts
from chalicelib.adapters.parts import DynamoParts
from chalicelib.ports.parts import Parts
from twin_models.parts import Gtin, Inspection, PartIdScheme, inspection_record, piece_of, records_of, scan
from twin_models.telemetry import Sample, TelemetryEnvelope

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[Parts]:
    if request.param == "dynamodb":
        request.getfixturevalue("moto_aws")
        yield DynamoParts()
    else:
        yield MemoryParts()


def envelope(seq: int) -> TelemetryEnvelope:
    start = T0 + timedelta(seconds=20 * seq)
    samples = [Sample(ts=start + timedelta(seconds=i), state=100, part_count=(20 * seq + i) // 5) for i in range(20)]
    return TelemetryEnvelope(machine_id="cnc-01", site="plant-a", seq=seq, sent_at=start, samples=samples)


def test_pieces_and_envelopes_are_kept_once(store: Parts) -> None:
    first, other = piece_of(envelope(0), "sha256:aa"), piece_of(envelope(0), "sha256:bb")
    store.put_piece(first, b"body-0")
    store.put_piece(other, b"other")
    store.put_piece(piece_of(envelope(2), "sha256:cc"), b"body-2")

    assert store.pieces("cnc-01", 0, 5) == {0: first, 2: piece_of(envelope(2), "sha256:cc")}
    assert store.pieces("cnc-01", 1, 1) == {} and store.pieces("cnc-02", 0, 5) == {}
    assert store.envelope("cnc-01", 0) == b"body-0" and store.envelope("cnc-01", 1) is None


def test_records_are_written_once_listed_by_time_shared_and_inspected(store: Parts) -> None:
    records = [r for c in scan([piece_of(envelope(0), "sha256:aa")]) for r in records_of(c, producer="f1")]
    assert len(records) == 3
    assert [store.put_part(r) for r in records] == [True, True, True]
    assert store.put_part(records[0]) is False

    listed = store.for_machine("cnc-01", T0, T0 + timedelta(seconds=15))
    assert [p.record for p in listed] == [r for r in records if r.cycle_end < T0 + timedelta(seconds=15)]
    assert store.for_machine("cnc-02", T0, T0 + timedelta(days=1)) == []

    store.share(records[1].part_id, "customer-9")
    store.share(records[1].part_id, "customer-9")
    found = store.get(records[1].part_id)
    assert found is not None and found.shared_with == ("customer-9",) and found.parties == ("f1", "customer-9")
    assert [p.shared_with for p in store.for_machine("cnc-01", T0, T0 + timedelta(days=1))] == [(), ("customer-9",), ()]

    inspection = Inspection(inspected_at=T0 + timedelta(hours=1), inspector="qa-1", result="conformant")
    first = inspection_record(records[0], inspection, 1, T0)
    assert store.add_inspection(first) is True
    assert store.add_inspection(first.model_copy(update={"inspection": inspection})) is False
    assert store.add_inspection(inspection_record(records[0], inspection, 2, T0)) is True
    assert [i.number for i in store.inspections(records[0].part_id)] == [1, 2]
    assert store.inspections(records[1].part_id) == []


def test_schemes(store: Parts) -> None:
    assert store.scheme("cnc-01") is None
    scheme = PartIdScheme(
        kind="digital_link", machine_code="C1", default=Gtin(company_prefix="4012345", item_reference="011111")
    )
    store.set_scheme("cnc-01", scheme)
    assert store.scheme("cnc-01") == scheme and store.scheme("cnc-02") is None
