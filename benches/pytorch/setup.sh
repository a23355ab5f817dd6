#!/usr/bin/env bash
# Creates the PyTorch twin's venv (default target/pytorch-venv) with torch from PyPI.
# PyPI's Linux torch wheel is the CUDA build (about 5 GB with its CUDA libraries); it runs on the
# CPU as well, which is all the twin needs. The versions are pinned so timings stay comparable.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${1:-"$root/target/pytorch-venv"}
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "torch==2.15.0" "torchvision==0.29.2" "safetensors==0.8.0" "numpy<3"
"$venv/bin/python" -c 'import torch, torchvision, safetensors; print("torch", torch.__version__, "threads", torch.get_num_threads())'
echo "venv ready: $venv"
