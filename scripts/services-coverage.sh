#!/usr/bin/env bash
# Line coverage of the service adapters (services/**, shared/io/**) as the
# integration tests exercise them: every node the tests spawn writes V8
# coverage (TXN_NODE_COVERAGE), and c8 maps it back to the TypeScript
# sources. A measurement, not a gate: nodes killed with SIGKILL (crash tests)
# write nothing, so the figure is a lower bound.
#   bash scripts/services-coverage.sh [test files...]   (default: test/integration)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
npm run build >/dev/null
TXN_NODE_COVERAGE="$dir" TXN_RUNTIME=dist npx tap --disable-coverage "${@:-test/integration}" >/dev/null || echo "(some tests failed; coverage is still reported)"
npx c8 report --temp-directory "$dir" --exclude-after-remap --include 'services/**' --include 'shared/io/**' --reporter text-summary --reporter text
rm -rf "$dir"
