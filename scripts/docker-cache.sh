#!/usr/bin/env bash
# Fills .npm-cache/ with every package of package-lock.json, so that
# `docker build` installs offline (npm inside the build cannot reach the
# registry on every machine). Leaves the repo's node_modules alone.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$repo/package.json" "$repo/package-lock.json" "$work/"
(cd "$work" && npm ci --cache "$repo/.npm-cache" --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "npm cache for the image: $repo/.npm-cache ($(du -sh "$repo/.npm-cache" | cut -f1))"
