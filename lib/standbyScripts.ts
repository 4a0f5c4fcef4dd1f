/**
 * The shell scripts the database-failover Jobs run, as text (POSIX sh, `psql` as the only client):
 * the lag gate before a planned switchover, the promotion of a self-managed or `existing`-mode
 * standby, and the check that the new primary accepts writes before the registry leaves read-only
 * mode. On RDS and Azure the promotion itself is the cloud's API, driven by Pulumi, not
 * PROMOTE_SCRIPT; the gate and the verification apply there too. Tests run the same text with the
 * real `sh`, `psql` and a PostgreSQL primary with a streaming standby (test/standbyScripts.test.ts).
 *
 * Each script prints exactly one JSON line on stdout and its explanation on stderr; when it fails
 * it writes that explanation to TERMINATION_LOG (default /dev/termination-log, what Kubernetes shows
 * as the Job's reason). Exit codes: 0 the check passed, 1 it did not (the message says why and the
 * fix), 2 a server could not be read or an input is invalid (nothing is known). PGCONNECT_TIMEOUT
 * defaults to 10 s. The URLs are libpq connection strings; they are never printed (psql's own
 * errors name host and port, not the password).
 *
 * What none of them does: fence the old primary. After an unplanned failover the old primary may
 * come back; nothing here stops it, and both servers then accept writes (test/standbyScripts.test.ts
 * pins that). Stopping it, or cutting clients off from it, is the runbook's step before the registry
 * is pointed at the promoted server.
 */

/** Default WAIT_SECONDS of the lag gate and of the promotion. */
export const STANDBY_WAIT_SECONDS = 60;

/**
 * Before a planned switchover, with the registry read-only: exit 0 when the standby has replayed
 * the primary's WAL up to where it was when the gate started, within MAX_LAG_BYTES.
 *
 * It reads the primary's `pg_current_wal_lsn()` (the position written so far) and its
 * `pg_control_system().system_identifier` once, then polls the standby every second, for up to
 * WAIT_SECONDS, for `pg_is_in_recovery()`, `pg_last_wal_receive_lsn()`, `pg_last_wal_replay_lsn()`,
 * `pg_is_wal_replay_paused()` and its own system identifier, computing the lag on the standby as
 * `pg_wal_lsn_diff('<primary LSN>', pg_last_wal_replay_lsn())` (not below 0).
 *
 * Why the primary's position is read once: a read-only registry writes nothing, yet the primary's
 * LSN keeps moving (checkpoints after activity, autovacuum, the running-xacts record the
 * bgwriter logs every 15 s after activity, a managed service's heartbeat table), so "lag is 0
 * against the primary's position now" may never hold while every write the registry made is long
 * replayed. The question is whether everything written before the gate started is on the
 * standby, which a fixed target answers. Forcing a `CHECKPOINT` or `pg_switch_wal()` would only
 * write more WAL, needs privileges (superuser, or pg_checkpoint from PostgreSQL 15) and proves
 * nothing more. A standby of another cluster (a wrong STANDBY_URL) could be "ahead" of any target,
 * hence the system-identifier check.
 *
 * Env: PRIMARY_URL, STANDBY_URL; optional MAX_LAG_BYTES (0), WAIT_SECONDS (60), TERMINATION_LOG.
 * The role needs EXECUTE on pg_control_system (PUBLIC by default). Prints:
 * `{"primaryLsn":"0/3000148","receiveLsn":…,"replayLsn":…,"lagBytes":0,"receiveLagBytes":0,
 * "maxLagBytes":0,"inRecovery":true,"replayPaused":false,"sameSystem":true,"waitedSeconds":0,"ok":true}`.
 * Exit 1: the standby is not in recovery (already promoted, or the URL names a primary), belongs to
 * another cluster, or is still behind after WAIT_SECONDS (paused replay, WAL not received, or not
 * yet replayed: the message says which). Exit 2: a server cannot be read.
 */
export const LAG_GATE_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
max="\${MAX_LAG_BYTES:-0}"
wait="\${WAIT_SECONDS:-${STANDBY_WAIT_SECONDS}}"
export PGCONNECT_TIMEOUT="\${PGCONNECT_TIMEOUT:-10}"
fail() { echo "lag gate: $1" | tee "$log" >&2; exit "$2"; }
case "$max" in ''|*[!0-9]*) fail "MAX_LAG_BYTES must be a whole number of bytes, not \\"$max\\"" 2 ;; esac
case "$wait" in ''|*[!0-9]*) fail "WAIT_SECONDS must be a whole number of seconds, not \\"$wait\\"" 2 ;; esac
if ! primary=$(psql "$PRIMARY_URL" -X -q -At -v ON_ERROR_STOP=1 -c "SELECT pg_current_wal_lsn() || ' ' || system_identifier FROM pg_control_system()" 2>&1); then
  fail "cannot read the primary's WAL position (PRIMARY_URL), so the standby's lag is unknown: $primary" 2
fi
target="\${primary% *}"
sysid="\${primary#* }"
sql=$(cat <<'SQL'
WITH s AS (
    SELECT pg_is_in_recovery() AS in_recovery,
           pg_last_wal_receive_lsn() AS receive,
           pg_last_wal_replay_lsn() AS replay,
           system_identifier::text = :'sysid' AS same_system
    FROM pg_control_system()
), v AS (
    SELECT s.*,
           CASE WHEN s.in_recovery THEN pg_is_wal_replay_paused() ELSE false END AS paused,
           -- greatest() skips NULLs: no position (or no recovery) must stay an unknown lag.
           CASE WHEN s.in_recovery AND s.replay IS NOT NULL
                THEN greatest(pg_wal_lsn_diff(:'target'::pg_lsn, s.replay), 0)::bigint END AS lag,
           CASE WHEN s.in_recovery AND s.receive IS NOT NULL
                THEN greatest(pg_wal_lsn_diff(:'target'::pg_lsn, s.receive), 0)::bigint END AS receive_lag
    FROM s
), r AS (
    SELECT v.*,
           CASE WHEN NOT v.in_recovery THEN 'not-in-recovery'
                WHEN NOT v.same_system THEN 'other-system'
                WHEN v.lag IS NULL THEN 'no-replay'
                WHEN v.lag <= :max THEN 'ok'
                ELSE 'lagging' END AS verdict
    FROM v
)
SELECT r.verdict, r.lag, r.receive_lag, r.replay, r.receive, r.paused,
       (SELECT row_to_json(j) FROM (SELECT :'target' AS "primaryLsn", r.receive::text AS "receiveLsn",
               r.replay::text AS "replayLsn", r.lag AS "lagBytes", r.receive_lag AS "receiveLagBytes",
               :max::bigint AS "maxLagBytes", r.in_recovery AS "inRecovery", r.paused AS "replayPaused",
               r.same_system AS "sameSystem", :waited AS "waitedSeconds", r.verdict = 'ok' AS ok) j)
FROM r;
SQL
)
start=$(date +%s)
waiting=0
# The first answer is the one the gate did not wait for: 0, not whatever second the clock turned
# since start (whole seconds); later ones count from start.
waited=0
while :; do
  if ! row=$(printf '%s\\n' "$sql" | psql "$STANDBY_URL" -X -q -At -v ON_ERROR_STOP=1 -v target="$target" -v sysid="$sysid" -v max="$max" -v waited="$waited" -f - 2>&1); then
    fail "cannot read the standby's replay position (STANDBY_URL): $row" 2
  fi
  row=$(printf '%s\\n' "$row" | tail -n 1)
  verdict="\${row%%|*}"; rest="\${row#*|}"
  lag="\${rest%%|*}"; rest="\${rest#*|}"
  receive_lag="\${rest%%|*}"; rest="\${rest#*|}"
  replay="\${rest%%|*}"; rest="\${rest#*|}"
  receive="\${rest%%|*}"; rest="\${rest#*|}"
  paused="\${rest%%|*}"; json="\${rest#*|}"
  case "$verdict" in
    ok)
      echo "$json"
      echo "lag gate: the standby has replayed the primary's WAL up to $target (lag $lag bytes, MAX_LAG_BYTES=$max): everything written before the gate started is on the standby" >&2
      exit 0 ;;
    not-in-recovery)
      echo "$json"
      fail "the STANDBY_URL server is not in recovery, so it is no standby and has no lag to measure: it was already promoted, or the URL names a primary. Point STANDBY_URL at the standby of PRIMARY_URL." 1 ;;
    other-system)
      echo "$json"
      fail "the STANDBY_URL server is not a copy of the PRIMARY_URL server (their pg_control_system().system_identifier differ, the primary's is $sysid): its position says nothing about this primary. Point STANDBY_URL at this primary's standby." 1 ;;
    lagging|no-replay) ;;
    *) fail "unexpected answer from the standby: $row" 2 ;;
  esac
  if [ "$waited" -ge "$wait" ]; then
    echo "$json"
    if [ "$paused" = t ]; then
      cause="Replay is paused on the standby (pg_is_wal_replay_paused() is true): resume it with SELECT pg_wal_replay_resume()."
    elif [ -z "$receive_lag" ] || [ "$receive_lag" -gt "$max" ]; then
      cause="The standby has not received that WAL yet (received up to \${receive:-nothing}): check its streaming from the primary (primary_conninfo, the network, pg_stat_wal_receiver on the standby)."
    else
      cause="The standby has received that WAL but not replayed it yet (slow replay, or replay waiting for queries on the standby: max_standby_streaming_delay)."
    fi
    fail "the standby is \${lag:-an unknown number of} bytes behind the primary after \${waited}s (primary at $target, standby replayed up to \${replay:-nothing}; MAX_LAG_BYTES=$max), so switching over now would lose the writes in between. $cause Keep the registry read-only longer and run the gate again when the standby has caught up (or raise WAIT_SECONDS)." 1
  fi
  if [ "$waiting" -eq 0 ]; then
    echo "lag gate: the standby is \${lag:-an unknown number of} bytes behind $target; waiting up to \${wait}s" >&2
    waiting=1
  fi
  sleep 1
  waited=$(( $(date +%s) - start ))
done
`;

/**
 * Promotes a standby this project does not manage through a cloud API (a self-managed or
 * `existing`-mode server): `SELECT pg_promote(wait => true, wait_seconds => WAIT_SECONDS)`
 * (PostgreSQL 12 or later), then checks on a new connection that `pg_is_in_recovery()` is false.
 * Idempotent: a server already out of recovery is reported as such (exit 0, nothing done).
 *
 * Env: STANDBY_URL; optional WAIT_SECONDS (60, at least 1), TERMINATION_LOG. The role needs
 * superuser or `GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer)`; the server hot_standby
 * (the default) so it accepts the connection. Prints
 * `{"promoted":true,"alreadyPrimary":false,"replayLsnBeforePromotion":"0/5000060","lsn":"0/50000D8","timeline":2}`:
 * the replay position before the promotion bounds what the new primary holds (writes the old
 * primary made after it are not there); the timeline is the new primary's, from
 * `pg_walfile_name(pg_current_wal_lsn())`. Exit 1: not promoted within WAIT_SECONDS, or
 * pg_promote failed (e.g. permission denied); exit 2: the standby cannot be read.
 * It does not stop the old primary (see the module comment).
 */
export const PROMOTE_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
wait="\${WAIT_SECONDS:-${STANDBY_WAIT_SECONDS}}"
export PGCONNECT_TIMEOUT="\${PGCONNECT_TIMEOUT:-10}"
fail() { echo "promote: $1" | tee "$log" >&2; exit "$2"; }
case "$wait" in ''|0|*[!0-9]*) fail "WAIT_SECONDS must be a whole number of seconds, at least 1, not \\"$wait\\"" 2 ;; esac
if ! state=$(psql "$STANDBY_URL" -X -q -At -v ON_ERROR_STOP=1 -c "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()" 2>&1); then
  fail "cannot reach the standby (STANDBY_URL), so it was not promoted: $state" 2
fi
state=$(printf '%s\\n' "$state" | tail -n 1)
replay="\${state#*|}"
error=""
case "$state" in
  "f|"*) already=true ;;
  "t|"*)
    already=false
    echo "promote: promoting the standby (replayed up to \${replay:-nothing}), waiting up to \${wait}s" >&2
    if ! out=$(psql "$STANDBY_URL" -X -q -At -v ON_ERROR_STOP=1 -c "SELECT pg_promote(wait => true, wait_seconds => $wait)" 2>&1); then
      error=" pg_promote failed: $out"
    fi ;;
  *) fail "unexpected answer from the standby: $state" 2 ;;
esac
sql=$(cat <<'SQL'
SELECT r, (SELECT row_to_json(j) FROM (
           SELECT NOT r AS promoted, :already AS "alreadyPrimary",
                  nullif(:'replay', '') AS "replayLsnBeforePromotion",
                  CASE WHEN NOT r THEN pg_current_wal_lsn()::text END AS lsn,
                  CASE WHEN NOT r
                       THEN ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
                  END AS timeline) j)
FROM pg_is_in_recovery() AS r;
SQL
)
if ! final=$(printf '%s\\n' "$sql" | psql "$STANDBY_URL" -X -q -At -v ON_ERROR_STOP=1 -v already="$already" -v replay="$replay" -f - 2>&1); then
  fail "cannot read the standby after asking for its promotion, so it is unknown whether it was promoted: $final.$error" 2
fi
final=$(printf '%s\\n' "$final" | tail -n 1)
json="\${final#*|}"
echo "$json"
case "$final" in
  "f|"*)
    timeline=$(printf '%s' "$json" | sed -n 's/.*"timeline":\\([0-9]*\\).*/\\1/p')
    if [ "$already" = true ]; then
      echo "promote: the server is already a primary (not in recovery, timeline $timeline): nothing to do" >&2
    else
      echo "promote: the standby is now a primary on timeline $timeline; it had replayed up to \${replay:-nothing}. The old primary is not stopped by this: make sure nothing can write to it before the registry writes here" >&2
    fi
    exit 0 ;;
  *) fail "the standby is still in recovery after \${wait}s: it was not promoted (pg_promote waits for the end of recovery, which replays the WAL already received).$error Run this again (it is safe), raise WAIT_SECONDS, or read the server's log; the role needs superuser or EXECUTE on pg_promote(boolean, integer)." 1 ;;
esac
`;

/**
 * After a switchover and before the registry leaves read-only mode: exit 0 only when DATABASE_URL's
 * server accepts writes: `pg_is_in_recovery()` is false, `transaction_read_only` is off for this
 * role and database (so no `default_transaction_read_only` applies), and it assigns a transaction
 * id (`txid_current()` in a transaction rolled back: refused, e.g., near transaction-ID wraparound).
 *
 * Env: DATABASE_URL; optional TERMINATION_LOG. Prints
 * `{"inRecovery":false,"transactionReadOnly":false,"acceptsWrites":true}`. Exit 1: in recovery, read
 * only, or no transaction id (the message says which and the fix); exit 2: the server cannot be read.
 */
export const VERIFY_PRIMARY_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
export PGCONNECT_TIMEOUT="\${PGCONNECT_TIMEOUT:-10}"
fail() { echo "verify primary: $1" | tee "$log" >&2; exit "$2"; }
if ! state=$(psql "$DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 -c "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')" 2>&1); then
  fail "cannot reach the database (DATABASE_URL), so it is unknown whether it accepts writes: $state" 2
fi
state=$(printf '%s\\n' "$state" | tail -n 1)
case "$state" in
  "f|off")
    if ! out=$(psql "$DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 -c "BEGIN" -c "SELECT txid_current()" -c "ROLLBACK" 2>&1); then
      echo '{"inRecovery":false,"transactionReadOnly":false,"acceptsWrites":false}'
      fail "the server is a primary and not read-only, but it refuses to start a writing transaction: $out" 1
    fi
    echo '{"inRecovery":false,"transactionReadOnly":false,"acceptsWrites":true}'
    echo "verify primary: the server accepts writes (not in recovery, transaction_read_only off, a transaction id assigned)" >&2
    exit 0 ;;
  "t|"*)
    echo '{"inRecovery":true,"transactionReadOnly":true,"acceptsWrites":false}'
    fail "the server is in recovery (a standby, or its promotion has not finished), so it refuses writes. Promote it first (or wait for the promotion to finish), or point DATABASE_URL at the new primary; keep the registry read-only until this passes." 1 ;;
  "f|on")
    echo '{"inRecovery":false,"transactionReadOnly":true,"acceptsWrites":false}'
    fail "the server is a primary but read-only for this connection: default_transaction_read_only is on for the server, the database or the role (a cloud database may set it when its storage is full). Reset it (ALTER SYSTEM, ALTER DATABASE or ALTER ROLE ... RESET default_transaction_read_only, or the cloud's parameter), then run this again; keep the registry read-only until this passes." 1 ;;
  *) fail "unexpected answer from the database: $state" 2 ;;
esac
`;
