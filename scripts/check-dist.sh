#!/usr/bin/env bash
# Fails when the committed dist/ is not what the sources bundle to (the action runs dist/, so a
# stale one would ship old code).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run -s bundle >/dev/null
if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "dist/ is stale: run 'npm run bundle' and commit dist/ with the sources that produced it." >&2
  git status --porcelain -- dist | head -20 >&2
  exit 1
fi
echo "dist/ matches the sources"
