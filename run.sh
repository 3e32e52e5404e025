#!/usr/bin/env bash
# One entry point for people and CI, on a fresh Debian or Ubuntu machine:
#   ./run.sh demo   set everything up, then run the kiosk's built-in demo
#   ./run.sh test   set everything up, then lint, type-check and run every test
# Setting up installs the Debian packages the kiosk needs (with sudo when not
# root) and the Python packages into .venv; it is quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")"

# libzbar0: pyzbar. The touchscreen (Kivy): a CJK font (Kivy's own has no Chinese), Mesa's EGL/GL so it
# also draws with no screen, libmtdev1 for touch panels (and no MTDev traceback at start).
DEBS=(python3 python3-venv libzbar0 fonts-wqy-microhei libegl1 libgl1-mesa-dri libmtdev1)
# The tests start throwaway PostgreSQL servers (tests/pg_server.py): Debian's server, unless one is there
# already (on PATH, or in Debian's versioned folder, which is not on PATH).
if [ "${1:-}" = test ] && ! command -v initdb >/dev/null \
    && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  DEBS+=(postgresql)
fi
# The console's tests drive a real headless Chromium through its ChromeDriver (Selenium), version-matched.
if [ "${1:-}" = test ]; then
  DEBS+=(chromium chromium-driver)
fi
# ... and make a self-signed certificate to test the collector over HTTPS.
if [ "${1:-}" = test ] && ! command -v openssl >/dev/null; then
  DEBS+=(openssl)
fi

log() { printf '==> %s\n' "$*" >&2; }

install_debs() {
  command -v dpkg-query >/dev/null || { log "not a Debian system: install ${DEBS[*]} yourself"; return; }
  local missing=()
  for deb in "${DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "ok installed" || missing+=("$deb")
  done
  [ ${#missing[@]} -eq 0 ] && return
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_python() {
  local py=${PYTHON:-python3}
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { log "Python 3.10 or newer is needed"; exit 2; }
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    "$py" -m venv .venv
  fi
  # Reinstall only when the declared dependencies change.
  local stamp=.venv/.installed-$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ]; then
    log "installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    rm -f .venv/.installed-*
    touch "$stamp"
  fi
}

run_tests() {
  log "ruff"
  .venv/bin/ruff check kiosk tests benchmarks
  log "mypy"
  .venv/bin/mypy
  log "pytest"
  # loadfile: a file's tests run in one worker, so a file's module-wide parts (a Kivy window, the layout
  # measurements of one screen size, a collector process) are made once. (xdist_group marks would do it per
  # group, but pytest-xdist 3.8 writes the group into a node id that pytest 9 no longer reads: they do nothing.)
  .venv/bin/pytest -n 2 --dist loadfile "$@"
  fuzz_decide
}

# Coverage-guided fuzzing of the verifier for a bounded time (FUZZ_SECONDS, default 60); a crash fails the run.
fuzz_decide() {
  if ! .venv/bin/python -c 'import atheris' 2>/dev/null; then
    log "fuzz: not run, atheris has no build for $(uname -m) (it ships for x86_64)"
    return
  fi
  log "fuzz: decide() for ${FUZZ_SECONDS:-60} s"
  local out
  out=$(mktemp)
  if .venv/bin/python tests/fuzz_decide.py -max_total_time="${FUZZ_SECONDS:-60}" -max_len=4096 -len_control=0 \
      -artifact_prefix="${TMPDIR:-/tmp}/kiosk-fuzz-" >"$out" 2>&1; then
    grep -E '^Done [0-9]+ runs' "$out" >&2 || true
    rm -f "$out"
  else
    tail -n 40 "$out" >&2
    log "fuzz: decide() failed (the input is saved as ${TMPDIR:-/tmp}/kiosk-fuzz-*)"
    rm -f "$out"
    return 1
  fi
}

cmd=${1:-}
shift || true
case "$cmd" in
  demo) install_debs; setup_python; exec .venv/bin/kiosk demo "$@" ;;
  test) install_debs; setup_python; run_tests "$@" ;;
  setup) install_debs; setup_python ;;
  *) echo "usage: ./run.sh demo|test|setup" >&2; exit 2 ;;
esac
