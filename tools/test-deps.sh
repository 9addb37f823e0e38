#!/usr/bin/env bash
# Runs before `npm test` (the "pretest" script): finds or installs what the suite needs beyond
# node_modules, so that `npm test` passes on a fresh Debian machine as root with nothing installed
# by hand. ffmpeg needs nothing here: it comes with npm (@ffmpeg-installer/linux-x64).
#   - Chromium, for the web player tests: $CHROMIUM_PATH, else /usr/bin/chromium, else Debian's
#     `chromium` package, installed with apt-get when we are root.
#   - openssl and xz, used by tests and benchmarks.
set -euo pipefail

apt_updated=0
apt_install() {
  # $1: Debian package
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "npm test needs the Debian package '$1' (or its program on PATH); install it, or run as root with apt-get" >&2
    exit 1
  fi
  echo "npm test: installing $1 with apt-get (once)..." >&2
  if [ "$apt_updated" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

if [ -n "${CHROMIUM_PATH:-}" ]; then
  [ -x "$CHROMIUM_PATH" ] || { echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable" >&2; exit 1; }
elif [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
command -v openssl >/dev/null 2>&1 || apt_install openssl
command -v xz >/dev/null 2>&1 || apt_install xz-utils
exit 0
