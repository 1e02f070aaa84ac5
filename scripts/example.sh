#!/usr/bin/env bash
# Bootstrap the environment if needed, then run `cge example` with the given arguments.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
export PYOMO_CONFIG_DIR="$ROOT/.venv/pyomo"
exec "$ROOT/.venv/bin/cge" example "$@"
