#!/bin/sh
# The daemon's life across restarts: kill -9 during training and a restart resumes from the
# last checkpoint's step with the database passing PRAGMA integrity_check and the lost
# future's metrics removed; SIGTERM leaves a checkpoint of the final step and exits 0; a
# damaged newest checkpoint falls back to the previous one (logged, and an event); POST
# /api/stop exits 0; SIGHUP applies the config file's live keys; on restart the checkpoint's
# hyperparameters and the intervals set over HTTP win over the config file; a second daemon
# cannot share the state directory.
. tests/server/lib.sh

S="$TMP/state"
newest_ckpt_step() {
  ls "$S/checkpoints" | sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.bin$/\1/p; s/^ckpt-0*\.bin$/0/p' | sort -n | tail -n 1
}
resumed_from() {
  curl -s "$URL/api/events?limit=10000" | jq -r '[.events[] | select(.kind=="start")][-1].data.resumed_from'
}

cat >"$TMP/illgan.conf" <<'EOC'
# test config
lr_d = 0.0002
checkpoint_every = 4
sample_every = 0
EOC

# 1. kill -9 in the middle of training.
start_daemon "$S" --config "$TMP/illgan.conf" || finish
wait_until '[ "$(curl -s "$URL/api/status" | jq -r ".checkpoint.step // 0")" -ge 8 ]' "two periodic checkpoints"
# No more periodic checkpoints: then wait until metrics past the newest one are committed,
# so the restart has a lost future to rewind.
req PATCH /api/hparams -d '{"checkpoint_every": 0}'
C=$(newest_ckpt_step)
wait_until '[ "$(sqlite3 "$S/illgan.db" "SELECT max(step) FROM metrics")" -gt "$C" ]' "metrics past step $C"
kill -9 "$PID"
wait "$PID" 2>/dev/null
check "checkpoints kept after kill -9" "2" "$(ls "$S/checkpoints" | grep -c '^ckpt-.*\.bin$')"
check "integrity_check after kill -9" "ok" "$(sqlite3 "$S/illgan.db" 'PRAGMA integrity_check')"
MAXM=$(sqlite3 "$S/illgan.db" 'SELECT max(step) FROM metrics')
echo "   newest checkpoint at $C, metrics up to $MAXM"
start_daemon "$S" --config "$TMP/illgan.conf" || finish
check "resumed from the last checkpoint's step" "$C" "$(resumed_from)"
check_true "metrics: steps unique and increasing after the rewind" \
  '[ "$(curl -s "$URL/api/metrics?limit=10000" | jq "[.metrics[].step] | . == (unique)")" = true ]'
check "rewind event" "$C $((MAXM - C))" "$(curl -s "$URL/api/events?limit=10000" | jq -r '[.events[] | select(.kind=="rewind")][-1].data | "\(.from_step) \(.metrics_deleted)"')"

# 2. SIGHUP applies the config file's live keys; PATCH an interval over HTTP.
sed -i 's/^lr_d = 0.0002/lr_d = 0.0003/' "$TMP/illgan.conf"
kill -HUP "$PID"
wait_until '[ "$(curl -s "$URL/api/hparams" | jq -r .hparams.lr_d)" = 0.0003 ]' "SIGHUP to apply lr_d"
check "hparams event from the config" "0.0002 0.0003 config" "$(curl -s "$URL/api/events?limit=10000" | jq -r '[.events[] | select(.kind=="hparams" and .data.key=="lr_d")][-1].data | "\(.old) \(.new) \(.source)"')"
req PATCH /api/hparams -d '{"sample_every": 7}'
check "patch sample_every" "200" "$CODE"

# 3. SIGTERM: checkpoint of the final step, exit 0.
stop_daemon TERM
check "SIGTERM exit status" "0" "$RC"
F=$(sed -n 's/.*stop: stopping at step \([0-9]*\) (SIGTERM).*/\1/p' "$S.log" | tail -n 1)
check "checkpoint at the final step" "$F" "$(newest_ckpt_step)"
check "integrity_check after SIGTERM" "ok" "$(sqlite3 "$S/illgan.db" 'PRAGMA integrity_check')"
check_true "port file removed" '[ ! -e "$S/port" ]'

# 4. Restart: the checkpoint's lr_d and the HTTP-set sample_every beat the config file.
sed -i 's/^lr_d = 0.0003/lr_d = 0.0005/; s/^sample_every = 0/sample_every = 3/' "$TMP/illgan.conf"
start_daemon "$S" --config "$TMP/illgan.conf" || finish
check "resumed from the SIGTERM checkpoint" "$F" "$(resumed_from)"
req GET /api/hparams
check "checkpoint's lr_d and persisted sample_every win" "0.0003 7" "$(jqb '"\(.hparams.lr_d) \(.hparams.sample_every)"')"
check_true "the ignored config value is logged" 'grep -q "lr_d = 0.0005 in the config is not applied" "$S.log"'

# 5. A second daemon on the same state directory is refused.
"$BIN" serve --listen 127.0.0.1:0 --state-dir "$S" --preset tiny >"$TMP/second.log" 2>&1
check "second daemon refused" "1" "$?"
check_true "... because of the lock" 'grep -q "another illgan serve uses this state directory" "$TMP/second.log"'

# 6. POST /api/stop: reply, then exit 0.
req POST /api/stop
check "stop reply" "200 stopping" "$CODE $(jqb .state)"
G=$(jqb .checkpoint.step)
wait "$PID"
check "exit status after /api/stop" "0" "$?"
check "stop checkpoint is the newest" "$G" "$(newest_ckpt_step)"

# 7. Damage the newest checkpoint: the daemon falls back to the previous one.
P2=$(ls "$S/checkpoints" | grep '^ckpt-.*\.bin$' | sort | tail -n 2 | head -n 1 | sed 's/^ckpt-0*\([0-9]*\)\.bin$/\1/')
P2=${P2:-0}
N="$S/checkpoints/$(ls "$S/checkpoints" | grep '^ckpt-.*\.bin$' | sort | tail -n 1)"
printf 'garbage' | dd of="$N" bs=1 seek=100 conv=notrunc 2>/dev/null
start_daemon "$S" --config "$TMP/illgan.conf" || finish
check "fell back to the previous checkpoint" "$P2" "$(resumed_from)"
check "checkpoint_fallback event" "1" "$(curl -s "$URL/api/events?limit=10000" | jq '[.events[] | select(.kind=="checkpoint_fallback")] | length')"
check_true "fallback logged" 'grep -q "checkpoint_fallback: damaged checkpoint skipped" "$S.log"'
stop_daemon INT
check "SIGINT exit status" "0" "$RC"
check "integrity_check at the end" "ok" "$(sqlite3 "$S/illgan.db" 'PRAGMA integrity_check')"
check "schema version" "1" "$(sqlite3 "$S/illgan.db" 'PRAGMA user_version')"
finish
