#!/bin/sh
# The checkpoint folder stays tidy: a ckpt-*.bin.tmp left by a save that was killed mid-write
# (made here by hand) is removed by the next successful save, while files that are not the
# daemon's are left alone, and only checkpoint_keep checkpoints remain.
. tests/server/lib.sh

S="$TMP/state"
start_daemon "$S" --set checkpoint_every=0 || finish
mkdir -p "$S/checkpoints"
head -c 1000 /dev/zero >"$S/checkpoints/ckpt-000000000003.bin.tmp"
echo keep >"$S/checkpoints/notes.txt"
req POST /api/checkpoint
check "checkpoint status" "200" "$CODE"
check_true "the interrupted save's .tmp is gone" '[ ! -e "$S/checkpoints/ckpt-000000000003.bin.tmp" ]'
check_true "a foreign file stays" '[ -e "$S/checkpoints/notes.txt" ]'
req POST /api/checkpoint
req POST /api/checkpoint
check "checkpoints kept" "2" "$(ls "$S/checkpoints" | grep -c '^ckpt-[0-9]*\.bin$')"
stop_daemon TERM
check "exit status" "0" "$RC"
finish
