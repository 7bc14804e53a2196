#!/usr/bin/env bash
# Line coverage of services/** and shared/** as the whole suite exercises them:
# the nodes that the integration tests spawn write V8 coverage (TXN_NODE_COVERAGE,
# and the cluster then stops them with SIGTERM so that they do), merged with the
# test processes' own coverage that `npm test` (tap) left in .tap/coverage. c8 maps
# both back to the TypeScript sources. Nodes killed with SIGKILL (crash tests)
# write nothing, so the figure is a lower bound. Files that no process loads are
# not counted (type-only files compile to nothing).
#   bash scripts/services-coverage.sh [--check-lines N] [test files...]   (default: test/integration)
# With --check-lines, it fails when the tests fail or line coverage is below N%.
set -euo pipefail
cd "$(dirname "$0")/.."
check=()
if [ "${1:-}" = "--check-lines" ]; then
  check=(--check-coverage --lines "$2")
  shift 2
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/nodes" "$dir/all"
# Taken first: a tap run may clear its coverage directory.
if [ -d .tap/coverage ]; then
  cp .tap/coverage/*.json "$dir/all/" 2>/dev/null || true
  echo "merging the coverage of the last tap run ($(ls "$dir/all" | wc -l) processes)"
else
  echo "no .tap/coverage: run npm test first to count the unit tests too; counting the nodes alone"
fi
npm run build >/dev/null
if ! TXN_NODE_COVERAGE="$dir/nodes" TXN_RUNTIME=dist npx tap --disable-coverage "${@:-test/integration}" >"$dir/tap.log" 2>&1; then
  # The failures first (the tail alone may show only passing files), then the end of the run.
  grep -n -B2 -A30 '^\s*not ok' "$dir/tap.log" | head -200 || true
  tail -50 "$dir/tap.log"
  # Last, so that a log cut to its end still names what failed: the failing files and their failing assertions.
  echo "failed while measuring coverage:"
  grep -E '^(not ok|    not ok|        not ok)' "$dir/tap.log" | head -40 || true
  if [ ${#check[@]} -gt 0 ]; then echo "FAIL: tests failed while measuring coverage"; exit 1; fi
  echo "(some tests failed; coverage is still reported)"
fi
cp "$dir/nodes"/*.json "$dir/all/"
npx c8 report --temp-directory "$dir/all" --exclude-after-remap --include 'services/**' --include 'shared/**' --reporter text-summary --reporter text "${check[@]}"
