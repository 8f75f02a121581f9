#!/usr/bin/env bash
# Builds dist/: the action (main and post), the local CLI and the publish-only action, three ncc
# bundles built side by side. Each takes about 20 s (they all carry @actions/artifact's Azure
# client); one after another they took over a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist
ncc() { node node_modules/@vercel/ncc/dist/ncc/cli.js build "$@" --target es2022 -q; }
ncc src/index.ts -o dist --license licenses.txt &
main=$!
ncc src/cli.ts -o dist/cli &
cli=$!
ncc src/publish-index.ts -o dist/publish &
publish=$!
status=0
for pid in $main $cli $publish; do wait "$pid" || status=1; done
exit $status
