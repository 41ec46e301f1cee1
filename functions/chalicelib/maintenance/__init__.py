"""Maintenance: the shared, verifiable log per machine, its tickets, plans, due lists, statistics and trend,
and the anchoring of every machine's chain head in the interval's Merkle batch (``service``, ``requests``,
``routes``)."""
