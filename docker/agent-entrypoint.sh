#!/usr/bin/env bash
# Entrypoint of the agent image. Runs as the unprivileged user on a read-only root filesystem.
# 1. checks that /workspace is a mounted git repository (clear message if not);
# 2. makes git usable: HOME is a tmpfs, and /workspace (its .git always) is owned by another uid;
# 3. checks the job's toolchain runs here, when the action asks (SANDBOX_TOOL_PROBE);
# 4. starts the forwarders from loopback ports to the host's Unix sockets in /run/sandbox
#    (the credential gateway and the egress proxy), since the container has no network;
# 5. execs the given command (claude ..., or claude when given only options), or stays up for
#    `docker exec` debugging when given nothing.
set -euo pipefail

fail() { echo "agent-entrypoint: $*" >&2; exit 64; }

if [ ! -d /workspace/.git ] && [ ! -f /workspace/.git ]; then
  if [ -z "$(ls -A /workspace 2>/dev/null)" ]; then
    fail "/workspace is not mounted. Mount the repository: docker run -v \"\$PWD:/workspace\" ..."
  fi
fi

# git refuses repositories owned by another uid unless told they are safe; the config goes through
# the environment because HOME may not be writable yet and the root filesystem is read-only.
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0=/workspace
if ! git_error=$(git -C /workspace rev-parse --git-dir 2>&1 >/dev/null); then
  fail "/workspace is not a git repository usable by uid $(id -u) (${git_error##*: }). Mount a checked-out repository (actions/checkout) at /workspace, readable by that user."
fi

if [ ! -w "${HOME:-/nonexistent}" ]; then
  fail "HOME ($HOME) is not writable; run with --tmpfs $HOME"
fi
# The same in the user's global config on the tmpfs HOME: the CLI runs git for its own context
# (git status, the repository's config checks) without the GIT_CONFIG_* variables above, and .git,
# mounted read-only and owned by the runner, is "dubious ownership" to our uid. Without this the
# CLI left git status out of the agent's context ("git's configuration for the repository could
# not be read in full"). The workspace's alias at its runner path (tool cache builds) too.
git config --global --add safe.directory /workspace
if [ -n "${SANDBOX_WORKSPACE_ALIAS:-}" ]; then
  git config --global --add safe.directory "$SANDBOX_WORKSPACE_ALIAS"
fi

# Forwarders: started only where the host provides the sockets.
SANDBOX_DIR=${SANDBOX_DIR:-/run/sandbox}
start_forwarder() { # socket port
  local sock="$SANDBOX_DIR/$1" port=$2
  [ -S "$sock" ] || return 0
  socat "TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:${sock}" &
  local pid=$! deadline=$((SECONDS + 20))
  # Wait until it listens, so the CLI's first request does not race it. Bounded by time, not by a
  # count of polls: on a loaded two-core runner a fixed 100 x 20 ms budget was seen to run out
  # before socat was scheduled. A socat that died is reported at once, with its status.
  while [ "$SECONDS" -lt "$deadline" ]; do
    grep -q ":$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp 2>/dev/null && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      local status=0
      wait "$pid" || status=$?
      fail "forwarder for $sock exited (status $status) before listening on port $port"
    fi
    sleep 0.02
  done
  fail "forwarder for $sock did not start on port $port within 20 s"
}
# The job's toolchain (the tool cache's bin directories, first on PATH): each tool the action knows
# answers its version command once, in an empty environment, before the CLI starts. One that
# cannot run here (built for another C library or a newer glibc) ends the container with 66 and
# the failing lines on stderr, before anything else has happened: the action starts it again
# without that tool, with a warning. The script is the action's, in the read-only socket directory.
if [ -n "${SANDBOX_TOOL_PROBE:-}" ] && [ -f "$SANDBOX_DIR/$SANDBOX_TOOL_PROBE" ]; then
  probe_failed=$(env -i HOME="$HOME" PATH=/usr/sbin:/usr/bin:/sbin:/bin sh "$SANDBOX_DIR/$SANDBOX_TOOL_PROBE" 2>/dev/null |
    grep -E '^TOOLPROBE [0-9]+ [1-9][0-9]*( |$)' || true)
  if [ -n "$probe_failed" ]; then
    printf '%s\n' "$probe_failed" >&2
    exit 66
  fi
fi
if [ "${SANDBOX_REQUIRE_GATEWAY:-}" = "1" ] && [ ! -S "$SANDBOX_DIR/gateway.sock" ]; then
  # The host made the socket; not seeing it means the Docker daemon does not share the runner's
  # filesystem (Docker-in-Docker). Exit 65 tells the action to explain that.
  echo "agent-entrypoint: the credential gateway's socket is not in $SANDBOX_DIR: the Docker daemon cannot see the runner's files" >&2
  exit 65
fi
start_forwarder gateway.sock "${SANDBOX_GATEWAY_PORT:-8080}"
start_forwarder proxy.sock "${SANDBOX_PROXY_PORT:-8081}"

if [ $# -eq 0 ]; then
  echo "agent-entrypoint: no command given; staying up for docker exec (Ctrl-C or docker stop to end)" >&2
  exec sleep infinity
fi
# Options alone (`docker run IMAGE -p ...`) are the CLI's; anything else is a command to run.
case "$1" in
  -*) set -- claude "$@" ;;
esac
exec "$@"
