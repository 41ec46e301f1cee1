"""A bad reading costs one field, never the gateway — counted, logged, and never spooled.

Covers the one construction path (:func:`edge_greengrass.readings.sample_from_readings`) used by the CSV
replay and the OPC UA adapter, the round-trip check before staging, and the start-up move of unreadable
staged rows to ``staged_rejects``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_greengrass.config import load_config_dict
from edge_greengrass.opcua import OpcUaSource, default_node_map
from edge_greengrass.pki import provision_device
from edge_greengrass.publisher import EnvelopeSigner, TelemetryPublisher
from edge_greengrass.readings import ReadingCounters, sample_from_readings
from edge_greengrass.runner import Gateway
from edge_greengrass.sources import ReplaySource, fold_rows, read_cnc_csv
from edge_greengrass.spool import Spool
from twin_models.jws import readable_document
from twin_models.signing import generate_private_key
from twin_models.telemetry import Sample

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
#: the numeric columns the replay reads, and the sample field each feeds
FIELD_OF = {
    "S1_ActualVelocity": "spindle_speed_rpm",
    "M1_CURRENT_FEEDRATE": "feed_rate_mm_min",
    "S1_CurrentFeedback": "spindle_current_a",
    "X1_OutputPower": "power_kw",
    "Y1_OutputPower": "power_kw",
    "S1_OutputPower": "power_kw",
    "M1_CURRENT_PROGRAM_NUMBER": "program",
}
HEADER = [*FIELD_OF, "Machining_Process"]
GOOD_ROW = {
    "S1_ActualVelocity": "50",
    "M1_CURRENT_FEEDRATE": "6",
    "S1_CurrentFeedback": "20",
    "X1_OutputPower": "0.001",
    "Y1_OutputPower": "0.002",
    "S1_OutputPower": "0.2",
    "M1_CURRENT_PROGRAM_NUMBER": "1",
    "Machining_Process": "Layer 1 Up",
}
JUNK = ["inf", "-inf", "Infinity", "nan", "NaN", "-1e999", "1e999", "", "   ", "oops", "1,5", "0x10"]


def _not_a_number(text: str) -> bool:
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return True


junk_values = st.one_of(st.sampled_from(JUNK), st.text(max_size=12).filter(_not_a_number))


@settings(max_examples=150, deadline=None)
@given(
    bad=st.dictionaries(st.sampled_from(sorted(FIELD_OF)), st.tuples(st.integers(0, 9), junk_values), max_size=7),
)
def test_junk_in_any_numeric_column_never_stops_the_fold_and_is_counted(bad: dict[str, tuple[int, str]]) -> None:
    rows = [dict(GOOD_ROW) for _ in range(10)]
    for column, (index, junk) in bad.items():
        rows[index][column] = junk
    counters = ReadingCounters()
    sample = fold_rows(rows, T0, path=Path("junk.csv"), line=2, counters=counters)
    assert sample is not None and sample.ts == T0 and sample.state == 100
    dropped = {FIELD_OF[c] for c, (i, _) in bad.items() if c != "M1_CURRENT_PROGRAM_NUMBER" or i == 9}
    assert counters.snapshot() == {"bad_fields": dict.fromkeys(sorted(dropped), 1), "dropped_samples": {}}
    defaults = Sample(ts=T0, state=100)
    for field in set(FIELD_OF.values()):
        if field in dropped:
            assert getattr(sample, field) == getattr(defaults, field)
        else:
            assert getattr(sample, field) != getattr(defaults, field)


def test_unusable_required_fields_drop_the_reading_with_the_reason() -> None:
    counters = ReadingCounters()
    assert sample_from_readings(T0, "running", {"power_kw": 1.0}, counters) is None
    assert sample_from_readings(datetime(2026, 1, 5), 100, {}, counters) is None  # no time zone
    assert sample_from_readings(T0, 100, {"power_kw": "lots"}, counters) is not None
    assert counters.snapshot() == {
        "bad_fields": {"power_kw": 1},
        "dropped_samples": {"state:int_parsing": 1, "ts:timezone_aware": 1},
    }


def test_opcua_values_the_model_cannot_take_cost_only_their_field() -> None:
    source = OpcUaSource("opc.tcp://127.0.0.1:1/", default_node_map(["cnc-01"]))
    values: dict[str, Any] = {
        "state": 100,
        "spindle_speed_rpm": float("nan"),
        "power_kw": float("inf"),
        "part_count": 2**64,
        "tool_id": 5,
        "temperature_c": 21.5,
        "program": None,
    }
    sample = source._sample("cnc-01", values)
    assert sample is not None and sample.state == 100 and sample.temperature_c == 21.5
    assert (sample.spindle_speed_rpm, sample.power_kw, sample.part_count, sample.tool_id) == (0.0, 0.0, 0, "")
    assert source.readings.snapshot()["bad_fields"] == {
        "part_count": 1,
        "power_kw": 1,
        "spindle_speed_rpm": 1,
        "tool_id": 1,
    }
    assert source._sample("cnc-01", {"state": float("nan")}) is None and source.invalid_samples == 1
    assert source.readings.snapshot()["dropped_samples"] == {"state:finite_number": 1}


class Recorder:
    """A transport that acknowledges every publish at once."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        self.payloads.append(payload)
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def subscribe(self, thing: str, topic: str, callback: object) -> None:
        return None

    def is_connected(self, thing: str) -> bool:
        return True

    def close(self) -> None:
        return None


def test_publisher_never_stages_a_sample_that_would_not_load_again(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    signer = EnvelopeSigner(site="plant-a", key=generate_private_key(), key_id="gw")
    transport = Recorder()
    publisher = TelemetryPublisher(spool, transport, signer, batch_size=2)
    broken = Sample.model_construct(**{**Sample(ts=T0, state=100).__dict__, "power_kw": float("inf")})
    good = [Sample(ts=T0 + timedelta(seconds=i), state=100) for i in range(2)]
    publisher.add_many([("cnc-01", good[0]), ("cnc-01", broken), ("cnc-01", good[1])])
    assert publisher.metrics.rejected_invalid == 1 and spool.stats().staged_refused == 0
    assert publisher.drain(2)
    (doc,) = [readable_document(p) for p in transport.payloads]
    assert [s["ts"] for s in doc["samples"]] == ["2026-01-05T06:00:00Z", "2026-01-05T06:00:01Z"]
    spool.close()


def _write_bad_csv(path: Path, header: list[str], base: dict[str, str], seconds: int) -> dict[str, int]:
    """``seconds`` 1 Hz groups of 10 rows; one group each gets ``inf``, ``nan``, ``-1e999``, an empty cell
    and text in a numeric column. Returns the bad readings expected per field."""
    rows = [dict(base) for _ in range(seconds * 10)]
    rows[3]["S1_ActualVelocity"] = "inf"
    rows[14]["M1_CURRENT_FEEDRATE"] = "nan"
    rows[25]["X1_OutputPower"] = "-1e999"
    rows[36]["S1_CurrentFeedback"] = ""
    rows[49]["M1_CURRENT_PROGRAM_NUMBER"] = "P-twelve"  # the last row of its group: the program's row
    rows[51]["S1_ActualVelocity"] = "spindle off"
    lines = [",".join(header), *(",".join(r[c] for c in header) for r in rows)]
    path.write_bytes(("\r".join(lines) + "\r").encode())  # CR only, as experiment_12.csv
    return {"spindle_speed_rpm": 2, "feed_rate_mm_min": 1, "power_kw": 1, "spindle_current_a": 1, "program": 1}


def _gateway(tmp_path: Path, csv: Path, transport: Recorder, *, batch_size: int = 60) -> Gateway:
    key = tmp_path / "keys" / "gw.key"
    if not key.exists():
        key = provision_device(tmp_path / "keys", "gw").private_key
    config = load_config_dict(
        {
            "site": "plant-a",
            "signing": {"key_file": str(key), "key_id": "gw"},
            "source": {"type": "replay", "path": str(csv), "thing": "mill-1", "speed": 5000, "start": T0.isoformat()},
            "publisher": {"batch_size": batch_size},
            "shadow": {"enabled": False},
            "status_file": "status.json",
        },
        base=tmp_path,
    )
    return Gateway(config, transport)


def _stamps(transport: Recorder) -> tuple[list[int], list[str]]:
    docs = [readable_document(p) for p in transport.payloads]
    return [d["seq"] for d in docs], [s["ts"] for d in docs for s in d["samples"]]


def _expected_stamps(seconds: int) -> list[str]:
    return [(T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(seconds)]


def test_bad_readings_in_a_replay_keep_the_gateway_publishing_and_survive_a_restart(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    expected = _write_bad_csv(csv, HEADER, GOOD_ROW, seconds=12)
    transport = Recorder()
    gateway = _gateway(tmp_path, csv, transport, batch_size=5)
    assert gateway.run(duration_s=1.5) == 0 and gateway.source_error is None
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["readings"] == {"bad_fields": expected, "dropped_samples": {}}
    assert status["spool"]["staged"] == 2 and status["publisher"]["rejected_invalid"] == 0
    gateway.close()  # two samples stay staged: the restart must load them

    restarted = _gateway(tmp_path, csv, transport, batch_size=5)
    assert restarted.run(duration_s=0.5) == 0
    restarted.publisher.flush()
    assert restarted.publisher.drain(5)
    assert restarted.spool.stats().staged_rejected == 0
    restarted.close()
    seqs, stamps = _stamps(transport)
    assert seqs == list(range(len(seqs))) and stamps == _expected_stamps(12)  # every second, exactly once
    docs = [readable_document(p) for p in transport.payloads]
    first = docs[0]["samples"]
    assert "spindle_speed_rpm" in first[1] and first[0]["spindle_speed_rpm"] == 0.0  # the inf second


def test_a_planted_unreadable_staged_row_is_moved_aside_and_the_gateway_goes_on(tmp_path: Path) -> None:
    csv = tmp_path / "good.csv"
    _write_bad_csv(csv, HEADER, GOOD_ROW, seconds=6)
    transport = Recorder()
    gateway = _gateway(tmp_path, csv, transport, batch_size=4)
    gateway.run(duration_s=1.0)
    gateway.close()
    planted = [
        b'{"ts":"2026-01-05T06:00:06Z","state":100,"spindle_speed_rpm":null}',  # what an earlier gateway left behind
        b'{"ts":"2026-01-05T06:00:07Z","state":100,"power_kw":1e999}',
        b"\xff not json",
    ]
    with sqlite3.connect(tmp_path / "spool.db") as db:
        db.executemany("INSERT INTO staged(thing, item) VALUES('mill-1', ?)", [(p,) for p in planted])
    db.close()

    restarted = _gateway(tmp_path, csv, transport, batch_size=4)
    rejects = restarted.spool.staged_rejects()
    assert [r[1] for r in rejects] == planted and all(r[0] == "mill-1" and r[2] for r in rejects)
    assert all(abs((r[3] - datetime.now(UTC)).total_seconds()) < 60 for r in rejects)
    assert restarted.status()["spool"]["staged_rejected"] == 3
    assert restarted.run(duration_s=0.3) == 0
    restarted.publisher.flush()
    assert restarted.publisher.drain(5)
    restarted.close()
    seqs, stamps = _stamps(transport)
    assert seqs == list(range(len(seqs))) and stamps == _expected_stamps(6)


@pytest.mark.data
def test_real_mill_rows_with_bad_cells_replay_through_the_gateway(shared_data: Path, tmp_path: Path) -> None:
    real = shared_data / "cnc_mill_tool_wear" / "experiment_01.csv"
    rows = list(read_cnc_csv(real))[:120]
    header = list(rows[0])
    csv = tmp_path / "real-bad.csv"
    rows[3]["S1_ActualVelocity"] = "inf"
    rows[14]["M1_CURRENT_FEEDRATE"] = "nan"
    rows[25]["X1_OutputPower"] = "-1e999"
    rows[36]["S1_CurrentFeedback"] = ""
    rows[51]["S1_ActualVelocity"] = "n/a"
    csv.write_text("\n".join([",".join(header), *(",".join(r[c] for c in header) for r in rows)]) + "\n")
    source = ReplaySource(csv, thing="mill-1", start=T0)
    samples = list(source.samples())
    assert [s.ts for s in samples] == [T0 + timedelta(seconds=i) for i in range(12)]
    assert source.readings.snapshot()["bad_fields"] == {
        "feed_rate_mm_min": 1,
        "power_kw": 1,
        "spindle_current_a": 1,
        "spindle_speed_rpm": 2,
    }
    transport = Recorder()
    gateway = _gateway(tmp_path, csv, transport)
    assert gateway.run(duration_s=1.0) == 0
    gateway.publisher.flush()
    assert gateway.publisher.drain(5)
    gateway.close()
    assert _stamps(transport)[1] == _expected_stamps(12)
