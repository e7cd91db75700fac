#!/usr/bin/env bash
# What the Comfy Registry and ComfyUI-Manager's compatibility boards check, offline (run by .ci/run):
#   1. `comfy node validate` (comfy-cli): must pass with no warning (a warning means a field is dropped on publish);
#   2. comfy-import-guard `check` of FluxKit against every ComfyUI tested (scripts/env.sh), each committed to a
#      local git repository under its release tag (the tool reads `git show <tag>:<path>`), so the check needs no
#      network: on the newest, FluxKit must read SAFE (--strict); on older ones nothing may "will break".
# The tools live in their own virtualenv (fluxkit_registry_tools). Exit status 1 on any finding.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

tools=$(fluxkit_registry_tools) || exit 1
status=0

echo "== comfy node validate =="
# (its security scan runs `python -m ruff` with comfy-cli's own interpreter: ruff is in the tools' venv)
out=$("$tools/bin/comfy" --skip-prompt --no-enable-telemetry node validate 2>&1)
rc=$?
echo "$out"
if [ "$rc" -ne 0 ] || grep -qiE "warning|error" <<<"$out"; then
  echo "registry check: comfy node validate reported a problem (exit $rc)"; status=1
fi

mapfile -t COMFYS < <(fluxkit_comfyuis_to_test)  # CI: the tested releases
if [ "${#COMFYS[@]}" -eq 0 ]; then
  echo "registry check: no ComfyUI checkout found for comfy-import-guard (set COMFYUI_PATHS)"; exit 1
fi
cache="$FLUXKIT_FETCH_ROOT/import-guard"
repo="$cache/ComfyUI"
want=$(for c in "${COMFYS[@]}"; do echo "$(fluxkit_comfyui_version "$c") $c"; done | sort -V)
if [ "$(cat "$cache/stamp" 2>/dev/null)" != "$want" ]; then
  echo "== comfy-import-guard: committing each ComfyUI under its tag in $repo =="
  rm -rf "$repo" && mkdir -p "$repo" && git -C "$repo" init -q || exit 1
  while read -r version dir; do
    # the checkout's own .gitignore keeps models, outputs and caches out
    git -C "$repo" --work-tree="$dir" add -A . >/dev/null \
      && git -C "$repo" -c user.name=fluxkit -c user.email=ci@fluxkit.invalid commit -qm "ComfyUI $version" \
      && git -C "$repo" tag -f "v$version" >/dev/null || exit 1
  done <<<"$want"
  git -C "$repo" checkout -qf HEAD -- . && git -C "$repo" reset -q --hard  # a clean tree: the tool warns on a dirty one
  echo "$want" > "$cache/stamp"
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/custom_nodes" && ln -s "$FLUXKIT_ROOT" "$root/custom_nodes/ComfyUI-FluxKit"
newest=$(tail -n 1 <<<"$want" | cut -d' ' -f1)
while read -r version _; do
  # The newest release must read SAFE (--strict: a warning fails too). On older ones a reference guarded by
  # try/except AttributeError for a feature they lack (CoreModelPatcher before 0.4) is a WARN by design: there
  # only "will break" fails.
  strict=(); [ "$version" = "$newest" ] && strict=(--strict)
  echo "== comfy-import-guard check --target v$version ${strict[*]} =="
  "$tools/bin/comfy-import-guard" --offline --cache-dir "$cache" check --comfy-dir "$root" --target "v$version" \
    --no-update "${strict[@]}" || { echo "registry check: comfy-import-guard: FluxKit not safe on $version"; status=1; }
done <<<"$want"
exit "$status"
