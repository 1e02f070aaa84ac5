#!/usr/bin/env bash
# Set up everything cge needs, from nothing; safe to re-run (each step is
# skipped when already done):
#   (a) Debian packages to build PyNumero: libamplsolver-dev cmake g++ make
#   (b) a Python >= 3.11 virtualenv in <repo>/.venv
#   (c) the locked packages (requirements.lock, hashed) and cge itself, with uv
#       (redone when pyproject.toml or requirements.lock changes)
#   (d) PyNumero's ASL library -> .venv/pyomo/lib/libpynumero_ASL.so
#       (use it with PYOMO_CONFIG_DIR=.venv/pyomo, or cge.toolchain finds it)
# Environment knobs: PYTHON=/path/to/python3.x picks the interpreter for (b);
# CGE_VENV=/path puts the environment elsewhere; CGE_UNLOCKED=1 ignores the lock;
# CGE_SKIP_APT=1 skips (a).
# Messages go to stderr so that callers' stdout stays clean.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CGE_VENV:-$ROOT/.venv}"
VPY="$VENV/bin/python"
STAMP="$VENV/.cge-installed"
PYOMO_DIR="$VENV/pyomo"
SYSTEM_PACKAGES=(libamplsolver-dev cmake g++ make)

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; printf "[bootstrap] ERROR: command failed (exit %s, line %s): %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

# Run "$@" with its output in a log file; on failure show the end of the log.
run_logged() {
    local logfile="$1"; shift
    if ! "$@" >"$logfile" 2>&1; then
        printf '[bootstrap] ---- last lines of %s ----\n' "$logfile" >&2
        tail -n 40 "$logfile" >&2 || true
        die "failed: $*"
    fi
}

py_ok() {  # py_ok PYTHON -> success if it runs and is >= 3.11
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

# ---------------------------------------------------------------- (a) apt
install_system_packages() {
    if [[ "${CGE_SKIP_APT:-0}" == 1 ]]; then
        log "CGE_SKIP_APT=1: not checking system packages"
        return
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "not a Debian-like system: make sure these are installed: ${SYSTEM_PACKAGES[*]} (ASL headers: libamplsolver-dev)"
        return
    fi
    local missing=() pkg
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "system packages present: ${SYSTEM_PACKAGES[*]}"
        return
    fi
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]} and not root and no sudo: install them as root (apt-get install -y ${SYSTEM_PACKAGES[*]})"
        sudo=(sudo)
    fi
    local aptlog
    aptlog="$(mktemp "${TMPDIR:-/tmp}/cge-apt.XXXXXX")"
    log "missing system packages: ${missing[*]} -> apt-get update && apt-get install -y ${SYSTEM_PACKAGES[*]}"
    run_logged "$aptlog" ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
    run_logged "$aptlog" ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y "${SYSTEM_PACKAGES[@]}"
    rm -f "$aptlog"
}

# ---------------------------------------------------------------- (b) venv
find_python() {
    local cand
    if [[ -n "${PYTHON:-}" ]]; then
        py_ok "$PYTHON" || die "PYTHON=$PYTHON does not run or is older than 3.11"
        printf '%s\n' "$PYTHON"; return
    fi
    for cand in python3 python3.13 python3.12 python3.11; do
        if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then
            printf '%s\n' "$cand"; return
        fi
    done
    local found
    found="$(python3 --version 2>&1 || echo 'no python3 on PATH')"
    die "cge needs Python >= 3.11, found: $found (set PYTHON=/path/to/python3.11)"
}

make_venv() {
    if [[ -x "$VPY" ]]; then
        py_ok "$VPY" || die "$VENV uses $("$VPY" --version 2>&1 || echo 'a broken python'), cge needs >= 3.11: remove $VENV and re-run"
        return
    fi
    local py
    py="$(find_python)"
    log "creating $VENV with $py ($("$py" --version 2>&1))"
    "$py" -m venv "$VENV" || die "'$py -m venv' failed (on Debian: apt-get install python3-venv)"
    [[ -x "$VPY" ]] || die "venv creation did not produce $VPY"
}

# ---------------------------------------------------------------- (c) packages
# Exact, hashed versions from the lock file (requirements.lock, made by
# scripts/lock.sh from pyproject.toml's ranges), installed with uv (itself
# pinned and hashed in scripts/uv.lock): a new release upstream cannot change
# what a fresh clone installs. CGE_UNLOCKED=1 installs the newest versions
# pyproject.toml allows instead (scripts/test-latest.sh uses it).
install_project() {
    local lock="$ROOT/requirements.lock" uvlock="$ROOT/scripts/uv.lock"
    [[ -f "$lock" ]] || die "lock file $lock is missing (make it with: bash scripts/lock.sh)"
    if [[ -f "$STAMP" && "$STAMP" -nt "$ROOT/pyproject.toml" && "$STAMP" -nt "$lock" ]]; then
        log "python packages up to date ($STAMP newer than pyproject.toml and requirements.lock)"
        return
    fi
    local piplog="$VENV/pip-install.log" uv="$VENV/bin/uv"
    log "installing uv from $uvlock (hashed)"
    run_logged "$piplog" "$VPY" -m pip install --disable-pip-version-check --no-input -q \
        --require-hashes --no-deps -r "$uvlock"
    if [[ "${CGE_UNLOCKED:-0}" == 1 ]]; then
        log "CGE_UNLOCKED=1: the newest versions that pyproject.toml allows, not the lock (log: $piplog)"
        (cd "$ROOT" && run_logged "$piplog" "$uv" pip install --python "$VPY" --upgrade -e '.[all]')
    else
        log "installing the locked packages from $lock (first time: ~1 GB, a few minutes; log: $piplog)"
        run_logged "$piplog" "$uv" pip sync --python "$VPY" --require-hashes "$lock"
        (cd "$ROOT" && run_logged "$piplog" "$uv" pip install --python "$VPY" --no-deps -e .)
    fi
    touch "$STAMP"
}

# ---------------------------------------------------------------- (d) PyNumero
pynumero_built() {
    local name
    for name in libpynumero_ASL.so libpynumero_ASL.dylib pynumero_ASL.dll libpynumero_ASL.dll; do
        [[ -f "$PYOMO_DIR/lib/$name" ]] && return 0
    done
    return 1
}

build_pynumero() {
    if pynumero_built; then
        log "PyNumero ASL library present in $PYOMO_DIR/lib"
        return
    fi
    # pyomo's cmake builder imports setuptools, which Python >= 3.12 venvs lack
    if ! "$VPY" -c 'import setuptools' >/dev/null 2>&1; then
        log "installing setuptools into $VENV (needed by pyomo's build helper)"
        "$VPY" -m pip install --disable-pip-version-check --no-input -q setuptools
    fi
    local args=() inc=/usr/include/ampl-netlib-solvers lib=""
    if [[ -f "$inc/asl.h" ]]; then
        args+=("-DASL_INCLUDE_DIR=$inc")
        if command -v dpkg-query >/dev/null 2>&1; then
            lib="$(dpkg-query -L libamplsolver-dev 2>/dev/null | grep -m1 '/libamplsolver\.so$' || true)"
        fi
        if [[ -z "$lib" ]]; then
            local arch
            arch="$(gcc -print-multiarch 2>/dev/null || true)"
            lib="/usr/lib/${arch:+$arch/}libamplsolver.so"
        fi
        [[ -f "$lib" ]] || die "ASL headers found in $inc but no libamplsolver.so ($lib)"
        args+=("-DASL_LIBRARY=$lib")
    else
        log "warning: ASL headers ($inc/asl.h) not found; pyomo will try to build ASL itself"
    fi
    mkdir -p "$PYOMO_DIR"
    local buildlog="$PYOMO_DIR/build-pynumero.log"
    log "building PyNumero ASL library into $PYOMO_DIR (cmake; ~1 min; log: $buildlog)"
    run_logged "$buildlog" env PYOMO_CONFIG_DIR="$PYOMO_DIR" \
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc 2>/dev/null || echo 2)" \
        "$VPY" -m pyomo.contrib.pynumero.build ${args[@]+"${args[@]}"}
    pynumero_built || die "PyNumero build finished but no library in $PYOMO_DIR/lib (see $buildlog)"
    "$VPY" -c 'import ctypes, glob, sys; ctypes.CDLL(glob.glob(sys.argv[1] + "/lib/*pynumero_ASL*")[0])' "$PYOMO_DIR" \
        || die "built PyNumero library does not load (see $buildlog)"
    log "PyNumero ASL library built: $(ls "$PYOMO_DIR"/lib/*pynumero_ASL* | head -n1)"
}

# ---------------------------------------------------------------- main
# One bootstrap at a time per checkout (test.sh and example.sh both call us).
# `python -m venv` is happy to fill the already existing .venv folder.
mkdir -p "$VENV"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV/.bootstrap.lock"
    if ! flock -n 9; then
        log "waiting for another bootstrap of $VENV to finish"
        flock 9
    fi
fi

install_system_packages
make_venv
install_project
build_pynumero
log "ready: $VENV"
