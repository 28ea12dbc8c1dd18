#!/usr/bin/env bash
# The paper's configuration on a CUDA machine, in a few minutes: checks first, then throughput.
#
#   bash bench/gpu.sh                    # logs to $OUT if set, else runs/bench-gpu-<date>/
#   COMPILE=1 bash bench/gpu.sh          # also time torch.compile'd steps
#   EXTRA=1 bash bench/gpu.sh            # also full_resolution.py and masking.py on the GPU
#   DEVICE=cpu QUICK=1 bash bench/gpu.sh # the same steps on CPU, tiny (tests/test_bench.py runs this)
#
# Steps (each under its own timeout; a failed step is reported and the others still run):
#   1. cuda_checks.py     batch invariance (fp32 and bf16, roi pool and align), device vs CPU, training steps
#   2. train_check.py     the training engine on the device: workbench.train with AMP, channels_last (and
#                          torch.compile with COMPILE=1), pinned workers, resume, six-view evaluation
#   2b. paper_throughput.py Inception-v3, canvas 800, roi 146: batch 16 and the largest batch that fits,
#                          training and inference, AMP bf16 + channels_last
#   3. data_pipeline.py   images/s per worker on this machine's cores -> DataLoader workers for the
#                          training images/s measured in step 2b
# Exit status: 0 when every step passed, 1 otherwise. At most 8 files are written.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[[ -x "$PYTHON" ]] || PYTHON=python3
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
COMPILE=${COMPILE:-0}
EXTRA=${EXTRA:-0}
LOGS=${OUT:-runs/bench-gpu-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$LOGS"
SUMMARY="$LOGS/summary.log"

QUICK_FLAG=()
[[ "$QUICK" == 1 ]] && QUICK_FLAG=(--quick)
COMPILE_FLAG=()
[[ "$COMPILE" == 1 ]] && COMPILE_FLAG=(--compile)
FAILED=()

log() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME SECONDS COMMAND...: run under a timeout, output to the terminal and $LOGS/NAME.log.
step() {
    local name=$1 limit=$2
    shift 2
    log "== $name (timeout ${limit}s): $*"
    local start=$SECONDS status=0
    timeout --kill-after=15 "$limit" "$@" > >(tee "$LOGS/$name.log") 2>&1 || status=$?
    wait  # the tee
    if [[ $status == 0 ]]; then
        log "   $name: ok ($((SECONDS - start)) s)"
    else
        [[ $status == 124 ]] && log "   $name: TIMED OUT after ${limit}s" || log "   $name: FAILED (exit $status)"
        FAILED+=("$name")
    fi
    grep -E '^(RATIO|GOAL|CHECK|WORKERS|THROUGHPUT)' "$LOGS/$name.log" >> "$SUMMARY" || true
}

: > "$SUMMARY"
log "bench/gpu.sh $(date -Iseconds) device=$DEVICE quick=$QUICK compile=$COMPILE logs=$LOGS"
log "host $(hostname), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs || true)"
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$SUMMARY" || true
fi
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' \
    2>&1 | tee -a "$SUMMARY" || true

step cuda_checks 300 "$PYTHON" bench/cuda_checks.py --device "$DEVICE" "${QUICK_FLAG[@]}" --json "$LOGS/cuda_checks.json"
step train_check 300 "$PYTHON" bench/train_check.py --device "$DEVICE" "${QUICK_FLAG[@]}" "${COMPILE_FLAG[@]}"
step throughput 420 "$PYTHON" bench/paper_throughput.py --device "$DEVICE" "${QUICK_FLAG[@]}" "${COMPILE_FLAG[@]}" \
    --json "$LOGS/throughput.json"

# Size the DataLoader for the training rates just measured (fall back to round figures).
RATES=$("$PYTHON" - "$LOGS/throughput.json" <<'EOF' 2>/dev/null || echo "200 500 1000"
import json, sys
rates = json.load(open(sys.argv[1]))["train_images_per_s"].values()
print(" ".join(f"{rate:.0f}" for rate in sorted(rates)) or "200 500 1000")
EOF
)
# Workers decode on the CPU: one thread each, like a DataLoader worker.
step pipeline 240 "$PYTHON" bench/data_pipeline.py "${QUICK_FLAG[@]}" --gpu-rates $RATES --json "$LOGS/pipeline.json"

if [[ "$EXTRA" == 1 ]]; then
    step full_resolution 420 "$PYTHON" bench/full_resolution.py --device "$DEVICE" "${QUICK_FLAG[@]}"
    step masking 300 "$PYTHON" bench/masking.py --device "$DEVICE" "${QUICK_FLAG[@]}"
fi

if (( ${#FAILED[@]} )); then
    log "FAILED steps: ${FAILED[*]} (logs in $LOGS)"
    exit 1
fi
log "all steps passed (logs in $LOGS)"
