#!/usr/bin/env bash
# The test command (README), on a fresh machine too: for every ComfyUI found (see scripts/env.sh: $COMFYUI_PATHS,
# $COMFYUI_PATH, ~/ComfyUI, ~/ComfyUI-*) a virtualenv with that ComfyUI's requirements and a pytest run against it.
# The newest version runs the whole suite; each older one runs the integration tests and the tests that depend on
# the transformers line (`-m "comfyui or transformers"`), which are what differs between versions. In CI (CI=true)
# the versions are the tested releases (scripts/env.sh: FLUXKIT_TESTED_COMFYUI, 0.33.0 and 0.3.64), each found or
# fetched at its pinned commit. Finding no ComfyUI, it clones the pinned release; and city96/ComfyUI-GGUF for the
# GGUF tests likewise. If that fails too, a plain virtualenv runs everything else (integration tests skip, with the
# reason) — except in CI (CI=true), where a run in which no integration test ran fails. Extra arguments go to
# pytest. Ends with one summary line per version and a total.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

mapfile -t COMFYS < <(fluxkit_comfyuis_to_test)  # CI: the tested releases (fetched where missing)
if [ "${CI:-}" = true ] && [ -z "${COMFYUI_PATHS:-}${COMFYUI_PATH:-}" ]; then
  wanted=$(cut -d' ' -f1 <<< "$FLUXKIT_TESTED_COMFYUI" | paste -sd' ')
  if [ "${#COMFYS[@]}" -ne "$(wc -w <<< "$wanted")" ]; then
    echo "FluxKit: CI tests ComfyUI $wanted; found or fetched only: ${COMFYS[*]:-none}; CI=true: a run without integration tests FAILS (on each tested release)"
    exit 1
  fi
fi
if [ "${#COMFYS[@]}" -gt 0 ] && gguf=$(fluxkit_gguf_pack); then
  export COMFYUI_GGUF_PATH="$gguf"  # linked beside FluxKit by the GGUF tests
fi
if [ "${#COMFYS[@]}" -gt 0 ] && tools=$(fluxkit_registry_tools); then
  export FLUXKIT_COMFY_CLI="$tools/bin/comfy"  # `comfy node pack` for the registry-zip test
fi
LOGDIR=$(mktemp -d)
trap 'rm -rf "$LOGDIR"' EXIT
summary=()
status=0
total_passed=0 total_failed=0 total_skipped=0

count() { grep -oE "[0-9]+ $1" "$2" | tail -n1 | cut -d' ' -f1; }

run_suite() {  # label venv comfyui-path-or-empty pytest-args...
  local label=$1 venv=$2 comfy=$3 log rc p f e s ran
  shift 3
  log="$LOGDIR/$(echo "$label" | tr -c 'A-Za-z0-9.\n' _).log"
  echo "== FluxKit tests: $label =="
  if [ -n "$comfy" ]; then
    COMFYUI_PATH="$comfy" "$venv/bin/python" -m pytest "$@" 2>&1 | tee "$log"
  else
    COMFYUI_PATH="" "$venv/bin/python" -m pytest "$@" 2>&1 | tee "$log"  # empty: no ComfyUI, not ~/ComfyUI
  fi
  rc=${PIPESTATUS[0]}
  label="$label, transformers $("$venv/bin/python" -c 'import transformers; print(transformers.__version__)' 2>/dev/null || echo '?')"
  tail -n 5 "$log" > "$log.tail"
  p=$(count passed "$log.tail"); f=$(count failed "$log.tail"); e=$(count errors\? "$log.tail")
  s=$(count skipped "$log.tail")
  ran=$(grep -oE "FluxKit integration tests \(real ComfyUI\): [0-9]+ ran" "$log" | grep -oE "[0-9]+ ran" | tail -n1)
  p=${p:-0} f=$(( ${f:-0} + ${e:-0} )) s=${s:-0}
  total_passed=$((total_passed + p)) total_failed=$((total_failed + f)) total_skipped=$((total_skipped + s))
  if [ "$rc" -eq 5 ]; then
    summary+=("$label: collected no tests (pytest exit 5)"); status=1
  elif [ "${CI:-}" = true ] && [ "${ran:-0 ran}" = "0 ran" ]; then
    summary+=("$label: FAILED: no integration test ran (CI needs a ComfyUI; pytest exit $rc)"); status=1
  elif [ "$rc" -ne 0 ]; then
    summary+=("$label: FAILED (pytest exit $rc): $p passed, $f failed, $s skipped; integration ${ran:-0 ran}"); status=1
  else
    summary+=("$label: $p passed, $f failed, $s skipped; integration ${ran:-0 ran}")
  fi
}

if [ "${#COMFYS[@]}" -eq 0 ]; then
  if [ "${CI:-}" = true ]; then
    echo "FluxKit: no ComfyUI found or fetched; CI=true: a run without integration tests FAILS"
    exit 1
  fi
  echo "FluxKit: no ComfyUI found or fetched (set COMFYUI_PATH or COMFYUI_PATHS): integration tests will be SKIPPED"
  venv=$(fluxkit_venv "") || exit 1
  run_suite "no ComfyUI (whole suite)" "$venv" "" "$@"
else
  first=1
  for comfy in "${COMFYS[@]}"; do
    version=$(fluxkit_comfyui_version "$comfy")
    if ! venv=$(fluxkit_venv "$comfy"); then
      summary+=("ComfyUI $version ($comfy): could not install its requirements"); status=1; continue
    fi
    if [ "$first" = 1 ]; then
      run_suite "ComfyUI $version, whole suite" "$venv" "$comfy" "$@"
      first=0
    else
      run_suite "ComfyUI $version, integration + transformers tests" "$venv" "$comfy" -m "comfyui or transformers" "$@"
    fi
  done
fi

echo "== FluxKit test summary =="
for line in "${summary[@]}"; do echo "- $line"; done
echo "total: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit "$status"
