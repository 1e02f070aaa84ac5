#!/usr/bin/env bash
# The newest-versions check: install the newest releases that pyproject.toml
# allows (ignoring requirements.lock) into .venv-latest and run the default
# test suite there, so that a break coming from upstream is seen before a user
# meets it. Extra arguments go to pytest. Exit code: pytest's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CGE_VENV="$ROOT/.venv-latest" CGE_UNLOCKED=1
rm -f "$CGE_VENV/.cge-installed"   # always re-resolve: that is the point of this check
exec bash "$ROOT/scripts/test.sh" "$@"
