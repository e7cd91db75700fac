# shellcheck shell=bash
# Sourced by scripts/test.sh, scripts/demo.sh and .ci/run: find the ComfyUI checkouts to test against and give
# each its own cached virtualenv with that ComfyUI's requirements plus FluxKit's.
#
#   fluxkit_find_comfyuis          prints one ComfyUI checkout per line, newest version first
#   fluxkit_comfyui_version DIR    prints DIR's version (comfyui_version.py), or "unknown"
#   fluxkit_venv DIR|""            creates/updates the venv for that ComfyUI (or a plain one), prints its path
#
# Where ComfyUI is looked for: $COMFYUI_PATHS (colon-separated) if set, else $COMFYUI_PATH, ~/ComfyUI and
# ~/ComfyUI-* (e.g. ~/ComfyUI-0.28). Venvs live in $FLUXKIT_VENV_ROOT (default ~/.cache/fluxkit/venvs), one per
# ComfyUI version ("comfyui-0.28.2") and "plain" when none is found.

FLUXKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLUXKIT_VENV_ROOT="${FLUXKIT_VENV_ROOT:-$HOME/.cache/fluxkit/venvs}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

fluxkit_is_comfyui() { [ -f "$1/comfy/model_management.py" ] && [ -f "$1/requirements.txt" ]; }

fluxkit_comfyui_version() {
  local v
  v=$(sed -n 's/^__version__ *= *"\(.*\)"/\1/p' "$1/comfyui_version.py" 2>/dev/null)
  echo "${v:-unknown}"
}

fluxkit_find_comfyuis() {
  local candidates=() c seen=""
  if [ -n "${COMFYUI_PATHS:-}" ]; then
    IFS=: read -r -a candidates <<< "$COMFYUI_PATHS"
  else
    [ -n "${COMFYUI_PATH:-}" ] && candidates+=("$COMFYUI_PATH")
    candidates+=("$HOME/ComfyUI" "$HOME"/ComfyUI-*)
  fi
  for c in "${candidates[@]}"; do
    [ -n "$c" ] && fluxkit_is_comfyui "$c" || continue
    c="$(cd "$c" && pwd)"
    case " $seen " in *" $c "*) continue ;; esac
    seen="$seen $c"
    echo "$(fluxkit_comfyui_version "$c") $c"
  done | sort -r -V | cut -d' ' -f2-
}

# ComfyUI's requirements as this machine can install them: 0.3.x does not import torchaudio at start-up (left out,
# as its README allows); newer releases do, and take the newest torchaudio, which imports with torch 2.14.1.
_fluxkit_comfy_requirements() {
  local dir=$1 out=$2
  case "$(fluxkit_comfyui_version "$dir")" in
    0.3.*) grep -v '^torchaudio' "$dir/requirements.txt" > "$out" ;;
    *) cp "$dir/requirements.txt" "$out" ;;
  esac
}

# Which transformers line a venv tests: 4.x beside ComfyUI 0.3.x, 5.x beside newer ones and without ComfyUI.
_fluxkit_transformers_line() {
  case "$( [ -n "$1" ] && fluxkit_comfyui_version "$1")" in
    0.3.*) echo 4 ;;
    *) echo 5 ;;
  esac
}

fluxkit_venv() {
  local comfy=$1 name venv stamp want
  if [ -n "$comfy" ]; then name="comfyui-$(fluxkit_comfyui_version "$comfy")"; else name=plain; fi
  venv="$FLUXKIT_VENV_ROOT/$name"
  if [ ! -x "$venv/bin/python" ]; then
    echo "FluxKit: creating virtualenv $venv" >&2
    mkdir -p "$FLUXKIT_VENV_ROOT"
    python3 -m venv "$venv" >&2
  fi
  # reinstall only when an input changed (requirements files, the ComfyUI checkout)
  want=$(cat "$FLUXKIT_ROOT/requirements.txt" "$FLUXKIT_ROOT"/requirements-test*.txt \
    ${comfy:+"$comfy/requirements.txt"} 2>/dev/null | cksum)
  stamp="$venv/.fluxkit-installed"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    (
      set -e
      # torch + torchvision first, as ComfyUI pins them on this kind of machine (local wheels where present)
      case "$(uname -m)" in
        aarch64) "$venv/bin/python" -m pip install -q torch==2.9.1 torchvision==0.24.1 ;;
        *) "$venv/bin/python" -m pip install -q torch==2.14.1 torchvision==0.29.1 ;;
      esac
      if [ -n "$comfy" ]; then
        _fluxkit_comfy_requirements "$comfy" "$venv/comfyui-requirements.txt"
        "$venv/bin/python" -m pip install -q -r "$venv/comfyui-requirements.txt" requests
      fi
      "$venv/bin/python" -m pip install -q -r "$FLUXKIT_ROOT/requirements.txt" -r "$FLUXKIT_ROOT/requirements-test.txt" \
        -r "$FLUXKIT_ROOT/requirements-test-transformers$(_fluxkit_transformers_line "$comfy").txt"
    ) >&2 || { echo "FluxKit: installing into $venv failed" >&2; return 1; }
    echo "$want" > "$stamp"
  fi
  echo "$venv"
}
