#!/bin/sh
# Installs the Debian packages illgan needs to build, test and run, when any is missing.
# As root it runs apt-get; otherwise it prints the exact command and fails, so that
# `make` never half-builds on a machine that lacks a library.
#
# usage: scripts/deps.sh [build|test|data]   (each set includes the ones before it)
set -eu

build="gcc make pkg-config libopenblas-dev zlib1g-dev libpng-dev libjpeg-dev libsqlite3-dev libmicrohttpd-dev libcjson-dev"
test="libcmocka-dev curl sqlite3 jq prometheus nodejs npm chromium"
data="nodejs npm"

want="$build"
case "${1:-build}" in
  build) ;;
  test) want="$build $test" ;;
  data) want="$build $data" ;;
  *) echo "deps.sh: unknown set '$1' (build, test or data)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  # nodejs from another source may ship npm itself: accept the command as well as the package.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "illgan needs these Debian packages:$missing" >&2
  echo "install them with:  sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
