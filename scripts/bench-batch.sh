#!/usr/bin/env bash
# Batch-scan throughput of `picket scan PATH...` end to end (walk, read, extract, chunk, scan,
# JSONL report): MB/s, docs/s and peak RSS, rules only, with 1 and 2 worker threads.
#
#   scripts/bench-batch.sh                 # 200 MB corpus, 3 passes per thread count
#   MB=50 PASSES=1 scripts/bench-batch.sh  # quicker
#
# The corpus (bench-corpus/, git-ignored) is made once by scripts/gen_corpus.py: one
# file per document (0.5-8 KB; prose, e-mail, chat, config, CSV) with planted PII, secrets and
# injection phrases. The first pass of each thread count also warms the page cache, so the
# figures are CPU-bound: compare them with the engine figures, not with disk speed.
set -euo pipefail
cd "$(dirname "$0")/.."

MB=${MB:-200}
PASSES=${PASSES:-3}
CORPUS=${CORPUS:-bench-corpus/batch-${MB}mb}
THREADS=${THREADS:-"1 2"}

if [ ! -d "$CORPUS/files" ]; then
  python3 scripts/gen_corpus.py --out "$CORPUS" --mb "$MB" --files --prompts 0 >/dev/null
fi
cargo build --release --bin picket
bin=target/release/picket
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "corpus: $CORPUS/files ($(find "$CORPUS/files" -type f | wc -l) files, $(du -sh "$CORPUS/files" | cut -f1) on disk)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-5s %10s %10s %10s %12s %10s\n' threads pass seconds MB/s docs/s peak_RSS_MB blocked
for threads in $THREADS; do
  find "$CORPUS/files" -type f -print0 | xargs -0 cat >/dev/null # page cache
  for pass in $(seq 1 "$PASSES"); do
    status=0
    /usr/bin/time -v "$bin" scan --no-classifier "$CORPUS/files" --threads "$threads" \
      --report "$out/report.jsonl" --format json >"$out/summary.json" 2>"$out/time.txt" || status=$?
    if [ "$status" -gt 1 ]; then
      cat "$out/time.txt" >&2
      exit "$status"
    fi
    rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time.txt")
    python3 - "$out/summary.json" "$threads" "$pass" "$rss_kb" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<8} {sys.argv[3]:<5} {s['seconds']:>10.2f} {s['mb_per_s']:>10.1f} {s['docs_per_s']:>10.0f} "
      f"{int(sys.argv[4]) / 1024:>12.0f} {s['blocked_total']:>10}")
PY
  done
done
echo "report of the last pass: $(wc -l <"$out/report.jsonl") lines, $(du -h "$out/report.jsonl" | cut -f1)"
