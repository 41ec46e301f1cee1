"""Sufficient statistics and sketches aggregate to the pooled ones, for any split of the rows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twin_models.federated
from twin_models.federated import (
    FederationError,
    MomentDetector,
    Moments,
    ScoreSketch,
    bucket_count,
    merge_moments,
    merge_sketches,
    pca_subspace,
    score_grid,
)

MODULES = sorted(f"twin_models.federated.{m.name}" for m in pkgutil.iter_modules(twin_models.federated.__path__))


@pytest.mark.parametrize("name", ["twin_models.federated", *MODULES])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or name == "twin_models.federated.errors"


@st.composite
def split_rows(draw: st.DrawFn) -> tuple[np.ndarray, list[np.ndarray]]:
    """Rows (with a random offset and scale per feature) and a random split into 1-6 non-empty parts."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(2, 120))
    d = draw(st.integers(1, 5))
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n, d)) * rng.uniform(0.01, 100.0, size=d) + rng.uniform(-1e3, 1e3, size=d)
    parts = draw(st.integers(1, min(6, n)))
    cuts = sorted(draw(st.lists(st.integers(1, n - 1), min_size=parts - 1, max_size=parts - 1, unique=True)))
    order = rng.permutation(n)  # the split need not follow the row order (non-IID lessees)
    shuffled = rows[order]
    return rows, [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]


@settings(max_examples=150, deadline=None)
@given(split_rows())
def test_merged_moments_equal_pooled_for_any_split(case: tuple[np.ndarray, list[np.ndarray]]) -> None:
    rows, parts = case
    pooled = Moments.of(rows)
    merged = merge_moments(Moments.of(p) for p in parts)
    assert merged.count == pooled.count
    np.testing.assert_allclose(merged.mean, pooled.mean, rtol=1e-9, atol=1e-9 * np.abs(rows).max())
    np.testing.assert_allclose(merged.scatter, pooled.scatter, rtol=1e-7, atol=1e-7 * np.abs(pooled.scatter).max())


@settings(max_examples=100, deadline=None)
@given(split_rows())
def test_shared_with_exact_weights_round_trips_to_the_pooled_detector(
    case: tuple[np.ndarray, list[np.ndarray]],
) -> None:
    rows, parts = case
    shared = [Moments.of(p).shared(bucket=False) for p in parts]
    federated = MomentDetector.fit(merge_moments(Moments.from_shared(s) for s in shared))
    pooled = MomentDetector.fit(Moments.of(rows))
    np.testing.assert_allclose(federated.score(rows), pooled.score(rows), rtol=1e-6, atol=1e-9)


def test_shared_statistics_carry_no_row_count_or_rows() -> None:
    rows = np.random.default_rng(0).normal(size=(1234, 3))
    shared = Moments.of(rows).shared()
    assert shared["weight"] == 1024.0  # the bucket, not 1234
    assert set(shared) == {"weight", "mean", "scatter_per_row"}
    assert all(np.asarray(v).size <= 9 for v in shared.values())  # d + d^2 numbers, whatever the row count


@given(st.floats(1.0, 1e9))
def test_bucketed_weight_is_within_a_quarter_of_the_count(count: float) -> None:
    assert 0.8 <= bucket_count(count) / count <= 1.25


def test_pca_subspace_of_merged_moments_is_the_pooled_one() -> None:
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(600, 4)) @ rng.normal(size=(4, 4))
    parts = [rows[:50], rows[50:400], rows[400:]]
    axes_f, var_f = pca_subspace(merge_moments(Moments.of(p) for p in parts), 2)
    axes_p, var_p = pca_subspace(Moments.of(rows), 2)
    np.testing.assert_allclose(var_f, var_p, rtol=1e-10)
    np.testing.assert_allclose(axes_f, axes_p, atol=1e-8)


def test_detector_with_pca_residual_flags_a_row_off_the_healthy_subspace() -> None:
    rng = np.random.default_rng(4)
    t = rng.normal(size=500)
    healthy = np.c_[t, t + 0.05 * rng.normal(size=500)]  # two channels that move together
    detector = MomentDetector.fit(Moments.of(healthy), components=1)
    on, off = detector.score(np.array([[1.5, 1.5], [1.5, -1.5]]))
    assert off > 5 * on


@settings(max_examples=100, deadline=None)
@given(split_rows(), st.floats(0.5, 0.999))
def test_merged_sketch_quantile_equals_pooled_for_any_split(
    case: tuple[np.ndarray, list[np.ndarray]], q: float
) -> None:
    rows, parts = case
    grid = score_grid()
    scores = np.abs(rows[:, 0])
    part_scores = [np.abs(p[:, 0]) for p in parts]
    merged = merge_sketches(ScoreSketch.of(s, grid) for s in part_scores)
    pooled = ScoreSketch.of(scores, grid)
    assert merged.weight == pooled.weight
    assert merged.quantile(q) == pooled.quantile(q)
    exact = float(np.sort(scores)[min(int(np.ceil((len(scores) + 1) * q)), len(scores)) - 1])
    assert exact <= merged.quantile(q) <= max(exact * 1.012, 1e-4)  # never below, within one bin above


def test_moments_refuse_what_cannot_be_merged() -> None:
    with pytest.raises(FederationError):
        Moments.of(np.ones((2, 2))).merge(Moments.of(np.ones((2, 3))))
    with pytest.raises(FederationError):
        Moments.of(np.array([[np.nan]]))
    with pytest.raises(FederationError):
        ScoreSketch.of(np.ones(2), score_grid()).merge(ScoreSketch.of(np.ones(2), score_grid(bins=10)))
    with pytest.raises(FederationError):
        merge_moments([])
