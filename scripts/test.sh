#!/usr/bin/env bash
# The README's test command: bootstrap the environment if needed (from the lock
# file), then run pytest from the repository root on the default suite (tests
# marked `slow` are left out by pyproject.toml's addopts; `-m slow` runs them,
# `-m "slow or not slow"` runs everything), on two processes. Extra arguments go
# to pytest;
# test paths are relative to the root.
# Exit code: pytest's, except "no tests collected" (5), which becomes 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CGE_VENV:-$ROOT/.venv}"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export PYOMO_CONFIG_DIR="$VENV/pyomo"
# Two worker processes (pytest-xdist) unless the arguments choose (-n 0: one process).
parallel=(-n 2)
for arg in "$@"; do
    case "$arg" in -n|-n*|--numprocesses*|--dist*|no:xdist) parallel=() ;; esac
done
rc=0
"$VENV/bin/python" -m pytest ${parallel[@]+"${parallel[@]}"} "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "scripts/test.sh: FAILED: pytest collected no tests (exit code 5)" >&2
    exit 1
fi
exit "$rc"
