#!/usr/bin/env bash
# The README's main job: bootstrap the environment if needed, then run the tariff-war
# scenario on the bundled, calibrated 2006 trade data (runs/us_china_tariffs.yaml).
# Results go to runs/results/us_china_tariffs/ (tables, Excel workbook, pictures).
# Extra arguments are passed to `cge run`; safe to run again (results are replaced atomically).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
export PYOMO_CONFIG_DIR="$ROOT/.venv/pyomo"
exec "$ROOT/.venv/bin/cge" run "$ROOT/runs/us_china_tariffs.yaml" "$@"
