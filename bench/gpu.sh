#!/usr/bin/env bash
# Everything issue 20 measures on one CUDA machine, in at most 8 minutes, most valuable step first.
#
#   PYTHONPATH=. bash bench/gpu.sh        # logs to $OUT if set, else runs/bench-gpu-<date>/
#   DEVICE=cpu QUICK=1 bash bench/gpu.sh  # the same steps on CPU, tiny (tests/test_bench.py runs this)
#   TOTAL=300 bash bench/gpu.sh           # a smaller overall bound (seconds; default 470)
#   ONLY=cuda_checks,profile bash ...     # run only these steps (the CPU smoke test: the script's own logic,
#                                         # each other step has a smoke test of its script in tests/test_bench.py)
#   LIMIT_SCALE=10                        # every step's limit and TOTAL times 10 (the default on CPU,
#                                         # where even the tiny steps take minutes on shared cores)
#
# Needs python3 with torch + CUDA, torchvision, timm, scipy, pandas (no gradio). Steps, each under its
# own `timeout`, cut to what is left of TOTAL (a step with under 20 s left is skipped, and says so):
#   1. cuda_checks      batch invariance (fp32 / bf16, roi pool / align), device vs CPU, training steps
#   2. throughput       Inception-v3, canvas 800, roi 146, shape-grouped AVA-like batches, bf16 +
#                       channels_last: batch 16 and the largest batch (searched in child processes, up to
#                       1024), training and inference, TFLOP/s vs the H200's peak, Resize-299 baseline
#   3. profile          torch.profiler: the top 10 kernels of one training step at batch 128
#   4. pipeline         JPEG decode + orientation + normalise + pad: images/s per CPU worker, workers
#                       needed for the rates of step 2, batched nvJPEG decoding on the GPU (<= 60 s)
#   5. compiled         training and inference at batch 128, eager and torch.compile'd side by side
#   6. lite0            EfficientNet-Lite0 (roi 112) at batch 128, training and inference
#   7. train_check      the training engine on the device (AMP, channels_last, resume, six-view evaluation)
# Files (at most 8): summary.log (the RATIO/GOAL/CHECK/... lines), steps.log (every step's output),
# cuda_checks.json, throughput.json, pipeline.json. Exit status 0 when every step passed.
set -uo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
[[ "$DEVICE" == cpu ]] && LIMIT_SCALE=${LIMIT_SCALE:-10} || LIMIT_SCALE=${LIMIT_SCALE:-1}
TOTAL=${TOTAL:-$((470 * LIMIT_SCALE))}
LOGS=${OUT:-runs/bench-gpu-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$LOGS"
SUMMARY="$LOGS/summary.log"
STEPS="$LOGS/steps.log"
export PYTHONPATH="${PYTHONPATH:-.}"

Q=()
[[ "$QUICK" == 1 ]] && Q=(--quick)
# Sizes of the steps: the paper's on a device (2 shape-grouped batches per timed call, 3 rounds),
# tiny with QUICK=1 (compact backbone, canvas 256).
if [[ "$QUICK" == 1 ]]; then
    BIG=2; THROUGHPUT=(--max-batch-cap 4); BASELINE=(--baseline-size 96 --baseline-roi-size 24)
    PIPELINE=(--budget 20); PER_CALL=(--batches 1)
else
    BIG=128; THROUGHPUT=(--batches 2 --repeats 3); BASELINE=(); PIPELINE=(--budget 50); PER_CALL=(--batches 2)
fi
FAILED=()
START=$SECONDS

log() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME SECONDS COMMAND...: run under a timeout (cut to what is left of TOTAL), output to the
# terminal and steps.log; its result lines go to the summary.
ONLY=${ONLY:-}
step() {
    local name=$1 limit=$(($2 * LIMIT_SCALE))
    shift 2
    if [[ -n "$ONLY" && ",$ONLY," != *",$name,"* ]]; then
        log "== $name: not asked for (ONLY=$ONLY)"
        return
    fi
    local left=$((TOTAL - (SECONDS - START)))
    (( limit > left )) && limit=$left
    if (( limit < 20 )); then
        log "== $name: SKIPPED (${left}s left of TOTAL=${TOTAL}s)"
        FAILED+=("$name(skipped)")
        return
    fi
    log "== $name (timeout ${limit}s): $*"
    echo "===== $name: $*" >> "$STEPS"
    local start=$SECONDS status=0 before
    before=$(wc -l < "$STEPS")
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$STEPS"
    status=${PIPESTATUS[0]}
    if [[ $status == 0 ]]; then
        log "   $name: ok ($((SECONDS - start)) s)"
    else
        [[ $status == 124 || $status == 137 ]] && log "   $name: TIMED OUT after ${limit}s" || log "   $name: FAILED (exit $status)"
        FAILED+=("$name")
    fi
    tail -n +"$((before + 1))" "$STEPS" | grep -E '^(RATIO|GOAL|CHECK|WORKERS|THROUGHPUT|TFLOPS|KERNEL|largest|GPU decode)' >> "$SUMMARY" || true
}

: > "$SUMMARY"
: > "$STEPS"
log "bench/gpu.sh $(date -Iseconds) device=$DEVICE quick=$QUICK total=${TOTAL}s logs=$LOGS"
log "host $(hostname), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs || true)"
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$SUMMARY" || true
fi
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' \
    2>&1 | tee -a "$SUMMARY" || true

step cuda_checks 60 "$PYTHON" bench/cuda_checks.py --device "$DEVICE" "${Q[@]}" --json "$LOGS/cuda_checks.json"
step throughput 200 "$PYTHON" bench/paper_throughput.py --device "$DEVICE" "${Q[@]}" "${THROUGHPUT[@]}" --resize-baseline "${BASELINE[@]}" \
    --json "$LOGS/throughput.json"
step profile 40 "$PYTHON" bench/profile_step.py --device "$DEVICE" "${Q[@]}" --batch "$BIG"

# Size the DataLoader for the training rates just measured (fall back to round figures).
RATES=$("$PYTHON" - "$LOGS/throughput.json" <<'PY' 2>/dev/null || echo "500 1000 2000"
import json, sys
rates = json.load(open(sys.argv[1]))["train_images_per_s"].values()
print(" ".join(f"{rate:.0f}" for rate in sorted(rates)) or "500 1000 2000")
PY
)
step pipeline 70 "$PYTHON" bench/data_pipeline.py "${Q[@]}" "${PIPELINE[@]}" --gpu-rates $RATES 1000 --json "$LOGS/pipeline.json"
step compiled 100 "$PYTHON" bench/paper_throughput.py --device "$DEVICE" "${Q[@]}" --no-max-batch --batch "$BIG" "${PER_CALL[@]}" --compile both
step lite0 40 "$PYTHON" bench/paper_throughput.py --device "$DEVICE" "${Q[@]}" --no-max-batch --backbone efficientnet_lite0 --roi-size 112 \
    --batch "$BIG" "${PER_CALL[@]}"
step train_check 60 "$PYTHON" bench/train_check.py --device "$DEVICE" "${Q[@]}"

log "elapsed $((SECONDS - START)) s of TOTAL=${TOTAL}s"
if (( ${#FAILED[@]} )); then
    log "FAILED steps: ${FAILED[*]} (logs in $LOGS)"
    exit 1
fi
log "all steps passed (logs in $LOGS)"
