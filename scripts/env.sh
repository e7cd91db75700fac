# shellcheck shell=bash
# Sourced by scripts/test.sh, scripts/demo.sh and .ci/run: find the ComfyUI checkouts to test against and give
# each its own cached virtualenv with that ComfyUI's requirements plus FluxKit's.
#
#   fluxkit_find_comfyuis          prints one ComfyUI checkout per line, newest version first
#   fluxkit_comfyui_version DIR    prints DIR's version (comfyui_version.py), or "unknown"
#   fluxkit_venv DIR|""            creates/updates the venv for that ComfyUI (or a plain one), prints its path
#   fluxkit_fetch_comfyui          clones the pinned ComfyUI (a bare machine), prints its path
#   fluxkit_gguf_pack              prints a city96/ComfyUI-GGUF checkout, cloning the pinned one if none is found
#
# Where ComfyUI is looked for: $COMFYUI_PATHS (colon-separated) if set, else $COMFYUI_PATH, ~/ComfyUI,
# ~/ComfyUI-* (e.g. ~/ComfyUI-0.28) and the pinned checkouts fetched earlier (~/.cache/fluxkit/comfyui/<tag>).
# Finding none, the scripts clone the pinned release ($FLUXKIT_COMFYUI_URL at $FLUXKIT_COMFYUI_TAG; point the URL
# at a local mirror to test the bare-machine path offline). Venvs live in $FLUXKIT_VENV_ROOT (default ~/.cache/fluxkit/venvs), one per
# ComfyUI version ("comfyui-0.28.2") and "plain" when none is found.

FLUXKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLUXKIT_VENV_ROOT="${FLUXKIT_VENV_ROOT:-$HOME/.cache/fluxkit/venvs}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# What a bare machine fetches (pinned: the newest ComfyUI FluxKit is tested on, and the GGUF pack's tested commit,
# which has no release tags). Each is cloned once into ~/.cache/fluxkit and found there afterwards.
FLUXKIT_COMFYUI_URL="${FLUXKIT_COMFYUI_URL:-https://github.com/Comfy-Org/ComfyUI.git}"
FLUXKIT_COMFYUI_TAG="${FLUXKIT_COMFYUI_TAG:-v0.28.2}"
FLUXKIT_GGUF_URL="${FLUXKIT_GGUF_URL:-https://github.com/city96/ComfyUI-GGUF.git}"
FLUXKIT_GGUF_REF="${FLUXKIT_GGUF_REF:-795e45156ece99afbc3efef911e63fcb46e6a20d}"
FLUXKIT_FETCH_ROOT="${FLUXKIT_FETCH_ROOT:-$HOME/.cache/fluxkit}"

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
    candidates+=("$HOME/ComfyUI" "$HOME"/ComfyUI-* "$FLUXKIT_FETCH_ROOT"/comfyui/*)
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


# git clone URL at REF (a tag or branch, else a commit) into DEST, through a temporary folder renamed at the end, so
# an interrupted clone never counts as a checkout. Prints nothing; returns git's failure.
_fluxkit_git_fetch() {  # url ref dest
  local url=$1 ref=$2 dest=$3 tmp
  tmp="$dest.partial-$$"
  rm -rf "$tmp" && mkdir -p "$(dirname "$dest")" || return 1
  if ! timeout 900 git clone -q --depth 1 --branch "$ref" "$url" "$tmp" 2>"$tmp.log"; then
    # not a tag or branch: fetch the commit itself (GitHub and local repositories serve a commit by its id)
    rm -rf "$tmp"
    { git init -q "$tmp" && timeout 900 git -C "$tmp" fetch -q --depth 1 "$url" "$ref" \
      && git -C "$tmp" checkout -q FETCH_HEAD; } 2>>"$tmp.log" || { rm -rf "$tmp"; return 1; }
  fi
  rm -f "$tmp.log"
  mv "$tmp" "$dest"
}

_fluxkit_fetch_failed() {  # what url ref dest how-to-point
  echo "FluxKit: could not fetch $1: tried \`git clone --depth 1 --branch $3 $2 $4\` and a fetch of $3 as a commit" >&2
  [ -f "$4.partial-$$.log" ] && sed 's/^/  git: /' "$4.partial-$$.log" | tail -n 5 >&2 && rm -f "$4.partial-$$.log"
  echo "  $5" >&2
}

# The pinned ComfyUI for a machine without one: ~/.cache/fluxkit/comfyui/<tag>, cloned on first use.
fluxkit_fetch_comfyui() {
  local dest="$FLUXKIT_FETCH_ROOT/comfyui/$FLUXKIT_COMFYUI_TAG"
  if ! fluxkit_is_comfyui "$dest"; then
    echo "FluxKit: no ComfyUI found; cloning $FLUXKIT_COMFYUI_URL ($FLUXKIT_COMFYUI_TAG) into $dest" >&2
    rm -rf "$dest"
    _fluxkit_git_fetch "$FLUXKIT_COMFYUI_URL" "$FLUXKIT_COMFYUI_TAG" "$dest" || {
      _fluxkit_fetch_failed ComfyUI "$FLUXKIT_COMFYUI_URL" "$FLUXKIT_COMFYUI_TAG" "$dest" \
        "Use an existing checkout instead: COMFYUI_PATH=/path/to/ComfyUI (or COMFYUI_PATHS=/a:/b, or one at ~/ComfyUI); or set FLUXKIT_COMFYUI_URL to a reachable mirror."
      return 1
    }
    fluxkit_is_comfyui "$dest" || { echo "FluxKit: $FLUXKIT_COMFYUI_URL at $FLUXKIT_COMFYUI_TAG is not a ComfyUI checkout (no comfy/model_management.py)" >&2; return 1; }
  fi
  echo "$dest"
}

# city96/ComfyUI-GGUF for the GGUF tests: $COMFYUI_GGUF_PATH, ~/ComfyUI-GGUF, else the pinned commit cloned into
# ~/.cache/fluxkit/ComfyUI-GGUF/<commit>.
fluxkit_gguf_pack() {
  local c dest="$FLUXKIT_FETCH_ROOT/ComfyUI-GGUF/$FLUXKIT_GGUF_REF"
  for c in "${COMFYUI_GGUF_PATH:-}" "$HOME/ComfyUI-GGUF" "$dest"; do
    if [ -n "$c" ] && [ -f "$c/nodes.py" ] && [ -f "$c/ops.py" ]; then echo "$c"; return 0; fi
  done
  echo "FluxKit: no city96/ComfyUI-GGUF found; cloning $FLUXKIT_GGUF_URL ($FLUXKIT_GGUF_REF) into $dest" >&2
  rm -rf "$dest"
  _fluxkit_git_fetch "$FLUXKIT_GGUF_URL" "$FLUXKIT_GGUF_REF" "$dest" || {
    _fluxkit_fetch_failed city96/ComfyUI-GGUF "$FLUXKIT_GGUF_URL" "$FLUXKIT_GGUF_REF" "$dest" \
      "Use an existing checkout instead: COMFYUI_GGUF_PATH=/path/to/ComfyUI-GGUF (or one at ~/ComfyUI-GGUF); without it the GGUF tests skip (fail in CI)."
    return 1
  }
  echo "$dest"
}

# The registry's and maintainers' tools, in a scratch virtualenv of their own (never in FluxKit's requirements):
# comfy-cli (`comfy node validate` / `comfy node pack`), comfy-import-guard, and ruff (validate's security scan).
FLUXKIT_REGISTRY_TOOLS="comfy-cli==1.23.0 comfy-import-guard==1.3.0 ruff==0.17.6"
fluxkit_registry_tools() {
  local venv="$FLUXKIT_VENV_ROOT/registry-tools"
  if [ "$(cat "$venv/.fluxkit-installed" 2>/dev/null)" != "$FLUXKIT_REGISTRY_TOOLS" ]; then
    echo "FluxKit: installing $FLUXKIT_REGISTRY_TOOLS into $venv" >&2
    { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } >&2 \
      && "$venv/bin/python" -m pip install -q $FLUXKIT_REGISTRY_TOOLS >&2 \
      || { echo "FluxKit: installing the registry tools into $venv failed" >&2; return 1; }
    echo "$FLUXKIT_REGISTRY_TOOLS" > "$venv/.fluxkit-installed"
  fi
  echo "$venv"
}
