#!/usr/bin/env bash
# make soak [SOAK_MINUTES=10]: minutes of load against edgeguardd on a Unix socket in a temporary directory, then its
# resident memory before and after. Not part of CI. MODEL=... soaks a real model; otherwise a tiny synthesized one.
# Needs a built solution (make build) and curl.
set -euo pipefail

minutes=${1:-10}
workers=${SOAK_WORKERS:-16}
seconds=${SOAK_SECONDS:-$((minutes * 60))}
root=$(cd "$(dirname "$0")/.." && pwd)
config=${CONFIG:-Release}
work=$(mktemp -d)
socket="$work/edgeguardd.sock"
pid=

cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

model=${MODEL:-}
if [ -z "$model" ]; then
    model="$work/tiny"
    dotnet "$root/src/EdgeGuard.Cli/bin/$config/net10.0/EdgeGuard.Cli.dll" synthesize --shape tiny \
        --tokenizer "$root/../shared/tokenizers/spm-unigram-2k/spm.model" -o "$model" --seed 7 >/dev/null
fi

dotnet "$root/src/EdgeGuard.Daemon/bin/$config/net10.0/edgeguardd.dll" --model "$model" --port -1 --socket "$socket" \
    >"$work/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    curl -sf --unix-socket "$socket" http://edgeguardd/readyz >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/daemon.log"; exit 1; }
    sleep 0.1
done

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
request() {
    curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$socket" -H 'Content-Type: application/json' \
        -d "{\"input\": [\"soak request $1: is this text safe?\", \"a second input about locks and keys\"]}" \
        http://edgeguardd/v1/moderations
}

# Warm up so the first figure is the steady state, not the start-up.
for i in $(seq 1 200); do request "$i" >/dev/null; done
before=$(rss)
echo "soak: $seconds s, $workers workers, pid $pid, resident memory before: $before kB"

end=$(( $(date +%s) + seconds ))
loaders=()
for w in $(seq 1 "$workers"); do
    (
        n=0
        while [ "$(date +%s)" -lt "$end" ]; do
            request "$w-$n" >>"$work/status.$w"
            n=$((n + 1))
        done
    ) &
    loaders+=($!)
done
wait "${loaders[@]}"

after=$(rss)
total=$(cat "$work"/status.* | wc -l)
errors=$(cat "$work"/status.* | grep -vc '^200$' || true)
echo "soak: $total requests, $errors errors, resident memory before $before kB, after $after kB, change $((after - before)) kB"
[ "$errors" -eq 0 ]
