-- replication-status.sql: is Quay geo-replication complete for a set of storage locations?
--
-- USAGE (psql >= 10, against the shared Quay database):
--
--   psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -v locations='usstorage,eustorage' \
--        -f sql/replication-status.sql
--
--   `locations` is the comma-separated list of DISTRIBUTED_STORAGE_CONFIG location IDs that every
--   blob must have reached (normally DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, or the sites that
--   remain before `util.removelocation`). Blanks around names are ignored, duplicates are dropped,
--   order is kept. It is used only as a quoted literal (:'locations'), never as SQL text.
--   The same check with exit codes: `npm run replication-status -- --locations a,b`.
--
--   sql/removal-precheck.sql includes this file (\ir) to compute the same verdict inside its own
--   transaction: it sets the psql variable `replication_status_included` first, and this file then
--   neither opens nor ends a transaction nor prints, but leaves the verdict's JSON text in the
--   psql variable `replication_verdict`. Standalone runs must not set that variable.
--
-- OUTPUT: exactly one line on stdout, a JSON object. The file sets QUIET, tuples-only and
--   unaligned output itself, so no extra flags are needed (`-qtA` is harmless). Example:
--
--   {"required":["usstorage","eustorage"],"missingLocations":[],"blobsInUse":42,
--    "missingPlacements":{"usstorage":0,"eustorage":3},
--    "queue":{"alive":3,"running":1,"waitingRetry":1,"dead":2,"deadBlocking":1},"complete":false}
--
--   required          the parsed location list.
--   missingLocations  names in the list with no imagestoragelocation row. Such a location has
--                     nothing placed in it (and would silently drop out of a join).
--   blobsInUse        distinct imagestorage rows referenced by manifestblob whose `uploading` is
--                     not true. Blobs still uploading, and blobs no manifest references (e.g.
--                     awaiting GC), are not counted. A NULL `uploading` (legacy rows) counts as
--                     uploaded: it is the conservative choice for a drain check.
--   missingPlacements location -> number of in-use blobs with no imagestorageplacement row for
--                     it. The worker inserts that row only after verifying the copy exists at the
--                     destination. For a location in missingLocations it equals blobsInUse.
--   queue             replication queue items: queueitem rows whose queue_name starts with
--                     'imagestoragereplication/' (Quay's REPLICATION_QUEUE_NAME; one item per
--                     blob, named 'imagestoragereplication/<imagestorage.uuid>/'). Other queues
--                     are ignored. With now = now() AT TIME ZONE 'utc' (the columns are
--                     TIMESTAMP WITHOUT TIME ZONE holding UTC, written with datetime.utcnow()):
--     running         available = false AND processing_expires > now: claimed by a worker whose
--                     reservation has not expired. This is Quay's own test
--                     (WorkQueue._running_jobs_where in data/queue.py). A claim decrements
--                     retries_remaining, so an item on its last attempt runs with
--                     retries_remaining = 0: it is running, not dead.
--     alive           retries_remaining > 0 (WorkQueue.num_alive_jobs), plus running items.
--                     These will be (or are being) processed.
--     waitingRetry    alive, not running, retries_remaining < 5 (Quay enqueues with 5): it has
--                     failed at least once (or its worker died) and waits for available_after.
--     dead            retries_remaining <= 0 and not running: never retried again; only a new
--                     `python -m util.backfillreplication` re-enqueues the blob (it enqueues a
--                     blob only when no alive item exists for it, and leaves dead items in
--                     place). alive + dead = all replication items. Dead items linger: Quay's
--                     queue cleanup (workers/queuecleanupworker.py) deletes expired items once a
--                     day, and only when at least 50 qualify.
--     deadBlocking    the dead items that still matter: those whose blob still lacks a placement
--                     in a required location (or a required location has no row). An item's
--                     blob is the imagestorage row whose uuid is in its name:
--                     queue_name = 'imagestoragereplication/' || uuid || '/'
--                     (util/registry/replication.py; the body's storage_id is the same uuid).
--                     Not blocking: a dead item whose blob is in every required location (a
--                     later item or backfill copied it), one whose blob is missing only from
--                     locations not in the list, and one whose uuid matches no imagestorage row
--                     (the blob was garbage-collected; the worker itself drops such an item as
--                     "Unknown storage"). Every existing blob counts here, whether in use,
--                     uploading or unreferenced (the conservative reading): for a blob in use a
--                     blocking item also shows in missingPlacements, so this field says which
--                     missing copies will never arrive without a new backfill; a blob that no
--                     manifest references (awaiting GC, or a push whose manifest has not
--                     arrived yet) counts only here, and until Quay's GC deletes its row or a
--                     new item copies it, it keeps blocking (the backfill reads manifestblob
--                     only, so it does not re-enqueue such a blob). Counted per item.
--   complete          true iff missingLocations is empty, every missingPlacements count is 0,
--                     queue.alive = 0 and queue.deadBlocking = 0. Dead items that block nothing
--                     do not make it false.
--
-- SAFETY: read-only. Everything runs in one READ ONLY, REPEATABLE READ transaction (a single
--   consistent snapshot; when included, the includer's transaction, which must be the same
--   kind); PostgreSQL refuses any write inside it. It takes no locks beyond ordinary reads.
--   Errors (missing or empty `locations`, connection, missing tables) go to stderr and, with
--   ON_ERROR_STOP (also set below), psql exits non-zero.

\set QUIET on
\set ON_ERROR_STOP on
\pset pager off
\pset footer off
\pset tuples_only on
\pset format unaligned

\if :{?locations}
\else
DO $$ BEGIN RAISE EXCEPTION 'replication-status.sql: the psql variable "locations" is not set'
    USING HINT = 'Pass the required locations, e.g. -v locations=usstorage,eustorage'; END $$;
\endif

\if :{?replication_status_included}
-- The including file has opened the transaction (and will print and end it).
\else
BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;
\endif

-- The location list becomes a transaction-local setting, read below with current_setting().
SELECT set_config('quay_georep.locations', :'locations', true) AS georep_locations_set \gset

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1
        FROM unnest(string_to_array(current_setting('quay_georep.locations'), ',')) AS t(name)
        WHERE btrim(t.name) <> ''
    ) THEN
        RAISE EXCEPTION 'replication-status.sql: the psql variable "locations" names no location'
            USING HINT = 'Pass the required locations, e.g. -v locations=usstorage,eustorage';
    END IF;
END
$$;

WITH
utc_now AS (
    SELECT now() AT TIME ZONE 'utc' AS ts
),
required AS (
    SELECT btrim(t.name) AS name, min(t.ord) AS ord
    FROM unnest(string_to_array(current_setting('quay_georep.locations'), ','))
         WITH ORDINALITY AS t(name, ord)
    WHERE btrim(t.name) <> ''
    GROUP BY btrim(t.name)
),
required_location AS (
    SELECT r.name, r.ord, l.id AS location_id
    FROM required r
    LEFT JOIN imagestoragelocation l ON l.name = r.name
),
blob_in_use AS (
    SELECT DISTINCT s.id
    FROM manifestblob mb
    JOIN imagestorage s ON s.id = mb.blob_id
    WHERE s.uploading IS NOT TRUE
),
missing_placement AS (
    SELECT rl.name, rl.ord, rl.location_id,
           CASE
               WHEN rl.location_id IS NULL THEN (SELECT count(*) FROM blob_in_use)
               ELSE (SELECT count(*)
                     FROM blob_in_use b
                     WHERE NOT EXISTS (SELECT 1
                                       FROM imagestorageplacement p
                                       WHERE p.storage_id = b.id
                                         AND p.location_id = rl.location_id))
           END AS missing
    FROM required_location rl
),
replication_item AS (
    SELECT q.queue_name,
           q.retries_remaining,
           COALESCE(q.available = false AND q.processing_expires > (SELECT ts FROM utc_now),
                    false) AS running
    FROM queueitem q
    WHERE left(q.queue_name, length('imagestoragereplication/')) = 'imagestoragereplication/'
),
dead_item AS (
    SELECT i.queue_name
    FROM replication_item i
    WHERE i.retries_remaining <= 0 AND NOT i.running
),
-- The uuid is cut out of the name (rather than building 'prefix' || s.uuid || '/' for every
-- blob), so the planner can look each dead item up in the unique index imagestorage_uuid.
dead_blocking AS (
    SELECT count(*) AS n
    FROM dead_item d
    JOIN imagestorage s
      ON right(d.queue_name, 1) = '/'
     AND s.uuid = substr(d.queue_name, length('imagestoragereplication/') + 1,
                         length(d.queue_name) - length('imagestoragereplication/') - 1)
    WHERE EXISTS (SELECT 1
                  FROM required_location rl
                  WHERE rl.location_id IS NULL
                     OR NOT EXISTS (SELECT 1
                                    FROM imagestorageplacement p
                                    WHERE p.storage_id = s.id
                                      AND p.location_id = rl.location_id))
),
queue AS (
    SELECT count(*) FILTER (WHERE retries_remaining > 0 OR running) AS alive,
           count(*) FILTER (WHERE running) AS running,
           count(*) FILTER (WHERE retries_remaining > 0 AND retries_remaining < 5
                              AND NOT running) AS waiting_retry,
           count(*) FILTER (WHERE retries_remaining <= 0 AND NOT running) AS dead,
           (SELECT n FROM dead_blocking) AS dead_blocking
    FROM replication_item
),
verdict AS (
    SELECT
        (SELECT json_agg(name ORDER BY ord) FROM required) AS required,
        COALESCE((SELECT json_agg(name ORDER BY ord)
                  FROM required_location WHERE location_id IS NULL), '[]'::json)
            AS missing_locations,
        (SELECT count(*) FROM blob_in_use) AS blobs_in_use,
        (SELECT json_object_agg(name, missing ORDER BY ord) FROM missing_placement)
            AS missing_placements,
        NOT EXISTS (SELECT 1 FROM required_location WHERE location_id IS NULL)
            AND NOT EXISTS (SELECT 1 FROM missing_placement WHERE missing > 0) AS placements_ok
)
SELECT json_build_object(
           'required', v.required,
           'missingLocations', v.missing_locations,
           'blobsInUse', v.blobs_in_use,
           'missingPlacements', v.missing_placements,
           'queue', json_build_object(
               'alive', q.alive,
               'running', q.running,
               'waitingRetry', q.waiting_retry,
               'dead', q.dead,
               'deadBlocking', q.dead_blocking),
           'complete', v.placements_ok AND q.alive = 0 AND q.dead_blocking = 0
       )::text AS replication_verdict
FROM verdict v CROSS JOIN queue q
\gset

\if :{?replication_status_included}
\else
-- Printed from the variable as a quoted literal: the text comes back unchanged, one line.
SELECT :'replication_verdict' AS verdict;
ROLLBACK;
\endif
