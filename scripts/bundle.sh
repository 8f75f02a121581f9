#!/usr/bin/env bash
# Builds dist/: the action (main and post), the local CLI and the publish-only action.
# tsc transpiles src/ once, without type checking (`npm run build` type-checks; CI runs it), and
# ncc bundles the JavaScript, three bundles side by side. Handing ncc the TypeScript made each
# bundle type-check the whole program again: about 50 s in all on two cores, long enough to be
# cut off by a time limit on a loaded machine; this way it is about 15 s.
set -euo pipefail
cd "$(dirname "$0")/.."
# Inside the package (its own per checkout, so worktrees bundle side by side), so the JavaScript
# resolves node_modules and is ESM ("type": "module").
js=.bundle-js
rm -rf dist "$js"
node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit false --noCheck --outDir "$js" --rootDir src
ncc() { node node_modules/@vercel/ncc/dist/ncc/cli.js build "$@" --target es2022 -q; }
ncc "$js/index.js" -o dist --license licenses.txt &
main=$!
ncc "$js/cli.js" -o dist/cli &
cli=$!
ncc "$js/publish-index.js" -o dist/publish &
publish=$!
status=0
for pid in $main $cli $publish; do wait "$pid" || status=1; done
rm -rf "$js"
exit $status
