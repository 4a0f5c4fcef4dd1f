#!/usr/bin/env bash
# Start a local PostgreSQL for the replication-status tests (test/replicationStatus.test.ts).
#
# Idempotent: safe to run any number of times; each step is skipped when already done.
# Target: a Debian 12 (bookworm) machine, run as root, with or without systemd.
#
#   1. Installs Debian's `postgresql` package (apt-get update + install) only when the
#      server binaries or pg_ctlcluster are missing.
#   2. Makes sure a cluster exists (Debian's pg_createcluster; the package normally creates
#      `<version>/main`) and listens on 127.0.0.1:$PGPORT.
#   3. Starts it with Debian's `pg_ctlcluster` (which runs the server as the `postgres` user)
#      and waits until `pg_isready` answers on 127.0.0.1.
#   4. Creates (or updates) the login role $PGUSER with password $PGPASSWORD and CREATEDB, so
#      the tests can create and drop one throwaway database per suite over TCP. Debian's default
#      pg_hba.conf already allows `host all all 127.0.0.1/32 scram-sha-256`; a matching line is
#      added only if it is missing.
#
# Environment (the same variables, with the same defaults, are read by test/support/postgres.ts):
#   PGHOST      127.0.0.1 (only used for the readiness check; the server listens on localhost)
#   PGPORT      5432
#   PGUSER      georep_test
#   PGPASSWORD  georep_test
set -euo pipefail

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-georep_test}"
PGPASSWORD="${PGPASSWORD:-georep_test}"
CLUSTER_NAME="${PG_CLUSTER_NAME:-main}"

log() { echo "[postgres.sh] $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs packages and starts the cluster as the postgres user)"
  exit 1
fi

server_binaries_present() {
  command -v pg_ctlcluster >/dev/null 2>&1 &&
    command -v pg_lsclusters >/dev/null 2>&1 &&
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# --- 1. install -------------------------------------------------------------------------------
if ! server_binaries_present; then
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q postgresql
fi
if ! server_binaries_present; then
  log "postgresql server binaries still missing after apt-get install"
  exit 1
fi

PG_VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"

# --- 2. cluster -------------------------------------------------------------------------------
if [ ! -f "/etc/postgresql/${PG_VERSION}/${CLUSTER_NAME}/postgresql.conf" ]; then
  log "creating cluster ${PG_VERSION}/${CLUSTER_NAME} on port ${PGPORT}"
  pg_createcluster --port "${PGPORT}" "${PG_VERSION}" "${CLUSTER_NAME}" >&2
fi

CONF_DIR="/etc/postgresql/${PG_VERSION}/${CLUSTER_NAME}"
need_restart=0

current_port="$(pg_conftool -s "${PG_VERSION}" "${CLUSTER_NAME}" postgresql.conf show port 2>/dev/null || true)"
if [ "${current_port}" != "${PGPORT}" ]; then
  log "setting port ${PGPORT} (was '${current_port:-unset}')"
  pg_conftool "${PG_VERSION}" "${CLUSTER_NAME}" postgresql.conf set port "${PGPORT}"
  need_restart=1
fi

listen="$(pg_conftool -s "${PG_VERSION}" "${CLUSTER_NAME}" postgresql.conf show listen_addresses 2>/dev/null || true)"
case ",${listen// /}," in
  *,localhost,* | *,127.0.0.1,* | *,\*,* | *,0.0.0.0,*) ;;
  ",,") ;; # unset: the built-in default is 'localhost'
  *)
    log "setting listen_addresses to localhost (was '${listen}')"
    pg_conftool "${PG_VERSION}" "${CLUSTER_NAME}" postgresql.conf set listen_addresses localhost
    need_restart=1
    ;;
esac

if ! grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+(scram-sha-256|md5)' \
  "${CONF_DIR}/pg_hba.conf"; then
  log "allowing password logins from 127.0.0.1 in pg_hba.conf"
  printf 'host    all             all             127.0.0.1/32            scram-sha-256\n' \
    >>"${CONF_DIR}/pg_hba.conf"
  need_restart=1
fi

# --- 3. start ---------------------------------------------------------------------------------
cluster_online() {
  pg_lsclusters -h | awk -v v="${PG_VERSION}" -v c="${CLUSTER_NAME}" \
    '$1 == v && $2 == c && $4 ~ /^online/ { found = 1 } END { exit !found }'
}

# The socket directory lives on /run, which is empty after a reboot of a machine without
# systemd-tmpfiles.
install -d -o postgres -g postgres -m 2775 /var/run/postgresql

if cluster_online; then
  if [ "${need_restart}" -eq 1 ]; then
    log "restarting cluster ${PG_VERSION}/${CLUSTER_NAME} to apply configuration"
    pg_ctlcluster --skip-systemctl-redirect "${PG_VERSION}" "${CLUSTER_NAME}" restart
  else
    log "cluster ${PG_VERSION}/${CLUSTER_NAME} already running"
  fi
else
  log "starting cluster ${PG_VERSION}/${CLUSTER_NAME}"
  pg_ctlcluster --skip-systemctl-redirect "${PG_VERSION}" "${CLUSTER_NAME}" start
fi

ready=0
for _ in $(seq 1 60); do
  if pg_isready -q -h "${PGHOST}" -p "${PGPORT}"; then
    ready=1
    break
  fi
  sleep 0.5
done
if [ "${ready}" -ne 1 ]; then
  log "PostgreSQL did not become ready on ${PGHOST}:${PGPORT}; last log lines:"
  tail -n 30 "/var/log/postgresql/postgresql-${PG_VERSION}-${CLUSTER_NAME}.log" >&2 || true
  exit 1
fi

# --- 4. test role -----------------------------------------------------------------------------
# psql variables keep the role name and password out of the SQL text (:"..." / :'...' quoting).
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "${PGPORT}" -d postgres \
  -v role="${PGUSER}" -v pass="${PGPASSWORD}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN CREATEDB PASSWORD :'pass';
SQL

# Prove the tests' connection works the way they will make it: TCP + password.
PGPASSWORD="${PGPASSWORD}" psql -X -q -h "${PGHOST}" -p "${PGPORT}" -U "${PGUSER}" -d postgres \
  -v ON_ERROR_STOP=1 -c 'SELECT 1' >/dev/null

log "ready: postgresql://${PGUSER}:***@${PGHOST}:${PGPORT}/postgres (PostgreSQL ${PG_VERSION})"
