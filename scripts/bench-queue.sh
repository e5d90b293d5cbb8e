#!/usr/bin/env bash
# Throughput of corpus scanning through NATS JetStream (docs/scale-out.md) next to plain
# `picket scan PATH` in the same run, rules only (release build):
#
#   local      picket scan PATH --threads T (T = total worker slots of the queue run)
#   queue Nw   picket scan PATH --submit, then N `picket worker --slots S` processes; timed from
#              the start of the submit until `picket results --wait` sees the queue empty
#
# and the per-document overhead of the queue: (queue seconds - local seconds) / documents, at
# the same total parallelism (1 worker with 1 slot against --threads 1).
#
#   scripts/bench-queue.sh                       # 20 MB corpus (~4,800 files), workers 1 2 4
#   MB=5 WORKERS="1 2" scripts/bench-queue.sh    # quicker
#
# Needs nats-server (Debian package); a throwaway broker runs on a random loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."

MB=${MB:-20}
WORKERS=${WORKERS:-"1 2 4"}
SLOTS=${SLOTS:-1}
CORPUS=${CORPUS:-bench-corpus/queue-${MB}mb}

if [ ! -d "$CORPUS/files" ]; then
  python3 ../shared/bench/gen_corpus.py --out "$CORPUS" --mb "$MB" --files --prompts 0 >/dev/null
fi
PROFILE=${PROFILE:-release} # PROFILE=dev measures the debug build (only to try the script out)
[ -n "${SKIP_BUILD:-}" ] || cargo build --profile "$PROFILE" --bin picket >&2
bin=target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/picket
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

files=$(find "$CORPUS/files" -type f | wc -l)
bytes=$(find "$CORPUS/files" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "corpus: $CORPUS/files ($files files, $((bytes / 1000000)) MB)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), profile $PROFILE"
find "$CORPUS/files" -type f -print0 | xargs -0 cat >/dev/null # page cache

now() { date +%s.%N; }
row() { # name seconds
  python3 -c "import sys; n,s=sys.argv[1],float(sys.argv[2]); print(f'{n:<22} {s:>8.2f} {$files/s:>10.0f} {$bytes/1e6/s:>8.1f}')" "$1" "$2"
}

declare -A local_s
printf '%-22s %8s %10s %8s\n' run seconds docs/s MB/s
for n in $WORKERS; do
  t=$((n * SLOTS))
  start=$(now)
  "$bin" scan --no-classifier "$CORPUS/files" --threads "$t" --report "$work/local.jsonl" >/dev/null 2>&1 || [ $? -eq 1 ]
  local_s[$n]=$(python3 -c "print($(now) - $start)")
  row "local --threads $t" "${local_s[$n]}"

  # A fresh broker per run, so every run starts from empty streams.
  rm -rf "$work/js"
  nats-server -a 127.0.0.1 -p -1 -js -sd "$work/js" 2>"$work/nats.log" &
  pids+=($!)
  nats_pid=$!
  for _ in $(seq 100); do grep -q "Listening for client connections" "$work/nats.log" && break; sleep 0.05; done
  url="nats://127.0.0.1:$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/nats.log")"
  start=$(now)
  wpids=()
  for _ in $(seq "$n"); do
    PICKET_LOG=warn "$bin" worker --nats "$url" --no-classifier --slots "$SLOTS" 2>>"$work/workers.log" &
    pids+=($!)
    wpids+=($!)
  done
  "$bin" scan --no-classifier "$CORPUS/files" --submit "$url" --corpus bench >"$work/submit.json"
  "$bin" results --nats "$url" --corpus bench --wait --report "$work/remote.jsonl" >/dev/null || [ $? -eq 1 ]
  queue_s=$(python3 -c "print($(now) - $start)")
  got=$(wc -l <"$work/remote.jsonl")
  [ "$got" -eq "$(wc -l <"$work/local.jsonl")" ] || { echo "queue run returned $got results" >&2; exit 1; }
  row "queue ${n}w x ${SLOTS} slot" "$queue_s"
  python3 -c "import sys; print(f'{\"  overhead/doc\":<22} {(float(sys.argv[1]) - float(sys.argv[2])) / $files * 1e3 * $t:>8.3f} ms (CPU-ms per document, at equal parallelism)')" "$queue_s" "${local_s[$n]}"
  kill "${wpids[@]}" 2>/dev/null || true
  kill "$nats_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  pids=()
done
