"""Machine data sources: the simulator (and its resumption), CSV replay of real CNC data, configuration."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_greengrass.config import GatewayConfig, load_config
from edge_greengrass.errors import ConfigurationError, ReplayError
from edge_greengrass.simulator import FleetSimulator
from edge_greengrass.sources import ReplaySource, SimulatorSource, read_cnc_csv
from twin_models.telemetry import Sample

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


def _collect(source: SimulatorSource | ReplaySource) -> list[tuple[str, Sample]]:
    got: list[tuple[str, Sample]] = []
    source.run(got.extend, threading.Event())
    return got


def test_simulator_source_matches_the_fleet_simulator() -> None:
    got = _collect(SimulatorSource(machines=3, seed=7, start=T0, speed=100_000, limit_s=50))
    fleet = FleetSimulator(3, 7, T0).advance(50)
    for thing, samples in fleet.items():
        assert [s for t, s in got if t == thing] == samples


def test_simulator_resumes_seamlessly_after_the_last_spooled_sample() -> None:
    resume_at = T0 + timedelta(seconds=29)
    resumed = _collect(
        SimulatorSource(machines=2, seed=7, start=T0, speed=100_000, limit_s=10, resume=lambda thing: resume_at)
    )
    fleet = FleetSimulator(2, 7, T0).advance(40)
    for thing, samples in fleet.items():
        assert [s for t, s in resumed if t == thing] == samples[30:40]


def test_simulator_is_paced_by_speed() -> None:
    began = time.monotonic()
    got = _collect(SimulatorSource(machines=1, seed=7, start=T0, speed=50, limit_s=25))
    assert len(got) == 25 and 0.4 <= time.monotonic() - began < 2.0


def test_replay_reads_cr_only_files(tmp_path: Path) -> None:
    header = "S1_ActualVelocity,S1_CurrentFeedback,X1_OutputPower,Y1_OutputPower,S1_OutputPower,"
    header += "M1_CURRENT_FEEDRATE,M1_CURRENT_PROGRAM_NUMBER,Machining_Process"
    rows = [f"{50 + i},{20},0.001,0.002,0.2,6,1,Layer 1 Up" for i in range(20)]
    path = tmp_path / "cr.csv"
    path.write_bytes(("\r".join([header, *rows]) + "\r").encode())
    samples = list(ReplaySource(path, thing="cnc-r", start=T0).samples())
    assert len(samples) == 2
    assert samples[0].ts == T0 and samples[1].ts == T0 + timedelta(seconds=1)
    assert samples[0].spindle_speed_rpm == pytest.approx(54.5 * 60)
    assert samples[0].state == 100 and samples[0].feed_rate_mm_min == 360 and samples[0].program == "P1"


def test_replay_counts_a_bad_value_naming_file_and_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bad.csv"
    header = "S1_ActualVelocity,S1_CurrentFeedback,X1_OutputPower,Y1_OutputPower,S1_OutputPower,"
    header += "M1_CURRENT_FEEDRATE,M1_CURRENT_PROGRAM_NUMBER,Machining_Process"
    path.write_text("\n".join([header, *["1,1,0,0,0,6,1,Prep"] * 9, "oops,1,0,0,0,6,1,Prep"]) + "\n")
    source = ReplaySource(path, thing="cnc-r", start=T0)
    with caplog.at_level(logging.WARNING, logger="edge_greengrass.readings"):
        (sample,) = source.samples()
    assert sample.spindle_speed_rpm == 0.0 and sample.feed_rate_mm_min == 360 and sample.state == 500
    assert source.readings.snapshot()["bad_fields"] == {"spindle_speed_rpm": 1}
    assert any("bad.csv:11: S1_ActualVelocity='oops'" in r.getMessage() for r in caplog.records)


def test_replay_without_a_column_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("\n".join(["S1_ActualVelocity,Machining_Process", *["1,Prep"] * 10]) + "\n")
    with pytest.raises(ReplayError, match=r"short.csv: column '\w+' is missing"):
        list(ReplaySource(path, thing="cnc-r", start=T0).samples())


@pytest.mark.data
def test_replay_of_the_real_mill_data_including_the_cr_only_file(shared_data: Path) -> None:
    folder = shared_data / "cnc_mill_tool_wear"
    rows12 = sum(1 for _ in read_cnc_csv(folder / "experiment_12.csv"))
    assert rows12 > 1000  # CR-only line endings are split into rows
    samples = list(ReplaySource(folder / "experiment_12.csv", thing="cnc-r", start=T0).samples())
    assert len(samples) == rows12 // 10
    assert {s.state for s in samples} >= {100, 500}
    assert max(s.spindle_speed_rpm for s in samples) > 1000
    got: list[tuple[str, Sample]] = []
    ReplaySource(folder / "experiment_01.csv", thing="cnc-r", start=T0, speed=10_000).run(got.extend, threading.Event())
    assert [s.ts for _, s in got] == [T0 + timedelta(seconds=i) for i in range(len(got))]


def test_configuration_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text("site: plant-a\nsigning: {key_file: k.pem, key_id: gw}\nsource: {type: simulator, speed: -1}\n")
    with pytest.raises(ConfigurationError, match=r"source\.simulator\.speed"):
        load_config(path)
    path.write_text("site: plant-a\nsigning: {key_file: k.pem, key_id: gw}\nsource: {type: replay, path: x.csv}\n")
    config = load_config(path)
    assert isinstance(config, GatewayConfig) and config.source.things() == ["cnc-replay"]
    assert config.signing.key_file == tmp_path / "k.pem" and config.spool.path == tmp_path / "spool.db"


def test_simulator_sampling_interval_thins_one_machine() -> None:
    source = SimulatorSource(machines=2, seed=7, start=T0, speed=100_000, limit_s=20)
    source.set_sampling_interval("cnc-02", 5)
    got = _collect(source)
    assert len([s for t, s in got if t == "cnc-01"]) == 20
    assert [s.ts.second for t, s in got if t == "cnc-02"] == [0, 5, 10, 15]
