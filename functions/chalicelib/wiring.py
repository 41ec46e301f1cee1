"""The one place that builds the services: one adapter per port, chosen from the settings.

Routes and Lambda handlers get their services from :func:`services`; tests, benchmarks, the demo and the
local stack swap adapters through :func:`override` (or install a whole :class:`Services` with
:func:`use`), never by assigning module state.

* ``TWINLEDGER_ADAPTERS=aws`` (the default): DynamoDB, S3, the IoT data plane, SageMaker runtime and SNS
  through boto3 (moto stands in locally).
* ``TWINLEDGER_ADAPTERS=memory``: every store in process (:mod:`chalicelib.adapters.memory`).
* The chain is always the configured node (``eth-tester`` in process by default), reached on first use.

Example:
    >>> from chalicelib.adapters.memory import MemoryDevices
    >>> with override(devices=MemoryDevices()) as built:
    ...     services() is built and isinstance(built.adapters.devices, MemoryDevices)
    True
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from chalicelib.adapters import anomaly as anomaly_adapters
from chalicelib.adapters import memory, memory_maintenance
from chalicelib.adapters.anchoring import DynamoAnchorStore
from chalicelib.adapters.archive import S3Archive
from chalicelib.adapters.billing import InvoiceArchive as S3InvoiceArchive
from chalicelib.adapters.billing import InvoiceStore, LeaseStore, UsageStore
from chalicelib.adapters.chain.config import connect, get_anchor_client, get_chain_settings, load_signer
from chalicelib.adapters.chain.lease import LeaseClient
from chalicelib.adapters.chain.lease_anchor import ContractLeaseAnchor
from chalicelib.adapters.maintenance import DynamoMaintenanceStore
from chalicelib.adapters.memory_parts import MemoryParts
from chalicelib.adapters.oee import CalendarStore, OeeResultStore, StateCodeStore
from chalicelib.adapters.parts import DynamoParts
from chalicelib.adapters.twins import BacklogStore, DeviceRegistry, HistoryStore, QuarantineStore, ShadowStore
from chalicelib.anchoring.proofs import ProofQueries
from chalicelib.anchoring.service import AnchoringService
from chalicelib.anomaly.service import AnomalyService
from chalicelib.billing.service import BillingService
from chalicelib.ingest.pipeline import IngestPipeline, count_shadow_conflict
from chalicelib.ingest.steps import MeterStep, QueueStep, ScoreStep, ShadowStep, StoreStep, VerifyStep
from chalicelib.maintenance.service import MaintenanceService
from chalicelib.oee.service import OeeService
from chalicelib.parts.service import PartsService
from chalicelib.parts.step import PartsStep
from chalicelib.ports.anchoring import AnchorStore
from chalicelib.ports.anomaly import AlertPublisher, AnomalyEndpoint, Cooldowns
from chalicelib.ports.archive import Archive
from chalicelib.ports.billing import InvoiceArchive, Invoices, Leases, Usage
from chalicelib.ports.chain import AnchorChain, ChainConfigurationError, LeaseContracts
from chalicelib.ports.maintenance import MaintenanceStore
from chalicelib.ports.oee import Calendars, OeeResults
from chalicelib.ports.parts import Parts
from chalicelib.ports.twins import Backlog, Devices, History, Quarantine, Shadows, StateCodes
from chalicelib.settings import Settings, get_settings
from chalicelib.twins.service import TwinQueries
from twin_models.anchoring import ProofBundle

__all__ = ["Adapters", "Services", "aws_adapters", "build", "memory_adapters", "override", "reset", "services", "use"]

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Adapters:
    """One adapter per port (see :mod:`chalicelib.ports`), and the clock the use cases read."""

    devices: Devices
    history: History
    backlog: Backlog
    quarantine: Quarantine
    shadows: Shadows
    archive: Archive
    usage: Usage
    leases: Leases
    invoices: Invoices
    invoice_archive: InvoiceArchive
    oee_results: OeeResults
    calendars: Calendars
    anchor_store: AnchorStore
    cooldowns: Cooldowns | None
    alerts: AlertPublisher | None
    endpoint: AnomalyEndpoint | None
    anchor_chain: Callable[[], AnchorChain]
    lease_contracts: Callable[[], LeaseContracts | None] | None
    clock: Clock = _utcnow
    parts: Parts = field(default_factory=MemoryParts)
    maintenance: MaintenanceStore = field(default_factory=memory_maintenance.MemoryMaintenanceStore)
    state_codes: StateCodes = field(default_factory=memory.MemoryStateCodes)


def _chain_factories(settings: Settings) -> tuple[Callable[[], AnchorChain], Callable[[], LeaseContracts | None]]:
    """The registry client and the lease contracts of the configured node, each built on first use."""
    chain_settings = get_chain_settings(settings)

    def anchor_chain() -> AnchorChain:
        return get_anchor_client(chain_settings)

    def lease_contracts() -> LeaseContracts | None:
        w3 = connect(chain_settings)
        signer: Any = load_signer(chain_settings)
        if signer is None:
            if not chain_settings.local_node:
                raise ChainConfigurationError("no chain signing key configured for a remote node")
            signer = str(w3.eth.accounts[0])
        options = chain_settings.sender_options()
        return ContractLeaseAnchor(lambda address: LeaseClient(w3, address, signer, options))

    return anchor_chain, lease_contracts


def aws_adapters(settings: Settings | None = None) -> Adapters:
    """The deployed adapters: boto3 (DynamoDB, S3, IoT data, SageMaker runtime, SNS) and the chain."""
    settings = settings or get_settings()
    anchor_chain, lease_contracts = _chain_factories(settings)
    endpoint = (
        anomaly_adapters.SageMakerEndpoint(settings.anomaly_endpoint, settings.sagemaker_endpoint_url)
        if settings.anomaly_endpoint
        else None
    )
    store: AnchorStore = (
        memory.InMemoryAnchorStore() if get_chain_settings(settings).store == "memory" else DynamoAnchorStore()
    )
    return Adapters(
        devices=DeviceRegistry(),
        history=HistoryStore(),
        backlog=BacklogStore(),
        quarantine=QuarantineStore(),
        shadows=ShadowStore(),
        archive=S3Archive(),
        usage=UsageStore(),
        leases=LeaseStore(),
        invoices=InvoiceStore(),
        invoice_archive=S3InvoiceArchive(),
        oee_results=OeeResultStore(),
        calendars=CalendarStore(),
        state_codes=StateCodeStore(),
        anchor_store=store,
        maintenance=DynamoMaintenanceStore(),
        cooldowns=anomaly_adapters.CooldownStore(),
        alerts=anomaly_adapters.SnsAlertPublisher(settings.alert_topic_arn) if settings.alert_topic_arn else None,
        endpoint=endpoint,
        anchor_chain=anchor_chain,
        lease_contracts=lease_contracts,
        parts=DynamoParts(),
    )


def memory_adapters(settings: Settings | None = None) -> Adapters:
    """Every store in process (tests, benchmarks, the embedded demo); the chain as configured."""
    settings = settings or get_settings()
    anchor_chain, lease_contracts = _chain_factories(settings)
    return Adapters(
        devices=memory.MemoryDevices(),
        history=memory.MemoryHistory(),
        backlog=memory.MemoryBacklog(),
        quarantine=memory.MemoryQuarantine(),
        shadows=memory.MemoryShadows(),
        archive=memory.MemoryArchive(),
        usage=memory.MemoryUsage(),
        leases=memory.MemoryLeases(),
        invoices=memory.MemoryInvoices(),
        invoice_archive=memory.MemoryInvoiceArchive(),
        oee_results=memory.MemoryOeeResults(),
        calendars=memory.MemoryCalendars(),
        anchor_store=memory.InMemoryAnchorStore(),
        maintenance=memory_maintenance.MemoryMaintenanceStore(),
        cooldowns=memory.MemoryCooldowns(),
        alerts=memory.MemoryAlerts(),
        endpoint=None,
        anchor_chain=anchor_chain,
        lease_contracts=lease_contracts,
    )


class Services:
    """Every use case, built on first use over one set of adapters."""

    def __init__(self, adapters: Adapters, settings: Settings) -> None:
        self.adapters = adapters
        self.settings = settings

    @cached_property
    def twins(self) -> TwinQueries:
        """The twin queries (machines, twin now or at a time, timelines, desired configuration)."""
        a = self.adapters
        return TwinQueries(devices=a.devices, history=a.history, shadows=a.shadows, state_codes=a.state_codes)

    @cached_property
    def anomaly(self) -> AnomalyService | None:
        """Scoring on the anomaly endpoint; None where no endpoint is configured. It pages nobody itself: a
        critical alarm pages through its maintenance ticket, once per ticket (:attr:`maintenance`)."""
        a = self.adapters
        if a.endpoint is None:
            return None
        return AnomalyService(a.endpoint, None, None, cooldown_s=self.settings.alert_cooldown_s, clock=a.clock)

    @cached_property
    def maintenance(self) -> MaintenanceService:
        """The maintenance logs, tickets (which page), plans, statistics, and the anchoring of the chain heads."""
        a = self.adapters
        return MaintenanceService(
            store=a.maintenance,
            devices=a.devices,
            archive=a.archive,
            usage=a.usage,
            history=a.history,
            shadows=a.shadows,
            anchors=self.anchoring,
            proofs=self.anchoring,
            alerts=a.alerts,
            cooldowns=a.cooldowns,
            cooldown_s=self.settings.alert_cooldown_s,
            clock=a.clock,
            state_codes=a.state_codes,
        )

    @cached_property
    def anchoring(self) -> AnchoringService:
        """The anchoring queue and its drain into Merkle batches on chain."""
        a = self.adapters
        return AnchoringService(
            a.anchor_store, a.anchor_chain, batch_size=self.settings.anchor_batch_size, clock=a.clock
        )

    @cached_property
    def proofs(self) -> ProofQueries:
        """Proof bundles and their verification."""
        return ProofQueries(self.anchoring)

    @cached_property
    def ingest(self) -> IngestPipeline:
        """The ingest pipeline: verify -> store -> shadow -> meter -> score -> alarms to the maintenance log."""
        a = self.adapters
        scorer = self.anomaly
        return IngestPipeline(
            verify=VerifyStep(a.devices, timedelta(seconds=self.settings.max_future_s), a.state_codes),
            store=StoreStep(a.history, a.quarantine),
            shadow=ShadowStep(
                a.shadows, self.settings.shadow_retries, on_conflict=count_shadow_conflict, state_codes=a.state_codes
            ),
            meter=MeterStep(a.usage, a.history, a.clock, a.state_codes),
            backlog=a.backlog,
            score=ScoreStep(scorer, a.shadows, self.maintenance.observe_health) if scorer is not None else None,
            queue=QueueStep(self.maintenance),
            parts=PartsStep(a.parts, a.devices, a.shadows, a.maintenance, self.anchoring),
            clock=a.clock,
        )

    @cached_property
    def oee(self) -> OeeService:
        """OEE queries and the per-shift schedule (which anchors closed periods)."""
        a = self.adapters
        return OeeService(
            results=a.oee_results,
            calendars=a.calendars,
            history=a.history,
            devices=a.devices,
            shadows=a.shadows,
            anchors=self.anchoring,
            lookback=timedelta(hours=self.settings.oee_lookback_h),
            anchor_after=timedelta(hours=self.settings.oee_anchor_after_h),
            state_codes=a.state_codes,
        )

    @cached_property
    def parts(self) -> PartsService:
        """Part records, their EPCIS events and proof bundles, inspections, shares, key registrations."""
        a = self.adapters
        return PartsService(a.parts, a.devices, self.anchoring, self._anchored_bundle, clock=a.clock)

    def _anchored_bundle(self, record_id: str, record: Any) -> ProofBundle | None:
        """The proof bundle of an anchored record (``record`` embedded); None while it is not anchored."""
        found = self.adapters.anchor_store.get(record_id)
        if found is None or found.anchored is None:
            return None
        return self.anchoring.bundle(record_id, record)

    @cached_property
    def billing(self) -> BillingService:
        """Usage, the billing schedule and the lease and invoice queries."""
        a = self.adapters
        return BillingService(
            leases=a.leases,
            usage=a.usage,
            invoices=a.invoices,
            archive=a.invoice_archive,
            shadows=a.shadows,
            devices=a.devices,
            contracts=a.lease_contracts,
            clock=a.clock,
        )


def build(settings: Settings | None = None, **replacements: Any) -> Services:
    """Services over the adapters the settings choose, with some of them replaced.

    Example:
        >>> from chalicelib.adapters.memory import MemoryDevices
        >>> isinstance(build(devices=MemoryDevices()).adapters.devices, MemoryDevices)
        True
    """
    settings = settings or get_settings()
    known = {f.name for f in fields(Adapters)}
    unknown = sorted(set(replacements) - known)
    if unknown:
        raise TypeError(f"no such adapter: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    base = memory_adapters(settings) if settings.adapters == "memory" else aws_adapters(settings)
    return Services(replace(base, **replacements), settings)


_lock = threading.RLock()
_current: Services | None = None
_installed = False


def services() -> Services:
    """The process's services: built on first use from the settings (again after they changed), or the
    ones installed with :func:`use` / :func:`override`."""
    global _current
    with _lock:
        settings = get_settings()
        if _current is None or (not _installed and _current.settings != settings):
            _current = build(settings)
        return _current


def use(built: Services | None) -> None:
    """Install ``built`` as the process's services (``None``: build from the settings again on next use)."""
    global _current, _installed
    with _lock:
        _current = built
        _installed = built is not None


@contextmanager
def override(**replacements: Any) -> Iterator[Services]:
    """Within the block, the services use these adapters instead of the configured ones.

    Example:
        >>> from chalicelib.adapters.memory import MemoryHistory
        >>> with override(history=MemoryHistory()) as built:
        ...     built.ingest.store.history is built.adapters.history
        True
    """
    with _lock:
        previous, previous_installed = _current, _installed
    built = build(**replacements)
    use(built)
    try:
        yield built
    finally:
        with _lock:
            _restore(previous, previous_installed)


def _restore(previous: Services | None, installed: bool) -> None:
    global _current, _installed
    _current, _installed = previous, installed


def reset() -> None:
    """Forget the services (tests, after changing the environment or stopping moto)."""
    use(None)
