"""Pay-per-use billing in the cloud: usage store, scheduled invoicing, anchoring, and the HTTP API.

The domain (tariffs, rating, invoices) is :mod:`twin_models.billing`; this package stores, schedules,
anchors and serves it. ``routes`` is the Chalice blueprint (HTTP routes and the hourly schedule).
"""
