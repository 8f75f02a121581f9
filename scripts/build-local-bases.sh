#!/usr/bin/env bash
# Builds base images equivalent to the official slim ones from Debian packages, for hosts that
# cannot pull from a container registry (air-gapped runners, and this project's CI):
#   claude-sandbox/debian:bookworm-slim  - runtime base (stands in for debian:12-slim)
#   claude-sandbox/node:bookworm-slim    - builder base with nodejs and npm (stands in for node:*-slim)
# Pass them to the action as build-args BASE_IMAGE / BUILDER_IMAGE.
# Skips images that already exist unless --force is given.
set -euo pipefail

RUNTIME_TAG=${RUNTIME_TAG:-claude-sandbox/debian:bookworm-slim}
BUILDER_TAG=${BUILDER_TAG:-claude-sandbox/node:bookworm-slim}
SUITE=${SUITE:-bookworm}
force=${1:-}

have() { docker image inspect "$1" >/dev/null 2>&1; }

if [ "$force" != "--force" ] && have "$RUNTIME_TAG" && have "$BUILDER_TAG"; then
  echo "local bases present: $RUNTIME_TAG $BUILDER_TAG"
  exit 0
fi

command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

if [ "$force" = "--force" ] || ! have "$RUNTIME_TAG"; then
  root=$(mktemp -d /tmp/bases-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap $SUITE (minbase) ..."
  debootstrap --variant=minbase "$SUITE" "$root" >/tmp/debootstrap.log 2>&1 || {
    tail -20 /tmp/debootstrap.log >&2; exit 1; }
  # Slim it the way the official -slim images are: no docs, man pages or apt lists.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
  tar -C "$root" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$RUNTIME_TAG" >/dev/null
  rm -rf "$root"
  trap - EXIT
  echo "built $RUNTIME_TAG"
fi

ctx=$(mktemp -d /tmp/bases-builder.XXXXXX)
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $RUNTIME_TAG
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$BUILDER_TAG" "$ctx" >/dev/null 2>/tmp/builder-base.log || {
  tail -20 /tmp/builder-base.log >&2; exit 1; }
rm -rf "$ctx"
echo "built $BUILDER_TAG"
