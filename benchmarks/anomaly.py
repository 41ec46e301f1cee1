"""Anomaly detection benchmark: quality on public run-to-failure data and scoring speed, with the
IsolationForest baseline measured in the same run. Ends with one JSON line.

Datasets are read from ``../shared/data`` (or ``TWINLEDGER_DATA``); thresholds and models are fitted on
healthy/training rows only, labels only grade the result.

Usage:
    .venv/bin/python benchmarks/anomaly.py            # full run
    .venv/bin/python benchmarks/anomaly.py --quick    # fewer timing repetitions
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twin_models.anomaly import (
    AlarmPolicy,
    AnomalyModel,
    TabularFeatureConfig,
    evaluate_windows,
    score_table,
    tabular_features,
    telemetry_features,
    train_table,
)
from twin_models.anomaly import evaluation as ev
from twin_models.anomaly.synthetic import synthetic_samples
from twinledger.files.datasets import load_ai4i, load_cmapss, load_ims

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The PCA detector's variance retained, chosen on AI4I rows 1-5,000 only for the held-out figure.
PCA_GRID = ({"variance": 0.8}, {"variance": 0.9}, {"variance": 0.95})


def _data_dir() -> Path:
    return Path(os.environ.get("TWINLEDGER_DATA") or REPO_ROOT.parent / "shared" / "data")


def quality(data: Path) -> dict[str, Any]:
    """Every dataset, our detector against the IsolationForest baseline (and the other detector)."""
    ai4i, ims, cmapss = load_ai4i(data), load_ims(data), load_cmapss(data)
    out: dict[str, Any] = {}
    out["ai4i"] = {
        "zscore_physics": ev.ai4i_experiment(ai4i, "zscore", physics=True),
        "mahalanobis_physics": ev.ai4i_experiment(ai4i, "mahalanobis", physics=True),
        "pca_physics": ev.ai4i_experiment(ai4i, "pca", physics=True),
        "iforest_physics": ev.ai4i_experiment(ai4i, "iforest", physics=True),
        "baseline_iforest_raw": ev.ai4i_experiment(ai4i, "iforest", physics=False),
    }
    out["ai4i_holdout"] = ev.ai4i_holdout(ai4i)
    out["ai4i_holdout_pca"] = ev.ai4i_holdout(ai4i, detector="pca", grid=PCA_GRID)
    out["ims"] = {
        "zscore": ev.ims_experiment(ims, "zscore"),
        "mahalanobis": ev.ims_experiment(ims, "mahalanobis"),
        "pca": ev.ims_experiment(ims, "pca"),
        "baseline_iforest_max_3in3": ev.ims_experiment(ims, "iforest", quantile=1.0, policy=AlarmPolicy(k=3, n=3)),
        "iforest_same_policy": ev.ims_experiment(ims, "iforest"),
    }
    # window, drift and power chosen on training engines 1-50 only (fit 1-25, grade 26-50)
    sel = ev.cmapss_select(cmapss)
    chosen = {"window": sel["window"], "trend": sel["trend"]}
    out["cmapss"] = {
        "selection": sel,
        "zscore": ev.cmapss_experiment(cmapss, "zscore", params={"p": sel["p"]}, **chosen),
        "zscore_default_level_only": ev.cmapss_experiment(cmapss, "zscore"),
        "mahalanobis": ev.cmapss_experiment(cmapss, "mahalanobis", **chosen),
        "pca": ev.cmapss_experiment(cmapss, "pca", **chosen),
        "iforest_same_features": ev.cmapss_experiment(cmapss, "iforest", **chosen),
        "baseline_iforest_raw": ev.cmapss_experiment(cmapss, "iforest", window=1),
    }
    return out


def _figures(model: AnomalyModel, rows: pd.DataFrame, healthy: Any, **kw: Any) -> dict[str, Any]:
    found = ev.alarm_figures(model, rows, np.asarray(healthy, dtype=bool), **kw)
    found.pop("_onset")
    return found


def false_alarms(data: Path) -> dict[str, Any]:
    """Per dataset, at the shipped threshold (calibrated on held-out training rows, never in-sample) and
    with the shipped alarm lifecycle: rows flagged and alarm events on healthy rows the model was not
    fitted on, onset lead time and false onsets before failure; the IsolationForest baseline is fitted,
    calibrated and alarmed the same way."""
    ai4i, ims, cmapss = load_ai4i(data), load_ims(data), load_cmapss(data)
    out: dict[str, Any] = {}
    # AI4I: rows are not a time series (no drift handling, no time step); fit on rows 1-5,000 without
    # labels, healthy held-out rows = rows 5,001-10,000 without a failure
    half = np.arange(len(ai4i)) >= len(ai4i) // 2
    healthy = half & (ai4i["Machine failure"].to_numpy() == 0)
    out["ai4i"] = {}
    for name, physics, det in (
        ("zscore", True, "zscore"),
        ("pca", True, "pca"),
        ("baseline_iforest", False, "iforest"),
    ):
        rows = ev.ai4i_rows(ai4i, physics)
        model = AnomalyModel.fit(rows[~half], det, drift="off")
        fig = _figures(model, rows[half], healthy[half])
        failures = ai4i["Machine failure"].to_numpy()[half] == 1
        fig["failure_rows_flagged"] = round(
            float((model.evaluate(rows[half]).frame["over_threshold"].to_numpy()[failures]).mean()), 4
        )
        out["ai4i"][name] = fig
    # IMS: fit on the first 25 % of snapshots (its last quarter calibrates), one snapshot per 10 minutes;
    # healthy held-out rows = snapshots from 25 % to 50 % of the run
    feats = ims.drop(columns=["timestamp"]).astype(float)
    n_train, n_half = int(len(ims) * 0.25), len(ims) // 2
    later = feats.iloc[n_train:]
    healthy_ims = np.arange(n_train, len(ims)) < n_half
    out["ims"] = {}
    for name, det, drift in (
        ("zscore", "zscore", "auto"),
        ("zscore_drift_off", "zscore", "off"),
        ("pca", "pca", "auto"),
        ("baseline_iforest", "iforest", "off"),
    ):
        policy = AlarmPolicy(k=3, n=5).in_time(600.0, clear_after_s=6 * 3600.0, escalate_after_s=24 * 3600.0)
        model = AnomalyModel.fit(feats.iloc[:n_train], det, drift=drift, row_seconds=600.0, policy=policy)
        found = ev.alarm_figures(model, later, healthy_ims, row_seconds=600.0)
        onset = found.pop("_onset")
        stamps = ims["timestamp"].iloc[n_train:].reset_index(drop=True)
        after = np.flatnonzero(onset & ~healthy_ims)
        found["first_onset_lead_h"] = (
            round(float((stamps.iloc[-1] - stamps.iloc[after[0]]).total_seconds() / 3600), 2) if after.size else None
        )
        found["onsets_before_failure_after_half"] = int(after.size)
        found["threshold"] = round(model.calibration.threshold, 4)
        found["channels_reference"] = [c.name for c in model.channels if c.handling != "level"]
        out["ims"][name] = found
    # C-MAPSS: the selected features (window 5, trend 40, p = 1), fit on cycles 1-30 of engines 1-50 (the
    # last quarter of each engine's 30 cycles calibrates), engines 51-100 scored in cycle order;
    # healthy = more than 100 cycles before failure, one row per cycle
    config = TabularFeatureConfig(columns=ev.CMAPSS_SENSORS, physics=False, window=5, trend=40, group_by="unit")
    rows_c = tabular_features(cmapss, config)
    units = sorted(cmapss["unit"].unique())
    train_mask = (cmapss["unit"].isin(units[:50]) & (cmapss["cycle"] <= 30)).to_numpy()
    test_mask = cmapss["unit"].isin(units[50:]).to_numpy()
    rul = cmapss.loc[test_mask, "rul"].to_numpy()
    out["cmapss"] = {}
    for name, det, params in (
        ("zscore", "zscore", {"p": 1.0}),
        ("pca", "pca", {}),
        ("baseline_iforest", "iforest", {}),
    ):
        model = AnomalyModel.fit(
            rows_c[train_mask], det, detector_params=params, groups=cmapss.loc[train_mask, "unit"].to_numpy()
        )
        found = ev.alarm_figures(model, rows_c[test_mask], rul > 100, groups=cmapss.loc[test_mask, "unit"].to_numpy())
        onset = found.pop("_onset")
        units_test = cmapss.loc[test_mask, "unit"].to_numpy()
        leads = []
        for u in pd.unique(units_test):
            sel = (units_test == u) & onset & (rul <= 100)
            leads.append(int(rul[sel].max()) if sel.any() else None)
        caught = [x for x in leads if x is not None]
        found["engines_with_onset_before_failure"] = f"{len(caught)}/{len(leads)}"
        found["median_onset_lead_cycles"] = float(np.median(caught)) if caught else None
        found["engines_with_false_onset"] = int(
            sum(1 for u in pd.unique(units_test) if (onset & (units_test == u) & (rul > 100)).any())
        )
        out["cmapss"][name] = found
    return out


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    arr = np.asarray(samples_s) * 1000.0
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3), "p99_ms": round(float(np.percentile(arr, 99)), 3)}


def speed(repeats: int) -> dict[str, Any]:
    """One 60-sample window end to end (features + score + alarm + action), and batch rows per second."""
    features = telemetry_features(synthetic_samples(60 * 300, seed=1), window=60)
    windows = [
        {"samples": synthetic_samples(60, seed=100 + i, start=pd.Timestamp("2026-02-01", tz="UTC").to_pydatetime())}
        for i in range(repeats)
    ]
    out: dict[str, Any] = {"single_window": {}, "batch": {}}
    for name in ("zscore", "iforest"):
        model = AnomalyModel.fit(features, name)
        evaluate_windows(model, windows[:1])  # warm-up
        wall, cpu = [], []
        for window in windows:
            start, start_cpu = time.perf_counter(), time.thread_time()
            evaluate_windows(model, [window])
            wall.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
        # wall clock includes time the (shared) machine gave to other processes; CPU time does not
        out["single_window"][name] = {**_percentiles(wall), "cpu": _percentiles(cpu)}

    rng = np.random.default_rng(0)
    n = 200_000
    table = pd.DataFrame(
        {
            "Air temperature [K]": rng.normal(300, 2, n),
            "Process temperature [K]": rng.normal(310, 1.5, n),
            "Rotational speed [rpm]": rng.normal(1540, 180, n),
            "Torque [Nm]": rng.normal(40, 10, n),
            "Tool wear [min]": rng.uniform(0, 250, n),
        }
    )
    for name in ("zscore", "iforest"):
        model = train_table(table.iloc[:10_000], detector=name)
        start = time.perf_counter()
        scored = score_table(model, table)
        elapsed = time.perf_counter() - start
        out["batch"][name] = {"rows": n, "seconds": round(elapsed, 3), "rows_per_s": round(n / elapsed)}
        assert len(scored) == n
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer timing repetitions")
    args = parser.parse_args(argv)
    data = _data_dir()
    if not data.is_dir():
        print(f"datasets not found at {data} (set TWINLEDGER_DATA)", file=sys.stderr)
        return 2
    q = quality(data)
    fa = false_alarms(data)
    s = speed(200 if args.quick else 2000)

    ai, ims, cm = q["ai4i"], q["ims"], q["cmapss"]
    print("AI4I 2020 (ROC-AUC vs Machine failure, fitted on all rows without labels)")
    for k, v in ai.items():
        print(f"  {k:24s} {v['roc_auc']:.4f}  per mode {v['per_mode']}")
    print(f"  held out (chosen on rows 1-5000, graded on 5001-10000): {q['ai4i_holdout']}")
    print(f"  held out, pca: {q['ai4i_holdout_pca']}")
    print("IMS bearing test 2 (fitted on first 25 % of snapshots)")
    for k, v in ims.items():
        print(f"  {k:28s} first alarm {v['lead_time_h']} h before end; alarm in first half: {v['alarm_in_first_half']}")
    print("C-MAPSS FD001 (first 30 cycles of engines 1-50 -> all cycles of engines 51-100, RUL <= 30)")
    print(f"  selected on engines 1-50: {cm['selection']}")
    for k, v in cm.items():
        if k != "selection":
            print(f"  {k:26s} {v['roc_auc']:.4f} (window {v['window']}, trend {v['trend']}, {v['params']})")
    print("False alarms at the shipped threshold, on held-out healthy rows (fitted and calibrated apart)")
    for dataset, found in fa.items():
        for k, v in found.items():
            print(f"  {dataset:7s} {k:18s} {v}")
    print("Speed")
    for k, v in s["single_window"].items():
        print(
            f"  one 60-sample window, {k:8s} wall p50 {v['p50_ms']} ms, p99 {v['p99_ms']} ms;"
            f" CPU p50 {v['cpu']['p50_ms']} ms, p99 {v['cpu']['p99_ms']} ms"
        )
    for k, v in s["batch"].items():
        print(f"  batch {v['rows']} rows, {k:8s} {v['rows_per_s']:,} rows/s")

    base_lead = ims["baseline_iforest_max_3in3"]["lead_time_h"] or 0.0
    summary = {
        "benchmark": "anomaly",
        "detector": "zscore",
        "ai4i_roc_auc": ai["zscore_physics"]["roc_auc"],
        "ai4i_roc_auc_baseline": ai["baseline_iforest_raw"]["roc_auc"],
        "ai4i_roc_auc_iforest_same_features": ai["iforest_physics"]["roc_auc"],
        "ai4i_per_mode": ai["zscore_physics"]["per_mode"],
        "ai4i_roc_auc_held_out": q["ai4i_holdout"]["roc_auc"],
        "pca": {
            "ai4i_roc_auc": ai["pca_physics"]["roc_auc"],
            "ai4i_roc_auc_held_out": q["ai4i_holdout_pca"]["roc_auc"],
            "ims_lead_time_h": ims["pca"]["lead_time_h"],
            "ims_alarm_in_first_half": ims["pca"]["alarm_in_first_half"],
            "cmapss_roc_auc": cm["pca"]["roc_auc"],
        },
        "ims_lead_time_h": ims["zscore"]["lead_time_h"],
        "ims_alarm_in_first_half": ims["zscore"]["alarm_in_first_half"],
        "ims_lead_time_h_baseline": ims["baseline_iforest_max_3in3"]["lead_time_h"],
        "ims_lead_ratio": round((ims["zscore"]["lead_time_h"] or 0.0) / base_lead, 2) if base_lead else None,
        "cmapss_roc_auc": cm["zscore"]["roc_auc"],
        "cmapss_roc_auc_baseline": cm["baseline_iforest_raw"]["roc_auc"],
        "cmapss_roc_auc_iforest_same_features": cm["iforest_same_features"]["roc_auc"],
        "held_out_false_alarms": fa,
        "window_p99_ms": s["single_window"]["zscore"]["p99_ms"],
        "window_p99_cpu_ms": s["single_window"]["zscore"]["cpu"]["p99_ms"],
        "window_p99_ms_baseline": s["single_window"]["iforest"]["p99_ms"],
        "batch_rows_per_s": s["batch"]["zscore"]["rows_per_s"],
        "batch_rows_per_s_baseline": s["batch"]["iforest"]["rows_per_s"],
        "targets_met": {
            "ai4i_auc_ge_0.90": ai["zscore_physics"]["roc_auc"] >= 0.90,
            "ims_lead_ge_46h_no_early": (ims["zscore"]["lead_time_h"] or 0) >= 46
            and not ims["zscore"]["alarm_in_first_half"],
            "cmapss_auc_ge_0.99": cm["zscore"]["roc_auc"] >= 0.99,
            "window_p99_lt_10ms": s["single_window"]["zscore"]["p99_ms"] < 10,
            "batch_ge_100k_rows_s": s["batch"]["zscore"]["rows_per_s"] >= 100_000,
        },
    }
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
