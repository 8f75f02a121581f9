#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt already uses (its main archive), so that no host is
# written into the scripts that fetch Debian packages (build-local-bases.sh, install-buildx.sh).
# MIRROR overrides it. Exits 1, saying so, when there is none.
set -euo pipefail
if [ -n "${MIRROR:-}" ]; then
  echo "$MIRROR"
  exit 0
fi
mirror=$(grep -hoE '^(URIs:|deb)\s+\S+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
if [ -z "$mirror" ]; then
  echo "no Debian mirror in this machine's apt sources; set MIRROR" >&2
  exit 1
fi
echo "$mirror"
