#!/usr/bin/env bash
# Makes this machine ready for the demo and the tests, doing only what is missing, and says what
# it does. `npm test` and `npm run demo` call it first, so on a fresh Debian/Ubuntu machine they
# are the only commands needed. Asks nothing: installing needs root, or sudo without a password.
#
#   1. host packages and the Docker engine (scripts/install-host-deps.sh), daemon started, the
#      buildx plugin and Debian's docker-registry (the tests' local registry)
#   2. the local base images built from Debian packages (scripts/build-local-bases.sh)
#   3. npm dependencies (npm ci) when node_modules is missing (after a dependency change, run
#      npm ci yourself: a check that guessed from timestamps would reinstall after every checkout)
#   4. the bundle (npm run bundle) when dist/ is missing
#
# Precondition: Node.js >= 20 with npm (this script runs from an npm script) and git.
# PROVISION=0 skips it (for a machine set up by other means).
set -euo pipefail
cd "$(dirname "$0")/.."

[ "${PROVISION:-1}" = 0 ] && exit 0
say() { echo "provision: $*"; }

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "provision: Node.js >= 20 is needed (found $(node --version 2>/dev/null || echo none)); install it first, e.g. from your distribution or nodejs.org" >&2
  exit 1
fi

# Root runs the installers directly; anyone else through sudo, which must not ask.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    echo "provision: '$*' needs root; run as root or with passwordless sudo (or set it up once by hand and use PROVISION=0)" >&2
    exit 1
  fi
}

host_ready() {
  for tool in dockerd debootstrap zstd socat unzip ip docker-registry; do
    command -v "$tool" >/dev/null 2>&1 || return 1
  done
  docker info >/dev/null 2>&1 && id sandbox-runner >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1
}
if host_ready; then
  say "Docker engine $(docker version --format '{{.Server.Version}}' 2>/dev/null) running; host packages present"
else
  say "installing host packages and starting the Docker engine (scripts/install-host-deps.sh)"
  as_root bash scripts/install-host-deps.sh
fi

bases=(claude-sandbox/debian:bookworm-slim claude-sandbox/node:bookworm-slim)
if docker image inspect "${bases[@]}" >/dev/null 2>&1; then
  say "local base images present (${bases[*]})"
else
  say "building the local base images from Debian packages (scripts/build-local-bases.sh, about a minute)"
  as_root bash scripts/build-local-bases.sh
fi

if [ ! -f node_modules/jest/bin/jest.js ] || [ ! -f node_modules/tsx/package.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
else
  say "npm dependencies present"
fi

if [ ! -f dist/index.js ] || [ ! -f dist/cli/index.js ] || [ ! -f dist/publish/index.js ]; then
  say "bundling dist/ (npm run bundle)"
  npm run -s bundle
fi
