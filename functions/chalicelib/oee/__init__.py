"""OEE in the cloud: per-shift results computed on a schedule from the stored state history, the
latest in each machine's ``oee`` named shadow, and the OEE API (stored results, plus on-the-fly
computation for ranges not stored yet). The KPIs themselves come from ``twin_models.oee``.

Example:
    >>> from chalicelib.oee import OeeService                                      # doctest: +SKIP
    >>> OeeService().run_schedule(datetime.now(UTC))                               # doctest: +SKIP
    {'machines': 8, 'periods_stored': 24, 'shadows_updated': 8, 'failed': []}
"""

from __future__ import annotations

from chalicelib.oee.dal import CalendarStore, OeeResultStore, StoredPeriod, list_devices
from chalicelib.oee.service import OeeService

__all__ = ["CalendarStore", "OeeResultStore", "OeeService", "StoredPeriod", "list_devices"]
