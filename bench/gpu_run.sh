#!/usr/bin/env bash
# FluxKit's GPU numbers on a lent device, in one call (see DEVELOPERS.md, "On a GPU"):
#   here:   python -m bench.gpu_run --pack .gpu_carry --comfyui ~/ComfyUI-0.33   (prints the carry's size)
#   there:  bash bench/gpu_run.sh [gpu_run arguments]     (carry .gpu_carry; the JSON lands in $OUT)
# Installs the carried wheels into a folder of their own (the image's PyTorch is used as it is), puts the stubs on
# the path and runs `python -m bench.gpu_run` against the carried ComfyUI.
set -euo pipefail
cd "$(dirname "$0")/.."
carry=$(cd "${FLUXKIT_GPU_CARRY:-.gpu_carry}" && pwd)  # absolute: ComfyUI runs from its own folder
site=${FLUXKIT_GPU_SITE:-/tmp/fluxkit-gpu-site}
python=${PYTHON:-python3}
# FLUXKIT_GPU_NO_WHEELS=1: use the environment's own packages (a smoke run of this script on a developer machine)
if [ -z "${FLUXKIT_GPU_NO_WHEELS:-}" ] && compgen -G "$carry/wheels/*.whl" > /dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$carry"/wheels/*.whl
fi
comfyui=$carry/comfyui
if [ -f "$carry/comfyui.tar.xz" ]; then  # the carried checkout, compressed
  comfyui=${FLUXKIT_GPU_COMFYUI:-/tmp/fluxkit-gpu-comfyui}/comfyui
  [ -d "$comfyui" ] || { mkdir -p "$(dirname "$comfyui")" && tar -xJf "$carry/comfyui.tar.xz" -C "$(dirname "$comfyui")"; }
fi
export PYTHONPATH="$site:$carry/stubs:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
exec "$python" -m bench.gpu_run --comfyui "$comfyui" --out "${OUT:-bench/results}" "$@"
