#!/usr/bin/env bash
# Update the lock file: resolve the newest versions that pyproject.toml's ranges
# allow (every extra) into requirements.lock, with hashes, for every platform.
#   bash scripts/lock.sh                 # upgrade everything
#   bash scripts/lock.sh -P pandas       # upgrade one package (uv's --upgrade-package)
# Then run `bash scripts/test.sh` and commit requirements.lock if it passes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
if [[ $# -eq 0 ]]; then set -- --upgrade; fi
exec "${CGE_VENV:-$ROOT/.venv}/bin/uv" pip compile pyproject.toml --all-extras --generate-hashes \
    --universal --python-version 3.11 -o requirements.lock "$@"
