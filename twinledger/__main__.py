"""``python -m twinledger`` runs the command line."""

import sys

from twinledger.cli import main

sys.exit(main())
