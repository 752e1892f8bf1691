#!/bin/sh
# Access control: with auth_token_file, every state-changing request needs
# "Authorization: Bearer <token>" (401 with WWW-Authenticate otherwise, and nothing happens);
# reads stay open unless auth_reads; /healthz and static files never need it. A non-loopback
# listen address without a token is refused at start with a clear message (the tests never
# listen beyond loopback themselves); SIGHUP re-reads the token file.
. tests/server/lib.sh

S="$TMP/state"
printf 'first-token-0123456789abcdef\n' >"$TMP/token"
chmod 600 "$TMP/token"
start_daemon "$S" --auth-token-file "$TMP/token" || finish

req POST /api/pause
check "pause without a token" "401 unauthorized Authorization" "$CODE $(jqb .error.code) $(jqb .error.field)"
check "WWW-Authenticate" "Bearer" "$(curl -s -D - -o /dev/null -X POST "$URL/api/pause" | tr -d '\r' | awk -F': ' 'tolower($1)=="www-authenticate"{print $2}' | cut -d' ' -f1)"
req POST /api/pause -H 'Authorization: Bearer wrong-token-0123456789abcdef'
check "pause with a wrong token" "401" "$CODE"
req POST /api/pause -H 'Authorization: Bearer first-token-0123456789abcde'
check "pause with a prefix of the token" "401" "$CODE"
req POST /api/pause -H 'Authorization: Bearer first-token-0123456789abcdefX'
check "pause with the token plus a byte" "401" "$CODE"
req POST /api/pause -H 'Authorization: Basic Zmlyc3Q6dG9rZW4='
check "pause with Basic auth" "401" "$CODE"
req GET /api/status
check "still training after refused calls" "training" "$(jqb .state)"
check "status says a token is set" "true false" "$(jqb '"\(.auth.token) \(.auth.reads)"')"
req PATCH /api/hparams -d '{"lr_d": 0.001}'
check "patch without a token" "401" "$CODE"
req GET /api/hparams
check "nothing changed" "0.0002" "$(jqb .hparams.lr_d)"
req POST /api/stop
check "stop without a token" "401" "$CODE"
req POST /api/checkpoint
check "checkpoint without a token" "401" "$CODE"

req POST /api/pause -H 'Authorization: Bearer first-token-0123456789abcdef'
check "pause with the token" "200 paused" "$CODE $(jqb .state)"
req POST /api/resume -H 'authorization: bearer first-token-0123456789abcdef'
check "header name and scheme are case-insensitive" "200 training" "$CODE $(jqb .state)"
req GET "/sample?n=1"
check "reads are open without auth_reads" "200" "$CODE"
req POST /sample -d '{"z": [[0]]}'
check "POST /sample is a read" "400 out_of_range" "$CODE $(jqb .error.code)"

# SIGHUP re-reads the token file.
printf 'second-token-0123456789abcdef\n' >"$TMP/token"
kill -HUP "$PID"
wait_until 'grep -q "reload: SIGHUP" "$S.log"' "the reload to be logged"
wait_until '[ "$(curl -s -o /dev/null -w "%{http_code}" -X POST -H "Authorization: Bearer second-token-0123456789abcdef" "$URL/api/checkpoint")" = 200 ]' "the new token to work"
req POST /api/checkpoint -H 'Authorization: Bearer first-token-0123456789abcdef'
check "the old token no longer works" "401" "$CODE"
stop_daemon
check "SIGTERM exit status" "0" "$RC"

# auth_reads: reads need the token too, except /healthz and the dashboard files.
S2="$TMP/state2"
mkdir -p "$TMP/web"
echo hi >"$TMP/web/index.html"
start_daemon "$S2" --auth-token-file "$TMP/token" --set auth_reads=true --web-dir "$TMP/web" || finish
for p in /api/status /api/hparams "/sample?n=1" /api/metrics /api/events /api/samples /metrics "/api/neighbors?n=1&k=1" /api/samples/1.png; do
  req GET "$p"
  check "GET $p without a token" "401" "$CODE"
done
req GET /api/status -H 'Authorization: Bearer second-token-0123456789abcdef'
check "GET /api/status with it" "200" "$CODE"
req GET /healthz
check "healthz is always open" "200" "$CODE"
req GET /
check "dashboard files are always open" "200" "$CODE"
stop_daemon
check "SIGTERM exit status" "0" "$RC"

# Refusals at start.
"$BIN" serve --listen 0.0.0.0:0 --state-dir "$TMP/s3" --preset tiny >"$TMP/s3.log" 2>&1
check "non-loopback without a token: exit status" "1" "$?"
check_true "... says why" 'grep -q "without a token" "$TMP/s3.log"'
cat "$TMP/s3.log"
check_true "... before creating anything" '[ ! -e "$TMP/s3" ]'
: >"$TMP/empty"
"$BIN" serve --listen 127.0.0.1:0 --state-dir "$TMP/s4" --preset tiny --auth-token-file "$TMP/empty" >"$TMP/s4.log" 2>&1
check "empty token file: exit status" "1" "$?"
cat "$TMP/s4.log"
"$BIN" serve --listen 127.0.0.1:0 --state-dir "$TMP/s5" --preset tiny --auth-token-file "$TMP/nope" >"$TMP/s5.log" 2>&1
check "missing token file: exit status" "1" "$?"
# A token longer than the daemon reads must be refused, not cut to a prefix that no client
# sends (timeout only guards against a daemon that wrongly starts and serves forever).
head -c 600 /dev/zero | tr '\0' x >"$TMP/long"
chmod 600 "$TMP/long"
timeout 20 "$BIN" serve --listen 127.0.0.1:0 --state-dir "$TMP/s8" --preset tiny --data synthetic \
  --auth-token-file "$TMP/long" >"$TMP/s8.log" 2>&1
check "600-character token: exit status" "1" "$?"
check_true "600-character token: the log says why" 'grep -q "token is longer than" "$TMP/s8.log"'
"$BIN" serve --listen 127.0.0.1:0 --bogus 1 >"$TMP/s6.log" 2>&1
check "unknown option: exit status 2" "2" "$?"
"$BIN" serve --set lr_d=7 >"$TMP/s7.log" 2>&1
check "out-of-range --set: exit status 2" "2" "$?"
cat "$TMP/s7.log"

finish
