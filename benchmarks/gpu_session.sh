#!/usr/bin/env bash
# The GPU checks of the Triton kernel in one call, run from the repository root on a CUDA machine
# with torch and triton installed (nothing is fetched). Logs and JSON go to $OUT.
#   bash benchmarks/gpu_session.sh [tests] [tune] [bench] [bench-tuned PRECISION WARPS] [bench-best] [training]
# training: the one-call check of training speed (benchmarks/gpu_training.py), ~5 minutes.
# bench-best: the benchmark with the sweep's fastest float32-accurate configuration.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:-/tmp/gpu-session}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$OUT/gpu.txt"
while [ $# -gt 0 ]; do
  case $1 in
    tests) timeout ${TESTS_S:-120} python3 -m pytest -q -p no:cacheprovider tests/test_triton.py \
             tests/test_acdc.py tests/test_dct.py -k "cuda or triton or kernel or stack" 2>&1 \
             | tee "$OUT/tests.log" | tail -15 ;;
    tune) timeout ${TUNE_S:-170} python3 benchmarks/gpu_tuning.py --backward --json "$OUT/tuning.json" 2>&1 \
            | tee "$OUT/tuning.log" | grep -v "^{" ;;
    bench) timeout ${BENCH_S:-240} python3 benchmarks/gpu_acdc.py --batches 8192 1024 --sizes 4096 1024 16384 --json "$OUT/gpu-acdc.json" 2>&1 | tee "$OUT/bench.log" ;;
    bench-tuned) timeout ${BENCH_S:-240} python3 benchmarks/gpu_acdc.py --batches 8192 1024 --sizes 4096 1024 16384 --precision "$2" --num-warps "$3" \
                   --json "$OUT/gpu-acdc.json" 2>&1 | tee "$OUT/bench.log"; shift 2 ;;
    training) timeout ${TRAINING_S:-400} python3 benchmarks/gpu_training.py --json "$OUT/gpu-training.json" 2>&1 \
                | tee "$OUT/training.log" | grep -v -i warn ;;
    bench-best) set -- "$@" bench-tuned $(python3 benchmarks/gpu_tuning.py --best "$OUT/tuning.json" 2>/dev/null || echo tf32x3 4) ;;
    *) echo "unknown step $1 (tests, tune, bench, bench-tuned P W, bench-best, training)"; exit 2 ;;
  esac
  shift
done
