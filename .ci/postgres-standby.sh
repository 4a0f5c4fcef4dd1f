#!/usr/bin/env bash
# Start a PostgreSQL primary and a streaming standby of it (a `pg_basebackup -R` copy), for the
# promotion and lag-gate tests (test/standbyScripts.test.ts runs lib/standbyScripts.ts's Job
# scripts against them, stops the primary, promotes the standby and rebuilds it).
#
# Idempotent: safe to run any number of times; each step is skipped when already done, and a pair
# left broken (a standby promoted, stopped or behind, a server down) is repaired.
# Target: a Debian 12 (bookworm) machine, or Ubuntu (GitHub's runners), run as root (or through
# sudo), with or without systemd. The 5432 cluster of .ci/postgres.sh is not touched.
#
# Layout, under $PG_PAIR_DIR (default /var/lib/quay-georep/pg-pair):
#   primary/conf/   postgresql.conf, pg_hba.conf, pg_ident.conf (rewritten on every run)
#   primary/data/   the primary's data directory (initdb); 127.0.0.1:$PG_PRIMARY_PORT
#   standby/conf/   the same for the standby; 127.0.0.1:$PG_STANDBY_PORT
#   standby/data/   a `pg_basebackup -R -X stream` copy of the primary: standby.signal, and
#                   primary_conninfo in postgresql.auto.conf (with passfile=, no password)
#   */server.log    each server's log (pg_ctl -l)
#   run/            both servers' Unix sockets
#   pgpass          the replication role's password (0600), named by primary_conninfo
#   pair.json       where all of this is; test/support/standby.ts reads it
#   lock            held (a file with the holder's pid) by this script and by the tests, so they
#                   never change the pair at the same time; a dead holder's lock is taken over
# The configuration lives outside the data directories (as in Debian's clusters: data_directory
# and hba_file set in postgresql.conf, `pg_ctl -D <node>/conf`), so a pg_basebackup copy never
# carries the primary's port and each server keeps its own settings across rebuilds.
#
# Plain initdb/pg_ctl from Debian's binaries (/usr/lib/postgresql/<newest>/bin), not
# pg_createcluster: these servers are not Debian clusters, so neither pg_lsclusters, the
# postgresql service nor a reboot starts or stops them behind the tests' back.
#
# Who controls them: both servers run as, and $PG_PAIR_DIR belongs to, the OS user
# $PG_PAIR_OWNER: by default the user who ran `sudo` ($SUDO_USER, e.g. GitHub's `runner`), else
# `postgres`. pg_ctl refuses to run as root, so the tests run pg_ctl and pg_basebackup directly
# when they run as that user, and through `runuser -u <owner> --` when they run as root (as under
# .ci/run); as any other user they cannot control the pair, and they say so. A change of owner
# stops both servers, hands the directory over (chown -R) and starts them again.
#
# Steps:
#   1. Debian's postgresql package, only when the server binaries are missing.
#   2. The primary: initdb (superuser `postgres`, which the owner reaches over the socket by peer
#      authentication and a pg_ident map; scram-sha-256 over TCP), its configuration
#      (wal_level=replica, max_wal_senders, wal_keep_size; no replication slot, so a standby
#      thrown away by the tests pins no WAL), started; refused if it is in recovery.
#   3. Roles on the primary (they replicate to the standby): $PGUSER/$PGPASSWORD, LOGIN CREATEDB
#      as on 5432, with EXECUTE on pg_promote, pg_wal_replay_pause and pg_wal_replay_resume
#      (superuser-only by default; the promotion script's role needs pg_promote, the tests pause
#      replay); $PG_REPLICATION_USER, LOGIN REPLICATION, allowed by pg_hba from 127.0.0.1 only.
#   4. The standby: kept when it runs in recovery, is a copy of this primary (same
#      pg_control_system().system_identifier) and replays up to the primary's current LSN within
#      30 s (a paused replay is resumed); otherwise stopped, wiped and re-made with
#      `pg_basebackup -R -X stream -c fast`, started, and waited for the same way.
#   5. Both checked over TCP with the test role's password; pair.json written; locations printed.
#
# Environment (test/support/standby.ts reads PG_PAIR_DIR, PGUSER and PGPASSWORD, the rest from
# pair.json):
#   PG_PAIR_DIR              /var/lib/quay-georep/pg-pair
#   PG_PRIMARY_PORT          5433
#   PG_STANDBY_PORT          5434
#   PG_PAIR_OWNER            $SUDO_USER when set and not root, else postgres
#   PGUSER                   georep_test
#   PGPASSWORD               georep_test
#   PG_REPLICATION_USER      georep_replicator
#   PG_REPLICATION_PASSWORD  georep_replicator
set -euo pipefail

PAIR_DIR="${PG_PAIR_DIR:-/var/lib/quay-georep/pg-pair}"
PRIMARY_PORT="${PG_PRIMARY_PORT:-5433}"
STANDBY_PORT="${PG_STANDBY_PORT:-5434}"
TEST_USER="${PGUSER:-georep_test}"
TEST_PASSWORD="${PGPASSWORD:-georep_test}"
REPL_USER="${PG_REPLICATION_USER:-georep_replicator}"
REPL_PASSWORD="${PG_REPLICATION_PASSWORD:-georep_replicator}"
if [ -n "${PG_PAIR_OWNER:-}" ]; then
  OWNER="${PG_PAIR_OWNER}"
elif [ -n "${SUDO_USER:-}" ] && [ "${SUDO_USER}" != root ]; then
  OWNER="${SUDO_USER}"
else
  OWNER=postgres
fi
# The name primary_conninfo gives the standby (pg_stat_replication.application_name on the primary).
APPLICATION_NAME=georep_standby

# Every libpq variable of the caller (PGPORT=5432 for the other tests, a PGPASSWORD for another
# role, PGOPTIONS...) would leak into the connections below; they are all explicit instead.
while IFS= read -r var; do unset "${var}"; done < <(compgen -e | grep '^PG' || true)

log() { echo "[postgres-standby.sh] $*" >&2; }
die() {
  log "$*"
  exit 1
}

if [ "$(id -u)" -ne 0 ]; then
  die "must run as root (it may install packages, and it runs the servers as ${OWNER})"
fi
[ "${OWNER}" != root ] || die "PG_PAIR_OWNER=root: PostgreSQL refuses to run as root; name another user"
id -u "${OWNER}" >/dev/null 2>&1 || die "PG_PAIR_OWNER=${OWNER}: no such user"
OWNER_GROUP="$(id -gn "${OWNER}")"

# --- 1. install -------------------------------------------------------------------------------
server_binaries_present() {
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null &&
    compgen -G '/usr/lib/postgresql/*/bin/pg_basebackup' >/dev/null
}
if ! server_binaries_present; then
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q postgresql
fi
server_binaries_present || die "postgresql server binaries still missing after apt-get install"

PG_VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
BIN="/usr/lib/postgresql/${PG_VERSION}/bin"
for tool in initdb pg_ctl pg_basebackup psql postgres; do
  [ -x "${BIN}/${tool}" ] || die "${BIN}/${tool} is missing (PostgreSQL ${PG_VERSION})"
done

RUN_DIR="${PAIR_DIR}/run"
PASSFILE="${PAIR_DIR}/pgpass"
LOCK="${PAIR_DIR}/lock"

# Runs a command as the owner, from a directory the owner can read (pg_ctl and postgres fail in
# a cwd such as /root), with no inherited PG* variables (unset above).
as_owner() { (cd "${PAIR_DIR}" && runuser -u "${OWNER}" -- "$@"); }
conf_dir() { echo "${PAIR_DIR}/$1/conf"; }
data_dir() { echo "${PAIR_DIR}/$1/data"; }
port_of() { if [ "$1" = primary ]; then echo "${PRIMARY_PORT}"; else echo "${STANDBY_PORT}"; fi; }
pgctl() {
  local node="$1"
  shift
  as_owner "${BIN}/pg_ctl" -D "$(conf_dir "${node}")" "$@"
}
running() { pgctl "$1" status >/dev/null 2>&1; }
# psql as the bootstrap superuser `postgres`, over the node's socket: pg_ident maps the owner to
# it, so a change of owner keeps working.
psql_su() {
  local node="$1"
  shift
  as_owner "${BIN}/psql" -X -q -At -v ON_ERROR_STOP=1 -h "${RUN_DIR}" -p "$(port_of "${node}")" \
    -U postgres -d postgres "$@"
}

# --- directory, lock and owner ----------------------------------------------------------------
if [ ! -d "${PAIR_DIR}" ]; then
  install -d -m 0755 "$(dirname "${PAIR_DIR}")"
  install -d -m 0755 -o "${OWNER}" -g "${OWNER_GROUP}" "${PAIR_DIR}"
fi

take_lock() {
  local holder told=0
  for _ in $(seq 1 240); do
    # noclobber makes the redirection an O_EXCL create: one winner.
    if (set -o noclobber && echo "$$" >"${LOCK}") 2>/dev/null; then
      trap 'rm -f "${LOCK}"' EXIT
      return 0
    fi
    holder="$(cat "${LOCK}" 2>/dev/null || true)"
    if { [ -n "${holder}" ] && [ ! -d "/proc/${holder}" ]; } ||
      { [ -z "${holder}" ] && [ -n "$(find "${LOCK}" -mmin +1 2>/dev/null)" ]; }; then
      log "taking over the lock of a process that is gone (${holder:-no pid})"
      rm -f "${LOCK}"
      continue
    fi
    if [ "${told}" -eq 0 ]; then
      log "waiting for ${LOCK}, held by pid ${holder:-?} (a run of the standby tests?)"
      told=1
    fi
    sleep 0.5
  done
  die "${LOCK} is held by pid ${holder:-?} (the standby tests?) for 2 minutes; try again when it is done"
}
take_lock

# Another owner than last time (e.g. first run as root, then through sudo): hand everything over.
if [ "$(stat -c %U "${PAIR_DIR}")" != "${OWNER}" ]; then
  previous="$(stat -c %U "${PAIR_DIR}")"
  log "handing ${PAIR_DIR} over from ${previous} to ${OWNER}"
  for node in standby primary; do
    if [ -f "$(conf_dir "${node}")/postgresql.conf" ]; then
      (cd "${PAIR_DIR}" && runuser -u "${previous}" -- "${BIN}/pg_ctl" -D "$(conf_dir "${node}")" \
        -m fast -w -t 60 stop >/dev/null 2>&1) || true
    fi
  done
  chown -R "${OWNER}:${OWNER_GROUP}" "${PAIR_DIR}"
fi
install -d -m 0755 -o "${OWNER}" -g "${OWNER_GROUP}" "${PAIR_DIR}"
install -d -m 0755 -o "${OWNER}" -g "${OWNER_GROUP}" "${RUN_DIR}" "${PAIR_DIR}/primary" "${PAIR_DIR}/standby"
install -d -m 0755 -o "${OWNER}" -g "${OWNER_GROUP}" "$(conf_dir primary)" "$(conf_dir standby)"

# --- configuration ----------------------------------------------------------------------------
# Writes $2 to $1 when it differs; returns 0 when it changed the file.
write_if_changed() {
  local file="$1" content="$2"
  if [ -f "${file}" ] && [ "$(cat "${file}")" = "${content}" ]; then return 1; fi
  printf '%s\n' "${content}" >"${file}.new"
  chown "${OWNER}:${OWNER_GROUP}" "${file}.new"
  chmod 0644 "${file}.new"
  mv "${file}.new" "${file}"
  return 0
}

node_conf() {
  local node="$1"
  cat <<EOF
# Managed by .ci/postgres-standby.sh: rewritten on every run.
data_directory = '$(data_dir "${node}")'
hba_file = '$(conf_dir "${node}")/pg_hba.conf'
ident_file = '$(conf_dir "${node}")/pg_ident.conf'
cluster_name = 'georep-${node}'
listen_addresses = '127.0.0.1'
port = $(port_of "${node}")
unix_socket_directories = '${RUN_DIR}'
max_connections = 40
shared_buffers = 16MB
# Streaming replication (both nodes: the standby becomes a primary when promoted).
wal_level = replica
max_wal_senders = 10
wal_keep_size = 256MB
hot_standby = on
# A restarted primary is streamed from again within a tenth of a second: the walreceiver
# reconnects every 100 ms (the tests stop and start the primary between cases, and each then waits
# for the standby to catch up; at the default 5 s, or 1 s, that wait was most of a case's time).
wal_retrieve_retry_interval = 100ms
wal_receiver_timeout = 10s
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

HBA_CONF="$(
  cat <<EOF
# Managed by .ci/postgres-standby.sh: rewritten on every run.
local   all          postgres                            peer map=owner
local   all          all                                 peer
host    all          all               127.0.0.1/32      scram-sha-256
host    replication  ${REPL_USER}  127.0.0.1/32      scram-sha-256
EOF
)"

# Returns 0 when the node's configuration changed (a running server must restart).
configure() {
  local node="$1" changed=1
  write_if_changed "$(conf_dir "${node}")/postgresql.conf" "$(node_conf "${node}")" && changed=0
  write_if_changed "$(conf_dir "${node}")/pg_hba.conf" "${HBA_CONF}" && changed=0
  write_if_changed "$(conf_dir "${node}")/pg_ident.conf" "$(printf '%s\n%s' \
    "# Managed by .ci/postgres-standby.sh: the owner may log in as the superuser over the socket." \
    "owner  ${OWNER}  postgres")" && changed=0
  return "${changed}"
}

start() {
  local node="$1"
  log "starting the ${node} on 127.0.0.1:$(port_of "${node}")"
  if ! pgctl "${node}" -l "${PAIR_DIR}/${node}/server.log" -w -t 60 start >/dev/null; then
    log "the ${node} did not start; last log lines:"
    tail -n 30 "${PAIR_DIR}/${node}/server.log" >&2 || true
    exit 1
  fi
}

stop() {
  local node="$1"
  if running "${node}"; then
    log "stopping the ${node}"
    pgctl "${node}" -m fast -w -t 60 stop >/dev/null || pgctl "${node}" -m immediate -w -t 60 stop >/dev/null
  fi
}

# --- 2. primary -------------------------------------------------------------------------------
PRIMARY_DATA="$(data_dir primary)"
if [ -f "${PRIMARY_DATA}/PG_VERSION" ] && [ "$(cat "${PRIMARY_DATA}/PG_VERSION")" != "${PG_VERSION}" ]; then
  log "the primary was made by PostgreSQL $(cat "${PRIMARY_DATA}/PG_VERSION"), not ${PG_VERSION}: making it again"
  stop standby || true
  stop primary || true
  rm -rf "${PRIMARY_DATA}" "$(data_dir standby)"
fi
if [ ! -f "${PRIMARY_DATA}/PG_VERSION" ]; then
  log "creating the primary (initdb, PostgreSQL ${PG_VERSION}) in ${PRIMARY_DATA}"
  rm -rf "${PRIMARY_DATA}"
  install -d -m 0700 -o "${OWNER}" -g "${OWNER_GROUP}" "${PRIMARY_DATA}"
  as_owner "${BIN}/initdb" -D "${PRIMARY_DATA}" --username=postgres --encoding=UTF8 --locale=C \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  # The configuration is in primary/conf; copies here would only mislead (and be base-backed-up).
  rm -f "${PRIMARY_DATA}/postgresql.conf" "${PRIMARY_DATA}/pg_hba.conf" "${PRIMARY_DATA}/pg_ident.conf"
fi

if configure primary && running primary; then
  log "restarting the primary to apply its configuration"
  pgctl primary -m fast -w -t 60 restart -l "${PAIR_DIR}/primary/server.log" >/dev/null
fi
running primary || start primary
in_recovery="$(psql_su primary -c 'SELECT pg_is_in_recovery()')" ||
  die "cannot connect to the primary as postgres over ${RUN_DIR}; remove ${PAIR_DIR} and run this again"
[ "${in_recovery}" = f ] ||
  die "the server on port ${PRIMARY_PORT} is in recovery, not a primary; remove ${PAIR_DIR} and run this again"

# --- 3. roles ---------------------------------------------------------------------------------
# psql variables keep names and passwords out of the SQL text (:"..." / :'...' quoting).
psql_su primary -v role="${TEST_USER}" -v pass="${TEST_PASSWORD}" \
  -v repl="${REPL_USER}" -v repl_pass="${REPL_PASSWORD}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN CREATEDB PASSWORD :'pass';
GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer) TO :"role";
GRANT EXECUTE ON FUNCTION pg_wal_replay_pause() TO :"role";
GRANT EXECUTE ON FUNCTION pg_wal_replay_resume() TO :"role";
SELECT format('CREATE ROLE %I LOGIN REPLICATION', :'repl')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'repl') \gexec
ALTER ROLE :"repl" WITH LOGIN REPLICATION PASSWORD :'repl_pass';
SQL

printf '127.0.0.1:%s:*:%s:%s\n' "${PRIMARY_PORT}" "${REPL_USER}" "${REPL_PASSWORD}" >"${PASSFILE}.new"
chown "${OWNER}:${OWNER_GROUP}" "${PASSFILE}.new"
chmod 0600 "${PASSFILE}.new"
mv "${PASSFILE}.new" "${PASSFILE}"

# --- 4. standby -------------------------------------------------------------------------------
STANDBY_DATA="$(data_dir standby)"
PRIMARY_SYSID="$(psql_su primary -c 'SELECT system_identifier FROM pg_control_system()')"

# 0 when the standby is a running, unpaused copy of this primary that has replayed everything the
# primary had written when this was called (waits up to 30 s for the replay).
standby_healthy() {
  local target row
  running standby || return 1
  target="$(psql_su primary -c 'SELECT pg_current_wal_lsn()')"
  for _ in $(seq 1 60); do
    row="$(psql_su standby -v target="${target}" 2>/dev/null <<'SQL' || true
SELECT pg_is_in_recovery(), system_identifier,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END,
       COALESCE(pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= :'target'::pg_lsn, false)
FROM pg_control_system()
SQL
    )"
    case "${row}" in
      "t|${PRIMARY_SYSID}|f|t") return 0 ;;
      "t|${PRIMARY_SYSID}|t|"*)
        log "the standby's replay is paused (by an interrupted test?): resuming it"
        psql_su standby -c 'SELECT pg_wal_replay_resume()' >/dev/null
        ;;
      "t|${PRIMARY_SYSID}|f|f" | "") ;;
      *)
        log "the standby is not a streaming copy of this primary (in recovery|system id|paused|caught up: ${row})"
        return 1
        ;;
    esac
    sleep 0.5
  done
  log "the standby did not replay up to the primary's ${target} within 30 s"
  return 1
}

rebuild_standby() {
  stop standby
  log "making the standby: pg_basebackup -R from 127.0.0.1:${PRIMARY_PORT} into ${STANDBY_DATA}"
  rm -rf "${STANDBY_DATA}"
  install -d -m 0700 -o "${OWNER}" -g "${OWNER_GROUP}" "${STANDBY_DATA}"
  as_owner "${BIN}/pg_basebackup" --no-password -R -X stream -c fast -D "${STANDBY_DATA}" \
    -d "host=127.0.0.1 port=${PRIMARY_PORT} user=${REPL_USER} passfile=${PASSFILE} application_name=${APPLICATION_NAME}"
  start standby
}

standby_conf_changed=1
configure standby && standby_conf_changed=0
if [ -f "${STANDBY_DATA}/PG_VERSION" ]; then
  if running standby && [ "${standby_conf_changed}" -eq 0 ]; then
    log "restarting the standby to apply its configuration"
    pgctl standby -m fast -w -t 60 restart -l "${PAIR_DIR}/standby/server.log" >/dev/null
  fi
  running standby || start standby
  if standby_healthy; then
    log "the standby is streaming from the primary and has caught up"
  else
    rebuild_standby
    standby_healthy || die "the rebuilt standby does not replay from the primary; see ${PAIR_DIR}/standby/server.log"
  fi
else
  rebuild_standby
  standby_healthy || die "the new standby does not replay from the primary; see ${PAIR_DIR}/standby/server.log"
fi

# --- 5. check and describe --------------------------------------------------------------------
# The tests' connections, made the way they make them: TCP + password.
for port in "${PRIMARY_PORT}" "${STANDBY_PORT}"; do
  PGPASSWORD="${TEST_PASSWORD}" "${BIN}/psql" -X -q -h 127.0.0.1 -p "${port}" -U "${TEST_USER}" \
    -d postgres -v ON_ERROR_STOP=1 -c 'SELECT 1' >/dev/null
done

pair_json() {
  cat <<EOF
{
  "version": "${PG_VERSION}",
  "bindir": "${BIN}",
  "owner": "${OWNER}",
  "dir": "${PAIR_DIR}",
  "socketDir": "${RUN_DIR}",
  "lock": "${LOCK}",
  "passfile": "${PASSFILE}",
  "replicationUser": "${REPL_USER}",
  "applicationName": "${APPLICATION_NAME}",
  "primary": {
    "host": "127.0.0.1",
    "port": ${PRIMARY_PORT},
    "conf": "$(conf_dir primary)",
    "data": "$(data_dir primary)",
    "log": "${PAIR_DIR}/primary/server.log"
  },
  "standby": {
    "host": "127.0.0.1",
    "port": ${STANDBY_PORT},
    "conf": "$(conf_dir standby)",
    "data": "$(data_dir standby)",
    "log": "${PAIR_DIR}/standby/server.log"
  }
}
EOF
}
write_if_changed "${PAIR_DIR}/pair.json" "$(pair_json)" || true

log "ready (PostgreSQL ${PG_VERSION}, servers run as ${OWNER}, everything under ${PAIR_DIR}):"
log "  primary  postgresql://${TEST_USER}:***@127.0.0.1:${PRIMARY_PORT}/postgres  (pg_ctl -D $(conf_dir primary))"
log "  standby  postgresql://${TEST_USER}:***@127.0.0.1:${STANDBY_PORT}/postgres  (pg_ctl -D $(conf_dir standby))"
log "  logs     ${PAIR_DIR}/primary/server.log, ${PAIR_DIR}/standby/server.log; layout in ${PAIR_DIR}/pair.json"
