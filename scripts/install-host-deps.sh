#!/usr/bin/env bash
# Installs what a fresh machine of this kind lacks to run the real parts of the tests:
# a Docker engine (Debian's docker.io), debootstrap for the local base images, zstd, socat, and
# unzip (the artifact tests list the uploaded zip), Debian's docker-registry (the tests' stand-in
# for Docker Hub and ghcr, started per test by __tests__/helpers/registry.ts), and the buildx CLI
# plugin (what GitHub-hosted runners build with; scripts/install-buildx.sh). Idempotent: skips
# what is already there. Needs root (scripts/provision.sh runs it as root or through sudo).
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing with apt-get: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Start the daemon when none answers, and wait (bounded) until it does.
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd"
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/dockerd.log" >&2; tail -20 /tmp/dockerd.log >&2; exit 1; }
fi
echo "docker daemon: $(docker version --format '{{.Server.Version}}')"

# The package starts a registry service with htpasswd auth where an init system runs; the tests
# start their own (no auth, loopback, a temp directory), so the packaged one is not wanted.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

docker buildx version >/dev/null 2>&1 || bash "$(dirname "$0")/install-buildx.sh"

# An unprivileged runner user in the docker group, as GitHub-hosted runners have (uid 1001):
# the e2e suite runs the action as it once, since everything else here runs as root.
if ! id sandbox-runner >/dev/null 2>&1; then
  echo "adding the user sandbox-runner (uid 1001, group docker) for the non-root runner test"
  useradd --create-home --uid 1001 --groups docker sandbox-runner 2>/dev/null ||
    useradd --create-home --groups docker sandbox-runner
fi
