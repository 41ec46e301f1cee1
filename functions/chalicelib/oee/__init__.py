"""OEE in the cloud: per-shift results computed on a schedule from the stored state history, the
latest in each machine's ``oee`` named shadow, closed periods queued for anchoring, and the OEE API
(stored results, plus on-the-fly computation for ranges not stored yet). The KPIs themselves come
from ``twin_models.oee``.

Example:
    >>> from chalicelib.wiring import services                                     # doctest: +SKIP
    >>> services().oee.run_schedule(datetime.now(UTC))                             # doctest: +SKIP
    {'machines': 8, 'periods_stored': 24, 'shadows_updated': 8, 'periods_anchored': 16, 'failed': []}
"""
