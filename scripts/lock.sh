#!/usr/bin/env bash
# Regenerates the lock files in requirements/ (pinned versions with hashes) from pyproject.toml,
# functions/requirements.txt and requirements/checkov.in; then scripts/setup.sh installs from them.
#   scripts/lock.sh                 every lock, keeping current pins where they still fit
#   scripts/lock.sh --upgrade       every lock, newest versions the declarations allow
#   scripts/lock.sh dev lambda      only the named locks
# Needs the dev environment (uv comes with it): scripts/setup.sh test first.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m twinledger.locks compile "$@"
