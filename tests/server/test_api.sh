#!/bin/sh
# The daemon's HTTP API end to end (docs/API.md): the real `illgan serve` on 127.0.0.1 port 0
# with the tiny preset, driven with curl. Every endpoint once; pause holds the step counter
# and resume restarts it; a hyperparameter change shows in /api/hparams, /api/events and in
# the metrics of the iterations after it; /sample is a PNG of the right size, repeatable by
# seed; neighbours are sorted and complete; history endpoints are bounded and oldest first;
# /metrics passes promtool; static files come from web_dir only.
. tests/server/lib.sh

S="$TMP/state"
mkdir -p "$TMP/web/sub"
echo '<!doctype html><title>t</title>' >"$TMP/web/index.html"
echo 'hello' >"$TMP/web/sub/a.txt"
start_daemon "$S" --web-dir "$TMP/web" --set sample_every=3 --set sample_n=4 || finish

req GET /healthz
check "healthz" "200 true" "$CODE $(jqb .ok)"

req GET /api/status
check "status code" 200 "$CODE"
check "status state" training "$(jqb .state)"
check "status preset/side" "tiny 32" "$(jqb '.model.preset + " " + (.model.side|tostring)')"
check "status dataset" "48 32 synthetic" "$(jqb '"\(.dataset.count) \(.dataset.side) \(.dataset.dir)"')"
check "status version" "$("$BIN" --version | cut -d' ' -f2)" "$(jqb .version)"
check "status has every key" "true" "$(jqb '[has("step","iterations_per_second","images_per_second","losses","d_real","d_fake","checkpoint","uptime_seconds","training_seconds","auth","run_id","snapshot_step","started_at")] | all')"

wait_until '[ "$(step_now)" -ge 3 ]' "training to reach step 3"
req GET /api/status
check_true "losses are numbers once trained" '[ "$(jqb ".losses.d | type")" = number ]'

# Pause: the reply carries the step the trainer stopped at, and it stays there.
req POST /api/pause
check "pause" "200 paused" "$CODE $(jqb .state)"
P=$(jqb .step)
sleep 1
check "step held while paused" "$P" "$(step_now)"
req POST /api/pause
check "pause again is not an error" "200 paused $P" "$CODE $(jqb .state) $(jqb .step)"

# Sampling from paused weights is repeatable to the byte.
curl -s -D "$TMP/h1" -o "$TMP/a.png" "$URL/sample?n=4&seed=42"
curl -s -o "$TMP/b.png" "$URL/sample?n=4&seed=42"
curl -s -o "$TMP/c.png" "$URL/sample?n=4&seed=43"
check "sample is a PNG" "PNG" "$(head -c 4 "$TMP/a.png" | tail -c 3)"
check "sample 2x2 grid of 32px, pad 2" "70x70" "$(od -An -tu1 -j16 -N8 "$TMP/a.png" | awk '{print $3*256+$4 "x" $7*256+$8}')"
check_true "same seed, same bytes" 'cmp -s "$TMP/a.png" "$TMP/b.png"'
check_true "another seed, other bytes" '! cmp -s "$TMP/a.png" "$TMP/c.png"'
check "X-Illgan-Step is the paused step" "$P" "$(tr -d '\r' <"$TMP/h1" | awk -F': ' 'tolower($1)=="x-illgan-step"{print $2}')"
check "X-Illgan-Seed" "42" "$(tr -d '\r' <"$TMP/h1" | awk -F': ' 'tolower($1)=="x-illgan-seed"{print $2}')"
curl -s -o "$TMP/d.png" "$URL/sample?n=5&cols=5&pad=0"
check "cols=5 pad=0: 160x32" "160x32" "$(od -An -tu1 -j16 -N8 "$TMP/d.png" | awk '{print $3*256+$4 "x" $7*256+$8}')"

# POST /sample renders given z: the same vectors as seed 42 give the same picture.
Z=$(jq -nc '[range(4) | [range(100) | 0.01 * .]]')
req POST /sample -d "{\"z\": $Z, \"cols\": 4, \"pad\": 1}"
check "POST /sample" "200" "$CODE"
check "POST /sample 4x1 grid" "133x34" "$(od -An -tu1 -j16 -N8 "$BODY" | awk '{print $3*256+$4 "x" $7*256+$8}')"

# Neighbours: n results of k, sorted, indices within the set.
req GET "/api/neighbors?n=3&k=4&seed=7"
check "neighbors" "200 3 4 3" "$CODE $(jqb .n) $(jqb .k) $(jqb '.results|length')"
check "neighbors step" "$P" "$(jqb .step)"
check "neighbors sorted by mse, 4 each, valid names" "true" "$(jqb '[.results[] | (.neighbors|length)==4 and ([.neighbors[].mse] == ([.neighbors[].mse]|sort)) and all(.neighbors[]; .index>=0 and .index<48 and (.name|startswith("synthetic-")) and .mse>=0 and .mse<=1)] | all')"
req GET "/api/neighbors?n=3&k=4&seed=7"
cp "$BODY" "$TMP/nb1"
req GET "/api/neighbors?n=3&k=4&seed=7"
check_true "neighbors repeatable" 'cmp -s "$BODY" "$TMP/nb1"'
curl -s -o "$TMP/nb.png" -w '%{http_code}' "$URL/neighbors.png?n=3&k=4&seed=7&pad=1" >"$TMP/code"
check "neighbors.png 3 columns, 5 rows" "200 100x166" "$(cat "$TMP/code") $(od -An -tu1 -j16 -N8 "$TMP/nb.png" | awk '{print $3*256+$4 "x" $7*256+$8}')"

# Hyperparameters: change two, see them everywhere.
req GET /api/hparams
check "hparams has all 14 keys and a schema for each" "14 14" "$(jqb '.hparams|length') $(jqb '.schema|length')"
req PATCH /api/hparams -d '{"lr_d": 0.0001, "zpred": false, "batch_size": 6}'
check "patch" "200" "$CODE"
E=$(jqb .effective_step)
check "effective step is the next iteration" "$((P + 1))" "$E"
check "changed old/new" "0.0002 0.0001 true false" "$(jqb '"\(.changed.lr_d.old) \(.changed.lr_d.new) \(.changed.zpred.old) \(.changed.zpred.new)"')"
req GET /api/hparams
check "hparams after patch" "0.0001 false 6" "$(jqb '"\(.hparams.lr_d) \(.hparams.zpred) \(.hparams.batch_size)"')"
req GET "/api/events?limit=1000"
check "one hparams event per changed key" "3" "$(jqb '[.events[] | select(.kind=="hparams")] | length')"
check "event data old/new" "0.0002 0.0001 http" "$(jqb '.events[] | select(.kind=="hparams" and .data.key=="lr_d") | "\(.data.old) \(.data.new) \(.data.source)"')"

req POST /api/resume
check "resume" "200 training $P" "$CODE $(jqb .state) $(jqb .step)"
wait_until '[ "$(step_now)" -ge $((P + 4)) ]' "training to go on after resume"
check_true "step advanced after resume" '[ "$(step_now)" -gt "$P" ]'
req POST /api/pause
Q=$(jqb .step)

# The change reached training: rows after it carry the new rate and batch size.
req GET "/api/metrics?since=$E&limit=2"
check "metrics since effective step" "$E 0.0001 6" "$(jqb '.metrics[0] | "\(.step) \(.lr_d) \(.batch_size)"')"
req GET "/api/metrics?since=1&limit=$((E - 1))"
check "metrics before it had the old values" "0.0002 4" "$(jqb '.metrics[-1] | "\(.lr_d) \(.batch_size)"')"
req GET "/api/metrics?limit=3"
check "metrics: oldest first, bounded, next_since, more" "1,2,3 4 true" "$(jqb '"\([.metrics[].step]|map(tostring)|join(",")) \(.next_since) \(.more)"')"
req GET "/api/metrics?since=$Q"
check "metrics tail" "$Q $((Q + 1)) false" "$(jqb '"\(.metrics[-1].step) \(.next_since) \(.more)"')"
check "metrics row keys" "true" "$(jqb '.metrics[0] | [has("time","train_seconds","loss_d","loss_g","loss_z","d_real","d_fake","images_per_second","lr_g","lr_z")] | all')"

# Sample history: one grid every 3 iterations, each retrievable.
req GET /api/samples
N=$(jqb '.samples|length')
check "sample grids stored every 3 iterations" "$((Q / 3))" "$N"
check "samples: oldest first, n and seed" "3 4" "$(jqb '"\(.samples[0].step) \(.n)"')"
curl -s -o "$TMP/h.png" -w '%{http_code}' "$URL/api/samples/3.png" >"$TMP/code"
check "stored grid" "200 PNG" "$(cat "$TMP/code") $(head -c 4 "$TMP/h.png" | tail -c 3)"
req GET /api/samples/4.png
check "no grid at step 4" "404 not_found step" "$CODE $(jqb .error.code) $(jqb .error.field)"
req GET "/api/samples?since=4&limit=1"
check "samples since/limit" "6 1" "$(jqb '"\(.samples[0].step) \(.samples|length)"')"

# Checkpoint on request.
req POST /api/checkpoint
check "checkpoint" "200 $Q" "$CODE $(jqb .step)"
check_true "checkpoint file exists" '[ -s "$(jqb .path)" ]'
req GET /api/status
check "status shows the checkpoint" "$Q" "$(jqb .checkpoint.step)"

req GET "/api/events?limit=1000"
check "events include start, pause, resume, hparams, checkpoint" "true" "$(jqb '[.events[].kind] as $k | ["start","pause","resume","hparams","checkpoint"] | all(. as $x | $k | index($x))')"
check "events oldest first" "true" "$(jqb '[.events[].id] == ([.events[].id]|sort)')"
L=$(jqb '.events[1].id')
req GET "/api/events?since_id=$L&limit=1"
check "events since_id/limit" "$((L + 1)) true" "$(jqb '"\(.events[0].id) \(.more)"')"

# Prometheus.
curl -s -D "$TMP/mh" -o "$TMP/metrics.txt" "$URL/metrics"
check_true "metrics content type" 'grep -qi "^content-type: text/plain; version=0.0.4" "$TMP/mh"'
if command -v promtool >/dev/null; then
  promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.out" 2>&1
  check "promtool check metrics" "0" "$?"
  cat "$TMP/promtool.out"
else
  check "promtool installed (Debian package prometheus)" yes no
fi
check "illgan_step" "$Q" "$(awk '$1=="illgan_step"{print $2}' "$TMP/metrics.txt")"
check_true "last checkpoint timestamp" 'grep -q "^illgan_last_checkpoint_timestamp_seconds 1" "$TMP/metrics.txt"'
check_true "paused gauge" 'grep -q "^illgan_paused 1" "$TMP/metrics.txt"'

# Static files, HEAD.
req GET /
check "index.html at /" "200" "$CODE"
check_true "index content" 'grep -q "<title>t</title>" "$BODY"'
req GET /sub/a.txt
check "file in a subfolder" "200 hello" "$CODE $(cat "$BODY")"
H=$(curl -s -I -o /dev/null -w '%{http_code}' "$URL/api/status")
check "HEAD /api/status" "200" "$H"

finish
