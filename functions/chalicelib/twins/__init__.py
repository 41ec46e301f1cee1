"""The digital twin: ingest of signed telemetry, history, named shadows and the twin API."""
