#!/bin/sh
# Runs every test binary under BUILD/tests and every tests/*/test_*.sh script, and prints
# one closing line "N passed, N failed" counted over individual test cases.
# A binary is cmocka's: its "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" lines
# are summed; a script counts as one case, passed when it exits 0.
# usage: tests/run.sh BUILD_DIR [FILTER]
build=${1:-build}
filter=${2:-}
passed=0; failed=0; failed_names=""
log=$(mktemp)
for t in $(find "$build/tests" -type f -perm -u+x -name 'test_*' | sort) $(ls tests/*/test_*.sh 2>/dev/null | sort); do
  case "$t" in *"$filter"*) ;; *) continue ;; esac
  echo "== $t"
  case "$t" in
    *.sh) BUILD="$build" sh "$t" >"$log" 2>&1; rc=$? ;;
    *) "$t" >"$log" 2>&1; rc=$? ;;
  esac
  cat "$log"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  case "$t" in *.sh) if [ $rc -eq 0 ]; then p=1; f=0; else p=0; f=1; fi ;; esac
  p=${p:-0}; f=${f:-0}
  # A binary that crashed or exited non-zero without cmocka's summary still fails.
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  [ $rc -ne 0 ] && failed_names="$failed_names $t"
done
rm -f "$log"
[ -n "$failed_names" ] && echo "failing:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
