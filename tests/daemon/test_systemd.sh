#!/bin/sh
# Packaging and systemd: `make install` (PREFIX, DESTDIR) installs the binary, the web
# files, the docs, the config (never overwriting an edited one) and the unit with @PREFIX@
# replaced; `systemd-analyze verify` accepts the unit; its hardening scores 2.0 or better in
# `systemd-analyze security --offline=yes`.
set -u
BUILD=${BUILD:-build}
TMP=$(mktemp -d /tmp/illgan-sd-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
check() {
  if [ "$2" = "$3" ]; then echo "ok   $1: $3"; else echo "FAIL $1: expected '$2', got '$3'"; FAILS=$((FAILS + 1)); fi
}

R="$TMP/root"
make -s BUILD="$BUILD" install DESTDIR="$R" PREFIX=/usr/local >"$TMP/make.log" 2>&1
check "make install" "0" "$?"
cat "$TMP/make.log"
check "binary" "yes" "$([ -x "$R/usr/local/bin/illgan" ] && echo yes)"
check "binary runs" "0" "$("$R/usr/local/bin/illgan" serve --help >/dev/null; echo $?)"
check "web files" "yes" "$([ -d "$R/usr/local/share/illgan/web" ] && echo yes)"
check "docs" "yes" "$([ -f "$R/usr/local/share/doc/illgan/API.md" ] && echo yes)"
check "config" "yes" "$(cmp -s etc/illgan.conf "$R/etc/illgan/illgan.conf" && echo yes)"
U="$R/usr/local/lib/systemd/system/illgan.service"
check "unit installed" "yes" "$([ -f "$U" ] && echo yes)"
check "no @PREFIX@ left" "0" "$(grep -c @PREFIX@ "$U")"
check "ExecStart uses PREFIX" "1" "$(grep -c '^ExecStart=/usr/local/bin/illgan serve' "$U")"

echo "# edited" >>"$R/etc/illgan/illgan.conf"
make -s BUILD="$BUILD" install DESTDIR="$R" PREFIX=/usr/local >/dev/null 2>&1
check "reinstall keeps an edited config" "1" "$(grep -c '^# edited' "$R/etc/illgan/illgan.conf")"
check "... with the sample beside it" "yes" "$(cmp -s etc/illgan.conf "$R/etc/illgan/illgan.conf.sample" && echo yes)"

# verify needs the ExecStart binary to exist: point the unit at the installed tree.
sed "s|@PREFIX@|$R/usr/local|g" systemd/illgan.service >"$TMP/illgan.service"
systemd-analyze verify "$TMP/illgan.service" >"$TMP/verify.log" 2>&1
check "systemd-analyze verify" "0" "$?"
cat "$TMP/verify.log"
grep -q -e 'Type=notify' "$TMP/illgan.service" && grep -q '^WatchdogSec=' "$TMP/illgan.service" &&
  grep -q '^ExecReload=' "$TMP/illgan.service" && grep -q '^StateDirectory=illgan' "$TMP/illgan.service"
check "Type=notify, WatchdogSec, ExecReload, StateDirectory" "0" "$?"

systemd-analyze security --offline=yes "$U" >"$TMP/security.log" 2>&1
SCORE=$(sed -n 's/.*Overall exposure level for illgan.service: \([0-9.]*\).*/\1/p' "$TMP/security.log")
echo "   exposure score: $SCORE"
check "security score <= 2.0" "yes" "$(awk -v s="${SCORE:-99}" 'BEGIN { print (s <= 2.0) ? "yes" : "no" }')"
[ "$FAILS" -eq 0 ] || { tail -n 5 "$TMP/security.log"; echo "$FAILS checks failed"; exit 1; }
echo "all checks passed"
