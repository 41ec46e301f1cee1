"""Anchoring: record hashes queued by every area, drained into Merkle batches on the ``AnchorRegistry``, and
the proof bundles anyone can check (``service``, ``proofs``, ``routes``)."""
