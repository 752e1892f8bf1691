#!/bin/sh
# Browser tests of the dashboard (web/): headless Chromium (Debian's chromium) driven by
# playwright-core (pinned in package.json, installed into tests/browser/node_modules by
# `npm ci` when missing) against real `illgan serve` daemons that dashboard.test.js starts
# and stops itself. Screenshots (laptop and phone width) are kept in BUILD/browser-screenshots.
# Bounded: the driver gets 100 s; every daemon it started is killed on the way out, whatever
# happened. Run by tests/run.sh with $BUILD set; exit 0 = pass.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/illgan"
shots="$build/browser-screenshots"

[ -x "$bin" ] || { echo "test_dashboard: $bin is missing: build it first (make BUILD=...)"; exit 1; }
for tool in node npm /usr/bin/chromium; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "test_dashboard: $tool is missing: run 'sh scripts/deps.sh test' (installs nodejs, npm, chromium)"
    exit 1
  }
done
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  echo "installing playwright-core (npm ci) into $here/node_modules"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || { echo "test_dashboard: npm ci failed"; exit 1; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/illgan-browser.XXXXXX")
cleanup() {
  if [ -f "$work/pids" ]; then
    # Only a pid that still runs our binary: the driver normally stopped them already, and
    # a finished pid may have been reused by someone else's process.
    for pid in $(cat "$work/pids"); do
      [ -r "/proc/$pid/cmdline" ] || continue
      if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "^$bin serve"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

rc=0
timeout -k 5 100 node "$here/dashboard.test.js" "$bin" "$root/web" "$work" || rc=$?
[ "$rc" -eq 124 ] && echo "test_dashboard: FAIL: the browser test ran past its 100 s limit"
rm -rf "$shots"
mkdir -p "$shots"
cp "$work"/screenshots/*.png "$shots"/ 2>/dev/null || true
echo "screenshots: $shots ($(ls "$shots" | tr '\n' ' '))"
exit "$rc"
