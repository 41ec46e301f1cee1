"""Ingest: the pipeline that turns an SQS batch of signed envelopes into history, shadows, usage, health and
anchored tickets (``pipeline``, ``steps``)."""
