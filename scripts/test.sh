#!/usr/bin/env bash
# Bootstrap the environment if needed, then run pytest from the repository
# root (test paths given as arguments are relative to the root).
# Exit code: pytest's, except "no tests collected" (5), which becomes 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export PYOMO_CONFIG_DIR="$ROOT/.venv/pyomo"
rc=0
"$ROOT/.venv/bin/python" -m pytest "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "scripts/test.sh: FAILED: pytest collected no tests (exit code 5)" >&2
    exit 1
fi
exit "$rc"
