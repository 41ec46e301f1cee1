#!/usr/bin/env bash
# Creates the project's environment on a fresh machine.
#   scripts/setup.sh demo   Python environment for the demo (moto, eth-tester in-process) and the built
#                           web dashboard (dashboard/dist, when npm is there)
#   scripts/setup.sh test   everything the test suite starts for real: Python dev extras,
#                           node tools (solc, ganache, aws-cdk), the dashboard, mosquitto and chromium
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-test}"
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
fi

# Every package comes pinned with its hashes from requirements/<extra>.lock (scripts/lock.sh writes them);
# the project itself is installed on top, editable, without resolving anything again.
extras="local"
[ "$what" = "test" ] && extras="dev"
lock="requirements/$extras.lock"
stamp=".venv/.installed-$extras-$(cat "$lock" pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "== installing $lock and twinledger[$extras] into .venv"
  .venv/bin/python -m pip install --quiet --require-hashes -r "$lock"
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  touch "$stamp"
fi

# The web dashboard (dashboard/, its own pinned packages): installed when its lock changed, built when a
# source is newer than the build.
build_dashboard() {
  if [ ! -d dashboard/node_modules ] || [ dashboard/package-lock.json -nt dashboard/node_modules/.package-lock.json ]; then
    echo "== installing the dashboard's packages (npm ci --prefix dashboard)"
    npm ci --prefix dashboard --no-audit --no-fund --loglevel=error
  fi
  if [ ! -f dashboard/dist/index.html ] || [ -n "$(find dashboard/src dashboard/index.html dashboard/vite.config.js \
      dashboard/package-lock.json -newer dashboard/dist/index.html -print -quit)" ]; then
    echo "== building the dashboard (npm run build --prefix dashboard)"
    npm run build --prefix dashboard --silent >/dev/null
  fi
}
if command -v npm >/dev/null 2>&1; then
  build_dashboard
elif [ "$what" = "test" ]; then
  echo "npm is missing: the tests need Node.js 20+ with npm" >&2
  exit 1
else
  echo "== npm is missing: the web dashboard is not built (the demo runs without it)"
fi

[ "$what" = "test" ] || exit 0

# checkov pins boto3 and more far below the project's packages: it lives in its own environment.
checkov_stamp=".venv-checkov/.installed-$(sha1sum requirements/checkov.lock | cut -c1-12)"
if [ ! -f "$checkov_stamp" ]; then
  echo "== installing requirements/checkov.lock into .venv-checkov"
  [ -x .venv-checkov/bin/python ] || "$python" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet --require-hashes -r requirements/checkov.lock
  touch "$checkov_stamp"
fi

if [ ! -x node_modules/.bin/solcjs ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== installing node tools (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  echo "== installing mosquitto (Debian package)"
  sudo=""
  [ "$(id -u)" = "0" ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mosquitto >/dev/null
fi

# The browser tests drive Debian's chromium through Playwright (no browser download).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package)"
  sudo=""
  [ "$(id -u)" = "0" ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
