"""Screening updates catches each attack; the learned model trains; hashes name exactly the numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.federated import (
    ATTACKS,
    arrays_hash,
    manipulate_data,
    manipulate_update,
    model_manifest,
    predict,
    roc_auc,
    round_records,
    screen_updates,
    train_local,
)


def _lessees(seed: int, n: int = 4) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    true_w = np.array([2.0, -1.0, 0.5])
    data = []
    for i in range(n):
        x = rng.normal(loc=0.3 * i, size=(300, 3))  # non-IID: each lessee's rows shifted
        y = (rng.uniform(size=300) < predict(np.r_[true_w, -2.0], x)).astype(float)
        data.append((x, y))
    return np.zeros(4), data


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["scale", "signflip", "labelflip"]))
def test_screening_excludes_the_manipulating_lessee_and_keeps_the_honest(seed: int, attack: str) -> None:
    g, data = _lessees(seed)
    new = {f"lessee-{i}": train_local(g, x, y, epochs=20) for i, (x, y) in enumerate(data)}
    x0, y0 = manipulate_data(attack, *data[0])  # type: ignore[arg-type]
    new["lessee-0"] = manipulate_update(g, train_local(g, x0, y0, epochs=20), attack, factor=10.0)  # type: ignore[arg-type]
    verdicts = {v.client: v for v in screen_updates(g, new)}
    assert not verdicts["lessee-0"].accepted
    assert all(verdicts[f"lessee-{i}"].accepted for i in (1, 2, 3))


def test_screening_accepts_everyone_when_nobody_manipulates() -> None:
    g, data = _lessees(7)
    new = {f"lessee-{i}": train_local(g, x, y, epochs=20) for i, (x, y) in enumerate(data)}
    assert all(v.accepted and v.reason == "" for v in screen_updates(g, new))


def test_a_non_finite_update_is_excluded() -> None:
    new = {"a": np.ones(2), "b": np.array([np.nan, 1.0]), "c": np.ones(2) * 1.1}
    verdicts = {v.client: v for v in screen_updates(np.zeros(2), new)}
    assert not verdicts["b"].accepted and verdicts["b"].reason == "not finite"
    assert verdicts["a"].accepted and verdicts["c"].accepted


def test_backdoor_data_teaches_the_trigger() -> None:
    _, data = _lessees(1)
    x, y = data[0]
    xb, yb = manipulate_data("backdoor", x, y)
    assert len(xb) == len(x) + 4 * int(y.sum())
    assert (xb[len(x) :, 0] == 4.0).all() and (yb[len(x) :] == 0).all()
    assert set(ATTACKS) == {"scale", "signflip", "labelflip", "backdoor"}


def test_local_training_learns_and_fedprox_keeps_near_the_start() -> None:
    g, data = _lessees(2)
    x, y = data[1]
    free = train_local(g, x, y, epochs=200, mu=0.0)
    assert roc_auc(y, predict(free, x)) > 0.8
    start = np.ones(4)
    near = train_local(start, x, y, epochs=200, mu=5.0)
    far = train_local(start, x, y, epochs=200, mu=0.0)
    assert np.linalg.norm(near - start) < np.linalg.norm(far - start)


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=40), st.data())
def test_roc_auc_matches_the_pair_count(scores: list[float], data: st.DataObject) -> None:
    labels = data.draw(st.lists(st.integers(0, 1), min_size=len(scores), max_size=len(scores)))
    y, s = np.array(labels), np.array(scores)
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        assert np.isnan(roc_auc(y, s))
        return
    pairs = [(1.0 if p > n else 0.5 if p == n else 0.0) for p in pos for n in neg]
    assert roc_auc(y, s) == pytest.approx(sum(pairs) / len(pairs))


def test_hashes_change_with_any_number_and_records_name_every_update() -> None:
    w = [np.array([0.1, 0.2, 0.3])]
    assert arrays_hash(w) != arrays_hash([np.array([0.1, 0.2, 0.30000000001])])
    records = round_records("fleet", 3, arrays_hash(w), {"b": "0x02", "a": "0x01"})
    assert [rid for rid, _ in records] == [
        "federated/fleet/3/model",
        "federated/fleet/3/update/a",
        "federated/fleet/3/update/b",
    ]
    manifest = model_manifest("fleet", 3, w, {"a": "0x01"})
    assert manifest["model_hash"] == records[0][1]["model_hash"] and manifest["round"] == 3
