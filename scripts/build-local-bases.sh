#!/usr/bin/env bash
# Builds base images equivalent to the official slim ones from Debian packages, for hosts that
# cannot pull from a container registry (air-gapped runners, and this project's CI):
#   claude-sandbox/debian:bookworm-slim  - runtime base (stands in for debian:12-slim)
#   claude-sandbox/node:bookworm-slim    - builder base with nodejs and npm (stands in for node:*-slim)
#   claude-sandbox/debian:trixie-slim    - runtime base (stands in for debian:13-slim, the bundled
#                                          image's default base), when the mirror has trixie
# Pass them to the action as build-args BASE_IMAGE / BUILDER_IMAGE.
# Skips images that already exist unless --force is given. SUITES overrides the runtime suites.
set -euo pipefail

BUILDER_TAG=${BUILDER_TAG:-claude-sandbox/node:bookworm-slim}
BUILDER_SUITE=${BUILDER_SUITE:-bookworm}
SUITES=${SUITES:-bookworm trixie}
MIRROR=$(bash "$(dirname "$0")/debian-mirror.sh")
force=${1:-}

have() { docker image inspect "$1" >/dev/null 2>&1; }
tag_for() { echo "claude-sandbox/debian:$1-slim"; }

# A suite the mirror (or this debootstrap) does not know is skipped with a note, not an error:
# the tests fall back to bookworm.
suite_available() {
  [ -e "/usr/share/debootstrap/scripts/$1" ] || return 1
  curl -fsS -o /dev/null --max-time 10 "$MIRROR/dists/$1/Release" 2>/dev/null ||
    wget -q -O /dev/null --timeout=10 "$MIRROR/dists/$1/Release" 2>/dev/null
}

build_runtime() { # suite tag
  local suite=$1 tag=$2 root
  command -v debootstrap >/dev/null || {
    echo "debootstrap is not installed (apt-get install debootstrap)" >&2
    exit 1
  }
  root=$(mktemp -d /tmp/bases-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap $suite (minbase) ..."
  debootstrap --variant=minbase "$suite" "$root" "$MIRROR" >"/tmp/debootstrap-$suite.log" 2>&1 || {
    tail -20 "/tmp/debootstrap-$suite.log" >&2
    exit 1
  }
  # Slim it the way the official -slim images are: no docs, man pages or apt lists.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
  tar -C "$root" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$tag" >/dev/null
  rm -rf "$root"
  trap - EXIT
  echo "built $tag"
}

for suite in $SUITES; do
  tag=$(tag_for "$suite")
  if [ "$force" != "--force" ] && have "$tag"; then
    echo "local base present: $tag"
  elif suite_available "$suite"; then
    build_runtime "$suite" "$tag"
  else
    echo "note: $suite is not available from $MIRROR; skipping $tag"
  fi
done

if [ "$force" != "--force" ] && have "$BUILDER_TAG"; then
  echo "local base present: $BUILDER_TAG"
  exit 0
fi
ctx=$(mktemp -d /tmp/bases-builder.XXXXXX)
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $(tag_for "$BUILDER_SUITE")
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$BUILDER_TAG" "$ctx" >/dev/null 2>/tmp/builder-base.log || {
  tail -20 /tmp/builder-base.log >&2
  exit 1
}
rm -rf "$ctx"
echo "built $BUILDER_TAG"
