"""Lease ids are scoped by the lessor's tenant: ``qualified_lease_id`` and where it is applied.

Hand-picked cases for the rule (a reference is qualified, an id qualified by the lessor is kept, one
qualified by another tenant is refused, the prefix is everything before the first ``:``) and Hypothesis
properties over arbitrary lessors and references: the result is a valid id or a clear refusal,
qualifying twice changes nothing, different lessors never share an id.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.billing import LeaseError, UsageEvent, compute_invoice, load_lease, qualified_lease_id
from twin_models.billing.lease import ID_PATTERN

DOC: dict[str, Any] = {
    "lease_id": "lease-cnc-01",
    "lessor": "toolmaker",
    "lessee": "factory-1",
    "machine_ids": ["cnc-01"],
    "start": "2026-10-01T00:00:00+02:00",
    "billing_interval": "monthly",
    "timezone": "Europe/Berlin",
    "currency": "EUR",
    "tax_rate": "0.19",
    "tariff": {"components": [{"id": "spindle", "meter": "spindle_hours", "unit_price": "10.00"}]},
}
ID_CHARS = "ABCXYZabcxyz0189_.-:"
TENANT_CHARS = "ABCXYZabcxyz0189_.-"
SETTINGS = settings(max_examples=300, deadline=None)

tenants = st.text(TENANT_CHARS, min_size=1, max_size=70)
references = st.text(ID_CHARS, min_size=1, max_size=70)


def test_a_reference_is_qualified_by_its_lessor() -> None:
    assert qualified_lease_id("toolmaker", "lease-cnc-01") == "toolmaker:lease-cnc-01"
    assert qualified_lease_id("othermaker", "lease-cnc-01") == "othermaker:lease-cnc-01"


def test_an_id_qualified_by_its_lessor_stays_and_one_qualified_by_another_tenant_is_refused() -> None:
    assert qualified_lease_id("toolmaker", "toolmaker:lease-cnc-01") == "toolmaker:lease-cnc-01"
    with pytest.raises(LeaseError, match=r"^lease_id: 'toolmaker:lease-cnc-01' is qualified by another tenant"):
        qualified_lease_id("othermaker", "toolmaker:lease-cnc-01")
    with pytest.raises(LeaseError, match=r"^lease_id: "):  # a prefix of the lessor is not the lessor
        qualified_lease_id("toolmaker", "tool:maker-lease")


def test_the_prefix_is_everything_before_the_first_colon() -> None:
    assert qualified_lease_id("toolmaker", "toolmaker:fleet:2026") == "toolmaker:fleet:2026"
    with pytest.raises(LeaseError, match=r"^lease_id: 'fleet:2026' is qualified by another tenant"):
        qualified_lease_id("toolmaker", "fleet:2026")  # not read as the reference 'fleet:2026'
    with pytest.raises(LeaseError, match=r"^lease_id: 'toolmaker:' names no reference"):
        qualified_lease_id("toolmaker", "toolmaker:")


def test_lessors_that_cannot_prefix_and_ids_that_do_not_fit_are_refused() -> None:
    for lessor in ("", "tool:maker", "tool maker", "wérk"):
        with pytest.raises(LeaseError, match=r"^lessor: "):
            qualified_lease_id(lessor, "lease-1")
    with pytest.raises(LeaseError, match=r"^lease_id: .* must match"):
        qualified_lease_id("toolmaker", "lease 1")
    with pytest.raises(LeaseError, match=r"^lease_id: .* longer than 128 characters"):
        qualified_lease_id("toolmaker", "x" * 120)
    assert len(qualified_lease_id("toolmaker", "x" * 118)) == 128


def test_load_lease_gives_the_qualified_id_and_names_the_field_when_it_refuses() -> None:
    assert load_lease(DOC).lease_id == "toolmaker:lease-cnc-01"
    assert load_lease({**DOC, "lease_id": "toolmaker:lease-cnc-01"}) == load_lease(DOC)
    with pytest.raises(LeaseError, match=r"^lease: lease_id: 'othermaker:lease-cnc-01' is qualified by another"):
        load_lease({**DOC, "lease_id": "othermaker:lease-cnc-01"})
    with pytest.raises(LeaseError, match=r"^lease: lessor: "):
        load_lease({**DOC, "lessor": "tool maker"})


def test_invoices_carry_the_qualified_id_and_bill_usage_tagged_with_either_form() -> None:
    lease = load_lease(DOC)
    ts = datetime(2026, 10, 5, 8, tzinfo=UTC)

    def tagged(ident: str, tag: str | None) -> UsageEvent:
        return UsageEvent(
            id=ident, machine_id="cnc-01", meter="spindle_hours", ts=ts, quantity=Decimal(1), lease_id=tag
        )

    events = [
        tagged("u1", None),
        tagged("u2", "lease-cnc-01"),
        tagged("u3", "toolmaker:lease-cnc-01"),
        tagged("u4", "othermaker:lease-cnc-01"),  # another tenant's lease of the same reference
        tagged("u5", "lease-other"),
    ]
    invoice = compute_invoice(lease, lease.period("2026-10"), events)
    assert (invoice.invoice_id, invoice.lease_id) == ("toolmaker:lease-cnc-01@2026-10", "toolmaker:lease-cnc-01")
    assert (invoice.usage.events, invoice.usage.excluded_events, str(invoice.total)) == (3, 2, "35.70")


@SETTINGS
@given(lessor=st.text(max_size=40), reference=st.text(max_size=140))
def test_any_text_gives_a_valid_id_or_a_refusal_naming_the_field(lessor: str, reference: str) -> None:
    try:
        result = qualified_lease_id(lessor, reference)
    except LeaseError as exc:
        assert str(exc).startswith(("lease_id: ", "lessor: "))
        return
    assert re.fullmatch(ID_PATTERN, result)
    assert result.partition(":")[0] == lessor


@SETTINGS
@given(lessor=tenants, reference=references)
def test_qualifying_is_idempotent_and_keeps_the_reference(lessor: str, reference: str) -> None:
    try:
        once = qualified_lease_id(lessor, reference)
    except LeaseError as exc:  # too long together, or a ':' that names another tenant or no reference
        assert len(lessor) + 1 + len(reference) > 128 or ":" in reference, exc
        return
    assert re.fullmatch(ID_PATTERN, once) and once.startswith(f"{lessor}:")
    assert qualified_lease_id(lessor, once) == once
    if ":" not in reference:
        assert once == f"{lessor}:{reference}"
    else:  # only an id already qualified by this lessor is accepted, and kept as it is
        assert once == reference


@SETTINGS
@given(a=tenants, b=tenants, ref_a=references, ref_b=references)
def test_different_lessors_never_map_to_the_same_id(a: str, b: str, ref_a: str, ref_b: str) -> None:
    try:
        ids = qualified_lease_id(a, ref_a), qualified_lease_id(b, ref_b)
    except LeaseError:
        return
    if a != b:
        assert ids[0] != ids[1]
    if ids[0] == ids[1]:
        assert a == b


@SETTINGS
@given(a=tenants, b=tenants, reference=st.text(TENANT_CHARS, min_size=1, max_size=50))
def test_an_id_of_one_lessor_is_refused_to_every_other(a: str, b: str, reference: str) -> None:
    owned = qualified_lease_id(a, reference)
    if a == b:
        assert qualified_lease_id(b, owned) == owned
    else:
        with pytest.raises(LeaseError, match=r"^lease_id: .* is qualified by another tenant"):
            qualified_lease_id(b, owned)
