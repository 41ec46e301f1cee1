"""The digital twin: named shadows, history queries and the twin API (ingest is :mod:`chalicelib.ingest`)."""
