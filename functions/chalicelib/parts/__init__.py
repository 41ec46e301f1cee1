"""Parts: a record per produced part from the signed telemetry of its cycle, its EPCIS 2.0 events, its proof
bundle (``step`` in the ingest pipeline, ``service``, ``routes``, ``verify``)."""
