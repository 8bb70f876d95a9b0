#!/bin/bash
# Issue 17's GPU run, in one device call on the lent machine (Node.js and Dawn from ../shared/gpu-kit; no
# npm, no node_modules there). Run from the project root with .gpu-kit/ and build-node/ carried:
#   bash scripts/gpu-run.sh [more bench:node options]
# Prepare them here first: npm run build:node && bash ../shared/gpu-kit/pack.sh
#
# In order, each step cut off by its own timeout so that the later ones still run:
#   1. the adapter (gpu-kit's setup.sh), and the GPU's clocks sampled every 0.5 s for the whole run (nvidia-smi);
#   2. npm run check:node (every kernel path against the float64 reference);
#   3. bn_torch.py (PyTorch's cuDNN / ATen times) for the shapes the benchmark runs;
#   4. the benchmark with every numerical choice (--compare-numerics) interleaved shape by shape, per-pass times
#      and the copy kernel's roofline (the peers only with GPU_RUN_PEERS=1: they about double its time), and
#      the model row (the seed CNN's training step in tfjs, tfjs's batch norm against ours, batch 64 and 256).
# Everything goes to $OUT (the device tool's folder; default bench-results/local/gpu-run): adapter.txt,
# clocks.csv, check.txt, torch.txt, bench.txt, bench.json (the report), bench-rows.jsonl (each shape's row as
# it finishes: what a run cut short leaves), status.txt (each step's exit status). Exits non-zero if a step failed.
#
# Environment: GPU_RUN_VARIANTS, JSON for --variants instead of --compare-numerics (the local test uses
# it); GPU_RUN_PEERS=1, the peers too; GPU_RUN_CHECK_ARGS, options for the check (e.g. --max-elements
# 100000); GPU_RUN_{CHECK,TORCH,BENCH}_TIMEOUT, seconds (default 90, 120, 300). Without an NVIDIA driver, setup.sh falls back to SwiftShader and PyTorch
# is not required: that is the local test (keep it short with --max-elements 100000 --no-model: on
# SwiftShader the model row's steps take a minute each).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-bench-results/local/gpu-run}
mkdir -p "$out"
for needed in .gpu-kit/setup.sh build-node/bench-node.js build-node/gpu-check.js; do
  [ -f "$needed" ] || { echo "gpu-run: $needed is missing: run 'npm run build:node && bash ../shared/gpu-kit/pack.sh' here and carry .gpu-kit and build-node" >&2; exit 2; }
done

# The clock discipline of the benchmark is judged against these samples (the H200 idled at 345 MHz).
clock_pid=""
stop_clocks() { [ -n "$clock_pid" ] && kill "$clock_pid" 2>/dev/null; }
trap stop_clocks EXIT
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu --format=csv -lms 500 > "$out/clocks.csv" 2>&1 &
  clock_pid=$!
fi

# shellcheck source=/dev/null
source .gpu-kit/setup.sh > "$out/adapter.txt" 2>&1
cat "$out/adapter.txt"

if [ -n "${GPU_RUN_VARIANTS:-}" ]; then variants=(--variants "$GPU_RUN_VARIANTS"); else variants=(--compare-numerics); fi
if [ "${GPU_RUN_PEERS:-0}" = 1 ]; then peers=(); else peers=(--no-peers); fi
# The benchmark's settings for this run (the sweep up to 26M elements, as the last H200 run), then the caller's options.
bench_args=(--max-elements 26000000 --trials 3 --warmup 1 --max-warmup 8 --target-ms 30 "${variants[@]}" "${peers[@]}" "$@")

: > "$out/status.txt"
failed=0
step() { # step NAME STATUS
  echo "$1: exit $2" >> "$out/status.txt"
  [ "$2" -eq 0 ] || failed=1
}

shapes=$(node build-node/bench-node.js --list-shapes "${bench_args[@]}" 2>/dev/null | tail -n 1)
echo "gpu-run: shapes: $shapes"

echo "gpu-run: check:node"
# shellcheck disable=SC2086
timeout "${GPU_RUN_CHECK_TIMEOUT:-90}" node build-node/gpu-check.js ${GPU_RUN_CHECK_ARGS:-} 2>&1 | grep -v XDG_RUNTIME_DIR | tee "$out/check.txt"
step check "${PIPESTATUS[0]}"

echo "gpu-run: bn_torch.py"
if python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  # shellcheck disable=SC2086
  timeout "${GPU_RUN_TORCH_TIMEOUT:-120}" python3 .gpu-kit/bn_torch.py $shapes 2>&1 | tee "$out/torch.txt"
  step torch "${PIPESTATUS[0]}"
elif command -v nvidia-smi >/dev/null; then
  echo "gpu-run: an NVIDIA GPU but no PyTorch with CUDA: bn_torch.py cannot run" | tee "$out/torch.txt"
  step torch 1
else
  echo "gpu-run: no NVIDIA GPU and no PyTorch with CUDA here: bn_torch.py not run (a local test)" | tee "$out/torch.txt"
fi

echo "gpu-run: bench:node ${bench_args[*]}"
timeout "${GPU_RUN_BENCH_TIMEOUT:-300}" node build-node/bench-node.js "${bench_args[@]}" --out "$out/bench.json" --rows-out "$out/bench-rows.jsonl" 2>&1 \
  | grep -v XDG_RUNTIME_DIR > "$out/bench.txt"
step bench "${PIPESTATUS[0]}"
# The progress lines ([n/total] ...) went to the file only.
grep -v '^\[' "$out/bench.txt" | tail -n 150

echo "gpu-run: done"
cat "$out/status.txt"
exit "$failed"
