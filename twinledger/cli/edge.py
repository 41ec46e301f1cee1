"""``twinledger edge``: run a gateway outside Greengrass, provision device credentials.

The commands live with the gateway, in :mod:`edge_greengrass.cli` (the edge package stands alone and
``python -m edge_greengrass`` runs them without this command line); this module only plugs them in.

Example:
    $ twinledger edge provision --thing cnc-01 --out .twinledger/pki --local-ca .twinledger/pki/ca
    $ twinledger edge run --config gateway.yaml --duration 60
"""

from __future__ import annotations

from edge_greengrass.cli import main, register

__all__ = ["main", "register"]
