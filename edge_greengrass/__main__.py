"""``python -m edge_greengrass run --config FILE``: the gateway outside Greengrass, with a fast start.

The same commands as ``twinledger edge ...``, without loading the rest of the command line.
"""

from __future__ import annotations

import sys

from twinledger.cli.edge import main

sys.exit(main())
