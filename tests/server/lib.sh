# Shared helpers of the daemon's integration tests (sourced, not run: no test_ prefix).
#
# start_daemon DIR [ARGS...]  starts `illgan serve` on 127.0.0.1 port 0 with the tiny preset
#                             and a small synthetic set, state in DIR, log in DIR.log; waits
#                             until DIR/port exists and /healthz answers; sets PID and URL.
# stop_daemon [SIG]           sends SIG (TERM) and waits for the exit; sets RC.
# req METHOD PATH [CURL ARGS] one request; sets CODE, and BODY (a file) holds the reply.
# check WHAT EXPECTED ACTUAL  prints the comparison, counts a failure when they differ.
# wait_until 'SHELL TEST' WHAT polls (up to 60 s) until the test succeeds, else fails.
# finish                      prints the verdict and exits 0 only when nothing failed.
# Every daemon started here is killed on exit, whatever happens.
set -u
BUILD=${BUILD:-build}
BIN="$BUILD/illgan"
[ -x "$BIN" ] || { echo "no $BIN: build it first (make BUILD=$BUILD $BIN)"; exit 1; }
command -v curl >/dev/null && command -v jq >/dev/null || { echo "needs curl and jq"; exit 1; }
TMP=$(mktemp -d /tmp/illgan-it-XXXXXX)
BODY="$TMP/body"
FAILS=0
PIDS=""
PID=""
URL=""

cleanup() {
  for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

check() {
  if [ "$2" = "$3" ]; then
    echo "ok   $1: $3"
  else
    echo "FAIL $1: expected '$2', got '$3'"
    FAILS=$((FAILS + 1))
  fi
}

# check_true WHAT SHELL-TEST
check_true() {
  if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; FAILS=$((FAILS + 1)); fi
}

wait_until() {
  i=0
  while ! eval "$1" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 600 ]; then
      echo "FAIL waiting for $2"
      FAILS=$((FAILS + 1))
      return 1
    fi
    sleep 0.1
  done
  return 0
}

start_daemon() {
  dir=$1
  shift
  rm -f "$dir/port"
  "$BIN" serve --listen 127.0.0.1:0 --state-dir "$dir" --preset tiny --data synthetic \
    --set synthetic_count=48 --set batch_size=4 --web-dir web "$@" >>"$dir.log" 2>&1 &
  PID=$!
  PIDS="$PIDS $PID"
  if ! wait_until "[ -s '$dir/port' ] || ! kill -0 $PID" "the port file of $dir"; then
    cat "$dir.log"; return 1
  fi
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "FAIL the daemon exited at start:"; cat "$dir.log"; FAILS=$((FAILS + 1)); return 1
  fi
  URL="http://127.0.0.1:$(cat "$dir/port")"
  wait_until "curl -sf '$URL/healthz' >/dev/null" "/healthz of $dir"
}

stop_daemon() {
  kill -"${1:-TERM}" "$PID" 2>/dev/null
  wait "$PID"
  RC=$?
}

req() {
  m=$1
  p=$2
  shift 2
  CODE=$(curl -s -o "$BODY" -w '%{http_code}' -X "$m" "$@" "$URL$p")
}

# jqb FILTER: applies FILTER to the last reply body.
jqb() {
  jq -r "$1" "$BODY"
}

step_now() {
  curl -s "$URL/api/status" | jq -r .step
}

finish() {
  if [ "$FAILS" -eq 0 ]; then echo "all checks passed"; exit 0; fi
  echo "$FAILS checks failed"
  exit 1
}
