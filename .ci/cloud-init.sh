#!/usr/bin/env bash
# Install Debian's `cloud-init` package, so test/cloudInit.test.ts can validate the Redis VM's
# cloud-config with the real `cloud-init schema --config-file` (it fails, not skips, under CI=true
# when the binary is missing).
#
# Idempotent: safe to run any number of times; it does nothing when `cloud-init` already answers.
# Target: a Debian 12 (bookworm) machine, run as root (or with passwordless sudo).
#
# The package's maintainer scripts would enable cloud-init's boot services; on a CI machine nothing
# boots through them (they run only when a datasource is found at boot), and `policy-rc.d` keeps
# apt from starting anything now.
set -euo pipefail

log() { echo "[cloud-init.sh] $*" >&2; }

works() { command -v cloud-init >/dev/null 2>&1 && cloud-init --version >/dev/null 2>&1; }

if works; then
  log "already installed: $(cloud-init --version 2>&1)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
  else
    log "must run as root (or with passwordless sudo): it installs a Debian package"
    exit 1
  fi
fi

log "installing Debian's cloud-init package"
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
${SUDO} apt-get install -y -q --no-install-recommends cloud-init

if ! works; then
  log "cloud-init still does not run after apt-get install"
  exit 1
fi
log "installed: $(cloud-init --version 2>&1)"
