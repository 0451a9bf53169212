#!/bin/sh
# Prints the path of the Chromium (or Chrome) the browser tests drive:
# $HERALD_CHROMIUM if set, else the first of the usual names and places.
# With "install", where none is found and apt-get can work (Debian, as
# root), it installs Debian's chromium (and DejaVu, so screenshots have
# text). Otherwise it stops with one line saying what to install.
set -u

if [ -n "${HERALD_CHROMIUM:-}" ]; then
  if [ -x "$HERALD_CHROMIUM" ]; then echo "$HERALD_CHROMIUM"; exit 0; fi
  echo "HERALD_CHROMIUM=$HERALD_CHROMIUM is not an executable file: point it at Chromium or Chrome" >&2
  exit 1
fi

find_browser() {
  for name in chromium chromium-browser google-chrome-stable google-chrome; do
    if path=$(command -v "$name" 2>/dev/null); then echo "$path"; return 0; fi
  done
  for path in /usr/bin/chromium /usr/bin/chromium-browser /snap/bin/chromium \
      "/Applications/Chromium.app/Contents/MacOS/Chromium" \
      "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"; do
    if [ -x "$path" ]; then echo "$path"; return 0; fi
  done
  return 1
}

find_browser && exit 0
if [ "${1:-}" = install ] && [ -f /etc/debian_version ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >&2 &&
    find_browser && exit 0
fi
echo "the browser tests need Chromium or Chrome: install it (Debian: apt-get install chromium; Ubuntu: snap install chromium; macOS: brew install --cask chromium) or set HERALD_CHROMIUM to its path" >&2
exit 1
