#!/bin/sh
# Stopping when the final checkpoint cannot be written: POST /api/stop answers 500 naming the
# failure, the daemon still stops, and its exit status is 1 (as for SIGTERM), so a supervisor
# sees that training since the newest checkpoint is lost. The checkpoint folder is replaced
# by a plain file after the start, which makes every write fail without needing root.
. tests/server/lib.sh

S="$TMP/state"
start_daemon "$S" --set checkpoint_every=0 || finish
wait_until '[ "$(step_now)" -ge 2 ]' "two iterations"
rm -rf "$S/checkpoints"
: >"$S/checkpoints"
req POST /api/stop
check "stop with a failing checkpoint: status" "500" "$CODE"
check "stop with a failing checkpoint: code" "internal" "$(jqb .error.code)"
stop_daemon TERM
check "exit status after a stop that lost training" "1" "$RC"
check_true "the log names the lost step" 'grep -q "no checkpoint of the final step" "$S.log"'

# The same stop with the folder back: 200 and exit 0.
rm -f "$S/checkpoints"
start_daemon "$S" --set checkpoint_every=0 || finish
req POST /api/stop
check "stop with a working checkpoint: status" "200" "$CODE"
stop_daemon TERM
check "exit status after a clean stop" "0" "$RC"
finish
