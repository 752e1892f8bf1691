#!/bin/sh
# Bad input of every kind gets the right 4xx with a JSON error naming the field, changes
# nothing, and the daemon keeps training: malformed JSON, wrong types, unknown keys and
# parameters, out-of-range and huge or negative numbers, wrong methods, oversized bodies,
# paths that try to leave web_dir, more concurrent generations than allowed.
. tests/server/lib.sh

S="$TMP/state"
mkdir -p "$TMP/web" "$TMP/outside"
echo 'index' >"$TMP/web/index.html"
echo 'secret' >"$TMP/outside/secret.txt"
ln -s "$TMP/outside/secret.txt" "$TMP/web/link.txt"
ln -s "$TMP/outside" "$TMP/web/dirlink"
echo 'hidden' >"$TMP/web/.hidden"
start_daemon "$S" --web-dir "$TMP/web" --set max_body_bytes=4096 || finish

# expect STATUS CODE FIELD METHOD PATH [CURL ARGS]: one request, checked as a JSON error.
expect() {
  st=$1; code=$2; field=$3; m=$4; p=$5
  shift 5
  req "$m" "$p" "$@"
  # one jq per request: code, field, and whether there is a message
  got="$CODE $(jq -r '"\(.error.code) \(.error.field) \(.error.message | type == "string" and length > 0)"' \
    "$BODY" 2>/dev/null)"
  check "$m $p $*" "$st $code $field true" "$got"
}

req GET /api/hparams
cp "$BODY" "$TMP/hp-before"

# PATCH /api/hparams
expect 400 bad_json null PATCH /api/hparams -d '{"lr_d": 0.001'
expect 400 bad_json null PATCH /api/hparams -d '[1, 2]'
expect 400 bad_json null PATCH /api/hparams -d '"lr_d"'
expect 400 bad_json null PATCH /api/hparams -d '{"lr_d": 0.001} {"x": 1}'
expect 400 bad_json lr_d PATCH /api/hparams -d '{"lr_d": 0.001, "lr_d": 0.002}'
# \u0000 would end the decoded key early, passing "lr_d<NUL>junk" as lr_d.
expect 400 bad_json null PATCH /api/hparams -d '{"lr_d\u0000junk": 0.001}'
expect 400 bad_json null POST /sample -d '{"z\u0000": 1}'
# An escaped backslash followed by "u0000" is plain text: an unknown key, named as sent.
expect 400 unknown_key 'lr_d\u0000' PATCH /api/hparams -d '{"lr_d\\u0000": 0.001}'
expect 400 unknown_key lr PATCH /api/hparams -d '{"lr": 0.001}'
expect 400 unknown_key bogus PATCH /api/hparams -d '{"lr_d": 0.001, "bogus": 1}'
expect 400 wrong_type lr_d PATCH /api/hparams -d '{"lr_d": "0.001"}'
expect 400 wrong_type lr_d PATCH /api/hparams -d '{"lr_d": null}'
expect 400 wrong_type zpred PATCH /api/hparams -d '{"zpred": 1}'
expect 400 wrong_type batch_size PATCH /api/hparams -d '{"batch_size": 8.5}'
expect 400 wrong_type d_steps PATCH /api/hparams -d '{"d_steps": "2"}'
expect 400 out_of_range lr_d PATCH /api/hparams -d '{"lr_d": 0}'
expect 400 out_of_range lr_d PATCH /api/hparams -d '{"lr_d": -0.1}'
expect 400 out_of_range beta1 PATCH /api/hparams -d '{"beta1": 1}'
expect 400 out_of_range batch_size PATCH /api/hparams -d '{"batch_size": 100000}'
expect 400 out_of_range batch_size PATCH /api/hparams -d '{"batch_size": 1}'
expect 400 out_of_range d_steps PATCH /api/hparams -d '{"d_steps": 1e300}'
expect 400 out_of_range sample_every PATCH /api/hparams -d '{"sample_every": -1}'
# valid keys before an invalid one change nothing either
expect 400 out_of_range flip_prob PATCH /api/hparams -d '{"lr_d": 0.0003, "flip_prob": 2}'
req GET /api/hparams
check "nothing changed by refused patches" "$(jq -c .hparams "$TMP/hp-before")" "$(jqb '.hparams|tostring')"
req GET "/api/events?limit=1000"
check "no hparams events" "0" "$(jqb '[.events[] | select(.kind=="hparams")] | length')"

# Query parameters
expect 400 out_of_range n GET "/sample?n=0"
expect 400 out_of_range n GET "/sample?n=257"
expect 400 out_of_range n GET "/sample?n=-4"
expect 400 out_of_range n GET "/sample?n=99999999999999999999999999"
expect 400 wrong_type n GET "/sample?n=4x"
expect 400 wrong_type n GET "/sample?n="
expect 400 wrong_type n GET "/sample?n=1.5"
expect 400 wrong_type n GET "/sample?n=4&n=5"
expect 400 unknown_parameter size GET "/sample?size=4"
expect 400 out_of_range seed GET "/sample?seed=9007199254740992"
expect 400 out_of_range pad GET "/sample?pad=17"
expect 400 out_of_range cols GET "/sample?cols=-1"
expect 400 out_of_range k GET "/api/neighbors?k=33"
expect 400 out_of_range n GET "/api/neighbors?n=65"
expect 400 out_of_range limit GET "/api/metrics?limit=0"
expect 400 out_of_range limit GET "/api/metrics?limit=10001"
expect 400 out_of_range since GET "/api/metrics?since=-1"
expect 400 unknown_parameter since GET "/api/events?since=3"
expect 400 unknown_parameter x GET "/api/status?x=1"

# POST /sample bodies
expect 400 missing z POST /sample -d '{}'
expect 400 wrong_type z POST /sample -d '{"z": 3}'
expect 400 out_of_range z POST /sample -d '{"z": []}'
expect 400 wrong_type z POST /sample -d '{"z": [3]}'
expect 400 out_of_range z POST /sample -d '{"z": [[1, 2, 3]]}'
Z99=$(jq -nc '[range(99) | 0] + ["a"]')
expect 400 wrong_type z POST /sample -d "{\"z\": [$Z99]}"
Z100=$(jq -nc '[range(99) | 0] + [1000]')
expect 400 out_of_range z POST /sample -d "{\"z\": [$Z100]}"
expect 400 unknown_key zz POST /sample -d '{"zz": 1}'
expect 400 wrong_type cols POST /sample -d '{"z": [[0]], "cols": "2"}'

# Control calls take no keys.
expect 400 unknown_key now POST /api/checkpoint -d '{"now": true}'
expect 400 bad_json null POST /api/pause -d 'pause'

# Methods and paths
expect 405 method_not_allowed null DELETE /api/hparams
check "Allow header" "GET, HEAD, PATCH" "$(curl -s -D - -o /dev/null -X DELETE "$URL/api/hparams" | tr -d '\r' | awk -F': ' 'tolower($1)=="allow"{print $2}')"
expect 405 method_not_allowed null GET /api/pause
expect 405 method_not_allowed null POST /api/status
expect 405 method_not_allowed null PUT /sample
expect 405 method_not_allowed null POST /index.html
expect 404 not_found null GET /api/nothing
expect 404 not_found null GET /api
expect 404 not_found step GET /api/samples/abc.png
expect 404 not_found step GET /api/samples/-1.png
expect 404 not_found step GET /api/samples/007.png
expect 404 not_found null GET /nothing.html

# Leaving web_dir
expect 404 not_found null GET /../../etc/passwd --path-as-is
expect 404 not_found null GET /%2e%2e/%2e%2e/etc/passwd --path-as-is
expect 404 not_found null GET /sub/..%2f..%2fetc/passwd --path-as-is
expect 404 not_found null GET '/..\..\etc\passwd' --path-as-is
expect 404 not_found null GET /link.txt
expect 404 not_found null GET /dirlink/secret.txt
expect 404 not_found null GET /.hidden
expect 404 not_found null GET //etc/passwd --path-as-is
expect 404 not_found null GET /index.html%00.png

# Bodies over max_body_bytes (4096 here): declared and chunked
head -c 5000 /dev/zero | tr '\0' ' ' >"$TMP/big"
expect 413 too_large null PATCH /api/hparams --data-binary "@$TMP/big"
expect 413 too_large null POST /sample --data-binary "@$TMP/big" -H 'Transfer-Encoding: chunked'

# Many renders at once: each is served or refused with 429 (max_generate, 2 by default),
# never anything else. (That a render over the limit gets 429 is shown deterministically
# by tests/server/test_handlers.)
i=0
while [ $i -lt 8 ]; do
  curl -s -o /dev/null -w '%{http_code}\n' "$URL/sample?n=64" >>"$TMP/par" &
  i=$((i + 1))
done
wait_until '[ "$(wc -l <"$TMP/par")" -eq 8 ]' "8 parallel renders"
check "parallel renders are 200 or 429 only" "" "$(grep -v -e '^200$' -e '^429$' "$TMP/par")"
echo "   parallel render replies: $(sort "$TMP/par" | uniq -c | tr '\n' ' ')"

# Still alive and training after all that.
S0=$(step_now)
wait_until '[ "$(step_now)" -gt "$S0" ]' "training to continue"
req GET /healthz
check "still healthy" "200" "$CODE"
grep -q ' 400 PATCH /api/hparams (out_of_range)' "$S.log"
check "refusals are logged one a line" "0" "$?"
finish
