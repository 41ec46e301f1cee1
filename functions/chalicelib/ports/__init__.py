"""The ports: one protocol for every store and outside service the use cases need.

Areas (``twins``, ``ingest``, ``oee``, ``anomaly``, ``billing``, ``anchoring``) talk to the world only through
these; the adapters (``chalicelib.adapters``: boto3, IoT data, S3, SageMaker runtime, web3, and in-memory)
implement them, and the wiring (``chalicelib.wiring``) plugs one adapter into each port.

======================  =====================================  ======================================
port                    AWS / chain adapter                    in-memory adapter
======================  =====================================  ======================================
``Devices``             ``adapters.twins.DeviceRegistry``      ``adapters.memory.MemoryDevices``
``History``             ``adapters.twins.HistoryStore``        ``adapters.memory.MemoryHistory``
``Quarantine``          ``adapters.twins.QuarantineStore``     ``adapters.memory.MemoryQuarantine``
``Shadows``             ``adapters.twins.ShadowStore``         ``adapters.memory.MemoryShadows``
``Archive``             ``adapters.archive.S3Archive``         ``adapters.memory.MemoryArchive``
``Usage``               ``adapters.billing.UsageStore``        ``adapters.memory.MemoryUsage``
``Leases``              ``adapters.billing.LeaseStore``        ``adapters.memory.MemoryLeases``
``Invoices``            ``adapters.billing.InvoiceStore``      ``adapters.memory.MemoryInvoices``
``InvoiceArchive``      ``adapters.billing.InvoiceArchive``    ``adapters.memory.MemoryInvoiceArchive``
``OeeResults``          ``adapters.oee.OeeResultStore``        ``adapters.memory.MemoryOeeResults``
``Calendars``           ``adapters.oee.CalendarStore``         ``adapters.memory.MemoryCalendars``
``AnchorStore``         ``adapters.anchoring.DynamoAnchorStore``  ``adapters.memory.InMemoryAnchorStore``
``AnomalyEndpoint``     ``adapters.anomaly.SageMakerEndpoint``  the inference code in process (local stack)
``Cooldowns``           ``adapters.anomaly.CooldownStore``     ``adapters.memory.MemoryCooldowns``
``AlertPublisher``      ``adapters.anomaly.SnsAlertPublisher``  ``adapters.memory.MemoryAlerts``
``AnchorChain``         ``adapters.chain.AnchorClient``        (eth-tester in process)
``LeaseContracts``      ``adapters.chain.lease_anchor.ContractLeaseAnchor``
``AnchorQueue``         the anchoring service itself
======================  =====================================  ======================================

Import a port from its module (``from chalicelib.ports.twins import Devices``): the package itself imports
nothing, so a Lambda loads only the ports it uses.

Example:
    >>> from chalicelib.ports.twins import Devices, Shadows
    >>> Devices.__name__, Shadows.__name__
    ('Devices', 'Shadows')
"""
