"""The thermal model explains warm-up and cool-down after stops, keeps a slow rise at the same running
history, and does not depend on how rows are batched; the PCA detector's contributions are shares."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.anomaly.detectors import PCADetector
from twin_models.anomaly.thermal import ThermalModel


def _machine(seed: int, tau_s: float, gain: float, rows: int = 900) -> tuple[np.ndarray, np.ndarray]:
    """A machine that runs and stops (breaks, micro-stops, idle spells) with a first-order thermal
    response of time constant ``tau_s`` and warm-up ``gain``, sampled once per minute."""
    rng = np.random.default_rng(seed)
    duty = np.ones(rows)
    i = 0
    while i < rows:
        i += int(rng.integers(20, 90))
        stop = int(rng.integers(1, 35))
        duty[i : i + stop] = rng.uniform(0.0, 0.4)
        i += stop
    temp = np.empty(rows)
    t = 30.0 + gain * duty[0]  # it has been running a while: the steady state a fresh filter assumes
    for k in range(rows):  # one-second steps inside each minute
        for _ in range(60):
            t += (30.0 + gain * duty[k] - t) / tau_s
        temp[k] = t + rng.normal(0, 0.1)
    return temp, duty


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), tau_s=st.floats(240.0, 1500.0), gain=st.floats(5.0, 15.0))
def test_stops_are_explained_and_a_slow_rise_is_kept(seed: int, tau_s: float, gain: float) -> None:
    temp, duty = _machine(seed, tau_s, gain)
    fit = np.arange(len(temp)) < 600
    model = ThermalModel.fit(temp, duty, np.zeros(len(temp)), row_seconds=60.0, fit_mask=fit)
    excess, _ = model.excess(temp, duty, None)
    # the thermal swings of stops are explained: the excess varies far less than the temperature
    assert np.std(excess[fit]) < 0.25 * np.std(temp[fit]) + 0.15  # 0.1 of it is measurement noise
    # a slow rise at the same running history stays in the excess
    ramp = np.clip(np.arange(len(temp)) - 600, 0, None) / 300 * 6.0  # +6 degrees over the last 300 rows
    faulty, _ = model.excess(temp + ramp, duty, None)
    assert np.mean(faulty[-30:] - excess[-30:]) > 5.0


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 899), max_size=6))
def test_the_excess_does_not_depend_on_how_rows_are_batched(seed: int, cuts: list[int]) -> None:
    temp, duty = _machine(seed, 600.0, 12.0)
    model = ThermalModel.fit(temp, duty, np.zeros(len(temp)), row_seconds=60.0)
    whole, _ = model.excess(temp, duty, None)
    parts, state = [], None
    bounds = [0, *sorted(set(cuts)), len(temp)]
    for lo, hi in itertools.pairwise(bounds):
        part, state = model.excess(temp[lo:hi], duty[lo:hi], state)
        parts.append(part)
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(2, 8), shift=st.floats(-20.0, 20.0))
def test_pca_contributions_are_non_negative_shares_summing_to_one(seed: int, d: int, shift: float) -> None:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d))
    healthy = rng.normal(size=(300, d)) @ mixing
    det = PCADetector().fit(healthy)
    rows = rng.normal(size=(50, d)) @ mixing + shift * rng.normal(size=d)
    shares = det.contributions(rows)
    assert (shares >= 0).all()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-9)
    assert np.isfinite(det.score(rows)).all()


def test_pca_sees_a_broken_relation_the_levels_do_not_show() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=(3000, 1))
    healthy = np.hstack([a, a + 0.05 * rng.normal(size=(3000, 1)), rng.normal(size=(3000, 1))])
    det = PCADetector().fit(healthy)
    limit = np.quantile(det.score(healthy), 0.999)
    broken = np.array([[1.5, -1.5, 0.0]])  # each channel within 1.5 healthy standard deviations
    assert det.score(broken)[0] > 3 * limit
    assert det.contributions(broken)[0, 2] < 0.05  # the untouched channel is not blamed


def test_windows_without_the_duty_report_it_missing_and_do_not_score_the_temperature() -> None:
    from twin_models.anomaly import evaluate_windows, train_telemetry
    from twin_models.anomaly.synthetic import synthetic_samples

    fleet = {"m1": synthetic_samples(60 * 120, seed=1), "m2": synthetic_samples(60 * 120, seed=2)}
    model = train_telemetry(fleet)
    assert model.thermal is not None and model.manifest()["thermal"]["driver"] == "duty"
    assert model.prior is not None
    hot = dict(zip(model.feature_names, model.prior.tolist(), strict=True), temperature=90.0)
    blind = evaluate_windows(model, [hot] * 15)
    assert "duty" in blind.missing
    assert blind.contributions["temperature"].iloc[-1] == 0.0  # unknown excess: neither scored nor blamed
    seen = evaluate_windows(model, [dict(hot, duty=1.0)] * 15)
    assert "duty" not in seen.missing
    assert seen.contributions.iloc[-1].idxmax() == "temperature"
