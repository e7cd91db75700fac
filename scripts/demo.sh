#!/usr/bin/env bash
# The main job (README), on a fresh machine too: installs the newest ComfyUI found (scripts/env.sh; on a machine
# with none, the pinned release is cloned into ~/.cache/fluxkit/comfyui/<tag>) and FluxKit's requirements into a
# virtualenv of their own, then runs `python -m fluxkit_tools.demo` with the arguments given (default: the
# inpainting_turbo_8step workflow on the generated thin set, output in out/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

mapfile -t comfys < <(fluxkit_find_comfyuis)
comfy=${comfys[0]:-}
if [ -z "$comfy" ]; then
  comfy=$(fluxkit_fetch_comfyui) || exit 1
fi
venv=$(fluxkit_venv "$comfy")
echo "FluxKit: ComfyUI $(fluxkit_comfyui_version "$comfy") at $comfy, virtualenv $venv" >&2
COMFYUI_PATH="$comfy" exec "$venv/bin/python" -m fluxkit_tools.demo "$@"
