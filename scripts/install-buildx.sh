#!/usr/bin/env bash
# Installs the docker buildx CLI plugin from Debian 13's `docker-buildx` package without
# installing anything else of Debian 13: an apt source list for trixie in a private directory,
# `apt-get download docker-buildx`, and the plugin binary (a static Go binary) unpacked into the
# docker CLI's per-user plugin directory, ${DOCKER_CONFIG:-~/.docker}/cli-plugins/. With this
# engine's default `docker` driver, `docker buildx build --load` works as on GitHub-hosted runners.
#
# Per-user rather than system-wide on purpose: a test (or a developer) makes the same machine a
# runner without buildx by pointing DOCKER_CONFIG at an empty directory, so both builders are
# tested on one machine. Run it as the user who runs the tests (root here). Idempotent.
set -euo pipefail

plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
if [ -x "$plugins/docker-buildx" ] && docker buildx version >/dev/null 2>&1; then
  echo "buildx present: $(docker buildx version)"
  exit 0
fi

# The mirror this machine's apt already uses (so no host is named here); MIRROR overrides it.
mirror=$(bash "$(dirname "$0")/debian-mirror.sh")

private=$(mktemp -d /tmp/buildx-apt.XXXXXX)
trap 'rm -rf "$private"' EXIT
mkdir -p "$private/lists/partial" "$private/cache/archives/partial" "$private/etc/preferences.d"
cat >"$private/etc/trixie.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_private=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$private/etc"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=$private/etc/preferences.d"
  -o "Dir::State::Lists=$private/lists"
  -o "Dir::Cache=$private/cache"
  -o "APT::Architecture=$(dpkg --print-architecture)"
  # A private directory of root's: apt's _apt download sandbox could not write to it.
  -o "APT::Sandbox::User=root"
)
echo "fetching docker-buildx from Debian 13 (trixie) into a private apt directory"
apt-get "${apt_private[@]}" update -qq
(cd "$private" && apt-get "${apt_private[@]}" download docker-buildx >/dev/null)
deb=$(ls "$private"/docker-buildx_*.deb)
dpkg-deb -x "$deb" "$private/root"
mkdir -p "$plugins"
install -m 0755 "$private/root/usr/libexec/docker/cli-plugins/docker-buildx" "$plugins/docker-buildx"
echo "installed $(basename "$deb") as $plugins/docker-buildx: $(docker buildx version)"
