# shellcheck shell=bash
# Sourced by scripts/test.sh, scripts/demo.sh and .ci/run: find the ComfyUI checkouts to test against and give
# each its own cached virtualenv with that ComfyUI's requirements plus FluxKit's.
#
#   fluxkit_find_comfyuis          prints one ComfyUI checkout per line, newest version first
#   fluxkit_tested_comfyuis        prints a checkout of each tested release (FLUXKIT_TESTED_COMFYUI), fetching missing ones
#   fluxkit_comfyui_version DIR    prints DIR's version (comfyui_version.py), or "unknown"
#   fluxkit_venv DIR|""            creates/updates the venv for that ComfyUI (or a plain one), prints its path
#   fluxkit_fetch_comfyui [VER]    clones a pinned ComfyUI (a bare machine; default the newest tested), prints its path
#   fluxkit_gguf_pack              prints a city96/ComfyUI-GGUF checkout, cloning the pinned one if none is found
#
# Where ComfyUI is looked for: $COMFYUI_PATHS (colon-separated) if set, else $COMFYUI_PATH, each used exactly as
# given; else ~/ComfyUI, ~/ComfyUI-* (e.g. ~/ComfyUI-0.33) and the pinned checkouts fetched earlier
# (~/.cache/fluxkit/comfyui/<tag>; never an interrupted clone's .partial-* folder). Finding none, the scripts clone
# a pinned release ($FLUXKIT_COMFYUI_URL; point it at a local mirror to test the bare-machine path offline). Venvs
# live in $FLUXKIT_VENV_ROOT (default ~/.cache/fluxkit/venvs), one per ComfyUI version ("comfyui-0.33.0") and
# "plain" when none is found.

FLUXKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLUXKIT_VENV_ROOT="${FLUXKIT_VENV_ROOT:-$HOME/.cache/fluxkit/venvs}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# The ComfyUI releases FluxKit is tested on, newest first, one "version tag commit" a line: CI runs the whole suite
# on the first and the integration tests on the others; a bare machine fetches the first (CI: each one missing).
# Pinned by commit: a tag can be moved, so every clone, and every reuse of one cached earlier, is checked against the
# commit. Upstream's release commits: v0.33.0 = "ComfyUI v0.33.0" (13 Aug 2026), v0.3.64 = "ComfyUI version 0.3.64".
FLUXKIT_TESTED_COMFYUI="0.33.0 v0.33.0 2f35f4a08176d993cded35dac3332be4f7287f41
0.3.64 v0.3.64 637221995f7424a561bd825de3e61ea117dfe1e3"
FLUXKIT_COMFYUI_URL="${FLUXKIT_COMFYUI_URL:-https://github.com/Comfy-Org/ComfyUI.git}"
# Another release: set FLUXKIT_COMFYUI_TAG and FLUXKIT_COMFYUI_COMMIT (`git ls-remote URL TAG` shows it) together.
# city96/ComfyUI-GGUF has no release tags: its tested commit.
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
  elif [ -n "${COMFYUI_PATH:-}" ]; then
    candidates=("$COMFYUI_PATH")  # as given: a newer checkout elsewhere never overrides it
  else
    candidates+=("$HOME/ComfyUI" "$HOME"/ComfyUI-* "$FLUXKIT_FETCH_ROOT"/comfyui/*)
  fi
  for c in "${candidates[@]}"; do
    case "$c" in *.partial-*) continue ;; esac  # an interrupted clone
    [ -n "$c" ] && fluxkit_is_comfyui "$c" || continue
    c="$(cd "$c" && pwd)"
    case " $seen " in *" $c "*) continue ;; esac
    seen="$seen $c"
    echo "$(fluxkit_comfyui_version "$c") $c"
  done | sort -r -V | cut -d' ' -f2-
}

# The checkouts to test against, newest first. In CI (CI=true, no COMFYUI_PATH/COMFYUI_PATHS given) the tested
# releases (fluxkit_tested_comfyuis), other checkouts on the machine left alone; elsewhere every checkout found, and
# on a machine with none the newest pinned release, fetched.
fluxkit_comfyuis_to_test() {
  local fetched
  if [ "${CI:-}" = true ] && [ -z "${COMFYUI_PATHS:-}${COMFYUI_PATH:-}" ]; then
    fluxkit_tested_comfyuis
  elif [ -n "$(fluxkit_find_comfyuis)" ]; then
    fluxkit_find_comfyuis
  elif fetched=$(fluxkit_fetch_comfyui); then
    echo "$fetched"
  fi
  return 0
}

# A checkout of each tested release, newest first: the one found with that version, else the pinned one fetched.
fluxkit_tested_comfyuis() {
  local found version tag commit dir
  found=$(fluxkit_find_comfyuis)
  while read -r version tag commit; do
    dir=""
    while read -r c; do
      [ -n "$c" ] && [ "$(fluxkit_comfyui_version "$c")" = "$version" ] && { dir=$c; break; }
    done <<< "$found"
    if [ -z "$dir" ] && [ -z "${COMFYUI_PATHS:-}${COMFYUI_PATH:-}" ]; then
      dir=$(fluxkit_fetch_comfyui "$version") || dir=""
    fi
    [ -n "$dir" ] && echo "$dir"
  done <<< "$FLUXKIT_TESTED_COMFYUI"
  return 0
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


# A ref that git can only read as a ref: not an option (leading -), no "..", only the characters tags use.
_fluxkit_valid_ref() { [[ "$1" =~ ^[A-Za-z0-9_][A-Za-z0-9._/+-]*$ ]] && [[ "$1" != *..* ]]; }
_fluxkit_valid_commit() { [[ "$1" =~ ^[0-9a-f]{40}$ ]]; }

# Whether DIR is a git checkout of COMMIT (what a reused cache must still be).
_fluxkit_at_commit() { [ "$(git -C "$1" rev-parse -q --verify HEAD 2>/dev/null)" = "$2" ]; }

# git clone URL at REF (a tag or branch, else a commit) into DEST through a temporary folder renamed only once the
# checkout is COMMIT, so an interrupted or wrong clone never counts as a checkout. Prints nothing; returns non-zero
# (reason in DEST.partial-PID.log) on failure.
_fluxkit_git_fetch() {  # url ref commit dest
  local url=$1 ref=$2 commit=$3 dest=$4 tmp got
  tmp="$dest.partial-$$"
  rm -rf "$tmp" && mkdir -p "$(dirname "$dest")" || return 1
  for stale in "$dest".partial-*; do  # interrupted earlier: its process is gone
    [ -d "$stale" ] && ! kill -0 "${stale##*.partial-}" 2>/dev/null && rm -rf "$stale"
  done
  if ! timeout 900 git clone -q --depth 1 --branch "$ref" -- "$url" "$tmp" 2>"$tmp.log"; then
    # not a tag or branch: fetch the commit itself (GitHub and local repositories serve a commit by its id)
    rm -rf "$tmp"
    { git init -q "$tmp" && timeout 900 git -C "$tmp" fetch -q --depth 1 -- "$url" "$commit" \
      && git -C "$tmp" checkout -q FETCH_HEAD; } 2>>"$tmp.log" || { rm -rf "$tmp"; return 1; }
  fi
  got=$(git -C "$tmp" rev-parse -q --verify HEAD)
  if [ "$got" != "$commit" ]; then
    echo "$url at $ref is commit $got, not the pinned $commit (a moved tag?): refused" >>"$tmp.log"
    rm -rf "$tmp"
    return 1
  fi
  rm -f "$tmp.log"
  mv "$tmp" "$dest"
}

_fluxkit_fetch_failed() {  # what url ref dest how-to-point
  echo "FluxKit: could not fetch $1: tried \`git clone --depth 1 --branch $3 $2 $4\` and a fetch of $3 as a commit" >&2
  [ -f "$4.partial-$$.log" ] && sed 's/^/  git: /' "$4.partial-$$.log" | tail -n 5 >&2 && rm -f "$4.partial-$$.log"
  echo "  $5" >&2
}

# A pinned ComfyUI for a machine without one: ~/.cache/fluxkit/comfyui/<tag>, cloned on first use and checked
# against its commit then and on every reuse. VERSION: a line of FLUXKIT_TESTED_COMFYUI (default the newest), or
# $FLUXKIT_COMFYUI_TAG with $FLUXKIT_COMFYUI_COMMIT.
fluxkit_fetch_comfyui() {
  local version=${1:-} tag commit dest
  local how="Use an existing checkout instead: COMFYUI_PATH=/path/to/ComfyUI (or COMFYUI_PATHS=/a:/b, or one at ~/ComfyUI); or set FLUXKIT_COMFYUI_URL to a reachable mirror."
  if [ -n "${COMFYUI_PATHS:-}${COMFYUI_PATH:-}" ]; then
    echo "FluxKit: ${COMFYUI_PATHS:-$COMFYUI_PATH} (COMFYUI_PATH/COMFYUI_PATHS) holds no ComfyUI checkout (no comfy/model_management.py); not fetching another in its place" >&2
    return 1
  fi
  if [ -n "${FLUXKIT_COMFYUI_TAG:-}" ] && [ -z "$version" ]; then
    tag=$FLUXKIT_COMFYUI_TAG commit=${FLUXKIT_COMFYUI_COMMIT:-}
    [ -n "$commit" ] || { echo "FluxKit: FLUXKIT_COMFYUI_TAG=$tag needs FLUXKIT_COMFYUI_COMMIT too (the commit you expect it at: git ls-remote $FLUXKIT_COMFYUI_URL $tag)" >&2; return 1; }
  else
    read -r _ tag commit < <(awk -v v="$version" 'v == "" || $1 == v' <<< "$FLUXKIT_TESTED_COMFYUI" | head -n 1)
  fi
  _fluxkit_valid_ref "$tag" || { echo "FluxKit: refusing ComfyUI tag '$tag' (a tag name: letters, digits, . _ / + -, no leading -, no ..)" >&2; return 1; }
  _fluxkit_valid_commit "$commit" || { echo "FluxKit: refusing ComfyUI commit '$commit' (40 hex digits)" >&2; return 1; }
  dest="$FLUXKIT_FETCH_ROOT/comfyui/$tag"
  if fluxkit_is_comfyui "$dest" && _fluxkit_at_commit "$dest" "$commit"; then
    echo "$dest"
    return 0
  fi
  if [ -e "$dest" ]; then
    echo "FluxKit: $dest is not the pinned $tag ($commit); fetching it again" >&2
  else
    echo "FluxKit: no ComfyUI found; cloning $FLUXKIT_COMFYUI_URL ($tag) into $dest" >&2
  fi
  rm -rf "$dest"
  _fluxkit_git_fetch "$FLUXKIT_COMFYUI_URL" "$tag" "$commit" "$dest" || {
    _fluxkit_fetch_failed ComfyUI "$FLUXKIT_COMFYUI_URL" "$tag" "$dest" "$how"
    return 1
  }
  fluxkit_is_comfyui "$dest" || { echo "FluxKit: $FLUXKIT_COMFYUI_URL at $tag is not a ComfyUI checkout (no comfy/model_management.py)" >&2; return 1; }
  echo "$dest"
}

# city96/ComfyUI-GGUF for the GGUF tests: $COMFYUI_GGUF_PATH (as given), ~/ComfyUI-GGUF, else the pinned commit
# cloned into ~/.cache/fluxkit/ComfyUI-GGUF/<commit> (checked on reuse too).
fluxkit_gguf_pack() {
  local c dest
  if [ -n "${COMFYUI_GGUF_PATH:-}" ]; then
    [ -f "$COMFYUI_GGUF_PATH/nodes.py" ] && [ -f "$COMFYUI_GGUF_PATH/ops.py" ] && { echo "$COMFYUI_GGUF_PATH"; return 0; }
    echo "FluxKit: COMFYUI_GGUF_PATH=$COMFYUI_GGUF_PATH is not a ComfyUI-GGUF checkout (no nodes.py, ops.py)" >&2
    return 1
  fi
  _fluxkit_valid_commit "$FLUXKIT_GGUF_REF" || { echo "FluxKit: refusing FLUXKIT_GGUF_REF '$FLUXKIT_GGUF_REF' (a commit: 40 hex digits)" >&2; return 1; }
  dest="$FLUXKIT_FETCH_ROOT/ComfyUI-GGUF/$FLUXKIT_GGUF_REF"
  c="$HOME/ComfyUI-GGUF"
  if [ -f "$c/nodes.py" ] && [ -f "$c/ops.py" ]; then echo "$c"; return 0; fi
  if [ -f "$dest/nodes.py" ] && _fluxkit_at_commit "$dest" "$FLUXKIT_GGUF_REF"; then echo "$dest"; return 0; fi
  echo "FluxKit: no city96/ComfyUI-GGUF found; cloning $FLUXKIT_GGUF_URL ($FLUXKIT_GGUF_REF) into $dest" >&2
  rm -rf "$dest"
  _fluxkit_git_fetch "$FLUXKIT_GGUF_URL" "$FLUXKIT_GGUF_REF" "$FLUXKIT_GGUF_REF" "$dest" || {
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
