#!/usr/bin/env bash
# The GPU benchmark of train-grpo (benchmarks/train_gpu.py) in one command, in two halves:
#
#   bash benchmarks/train_gpu.sh fetch   # where PyPI is reachable: the wheels a GPU image without vsi-data's
#                                        # training stack lacks, for its Python 3.12, into .whl/ (git-ignored)
#   bash benchmarks/train_gpu.sh run     # on the GPU machine, from the repository root: installs .whl/ into
#                                        # /tmp/site, then the tiny model (a smoke test), Qwen2-VL-2B and -7B
#
# `run` needs python3 with torch (CUDA), torchvision, transformers >= 5.17, accelerate, pyarrow, opencv, PyYAML
# (the GPU image here has them) and uses the repository from its folder (no install). It writes one JSON per
# model to $OUT (or benchmarks/out/) and prints them; about 5 minutes on one H200, under 8 in all.
set -euo pipefail
cd "$(dirname "$0")/.."

# trl and datasets (what TRL reads rows with; 4.8 takes the older pyarrow of GPU images), their two helpers
# the images lack, PyAV (video decoding) and the peft the recipes were written for.
WHEELS=(trl==1.16.0 datasets==4.8.5 "dill>=0.3,<0.4.2" "multiprocess<0.70.20" av==18.1.0 peft==0.21.2)

case "${1:-}" in
fetch)
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "${WHEELS[@]}"
    ;;
run)
    out="${OUT:-benchmarks/out}"
    mkdir -p "$out"
    if compgen -G ".whl/*.whl" >/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    fi
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    # tiny: the code path works on this machine; 2b and 7b: the figures (the first step of each is a warm-up)
    timeout 90 python3 benchmarks/train_gpu.py --device cuda --model tiny --steps 2 --json "$out/train_gpu-tiny.json"
    timeout 180 python3 benchmarks/train_gpu.py --device cuda --model 2b --steps 5 --json "$out/train_gpu-2b.json"
    timeout 200 python3 benchmarks/train_gpu.py --device cuda --model 7b --steps 4 --json "$out/train_gpu-7b.json"
    ;;
*)
    echo "usage: bash benchmarks/train_gpu.sh fetch|run" >&2
    exit 2
    ;;
esac
