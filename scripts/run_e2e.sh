#!/usr/bin/env bash
# End-to-end tests with the real agents (tests/e2e): install the pinned agents first (this step
# needs the npm registry, or npm's cache), then run `pytest -m e2e` inside a network namespace
# that has nothing but loopback, so the agents reach the stand-in gateway and nothing else.
# Extra arguments go to pytest, e.g. scripts/run_e2e.sh -k codex -s
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
started=$(date +%s)

"$python" -m tests.e2e.agents

tests=("$python" -m pytest -m e2e tests/e2e -q -p no:cacheprovider "$@")
namespace=()
if command -v ip >/dev/null && command -v unshare >/dev/null; then
  if unshare --net true 2>/dev/null; then
    namespace=(unshare --net)
  elif unshare --map-root-user --net true 2>/dev/null; then
    namespace=(unshare --map-root-user --net)
  fi
fi

status=0
if [ ${#namespace[@]} -gt 0 ]; then
  # A new namespace's loopback starts down.
  "${namespace[@]}" bash -c 'ip link set lo up && exec "$@"' bash "${tests[@]}" || status=$?
else
  echo "warning: no network namespace here (needs unshare and ip, and the right to use them);" \
    "running the agents with this machine's network" >&2
  MEGALLM_E2E_NETWORK=allow "${tests[@]}" || status=$?
fi
echo "e2e: $(($(date +%s) - started)) s in all, agent installs included" >&2
exit "$status"
