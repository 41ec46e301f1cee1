"""Real local processes standing in for AWS (moto in server mode, ``chalice local``): the same ones
``twinledger up`` starts."""

from __future__ import annotations

from twinledger.local.servers import FUNCTIONS_DIR, chalice_local, free_port, moto_server

__all__ = ["FUNCTIONS_DIR", "chalice_local", "free_port", "moto_server"]
