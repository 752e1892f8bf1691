#!/bin/sh
# The headless commands as a user runs them: `illgan train` (new, resumed, refused) and
# `illgan sample` (repeatable by seed, explicit z in, raw floats out, usage errors).
# Exact resume through the command line: 3 steps then --resume for 2 more must write the
# very same checkpoint bytes as 5 steps in one run (BLAS threads fixed at 2).
set -u
BIN=${BUILD:-build}/illgan
dir=$(mktemp -d /tmp/illgan-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fails=0
check() { # check NAME COMMAND...: passes when the command succeeds
    name=$1; shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
expect_status() { # expect_status WANT COMMAND...
    want=$1; shift
    "$@" >"$dir/out" 2>&1; got=$?
    [ "$got" -eq "$want" ] || { echo "  exit $got, wanted $want:"; sed 's/^/  | /' "$dir/out"; return 1; }
}

common="--preset tiny --threads 2 --seed 3 --log-every 1"
check "train 5 steps" expect_status 0 "$BIN" train $common --steps 5 --out "$dir/one"
check "progress lines name the losses" grep -q 'step      5  loss_d .* loss_g .* loss_z .* img/s' "$dir/out"
check "grid written at the end" test -s "$dir/one/samples-000005.png"
check "train 3 steps" expect_status 0 "$BIN" train $common --steps 3 --out "$dir/two"
check "resume for 2 more" expect_status 0 "$BIN" train --threads 2 --log-every 1 --steps 2 --resume --out "$dir/two"
check "resume says where it starts" grep -q 'resuming at step 3' "$dir/out"
check "previous checkpoint kept" test -s "$dir/two/checkpoint.prev.ckpt"
check "N + M steps equal N, resume, M: same checkpoint bytes" cmp "$dir/one/checkpoint.ckpt" "$dir/two/checkpoint.ckpt"
check "resume with another preset is refused" expect_status 1 "$BIN" train --preset small --resume --steps 1 --out "$dir/two"
check "  and says why" grep -q "written for preset 'tiny', not 'small'" "$dir/out"
check "a bad number is a usage error" expect_status 2 "$BIN" train --steps 10k --out "$dir/x"

ck="$dir/one/checkpoint.ckpt"
check "sample" expect_status 0 "$BIN" sample --checkpoint "$ck" -n 6 --seed 9 -o "$dir/a.png"
check "sample again, same seed" expect_status 0 "$BIN" sample --checkpoint "$ck" -n 6 --seed 9 -o "$dir/b.png"
check "same seed and checkpoint give the same bytes" cmp "$dir/a.png" "$dir/b.png"
check "another seed" expect_status 0 "$BIN" sample --checkpoint "$ck" -n 6 --seed 10 -o "$dir/c.png"
check "another seed gives another picture" sh -c "! cmp -s '$dir/a.png' '$dir/c.png'"
head -c 800 /dev/zero >"$dir/z.bin" # two latent vectors of zeros
check "explicit z and raw output" expect_status 0 "$BIN" sample --checkpoint "$ck" --z "$dir/z.bin" --raw "$dir/raw.bin" -o "$dir/z.png"
check "raw output is 2 x 32 x 32 x 3 floats" test "$(wc -c <"$dir/raw.bin")" -eq 24576
head -c 12288 "$dir/raw.bin" >"$dir/first.bin"
tail -c 12288 "$dir/raw.bin" >"$dir/second.bin"
check "two equal z give two equal images" cmp "$dir/first.bin" "$dir/second.bin"
head -c 801 /dev/zero >"$dir/bad.bin"
check "a z file of the wrong size is refused" expect_status 1 "$BIN" sample --checkpoint "$ck" --z "$dir/bad.bin" -o "$dir/x.png"
check "a missing checkpoint is an error" expect_status 1 "$BIN" sample --checkpoint "$dir/none.ckpt" -o "$dir/x.png"
check "-o is required" expect_status 2 "$BIN" sample --checkpoint "$ck"
check "n out of range" expect_status 2 "$BIN" sample --checkpoint "$ck" -n 0 -o "$dir/x.png"
check "every command has --help" sh -c "for c in serve train sample prepare; do '$BIN' \$c --help >/dev/null || exit 1; done"

[ "$fails" -eq 0 ] && echo "all checks passed"
[ "$fails" -eq 0 ]
