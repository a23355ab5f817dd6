#!/usr/bin/env bash
# Creates kraken's venv (default target/kraken-venv) with kraken 7.1.1 from PyPI, for the
# side-by-side training race (benches/kraken/race.sh). PyPI's Linux torch wheel is the CUDA
# build (several GB with its CUDA libraries); kraken trains with it on the CPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${1:-"$root/target/kraken-venv"}
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "kraken==7.1.1"
"$venv/bin/ketos" --version
echo "venv ready: $venv"
