/**
 * The shell scripts the region-lifecycle Jobs run, as text: the status report, the retirement
 * gate, the backfill, and `util.removelocation` with its verification. Tests run the same text
 * with the real `sh`, `psql` and PostgreSQL (test/lifecycleScripts.test.ts).
 */

/** Where the Quay image reads its config (QUAYCONF=/quay-registry/conf in the image; the operator mounts /conf/stack). */
export const QUAY_CONFIG_MOUNTS = ["/quay-registry/conf/stack", "/conf/stack"] as const;

/** Mount path of the replication-status SQL in Job pods. */
export const SQL_MOUNT = "/sql";

/**
 * Runs the status SQL and prints its one-line JSON verdict (docs: sql/replication-status.sql).
 * Env: DATABASE_URL, LOCATIONS; optional SQL_FILE.
 */
export const STATUS_SCRIPT = `set -eu
exec psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -v locations="$LOCATIONS" -f "\${SQL_FILE:-${SQL_MOUNT}/replication-status.sql}"
`;

/**
 * The retirement gate: exit 0 only when replication to LOCATIONS is complete; otherwise write why
 * (blobs missing per location, queue counts) to the termination log and exit 1, so the Job fails
 * and \`pulumi up\` stops before the bundle changes. Env: DATABASE_URL, LOCATIONS, RETIRING;
 * optional SQL_FILE, TERMINATION_LOG.
 */
export const GATE_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
if ! out=$(psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -v locations="$LOCATIONS" -f "\${SQL_FILE:-${SQL_MOUNT}/replication-status.sql}" 2>&1); then
  echo "gate: cannot read the replication status, so retiring $RETIRING is not safe: $out" | tee "$log" >&2
  exit 2
fi
echo "$out"
if printf '%s' "$out" | grep -Eq '"complete" ?: ?true'; then
  echo "gate: every blob in use is in every remaining location ($LOCATIONS) and no replication item is left"
  exit 0
fi
missing=$(printf '%s' "$out" | sed -n 's/.*"missingPlacements" \\{0,1\\}: \\{0,1\\}\\({[^}]*}\\).*/\\1/p')
rows=$(printf '%s' "$out" | sed -n 's/.*"missingLocations" \\{0,1\\}: \\{0,1\\}\\(\\[[^]]*\\]\\).*/\\1/p')
queue=$(printf '%s' "$out" | sed -n 's/.*"queue" \\{0,1\\}: \\{0,1\\}\\({[^}]*}\\).*/\\1/p')
echo "gate: retiring $RETIRING would lose data. Blobs missing per remaining location: $missing; locations without a row: $rows; replication queue: $queue. Let replication finish (for dead items, bump lifecycle.backfillRun to run the backfill again), then run pulumi up again." | tee "$log" >&2
exit 1
`;

/** Enqueues every missing copy for the configured default locations (it neither copies nor waits). */
export const BACKFILL_SCRIPT = `set -eu
cd "\${QUAYDIR:-/quay-registry}"
python -m util.backfillreplication
echo '{"backfill":"enqueued"}'
`;

/**
 * Runs \`util.removelocation\` non-interactively and trusts its output, not its exit code (it exits 0
 * even when it fails): success is the line "Deleted location <LOCATION>" and no traceback.
 * Env: LOCATION; optional TERMINATION_LOG, QUAYDIR.
 */
export const REMOVE_LOCATION_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
cd "\${QUAYDIR:-/quay-registry}" || exit 2
out=$(echo y | python -m util.removelocation "$LOCATION" 2>&1)
code=$?
printf '%s\\n' "$out"
if [ "$code" -eq 0 ] && printf '%s\\n' "$out" | grep -qxF "Deleted location $LOCATION" && ! printf '%s\\n' "$out" | grep -qE 'Traceback|Error|Canceling operation|not enabled'; then
  exit 0
fi
echo "removelocation $LOCATION failed (exit $code); its output: $out" | tee "$log" >&2
exit 1
`;

/**
 * Verifies after \`util.removelocation\` that the location row and its placements are gone.
 * Env: DATABASE_URL, LOCATION; optional TERMINATION_LOG.
 */
export const VERIFY_REMOVAL_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
left=$(printf "SELECT count(*) FROM imagestoragelocation WHERE name = :'loc';\\n" | psql "$DATABASE_URL" -X -qtA -v ON_ERROR_STOP=1 -v loc="$LOCATION" 2>&1) || { echo "verify: $left" | tee "$log" >&2; exit 2; }
if [ "$left" = "0" ]; then
  echo "{\\"removedLocation\\":\\"$LOCATION\\",\\"verified\\":true}"
  exit 0
fi
echo "verify: location $LOCATION still has $left row(s) in imagestoragelocation after removelocation" | tee "$log" >&2
exit 1
`;
