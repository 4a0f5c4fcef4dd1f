/**
 * The shell scripts the region-lifecycle Jobs run, as text: the status report, the retirement
 * gate, the backfill, and the removal Job's three steps (precheck, `util.removelocation`,
 * verification). Tests run the same text with the real `sh`, `psql` and PostgreSQL
 * (test/lifecycleScripts.test.ts).
 */

/** Where the Quay image reads its config (QUAYCONF=/quay-registry/conf in the image; the operator mounts /conf/stack). */
export const QUAY_CONFIG_MOUNTS = ["/quay-registry/conf/stack", "/conf/stack"] as const;

/**
 * Mount path of the lifecycle SQL in Job pods: replication-status.sql and removal-precheck.sql,
 * side by side (the precheck includes the status file from its own directory with `\ir`).
 */
export const SQL_MOUNT = "/sql";

/** Mount path of the removal Job's emptyDir, shared by its precheck and removelocation containers. */
export const STATE_MOUNT = "/work";

/** Default STATE_FILE: the precheck writes `present` or `absent` there; removelocation reads it. */
export const STATE_FILE = `${STATE_MOUNT}/location-state`;

/** Quay's own BLOBUPLOAD_DELETION_DATE_THRESHOLD default (two days), the precheck's default grace for uploads. */
export const UPLOAD_GRACE_MINUTES = 2880;

/**
 * Runs the status SQL and prints its one-line JSON verdict (docs: sql/replication-status.sql).
 * Env: DATABASE_URL, LOCATIONS; optional SQL_FILE.
 */
export const STATUS_SCRIPT = `set -eu
exec psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -v locations="$LOCATIONS" -f "\${SQL_FILE:-${SQL_MOUNT}/replication-status.sql}"
`;

/**
 * The retirement gate: exit 0 only when replication to LOCATIONS is complete; otherwise write why
 * (blobs missing per location, queue counts, dead items that block and the fix) to the
 * termination log and exit 1, so the Job fails and \`pulumi up\` stops before the bundle changes.
 * Env: DATABASE_URL, LOCATIONS, RETIRING; optional SQL_FILE, TERMINATION_LOG.
 */
export const GATE_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
if ! out=$(psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -v locations="$LOCATIONS" -f "\${SQL_FILE:-${SQL_MOUNT}/replication-status.sql}" 2>&1); then
  echo "gate: cannot read the replication status, so retiring $RETIRING is not safe: $out" | tee "$log" >&2
  exit 2
fi
echo "$out"
if printf '%s' "$out" | grep -Eq '"complete" ?: ?true'; then
  echo "gate: every blob in use is in every remaining location ($LOCATIONS) and no replication item that matters is left"
  exit 0
fi
missing=$(printf '%s' "$out" | sed -n 's/.*"missingPlacements" \\{0,1\\}: \\{0,1\\}\\({[^}]*}\\).*/\\1/p')
rows=$(printf '%s' "$out" | sed -n 's/.*"missingLocations" \\{0,1\\}: \\{0,1\\}\\(\\[[^]]*\\]\\).*/\\1/p')
queue=$(printf '%s' "$out" | sed -n 's/.*"queue" \\{0,1\\}: \\{0,1\\}\\({[^}]*}\\).*/\\1/p')
blocking=$(printf '%s' "$out" | sed -n 's/.*"deadBlocking" \\{0,1\\}: \\{0,1\\}\\([0-9][0-9]*\\).*/\\1/p')
if [ "\${blocking:-0}" -gt 0 ]; then
  fix="$blocking dead replication item(s) block it: their blobs still lack a remaining location and Quay never retries them. Bump lifecycle.backfillRun to run the backfill again, let replication finish, then run pulumi up again."
else
  fix="Let replication finish (if blobs are missing and nothing is queued for them, bump lifecycle.backfillRun to run the backfill again), then run pulumi up again."
fi
echo "gate: retiring $RETIRING would lose data. Blobs missing per remaining location: $missing; locations without a row: $rows; replication queue: $queue. $fix" | tee "$log" >&2
exit 1
`;

/** Enqueues every missing copy for the configured default locations (it neither copies nor waits). */
export const BACKFILL_SCRIPT = `set -eu
cd "\${QUAYDIR:-/quay-registry}"
python -m util.backfillreplication
echo '{"backfill":"enqueued"}'
`;

/**
 * The removal Job's first init container (psql image): runs sql/removal-precheck.sql right before
 * the removal, writes \`present\` or \`absent\` (is the location row still there?) to STATE_FILE
 * for the next container, and exits 0 when removing LOCATION is safe: replication to LOCATIONS is
 * complete, no upload to LOCATION is live and no namespace has it as a replication region (a
 * userregion row, which util.removelocation cannot delete past). Otherwise it writes "removal of
 * <LOCATION> stopped: …" (what is missing, live or in the way, and the fix) to the termination
 * log and exits 1; it exits 2 when the database cannot be read (and then writes no state).
 * Env: DATABASE_URL, LOCATION, LOCATIONS; optional UPLOAD_GRACE_MINUTES (2880), SQL_FILE
 * (/sql/removal-precheck.sql, with replication-status.sql beside it), STATE_FILE
 * (/work/location-state), TERMINATION_LOG.
 */
export const REMOVAL_PRECHECK_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
state="\${STATE_FILE:-${STATE_FILE}}"
grace="\${UPLOAD_GRACE_MINUTES:-${UPLOAD_GRACE_MINUTES}}"
rm -f "$state"
if ! out=$(psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -v location="$LOCATION" -v locations="$LOCATIONS" -v upload_grace_minutes="$grace" -f "\${SQL_FILE:-${SQL_MOUNT}/removal-precheck.sql}" 2>&1); then
  echo "removal of $LOCATION stopped: cannot read the database, so removing it is not safe: $out" | tee "$log" >&2
  exit 2
fi
echo "$out"
if printf '%s' "$out" | grep -Eq '"locationPresent" ?: ?true'; then
  present=present
elif printf '%s' "$out" | grep -Eq '"locationPresent" ?: ?false'; then
  present=absent
else
  echo "removal of $LOCATION stopped: unexpected precheck output: $out" | tee "$log" >&2
  exit 2
fi
printf '%s\\n' "$present" > "$state" || { echo "removal of $LOCATION stopped: cannot write $state" | tee "$log" >&2; exit 2; }
if printf '%s' "$out" | grep -Eq '"safe" ?: ?true'; then
  echo "precheck: removing $LOCATION is safe (location row $present): every blob in use is in $LOCATIONS and no upload to $LOCATION is live"
  exit 0
fi
why=""
if ! printf '%s' "$out" | grep -Eq '"complete" ?: ?true'; then
  missing=$(printf '%s' "$out" | sed -n 's/.*"missingPlacements" \\{0,1\\}: \\{0,1\\}\\({[^}]*}\\).*/\\1/p')
  rows=$(printf '%s' "$out" | sed -n 's/.*"missingLocations" \\{0,1\\}: \\{0,1\\}\\(\\[[^]]*\\]\\).*/\\1/p')
  queue=$(printf '%s' "$out" | sed -n 's/.*"queue" \\{0,1\\}: \\{0,1\\}\\({[^}]*}\\).*/\\1/p')
  blocking=$(printf '%s' "$out" | sed -n 's/.*"deadBlocking" \\{0,1\\}: \\{0,1\\}\\([0-9][0-9]*\\).*/\\1/p')
  if [ "\${blocking:-0}" -gt 0 ]; then
    fix="$blocking dead replication item(s) block it and are never retried: bump lifecycle.backfillRun to run the backfill again and let replication finish."
  else
    fix="let replication finish (if blobs are missing and nothing is queued for them, bump lifecycle.backfillRun to run the backfill again)."
  fi
  why="replication to $LOCATIONS is not complete (blobs missing per remaining location: $missing; locations without a row: $rows; replication queue: $queue): $fix "
fi
live=$(printf '%s' "$out" | sed -n 's/.*"uploads" \\{0,1\\}: \\{0,1\\}{"live" \\{0,1\\}: \\{0,1\\}\\([0-9][0-9]*\\).*/\\1/p')
if [ "\${live:-0}" -gt 0 ]; then
  newest=$(printf '%s' "$out" | sed -n 's/.*"newest" \\{0,1\\}: \\{0,1\\}"\\{0,1\\}\\([^",}]*\\).*/\\1/p')
  why="$why$live live upload(s) to $LOCATION (created within the last $grace minutes, newest $newest): a push may still be writing there and util.removelocation deletes uploads; wait until every upload to $LOCATION is older than $grace minutes (Quay's own threshold for abandoned uploads). "
fi
regions=$(printf '%s' "$out" | sed -n 's/.*"userRegions" \\{0,1\\}: \\{0,1\\}\\([0-9][0-9]*\\).*/\\1/p')
if [ "\${regions:-0}" -gt 0 ]; then
  why="$why$regions userregion row(s) make $LOCATION a namespace's replication region and util.removelocation never deletes them: it would delete the uploads and placements, then fail to delete the location row, on every re-run too. Quay has no UI for them; list the namespaces with SELECT u.username FROM userregion r JOIN \\"user\\" u ON u.id = r.user_id JOIN imagestoragelocation l ON l.id = r.location_id WHERE l.name = '$LOCATION'; and delete the rows with DELETE FROM userregion WHERE location_id = (SELECT id FROM imagestoragelocation WHERE name = '$LOCATION'); "
fi
echo "removal of $LOCATION stopped: \${why}Then run pulumi up again." | tee "$log" >&2
exit 1
`;

/**
 * The removal Job's second init container (Quay image): runs \`util.removelocation\`
 * non-interactively when the precheck found the location row \`present\`, and trusts its output,
 * not its exit code (it exits 0 even when it fails): success is the line "Deleted location
 * <LOCATION>" and no traceback. When the precheck found it \`absent\` (an earlier run removed it)
 * it prints "location <LOCATION> already removed; verifying" and exits 0 without running the
 * utility, which would only print "Error removing storage location". No state: exit 2.
 * Env: LOCATION; optional STATE_FILE (/work/location-state), TERMINATION_LOG, QUAYDIR.
 */
export const REMOVE_LOCATION_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
state_file="\${STATE_FILE:-${STATE_FILE}}"
state=$(cat "$state_file" 2>/dev/null)
case "$state" in
  absent)
    echo "location $LOCATION already removed; verifying"
    exit 0
    ;;
  present) ;;
  *)
    echo "removelocation $LOCATION: no precheck state in $state_file (found \\"$state\\"); the precheck init container must run first" | tee "$log" >&2
    exit 2
    ;;
esac
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
 * The removal Job's container (psql image): verifies that no imagestoragelocation row is named
 * LOCATION and that no imagestorageplacement or blobupload row points at a location of that name.
 * With the row gone, the foreign keys (fk_imagestorageplacement_location_id_imagestoragelocation,
 * fk_blobupload_location_id_imagestoragelocation) leave none; the counts are printed anyway, so
 * the Job's log states it, and while the row is still there they show how far a partial removal
 * got. Env: DATABASE_URL, LOCATION; optional TERMINATION_LOG.
 */
export const VERIFY_REMOVAL_SCRIPT = `set -u
log="\${TERMINATION_LOG:-/dev/termination-log}"
counts=$(printf "SELECT (SELECT count(*) FROM imagestoragelocation WHERE name = :'loc') || ' ' || (SELECT count(*) FROM imagestorageplacement p JOIN imagestoragelocation l ON l.id = p.location_id WHERE l.name = :'loc') || ' ' || (SELECT count(*) FROM blobupload u JOIN imagestoragelocation l ON l.id = u.location_id WHERE l.name = :'loc');\\n" | psql "$DATABASE_URL" -X -qtA -v ON_ERROR_STOP=1 -v loc="$LOCATION" 2>&1) || { echo "verify: $counts" | tee "$log" >&2; exit 2; }
set -- $counts
if [ "$#" -ne 3 ]; then
  echo "verify: unexpected output from psql: $counts" | tee "$log" >&2
  exit 2
fi
if [ "$1" = "0" ] && [ "$2" = "0" ] && [ "$3" = "0" ]; then
  echo "{\\"removedLocation\\":\\"$LOCATION\\",\\"locationRows\\":0,\\"placements\\":0,\\"uploads\\":0,\\"verified\\":true}"
  exit 0
fi
echo "verify: location $LOCATION still has $1 row(s) in imagestoragelocation, $2 placement(s) in imagestorageplacement and $3 upload(s) in blobupload after removelocation" | tee "$log" >&2
exit 1
`;
