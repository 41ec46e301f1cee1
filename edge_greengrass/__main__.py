"""``python -m edge_greengrass run --config FILE``: the gateway outside Greengrass, with a fast start.

The same commands as ``twinledger edge ...`` (:mod:`edge_greengrass.cli`), without loading the rest of
the project.
"""

from __future__ import annotations

import sys

from edge_greengrass.cli import main

sys.exit(main())
