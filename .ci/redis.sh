#!/usr/bin/env bash
# Install Debian's `redis-server` package, so test/redisServer.test.ts can start the real
# `/usr/bin/redis-server` with the Redis VM's rendered redis.conf (it fails, not skips, under
# CI=true when the binary is missing).
#
# Idempotent: safe to run any number of times; the install is skipped when `redis-server` already
# answers, and stopping/disabling the distribution's service does nothing when it is already so.
# Target: a Debian 12 (bookworm) machine (or Ubuntu, as on GitHub's runners), run as root (or with
# passwordless sudo), with or without systemd.
#
# The test starts its own servers, each on a free loopback port with its own data directory; the
# package's `redis-server` service (on 127.0.0.1:6379, with /var/lib/redis) is not wanted: it is
# kept from starting during the install (`policy-rc.d`), then stopped and disabled, so it does not
# come back at the next boot either.
set -euo pipefail

SERVICE=redis-server
# Where Debian's init script and systemd unit keep the service's pid.
PIDFILE=/run/redis/redis-server.pid

log() { echo "[redis.sh] $*" >&2; }

works() { [ -x /usr/bin/redis-server ] && /usr/bin/redis-server --version >/dev/null 2>&1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
  else
    log "must run as root (or with passwordless sudo): it installs a Debian package"
    exit 1
  fi
fi

# --- 1. install -------------------------------------------------------------------------------
if works; then
  log "already installed: $(/usr/bin/redis-server --version)"
else
  log "installing Debian's redis-server package"
  export DEBIAN_FRONTEND=noninteractive
  # Exit code 101 tells invoke-rc.d not to start services during the install.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "${policy}" ]; then
    printf '#!/bin/sh\nexit 101\n' | ${SUDO} tee "${policy}" >/dev/null
    ${SUDO} chmod 0755 "${policy}"
    created_policy=1
  fi
  cleanup() { if [ "${created_policy}" -eq 1 ]; then ${SUDO} rm -f "${policy}"; fi; }
  trap cleanup EXIT

  ${SUDO} apt-get update -q
  ${SUDO} apt-get install -y -q --no-install-recommends redis-server

  if ! works; then
    log "redis-server still does not run after apt-get install"
    exit 1
  fi
  log "installed: $(/usr/bin/redis-server --version)"
fi

# --- 2. the distribution's service: stopped and disabled --------------------------------------
service_running() {
  local pid
  pid="$(${SUDO} cat "${PIDFILE}" 2>/dev/null || true)"
  [ -n "${pid}" ] && ${SUDO} kill -0 "${pid}" 2>/dev/null
}

if [ -d /run/systemd/system ]; then
  # Booted with systemd (GitHub's runners): one command stops it now and for the next boot.
  if systemctl is-enabled --quiet "${SERVICE}.service" 2>/dev/null ||
    systemctl is-active --quiet "${SERVICE}.service" 2>/dev/null; then
    log "stopping and disabling ${SERVICE}.service"
    ${SUDO} systemctl disable --now "${SERVICE}.service" >&2
  fi
else
  # No systemd (a container): the SysV init script and its rc.d links.
  if service_running; then
    log "stopping the ${SERVICE} service"
    ${SUDO} /etc/init.d/"${SERVICE}" stop >&2
  fi
  # update-rc.d also removes the systemd unit's links, for a later boot with systemd.
  if compgen -G "/etc/rc[2-5].d/S*${SERVICE}" >/dev/null ||
    { command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet "${SERVICE}.service" 2>/dev/null; }; then
    log "disabling the ${SERVICE} service at boot"
    ${SUDO} update-rc.d "${SERVICE}" disable >&2
  fi
fi

# The stop is asynchronous for a moment (Redis writes its files before it exits).
for _ in $(seq 1 20); do
  service_running || break
  sleep 0.5
done
if service_running; then
  log "the distribution's ${SERVICE} (pid file ${PIDFILE}) is still running"
  exit 1
fi

log "ready: $(/usr/bin/redis-server --version); the ${SERVICE} service is stopped and disabled"
