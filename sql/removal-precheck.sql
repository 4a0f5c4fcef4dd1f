-- removal-precheck.sql: may `util.removelocation <location>` run now, or would it lose data or
-- stop half-way?
--
-- USAGE (psql >= 10, against the shared Quay database; this file and replication-status.sql must
-- sit in the same directory, because this one includes that one):
--
--   psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -v location=apstorage \
--        -v locations='usstorage,eustorage' [-v upload_grace_minutes=2880] \
--        -f sql/removal-precheck.sql
--
--   location              the location ID to remove. Used exactly as given (no trimming), as
--                         `util.removelocation` uses it, and only as a quoted literal.
--   locations             the locations that remain and must hold every blob first (the same
--                         list, rules and errors as in replication-status.sql). It must not name
--                         `location`.
--   upload_grace_minutes  uploads to `location` created less than this many minutes ago are live
--                         (default 2880: Quay's own BLOBUPLOAD_DELETION_DATE_THRESHOLD default, in
--                         minutes, workers/blobuploadcleanupworker/blobuploadcleanupworker.py).
--                         A non-negative integer.
--
-- OUTPUT: exactly one line on stdout, a JSON object (the file sets the output format itself):
--
--   {"location":"apstorage","locationPresent":true,
--    "replication":{"required":["usstorage","eustorage"],...,"complete":true},
--    "uploads":{"live":0,"stale":2,"newest":"2025-01-31T08:12:00.5"},"userRegions":0,"safe":true}
--
--   location          the `location` variable.
--   locationPresent   whether an imagestoragelocation row has that name. false means an earlier
--                     removal already finished (or the name never existed): running
--                     util.removelocation again would only print "Error removing storage
--                     location: ..." (and exit 0).
--   replication       the verdict object of replication-status.sql for `locations`, every field
--                     as documented there. It is computed by that very file (included with \ir,
--                     see below), so the two cannot disagree on the rules.
--   uploads           blobupload rows whose location is `location` (none when the row is gone:
--                     fk_blobupload_location_id_imagestoragelocation). util.removelocation deletes
--                     them all, first thing.
--     live            created within the last upload_grace_minutes: possibly a push still in
--                     progress, whose data would be lost. `created` is Python's datetime.now in
--                     the Quay pod (its local time; UTC on OpenShift), compared with
--                     now() AT TIME ZONE 'utc', whatever the session time zone. A `created` in
--                     the future counts as live.
--     stale           older: abandoned uploads, which Quay's blob upload cleanup worker would
--                     delete (after the same threshold), except that it cannot once the location
--                     has left the config. Deleting them is right; they never block.
--     newest          the greatest `created` (ISO 8601, no zone), or null when there is none.
--   userRegions       userregion rows whose location is `location` (0 when the row is gone:
--                     fk_userregion_location_id_imagestoragelocation). Each makes the location a
--                     replication region of one namespace (Quay's UserRegion; the replication
--                     worker and util.backfillreplication copy that namespace's blobs to its
--                     regions besides DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS). Any such row
--                     blocks: util.removelocation (util/removelocation.py at quay ffba0c70)
--                     deletes the uploads, then the placements one by one, then the location
--                     row, in no transaction and never touching userregion, so that last DELETE
--                     fails on this foreign key after the uploads and placements are gone; it
--                     prints "Error removing storage location: ..." and exits 0, and every re-run
--                     fails the same way. Quay has no UI or API for these rows (only initdb.py and
--                     tests create them), so the fix is SQL. The namespaces:
--                       SELECT u.username FROM userregion r JOIN "user" u ON u.id = r.user_id
--                       JOIN imagestoragelocation l ON l.id = r.location_id WHERE l.name = '<location>';
--                     then DELETE FROM userregion WHERE location_id =
--                       (SELECT id FROM imagestoragelocation WHERE name = '<location>');
--                     (a region that has left the config can only make the replication of that
--                     namespace's blobs fail). The Quay schema's "user" table is not read here.
--   safe              true iff replication.complete, uploads.live = 0 and userRegions = 0. With
--                     the location row already gone there are no uploads and no such rows, so it
--                     depends on replication alone.
--
-- SAFETY: read-only. One READ ONLY, REPEATABLE READ transaction: the replication verdict, the
--   location row, the uploads and the userregion rows come from the same snapshot. Errors (a
--   variable missing or malformed, connection, missing tables) go to stderr and psql exits
--   non-zero (3 for errors raised here, as ON_ERROR_STOP is set).
--
-- WHY \ir: PostgreSQL refuses CREATE (even of a temporary view or function) in a read-only
--   transaction, so the rules cannot be shared as a database object. psql can include the status
--   file instead: with `replication_status_included` set, replication-status.sql runs inside this
--   transaction, prints nothing and leaves its verdict in the psql variable
--   `replication_verdict`, which is read back below as a quoted literal.

\set QUIET on
\set ON_ERROR_STOP on
\pset pager off
\pset footer off
\pset tuples_only on
\pset format unaligned

\if :{?location}
\else
DO $$ BEGIN RAISE EXCEPTION 'removal-precheck.sql: the psql variable "location" is not set'
    USING HINT = 'Pass the location to remove, e.g. -v location=apstorage'; END $$;
\endif
\if :{?locations}
\else
DO $$ BEGIN RAISE EXCEPTION 'removal-precheck.sql: the psql variable "locations" is not set'
    USING HINT = 'Pass the locations that remain, e.g. -v locations=usstorage,eustorage'; END $$;
\endif
\if :{?upload_grace_minutes}
\else
\set upload_grace_minutes 2880
\endif

BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;

SELECT set_config('quay_georep.location', :'location', true) AS georep_location_set,
       set_config('quay_georep.upload_grace_minutes', :'upload_grace_minutes', true)
           AS georep_grace_set \gset

DO $$
DECLARE
    loc text := current_setting('quay_georep.location');
BEGIN
    IF btrim(loc) = '' THEN
        RAISE EXCEPTION 'removal-precheck.sql: the psql variable "location" is empty'
            USING HINT = 'Pass the location to remove, e.g. -v location=apstorage';
    END IF;
    IF current_setting('quay_georep.upload_grace_minutes') !~ '^[0-9]{1,9}$' THEN
        RAISE EXCEPTION 'removal-precheck.sql: upload_grace_minutes must be a number of minutes, not "%"',
            current_setting('quay_georep.upload_grace_minutes')
            USING HINT = 'Leave it unset for Quay''s default, 2880 (two days)';
    END IF;
END
$$;

\set replication_status_included on
\ir replication-status.sql

DO $$
BEGIN
    IF current_setting('quay_georep.location') = ANY (
        SELECT btrim(t.name)
        FROM unnest(string_to_array(current_setting('quay_georep.locations'), ',')) AS t(name)
    ) THEN
        RAISE EXCEPTION 'removal-precheck.sql: location "%" is also in "locations"',
            current_setting('quay_georep.location')
            USING HINT = 'A location that must keep every blob cannot be removed';
    END IF;
END
$$;

WITH
utc_now AS (
    SELECT now() AT TIME ZONE 'utc' AS ts
),
target AS (
    SELECT l.id
    FROM imagestoragelocation l
    WHERE l.name = current_setting('quay_georep.location')
),
upload AS (
    SELECT count(*) FILTER (WHERE u.created > t.live_after) AS live,
           count(*) FILTER (WHERE u.created <= t.live_after) AS stale,
           max(u.created) AS newest
    FROM blobupload u
    CROSS JOIN (SELECT (SELECT ts FROM utc_now)
                       - make_interval(mins => current_setting('quay_georep.upload_grace_minutes')::int)
                       AS live_after) t
    WHERE u.location_id IN (SELECT id FROM target)
),
region AS (
    SELECT count(*) AS n
    FROM userregion r
    JOIN target t ON t.id = r.location_id
)
SELECT json_build_object(
           'location', :'location',
           'locationPresent', EXISTS (SELECT 1 FROM target),
           'replication', :'replication_verdict'::json,
           'uploads', json_build_object('live', u.live, 'stale', u.stale, 'newest', u.newest),
           'userRegions', r.n,
           'safe', (:'replication_verdict'::json ->> 'complete')::boolean AND u.live = 0 AND r.n = 0
       )::text AS precheck
FROM upload u CROSS JOIN region r;

ROLLBACK;
