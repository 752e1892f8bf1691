#!/bin/sh
# Builds illgan's default training set in DATA/faces: 20,000 64x64 cartoon faces rendered
# from DiceBear's "adventurer" style (art "Adventurer" by Lisa Wischofsky, CC BY 4.0, via
# DiceBear), seeds adventurer-0 ... adventurer-19999, on white, then `illgan prepare`.
#
# usage: sh scripts/make-data.sh ILLGAN_BINARY [DATA_DIR]     (make data)
#
# Does nothing when DATA/faces is complete (the stamp DATA/faces/.illgan-dataset matches,
# prepare's manifest says "state complete" and every file it lists is there). Otherwise
# installs Debian's nodejs and npm when missing (scripts/deps.sh data), the pinned npm
# packages (scripts/dataset/package-lock.json, into scripts/dataset/node_modules), renders
# the faces into DATA/raw/adventurer (kept, so that a rerun only renders what is missing)
# and prepares them. Needs the npm registry the first time; nothing else from the network.
set -eu

illgan=${1:?usage: make-data.sh ILLGAN_BINARY [DATA_DIR]}
data=${2:-data}
count=20000
size=64
here=$(cd "$(dirname "$0")" && pwd)
faces="$data/faces"
raw="$data/raw/adventurer"
stamp="$faces/.illgan-dataset"
manifest="$faces/.illgan-prepare"
want="dicebear-adventurer count=$count size=$size"

complete() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || return 1
  [ -f "$manifest" ] && grep -qx 'state complete' "$manifest" || return 1
  written=$(sed -n 's/^written //p' "$manifest")
  have=$(find "$faces" -maxdepth 1 -type f -name '*.png' ! -name '.*' | wc -l)
  [ -n "$written" ] && [ "$have" -eq "$written" ]
}

if complete; then
  echo "make-data: $faces is there ($written faces, ${size}x${size}); nothing to do"
  exit 0
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  sh "$here/deps.sh" data
fi

echo "make-data: installing the pinned DiceBear and resvg packages"
(
  cd "$here/dataset"
  installed=node_modules/.package-lock.json
  if [ ! -f "$installed" ] || [ package-lock.json -nt "$installed" ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
)

echo "make-data: rendering $count faces into $raw"
node "$here/dataset/render.mjs" "$raw" "$count" "$size"

echo "make-data: preparing $faces"
rm -f "$stamp"
"$illgan" prepare --size "$size" "$raw" "$faces"
echo "$want" > "$stamp"
complete || { echo "make-data: $faces is incomplete after preparing it" >&2; exit 1; }
echo "make-data: $faces holds $written faces"
echo "make-data: art \"Adventurer\" by Lisa Wischofsky (CC BY 4.0), via DiceBear"

