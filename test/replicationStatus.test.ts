// sql/replication-status.sql and scripts/replication-status.ts against a real PostgreSQL.
//
// Needs a running server (`bash .ci/postgres.sh`); fails loudly, never skips, when there is none.
// Each suite uses its own throwaway database loaded from test/fixtures/quay-schema.sql, and the
// SQL always runs through the real psql binary, as an operator runs it.
import { strict as assert } from "node:assert";
import { main as replicationStatus } from "../scripts/replication-status";
import {
    ExecResult,
    ReplicationVerdict,
    TestDatabase,
    databaseUrl,
    pgSettings,
    run,
    runStatusSql,
    runStatusSqlRaw,
} from "./support/postgres";

const REPL = "imagestoragereplication";

interface BlobSpec {
    uuid: string;
    /** Location names that have an imagestorageplacement row for the blob. */
    placedIn?: string[];
    uploading?: boolean | null;
    /** Number of manifests that reference the blob through manifestblob (default 1). */
    manifests?: number;
}

interface ItemSpec {
    /** imagestorage.uuid of the blob the item replicates; names the item as Quay does. */
    blob?: string;
    queueName?: string;
    retries: number;
    available?: boolean;
    /** SQL interval added to UTC now, or null for NULL. */
    processingExpiresIn?: string | null;
    availableAfterIn?: string;
}

class Seeder {
    private manifestCount = 0;
    private itemCount = 0;

    constructor(private readonly db: TestDatabase) {}

    async locations(...names: string[]): Promise<void> {
        for (const name of names) {
            await this.db.query("INSERT INTO imagestoragelocation (name) VALUES ($1)", [name]);
        }
    }

    private async newManifest(): Promise<number> {
        this.manifestCount += 1;
        const rows = await this.db.query<{ id: number }>(
            "INSERT INTO manifest (repository_id, digest) VALUES (1, $1) RETURNING id",
            [`sha256:${String(this.manifestCount).padStart(64, "0")}`],
        );
        return rows[0].id;
    }

    async blob(spec: BlobSpec): Promise<number> {
        const uploading = spec.uploading === undefined ? false : spec.uploading;
        const [{ id }] = await this.db.query<{ id: number }>(
            "INSERT INTO imagestorage (uuid, uploading, image_size, content_checksum) " +
                "VALUES ($1, $2, 1024, $3) RETURNING id",
            [spec.uuid, uploading, `sha256:${spec.uuid}`],
        );
        for (const loc of spec.placedIn ?? []) {
            await this.db.query(
                "INSERT INTO imagestorageplacement (storage_id, location_id) " +
                    "SELECT $1, id FROM imagestoragelocation WHERE name = $2",
                [id, loc],
            );
        }
        for (let i = 0; i < (spec.manifests ?? 1); i++) {
            const manifestId = await this.newManifest();
            await this.db.query("INSERT INTO manifestblob (repository_id, manifest_id, blob_id) VALUES (1, $1, $2)", [
                manifestId,
                id,
            ]);
        }
        return id;
    }

    /** A queue item shaped the way data/queue.py writes it (UTC timestamps). */
    async item(spec: ItemSpec): Promise<void> {
        this.itemCount += 1;
        const uuid = spec.blob ?? `blob-${this.itemCount}`;
        const queueName = spec.queueName ?? `${REPL}/${uuid}/`;
        const expires =
            spec.processingExpiresIn === undefined || spec.processingExpiresIn === null
                ? null
                : spec.processingExpiresIn;
        await this.db.query(
            `INSERT INTO queueitem
         (queue_name, body, available_after, available, processing_expires, retries_remaining,
          state_id)
       VALUES ($1, $2,
               (now() AT TIME ZONE 'utc') + $3::interval,
               $4,
               CASE WHEN $5::text IS NULL THEN NULL
                    ELSE (now() AT TIME ZONE 'utc') + $5::interval END,
               $6, $7)`,
            [
                queueName,
                JSON.stringify({ namespace_user_id: 1, storage_id: uuid }),
                spec.availableAfterIn ?? "0 seconds",
                spec.available ?? true,
                expires,
                spec.retries,
                `state-${this.itemCount}`,
            ],
        );
    }
}

const EMPTY_QUEUE = { alive: 0, running: 0, waitingRetry: 0, dead: 0, deadBlocking: 0 };

describe("replication status (real PostgreSQL + psql)", function () {
    let db: TestDatabase;
    let seed: Seeder;
    const status = (locations: string, env: NodeJS.ProcessEnv = {}): Promise<ReplicationVerdict> =>
        runStatusSql(db.url, locations, env);

    before(async function () {
        db = await TestDatabase.create();
    });

    after(async function () {
        if (db) await db.drop();
    });

    beforeEach(async function () {
        await db.reset();
        await db.query("INSERT INTO repository (namespace_user_id, name) VALUES (NULL, 'app')");
        seed = new Seeder(db);
        await seed.locations("usstorage", "eustorage");
    });

    describe("sql/replication-status.sql", function () {
        it("reports complete when every in-use blob is everywhere and the queue is empty", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "b", placedIn: ["usstorage", "eustorage"] });

            const v = await status("usstorage,eustorage");
            assert.deepEqual(v, {
                required: ["usstorage", "eustorage"],
                missingLocations: [],
                blobsInUse: 2,
                missingPlacements: { usstorage: 0, eustorage: 0 },
                queue: EMPTY_QUEUE,
                complete: true,
            });
        });

        it("prints exactly one line: a JSON object with the documented keys in order", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage"] });
            const r = await runStatusSqlRaw(db.url, "usstorage,eustorage");
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.stderr, "");
            assert.match(r.stdout, /^\{[^\n]*\}\n$/);
            const v = JSON.parse(r.stdout) as Record<string, unknown>;
            assert.deepEqual(Object.keys(v), [
                "required",
                "missingLocations",
                "blobsInUse",
                "missingPlacements",
                "queue",
                "complete",
            ]);
            assert.deepEqual(Object.keys(v.queue as object), [
                "alive",
                "running",
                "waitingRetry",
                "dead",
                "deadBlocking",
            ]);
        });

        it("counts a blob missing in one location for that location only", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "b", placedIn: ["usstorage"] });

            const v = await status("usstorage,eustorage");
            assert.equal(v.blobsInUse, 2);
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 1 });
            assert.deepEqual(v.missingLocations, []);
            assert.equal(v.complete, false);
            // The same data is complete for a set that does not include the lagging location.
            assert.equal((await status("usstorage")).complete, true);
        });

        it("lists a required location with no imagestoragelocation row and counts every blob missing there", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "b", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "c", placedIn: ["usstorage", "eustorage"] });

            const v = await status("usstorage,eustorage,apstorage");
            assert.deepEqual(v.missingLocations, ["apstorage"]);
            assert.equal(v.blobsInUse, 3);
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 0, apstorage: 3 });
            assert.deepEqual(v.queue, EMPTY_QUEUE);
            assert.equal(v.complete, false);
        });

        it("a missing location row makes it incomplete even with no blobs at all", async function () {
            const v = await status("usstorage,apstorage");
            assert.equal(v.blobsInUse, 0);
            assert.deepEqual(v.missingLocations, ["apstorage"]);
            assert.deepEqual(v.missingPlacements, { usstorage: 0, apstorage: 0 });
            assert.equal(v.complete, false);
        });

        it("does not count a blob whose upload is still in progress (uploading = true)", async function () {
            await seed.blob({ uuid: "done", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "in-flight", placedIn: ["usstorage"], uploading: true });

            const v = await status("usstorage,eustorage");
            assert.equal(v.blobsInUse, 1);
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 0 });
            assert.equal(v.complete, true);
        });

        it("counts a legacy blob with uploading = NULL as uploaded (conservative)", async function () {
            await seed.blob({ uuid: "legacy", placedIn: ["usstorage"], uploading: null });
            const v = await status("usstorage,eustorage");
            assert.equal(v.blobsInUse, 1);
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 1 });
            assert.equal(v.complete, false);
        });

        it("does not count a blob that no manifest references", async function () {
            await seed.blob({ uuid: "used", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "orphan", placedIn: ["usstorage"], manifests: 0 });

            const v = await status("usstorage,eustorage");
            assert.equal(v.blobsInUse, 1);
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 0 });
            assert.equal(v.complete, true);
        });

        it("counts a blob shared by several manifests once", async function () {
            await seed.blob({ uuid: "shared", placedIn: ["usstorage"], manifests: 3 });
            const v = await status("usstorage,eustorage");
            assert.equal(v.blobsInUse, 1);
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 1 });
        });

        it("a dead item whose blob is in every required location does not block", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            // Dead (5 claims, all failed), yet a later item or a backfill copied the blob.
            await seed.item({ blob: "a", retries: 0, available: true, processingExpiresIn: "-30 minutes" });

            const v = await status("usstorage,eustorage");
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 0 });
            assert.deepEqual(v.queue, { alive: 0, running: 0, waitingRetry: 0, dead: 1, deadBlocking: 0 });
            assert.equal(v.complete, true);
        });

        it("a dead item whose blob still lacks a required location blocks (deadBlocking 1)", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "b", placedIn: ["usstorage"] });
            await seed.item({ blob: "a", retries: 0, processingExpiresIn: "-30 minutes" });
            await seed.item({ blob: "b", retries: 0, processingExpiresIn: "-30 minutes" });

            const v = await status("usstorage,eustorage");
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 1 });
            assert.deepEqual(v.queue, { alive: 0, running: 0, waitingRetry: 0, dead: 2, deadBlocking: 1 });
            assert.equal(v.complete, false);
        });

        it("a dead item for a blob no manifest references still blocks while that blob lacks a required location", async function () {
            // Not in blobsInUse (no manifestblob row), so only deadBlocking sees it: conservative.
            await seed.blob({ uuid: "unlinked", placedIn: ["usstorage"], manifests: 0 });
            await seed.item({ blob: "unlinked", retries: 0, processingExpiresIn: "-30 minutes" });

            const v = await status("usstorage,eustorage");
            assert.equal(v.blobsInUse, 0);
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 0 });
            assert.deepEqual(v.queue, { alive: 0, running: 0, waitingRetry: 0, dead: 1, deadBlocking: 1 });
            assert.equal(v.complete, false);
        });

        it("a dead item whose uuid matches no imagestorage row (blob garbage-collected) does not block", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.item({ blob: "gone", retries: 0, processingExpiresIn: "-2 days" });
            // Names that are not exactly 'imagestoragereplication/<uuid>/' name no blob either.
            await seed.item({ queueName: `${REPL}/a`, retries: 0 });
            await seed.item({ queueName: `${REPL}/a/extra/`, retries: 0 });

            const v = await status("usstorage,eustorage");
            assert.deepEqual(v.queue, { alive: 0, running: 0, waitingRetry: 0, dead: 3, deadBlocking: 0 });
            assert.equal(v.complete, true);
        });

        it("dead items whose blobs lack only a location that is not required do not block", async function () {
            await seed.locations("apstorage");
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "b", placedIn: ["usstorage", "eustorage"] });
            await seed.item({ blob: "a", retries: 0 });
            await seed.item({ blob: "b", retries: 0 });

            // Missing in apstorage only: blocking while apstorage is required, not otherwise.
            const without = await status("usstorage,eustorage");
            assert.deepEqual(without.queue, { alive: 0, running: 0, waitingRetry: 0, dead: 2, deadBlocking: 0 });
            assert.equal(without.complete, true);
            const withAp = await status("usstorage,eustorage,apstorage");
            assert.deepEqual(withAp.queue, { alive: 0, running: 0, waitingRetry: 0, dead: 2, deadBlocking: 2 });
            assert.equal(withAp.complete, false);
        });

        it("a dead item blocks when a required location has no row at all", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.item({ blob: "a", retries: 0 });
            const v = await status("usstorage,nowhere");
            assert.deepEqual(v.missingLocations, ["nowhere"]);
            assert.equal(v.queue.dead, 1);
            assert.equal(v.queue.deadBlocking, 1);
            assert.equal(v.complete, false);
        });

        it("an alive item waiting for a retry makes it incomplete", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            // Failed twice (5 -> 3); data/queue.py's incomplete() set available=True and pushed
            // available_after 5 minutes out.
            await seed.item({
                retries: 3,
                available: true,
                processingExpiresIn: "-2 minutes",
                availableAfterIn: "5 minutes",
            });

            const v = await status("usstorage,eustorage");
            assert.deepEqual(v.queue, { alive: 1, running: 0, waitingRetry: 1, dead: 0, deadBlocking: 0 });
            assert.equal(v.complete, false);
        });

        it("a freshly queued item (5 retries, never claimed) is alive but not waiting retry", async function () {
            await seed.item({ retries: 5, available: true, processingExpiresIn: null });
            const v = await status("usstorage");
            assert.deepEqual(v.queue, { alive: 1, running: 0, waitingRetry: 0, dead: 0, deadBlocking: 0 });
            assert.equal(v.complete, false);
        });

        it("a running item (available = false, reservation not expired) is running, not waiting retry", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage"] });
            // Claimed by a worker: get() set available=False, processing_expires=now+reservation and
            // decremented retries_remaining (5 -> 4).
            await seed.item({ retries: 4, available: false, processingExpiresIn: "15 minutes" });

            const v = await status("usstorage,eustorage");
            assert.deepEqual(v.queue, { alive: 1, running: 1, waitingRetry: 0, dead: 0, deadBlocking: 0 });
            assert.equal(v.complete, false);
        });

        it("a claimed item whose reservation expired (worker died) is waiting retry, not running", async function () {
            await seed.item({ retries: 4, available: false, processingExpiresIn: "-1 minute" });
            const v = await status("usstorage");
            assert.deepEqual(v.queue, { alive: 1, running: 0, waitingRetry: 1, dead: 0, deadBlocking: 0 });
        });

        it("an item running its last attempt (retries_remaining = 0) is running and alive, not dead", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.item({ retries: 0, available: false, processingExpiresIn: "10 minutes" });

            const v = await status("usstorage,eustorage");
            assert.deepEqual(v.queue, { alive: 1, running: 1, waitingRetry: 0, dead: 0, deadBlocking: 0 });
            assert.equal(v.complete, false);
        });

        it("compares queue timestamps in UTC whatever the session time zone", async function () {
            // Running: expires one hour from now (UTC). A local-time comparison in UTC+14 would call
            // it expired.
            await seed.item({ retries: 4, available: false, processingExpiresIn: "1 hour" });
            // Not running: expired one hour ago (UTC). A local-time comparison in UTC-11 would call
            // it running.
            await seed.item({ retries: 4, available: false, processingExpiresIn: "-1 hour" });

            for (const tz of ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"]) {
                const v = await status("usstorage", { PGTZ: tz });
                assert.deepEqual(
                    v.queue,
                    { alive: 2, running: 1, waitingRetry: 1, dead: 0, deadBlocking: 0 },
                    `session time zone ${tz}`,
                );
            }
        });

        it("ignores queue items of other queues", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.item({ queueName: "notification/1/", retries: 5 });
            await seed.item({ queueName: "chunk_cleanup/abc/", retries: 0 });
            await seed.item({
                queueName: "dockerfilebuild/org/x/",
                retries: 3,
                available: false,
                processingExpiresIn: "5 minutes",
            });
            await seed.item({ queueName: "imagestoragereplicationx/abc/", retries: 5 });
            await seed.item({ queueName: "other/imagestoragereplication/abc/", retries: 5 });

            const v = await status("usstorage,eustorage");
            assert.deepEqual(v.queue, EMPTY_QUEUE);
            assert.equal(v.complete, true);
        });

        it("combines everything into one verdict", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "b", placedIn: ["usstorage"] });
            await seed.blob({ uuid: "c", placedIn: ["eustorage"] });
            await seed.blob({ uuid: "up", placedIn: [], uploading: true });
            await seed.item({ retries: 5 });
            await seed.item({ retries: 4, available: false, processingExpiresIn: "10 minutes" });
            await seed.item({ retries: 2, available: true, availableAfterIn: "3 minutes" });
            await seed.item({ retries: 0 });
            await seed.item({ blob: "b", retries: 0 });

            const v = await status(" usstorage , eustorage,usstorage,,apstorage ");
            assert.deepEqual(v, {
                required: ["usstorage", "eustorage", "apstorage"],
                missingLocations: ["apstorage"],
                blobsInUse: 3,
                missingPlacements: { usstorage: 1, eustorage: 1, apstorage: 3 },
                queue: { alive: 3, running: 1, waitingRetry: 1, dead: 2, deadBlocking: 1 },
                complete: false,
            });
        });

        it("runs read-only: refuses writes inside its transaction and leaves every row count unchanged", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            await seed.blob({ uuid: "b", placedIn: ["usstorage"] });
            await seed.item({ retries: 3 });
            const tables = [
                "imagestoragelocation",
                "imagestorage",
                "imagestorageplacement",
                "manifest",
                "manifestblob",
                "queueitem",
                "repository",
                "blobupload",
            ];
            const counts = async (): Promise<Record<string, number>> => {
                const out: Record<string, number> = {};
                for (const t of tables) {
                    const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`);
                    out[t] = Number(row.n);
                }
                return out;
            };

            // A probe that the status SQL calls from inside its own transaction: a view named
            // queueitem, found first through search_path, whose filter reports the transaction mode and
            // tries to write.
            await db.query(`
        CREATE SCHEMA probe;
        CREATE FUNCTION probe.check_txn() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
          RAISE NOTICE 'probe: transaction_read_only=% isolation=%',
            current_setting('transaction_read_only'), current_setting('transaction_isolation');
          BEGIN
            INSERT INTO public.imagestoragelocation (name) VALUES ('probe-write');
            RAISE NOTICE 'probe: write succeeded';
          EXCEPTION WHEN read_only_sql_transaction THEN
            RAISE NOTICE 'probe: write refused (SQLSTATE %)', SQLSTATE;
          END;
          RETURN true;
        END $$;
        CREATE VIEW probe.queueitem AS SELECT * FROM public.queueitem WHERE probe.check_txn();
      `);
            try {
                // Control: outside a read-only transaction the probe's write goes through, so the probe
                // would notice a status SQL that is not read-only.
                await db.query("BEGIN");
                await db.query("SELECT probe.check_txn()");
                const [{ n }] = await db.query<{ n: string }>(
                    "SELECT count(*) AS n FROM imagestoragelocation WHERE name = 'probe-write'",
                );
                assert.equal(Number(n), 1);
                await db.query("ROLLBACK");

                const before = await counts();
                const r = await runStatusSqlRaw(db.url, "usstorage,eustorage", {
                    PGOPTIONS: "-c search_path=probe,public",
                });
                assert.equal(r.code, 0, r.stderr);
                assert.match(r.stderr, /probe: transaction_read_only=on isolation=repeatable read/);
                assert.match(r.stderr, /probe: write refused \(SQLSTATE 25006\)/);
                assert.doesNotMatch(r.stderr, /write succeeded/);
                const v = JSON.parse(r.stdout) as ReplicationVerdict;
                assert.equal(v.queue.alive, 1, "the probe view passed the real queue rows through");
                assert.deepEqual(await counts(), before);
            } finally {
                await db.query("ROLLBACK").catch(() => undefined);
                await db.query("DROP SCHEMA probe CASCADE");
            }
        });

        it("treats an injection attempt in `locations` as a plain location name", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            const attempts = [
                "x'); drop table queueitem; --",
                "x\\'; drop table queueitem; --",
                "'; drop table manifestblob; select '",
                "x' \\! touch /tmp/georep-pwned \\g",
                "$$; drop table imagestorage; $$",
                ":'locations'",
            ];
            const verdicts = await Promise.all(attempts.map((name) => status(name)));
            attempts.forEach((name, i) => {
                assert.deepEqual(verdicts[i].required, [name.trim()]);
                assert.deepEqual(verdicts[i].missingLocations, [name.trim()]);
                assert.equal(verdicts[i].complete, false);
            });
            const [row] = await db.query<Record<string, string | null>>(
                "SELECT to_regclass('public.queueitem')::text AS q, " +
                    "to_regclass('public.manifestblob')::text AS m, " +
                    "to_regclass('public.imagestorage')::text AS s",
            );
            assert.deepEqual(row, { q: "queueitem", m: "manifestblob", s: "imagestorage" });
            const [{ n }] = await db.query<{ n: string }>("SELECT count(*) AS n FROM manifestblob");
            assert.equal(Number(n), 1);
        });

        it("fails (psql exit 3, message on stderr, nothing on stdout) without a usable `locations`", async function () {
            const unset = await runStatusSqlRaw(db.url, undefined);
            assert.equal(unset.code, 3);
            assert.equal(unset.stdout, "");
            assert.match(unset.stderr, /psql variable "locations" is not set/);

            const empty = await runStatusSqlRaw(db.url, " , ,");
            assert.equal(empty.code, 3);
            assert.equal(empty.stdout, "");
            assert.match(empty.stderr, /names no location/);
        });
    });

    describe("scripts/replication-status.ts", function () {
        /** The command as a process (node, the compiled script): its exit code and streams, once. */
        const cliProcess = (args: string[]) =>
            run(process.execPath, [require.resolve("../scripts/replication-status"), ...args], {
                env: { ...process.env, DATABASE_URL: "" },
                timeoutMs: 30000,
            });
        /** The command in this process (its main), with what it prints captured. */
        const cli = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<ExecResult> => {
            let stdout = "";
            let stderr = "";
            const code = await replicationStatus(args, {
                env: { ...process.env, DATABASE_URL: "", ...env },
                stdout: (t) => void (stdout += t),
                stderr: (t) => void (stderr += t),
            });
            return { code, stdout, stderr };
        };

        it("exits 0 and prints the verdict when replication is complete", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage", "eustorage"] });
            const r = await cli(["--locations", "usstorage,eustorage", "--database-url", db.url]);
            assert.equal(r.code, 0, r.stderr);
            const v = JSON.parse(r.stdout) as ReplicationVerdict;
            assert.equal(v.complete, true);
            assert.deepEqual(v.required, ["usstorage", "eustorage"]);
            assert.match(r.stderr, /replication COMPLETE for usstorage, eustorage/);
        });

        it("exits 1 when incomplete, reading the URL from DATABASE_URL", async function () {
            await seed.blob({ uuid: "a", placedIn: ["usstorage"] });
            await seed.item({ retries: 0 });
            const r = await cli(["--locations=usstorage,eustorage"], { DATABASE_URL: db.url });
            assert.equal(r.code, 1, r.stderr);
            const v = JSON.parse(r.stdout) as ReplicationVerdict;
            assert.equal(v.complete, false);
            assert.deepEqual(v.missingPlacements, { usstorage: 0, eustorage: 1 });
            assert.match(r.stderr, /replication INCOMPLETE/);
            assert.match(r.stderr, /eustorage: 1 blobs missing/);
            assert.match(r.stderr, /1 dead/);
        });

        it("exits 2 with a usage message on bad arguments", async function () {
            const cases = [
                [],
                ["--locations", " , ", "--database-url", db.url],
                ["--bogus", "--locations", "usstorage", "--database-url", db.url],
                ["--locations", "usstorage"], // and DATABASE_URL is empty
            ];
            // As processes: the exit code and streams the shell sees.
            const results = await Promise.all(cases.map((args) => cliProcess(args)));
            results.forEach((r, i) => {
                const label = `args ${JSON.stringify(cases[i])}: ${r.stderr}`;
                assert.equal(r.code, 2, label);
                assert.equal(r.stdout, "", label);
                assert.match(r.stderr, /usage: replication-status --locations/, label);
                assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace; ${label}`);
            });
            assert.match(results[0].stderr, /--locations is required/);
            assert.match(results[1].stderr, /--locations names no location/);
            assert.match(results[2].stderr, /unknown argument: --bogus/);
            assert.match(results[3].stderr, /no database: pass --database-url URL or set DATABASE_URL/);
        });

        it("exits 2 with a clear message (no stack trace) when the database is unreachable", async function () {
            const s = pgSettings();
            const url = databaseUrl(db.name, { ...s, host: "127.0.0.1", port: 1 });
            const r = await cli(["--locations", "usstorage", "--database-url", url]);
            assert.equal(r.code, 2, r.stderr);
            assert.equal(r.stdout, "");
            assert.match(r.stderr, /replication-status: psql failed/);
            assert.match(r.stderr, /Connection refused|could not connect|connection to server/i);
            assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
        });
    });
});
