#!/bin/sh
# `illgan prepare` from the command line ($BUILD/illgan): its help, exit codes, the lines
# it prints (one per skipped file and per duplicate, progress when not on a terminal,
# the summary), output names for the same file name in two folders, byte-identical
# reruns, and refusing a folder of someone else's files. The two fixture pictures are
# 16x16 RGB PNGs made by illgan's own encoder, inlined as base64.
set -u
bin="${BUILD:-build}/illgan"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# expect CODE DESCRIPTION COMMAND...: runs the command, output to $t/out and $t/err
expect() {
  want=$1; desc=$2; shift 2
  "$@" >"$t/out" 2>"$t/err"
  rc=$?
  if [ "$rc" -eq "$want" ]; then
    ok "$desc (exit $rc)"
  else
    fail "$desc: exit $rc, wanted $want"
    cat "$t/err"
  fi
}

[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }

# --- help and usage errors ------------------------------------------------------------
expect 0 "--help" "$bin" prepare --help
for word in --size --background --crop center pad --quiet "zero bytes" "not an image" \
            truncated corrupt "too large" duplicates .illgan-prepare; do
  grep -q -- "$word" "$t/out" || fail "--help does not mention '$word'"
done
expect 2 "no arguments" "$bin" prepare
expect 2 "one folder only" "$bin" prepare "$t/src"
expect 2 "unknown option" "$bin" prepare --bogus "$t/a" "$t/b"
expect 2 "bad --crop" "$bin" prepare --crop diagonal "$t/a" "$t/b"
grep -q "expected center or pad" "$t/err" || fail "bad --crop message: $(cat "$t/err")"
expect 2 "bad --background" "$bin" prepare --background red "$t/a" "$t/b"
expect 2 "bad --size" "$bin" prepare --size 0 "$t/a" "$t/b"
expect 1 "missing SRC" "$bin" prepare "$t/nothing-here" "$t/b"
grep -q "nothing-here" "$t/err" || fail "missing SRC message does not name it"

# --- fixtures -------------------------------------------------------------------------
mkdir -p "$t/src/cats" "$t/src/dogs"
echo 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAHUlEQVQokWNkYNAQYGAgHrEwCDCQ
BEY1jGoYOhoAEYMCRj6YHncAAAAASUVORK5CYII=' | base64 -d >"$t/src/cats/tom.png"
echo 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAHklEQVQokWPUYDghwMBAPGJhEGAg
CYxqGNUwdDQAAHQZAw5ey5+tAAAAAElFTkSuQmCC' | base64 -d >"$t/src/dogs/tom.png"
cp "$t/src/cats/tom.png" "$t/src/copy.png"
: >"$t/src/empty.png"
echo "shopping list" >"$t/src/notes.txt"
head -c 40 "$t/src/cats/tom.png" >"$t/src/cut.png"
echo junk >"$t/src/.DS_Store"

# --- a run ----------------------------------------------------------------------------
expect 0 "prepare" "$bin" prepare --size 8 "$t/src" "$t/out1"
summary='^illgan prepare: 2 written to .*/out1 \(8x8\), 3 skipped '
summary="$summary"'\(1 zero bytes, 1 not an image, 1 truncated\), 1 duplicate left out, in [0-9.]+ s$'
grep -Eq "$summary" "$t/out" || fail "summary line: $(cat "$t/out")"
cat "$t/err"
for line in "illgan prepare: 6 files to look at" \
            "duplicate copy.png: same pixels as cats/tom.png" \
            "skip empty.png: zero bytes"; do
  grep -qxF "$line" "$t/err" || fail "stderr lacks the line '$line'"
done
grep -Eq '^skip cut.png: truncated \(PNG: .*\)$' "$t/err" || fail "no truncated line"
grep -Eq '^skip notes.txt: not an image \(.*\)$' "$t/err" || fail "no not-an-image line"
[ "$(wc -l <"$t/err")" -eq 5 ] || fail "stderr should hold 5 lines (no progress for 6 files)"
grep -q "$(printf '\r')" "$t/err" && fail "carriage returns on a non-terminal"
names=$(ls "$t/out1" | tr '\n' ' ')
echo "outputs: $names"
case "$names" in
  "cats_tom-"????????".png dogs_tom-"????????".png ") ok "same name in two folders, two outputs" ;;
  *) fail "unexpected outputs: $names" ;;
esac
grep -qx "state complete" "$t/out1/.illgan-prepare" || fail "manifest not complete"

# --- determinism and reruns -----------------------------------------------------------
expect 0 "second run elsewhere" "$bin" prepare --size 8 "$t/src" "$t/out2"
diff -r "$t/out1" "$t/out2" >/dev/null && ok "two runs, identical bytes" || fail "runs differ"
expect 0 "rerun in place" "$bin" prepare --size 8 "$t/src" "$t/out1"
diff -r "$t/out1" "$t/out2" >/dev/null && ok "rerun in place, identical" || fail "rerun differs"
rm "$t/src/dogs/tom.png"
expect 0 "rerun after removing a source" "$bin" prepare --size 8 "$t/src" "$t/out1"
grep -q "1 stale file removed" "$t/out" || fail "stale output not reported: $(cat "$t/out")"
[ "$(ls "$t/out1" | wc -l)" -eq 1 ] || fail "stale output still there"

expect 0 "options" "$bin" prepare --size 12 --background '#102030' --crop pad "$t/src" "$t/out3"
grep -qx "background 102030" "$t/out3/.illgan-prepare" || fail "manifest background"
grep -qx "crop pad" "$t/out3/.illgan-prepare" || fail "manifest crop"
grep -qx "size 12" "$t/out3/.illgan-prepare" || fail "manifest size"

# --- refusals and empty results -------------------------------------------------------
mkdir -p "$t/mine" && echo "precious" >"$t/mine/keep.txt"
expect 1 "DST holding other files" "$bin" prepare "$t/src" "$t/mine"
grep -q "did not make" "$t/err" || fail "foreign DST message: $(cat "$t/err")"
[ -f "$t/mine/keep.txt" ] || fail "a foreign file was touched"
mkdir -p "$t/junk" && : >"$t/junk/a.png"
expect 1 "nothing usable" "$bin" prepare "$t/junk" "$t/out4"
grep -q "none of the 1 files" "$t/err" || fail "nothing-usable message: $(cat "$t/err")"
mkdir -p "$t/void"
expect 1 "empty SRC" "$bin" prepare "$t/void" "$t/out5"
grep -q "no files found" "$t/err" || fail "empty SRC message: $(cat "$t/err")"

# --- progress lines when not on a terminal --------------------------------------------
mkdir -p "$t/many"
i=0
while [ $i -lt 120 ]; do cp "$t/src/cats/tom.png" "$t/many/$i.png"; i=$((i + 1)); done
expect 0 "120 files" "$bin" prepare --size 8 "$t/many" "$t/out6"
grep -Eq '^illgan prepare: 12/120 files \(10%\), [0-9]+ files/s, [0-9]+ s left$' "$t/err" ||
  fail "no 10% progress line"
grep -Eq '^illgan prepare: 120/120 files \(100%\)' "$t/err" || fail "no 100% progress line"
grep -q "119 duplicates left out" "$t/out" || fail "duplicate count: $(cat "$t/out")"
expect 0 "120 files, --quiet" "$bin" prepare -q --size 8 "$t/many" "$t/out7"
grep -q "files/s" "$t/err" && fail "--quiet still shows progress"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
