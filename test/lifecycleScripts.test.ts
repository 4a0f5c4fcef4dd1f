/**
 * The lifecycle Jobs' scripts, run for real: the same shell text the Job pods run, with `sh`,
 * the real `psql` and a real PostgreSQL holding Quay's tables. `python` (Quay's utilities) is
 * the only stand-in: a fake on PATH that prints what the real utility prints.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    BACKFILL_SCRIPT,
    GATE_SCRIPT,
    REMOVAL_PRECHECK_SCRIPT,
    REMOVE_LOCATION_SCRIPT,
    STATUS_SCRIPT,
    VERIFY_REMOVAL_SCRIPT,
} from "../lib/jobScripts";
import { ExecResult, REPO_ROOT, run, STATUS_SQL, TestDatabase } from "./support/postgres";
import { scratchDir } from "./support/scratch";

const PRECHECK_SQL = path.join(REPO_ROOT, "sql", "removal-precheck.sql");

/** Runs a script with `sh -c`, as the Job containers do. */
function sh(script: string, env: Record<string, string>): Promise<ExecResult> {
    return run("/bin/sh", ["-c", script], { env: { ...process.env, ...env } });
}

/** A termination-log file per call, read back after the script ran. */
function terminationLog(): { path: string; read: () => string } {
    const file = path.join(scratchDir("termination-log"), "termination-log");
    return { path: file, read: () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "") };
}

/**
 * A directory with a fake `python` that records its arguments, prints `output` and exits `code`;
 * as `util.removelocation` it also reads its stdin (the answer to the y/n prompt).
 */
function fakePython(output: string, code = 0): { dir: string; stdinFile: string } {
    const dir = scratchDir("fake-python");
    const stdinFile = path.join(dir, "stdin");
    fs.writeFileSync(path.join(dir, "output"), output);
    fs.writeFileSync(
        path.join(dir, "python"),
        `#!/bin/sh\necho "$@" > "${dir}/args"\n[ "$2" = util.removelocation ] && cat > "${stdinFile}"\ncat "${dir}/output"\nexit ${code}\n`,
        { mode: 0o755 },
    );
    return { dir, stdinFile };
}

/**
 * A directory with a fake `python` that does to the database what Quay's `util.removelocation`
 * does (blobupload rows, then placements, then the location row; an "Error removing storage
 * location" line and exit 0 when the row is gone), and records each run in `runs`.
 */
function fakeRemovelocation(databaseUrl: string): { dir: string; runs: () => string[] } {
    const dir = scratchDir("fake-quay");
    const runs = path.join(dir, "runs");
    const sql = (text: string) => `printf "${text}\\n" | psql "$DB" -X -qtA -v ON_ERROR_STOP=1 -v loc="$3"`;
    fs.writeFileSync(
        path.join(dir, "python"),
        [
            "#!/bin/sh",
            `DB='${databaseUrl}'`,
            `echo "$@" >> "${runs}"`,
            "read answer",
            'printf "WARNING: This is a destructive operation. Are you sure you want to remove %s from your storage locations? [y/n] " "$3"',
            `n=$(${sql("SELECT count(*) FROM imagestoragelocation WHERE name = :'loc';")})`,
            'if [ "$n" = 0 ]; then echo "Error removing storage location: ImageStorageLocation matching query does not exist."; exit 0; fi',
            `u=$(${sql("DELETE FROM blobupload WHERE location_id = (SELECT id FROM imagestoragelocation WHERE name = :'loc') RETURNING 1;")} | wc -l)`,
            'echo "Removed $u temporary blobs from blobupload table."',
            `${sql("DELETE FROM imagestorageplacement WHERE location_id = (SELECT id FROM imagestoragelocation WHERE name = :'loc') RETURNING 'Deleted placement ' || id;")}`,
            `${sql("DELETE FROM imagestoragelocation WHERE name = :'loc';")} >/dev/null`,
            'echo "Deleted location $3"',
            "",
        ].join("\n"),
        { mode: 0o755 },
    );
    return {
        dir,
        runs: () => (fs.existsSync(runs) ? fs.readFileSync(runs, "utf8").trim().split("\n") : []),
    };
}

/** A fresh emptyDir for one removal Job pod: the state file the precheck writes. */
function podStateFile(): { path: string; read: () => string | undefined } {
    const file = path.join(scratchDir("pod-work"), "location-state");
    return { path: file, read: () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined) };
}

describe("lifecycle Job scripts (real sh, psql and PostgreSQL)", function () {
    this.timeout(30000);
    let db: TestDatabase;

    before(async () => {
        db = await TestDatabase.create();
    });
    after(async () => {
        await db?.drop();
    });
    beforeEach(async () => {
        await db.reset();
        await db.query("INSERT INTO repository (id, namespace_user_id, name) VALUES (1, 1, 'repo')");
        for (const name of ["usstorage", "eustorage", "apstorage"]) {
            await db.query("INSERT INTO imagestoragelocation (name) VALUES ($1)", [name]);
        }
    });

    /** One in-use blob placed in the given locations. */
    async function blob(uuid: string, placedIn: string[]): Promise<void> {
        const [{ id }] = await db.query<{ id: number }>(
            "INSERT INTO imagestorage (uuid, uploading, image_size, content_checksum) VALUES ($1, false, 1, $2) RETURNING id",
            [uuid, `sha256:${uuid}`],
        );
        for (const loc of placedIn) {
            await db.query(
                "INSERT INTO imagestorageplacement (storage_id, location_id) SELECT $1, id FROM imagestoragelocation WHERE name = $2",
                [id, loc],
            );
        }
        const [{ id: manifest }] = await db.query<{ id: number }>(
            "INSERT INTO manifest (repository_id, digest) VALUES (1, $1) RETURNING id",
            [`sha256:m-${uuid}`],
        );
        await db.query("INSERT INTO manifestblob (repository_id, manifest_id, blob_id) VALUES (1, $1, $2)", [
            manifest,
            id,
        ]);
    }

    /** A blobupload row for `location`, created `age` ago (an SQL interval) in UTC, the pods' time. */
    async function upload(uuid: string, location: string, age: string): Promise<void> {
        await db.query(
            `INSERT INTO blobupload (repository_id, uuid, location_id, created)
             SELECT 1, $1, id, (now() AT TIME ZONE 'utc') - $3::interval FROM imagestoragelocation WHERE name = $2`,
            [uuid, location, age],
        );
    }

    /** A userregion row: `location` is one of namespace `userId`'s replication regions. */
    async function region(userId: number, location: string): Promise<void> {
        await db.query(
            "INSERT INTO userregion (user_id, location_id) SELECT $1, id FROM imagestoragelocation WHERE name = $2",
            [userId, location],
        );
    }

    /** The precheck's message when `n` userregion rows name eustorage (with the SQL to fix it). */
    const regionsMessage = (n: number): string =>
        `removal of eustorage stopped: ${n} userregion row(s) make eustorage a namespace's replication region and util.removelocation never deletes them: it would delete the uploads and placements, then fail to delete the location row, on every re-run too. Quay has no UI for them; list the namespaces with SELECT u.username FROM userregion r JOIN "user" u ON u.id = r.user_id JOIN imagestoragelocation l ON l.id = r.location_id WHERE l.name = 'eustorage'; and delete the rows with DELETE FROM userregion WHERE location_id = (SELECT id FROM imagestoragelocation WHERE name = 'eustorage'); Then run pulumi up again.\n`;

    /** A dead replication item for the blob with this uuid (five failed claims, long expired). */
    async function deadItem(uuid: string): Promise<void> {
        await db.query(
            `INSERT INTO queueitem (queue_name, body, available_after, available, processing_expires, retries_remaining, state_id)
             VALUES ($1, $2, (now() AT TIME ZONE 'utc') - interval '2 days', true,
                     (now() AT TIME ZONE 'utc') - interval '2 days', 0, $3)`,
            [
                `imagestoragereplication/${uuid}/`,
                JSON.stringify({ namespace_user_id: 1, storage_id: uuid }),
                `dead-${uuid}`,
            ],
        );
    }

    const gateEnv = (log: string, locations = "usstorage,apstorage") => ({
        DATABASE_URL: db.url,
        LOCATIONS: locations,
        RETIRING: "eustorage",
        SQL_FILE: STATUS_SQL,
        TERMINATION_LOG: log,
    });

    describe("retirement gate", () => {
        it("passes when every blob in use is in every remaining location and the queue is empty", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            const log = terminationLog();
            const r = await sh(GATE_SCRIPT, gateEnv(log.path));
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /"complete" ?: ?true/);
            assert.equal(log.read(), "");
        });

        it("fails, saying how many blobs are missing where, when a remaining location lacks a blob", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await blob("b", ["eustorage", "usstorage"]);
            await blob("c", ["eustorage"]);
            const log = terminationLog();
            const r = await sh(GATE_SCRIPT, gateEnv(log.path));
            assert.equal(r.code, 1);
            assert.match(
                log.read(),
                /^gate: retiring eustorage would lose data\. Blobs missing per remaining location: \{ ?"usstorage" ?: ?1, ?"apstorage" ?: ?2 ?\}; locations without a row: \[\]; replication queue: \{"alive" ?: ?0, ?"running" ?: ?0, ?"waitingRetry" ?: ?0, ?"dead" ?: ?0, ?"deadBlocking" ?: ?0\}\. Let replication finish \(if blobs are missing and nothing is queued for them, bump lifecycle\.backfillRun to run the backfill again\), then run pulumi up again\.\n$/,
            );
        });

        it("passes despite a dead item whose blob already is in every remaining location", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await deadItem("a");
            const log = terminationLog();
            const r = await sh(GATE_SCRIPT, gateEnv(log.path));
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /"dead" ?: ?1, ?"deadBlocking" ?: ?0/);
            assert.equal(log.read(), "");
        });

        it("fails on a dead item whose blob still lacks a remaining location, naming the fix", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await blob("b", ["usstorage", "eustorage"]);
            await deadItem("a");
            await deadItem("b");
            const log = terminationLog();
            const r = await sh(GATE_SCRIPT, gateEnv(log.path));
            assert.equal(r.code, 1);
            assert.match(
                log.read(),
                /^gate: retiring eustorage would lose data\. Blobs missing per remaining location: \{ ?"usstorage" ?: ?0, ?"apstorage" ?: ?1 ?\}; locations without a row: \[\]; replication queue: \{"alive" ?: ?0, ?"running" ?: ?0, ?"waitingRetry" ?: ?0, ?"dead" ?: ?2, ?"deadBlocking" ?: ?1\}\. 1 dead replication item\(s\) block it: their blobs still lack a remaining location and Quay never retries them\. Bump lifecycle\.backfillRun to run the backfill again, let replication finish, then run pulumi up again\.\n$/,
            );
        });

        it("fails while replication items are still queued, even with every placement present", async () => {
            await blob("a", ["usstorage", "apstorage"]);
            await db.query(
                `INSERT INTO queueitem (queue_name, body, available_after, available, processing_expires, retries_remaining, state_id)
                 VALUES ('imagestoragereplication/a/', '{}', now() AT TIME ZONE 'utc', true, NULL, 5, 's1')`,
            );
            const log = terminationLog();
            const r = await sh(GATE_SCRIPT, gateEnv(log.path));
            assert.equal(r.code, 1);
            assert.match(log.read(), /replication queue: \{"alive" ?: ?1,/);
        });

        it("fails when a remaining location has no row at all", async () => {
            await blob("a", ["usstorage"]);
            const log = terminationLog();
            const r = await sh(GATE_SCRIPT, gateEnv(log.path, "usstorage,nowhere"));
            assert.equal(r.code, 1);
            assert.match(log.read(), /locations without a row: \["nowhere"\]/);
        });

        it("fails closed (exit 2) when the database cannot be read", async () => {
            const log = terminationLog();
            const r = await sh(GATE_SCRIPT, {
                ...gateEnv(log.path),
                DATABASE_URL: "postgresql://nobody:x@127.0.0.1:1/quay",
            });
            assert.equal(r.code, 2);
            assert.match(log.read(), /^gate: cannot read the replication status, so retiring eustorage is not safe/);
        });
    });

    describe("status", () => {
        it("prints the one-line JSON verdict and succeeds even when replication is incomplete", async () => {
            await blob("a", ["usstorage"]);
            const r = await sh(STATUS_SCRIPT, {
                DATABASE_URL: db.url,
                LOCATIONS: "usstorage,apstorage",
                SQL_FILE: STATUS_SQL,
            });
            assert.equal(r.code, 0, r.stderr);
            const lines = r.stdout.trim().split("\n");
            assert.equal(lines.length, 1);
            const verdict = JSON.parse(lines[0]) as { complete: boolean; missingPlacements: Record<string, number> };
            assert.equal(verdict.complete, false);
            assert.deepEqual(verdict.missingPlacements, { usstorage: 0, apstorage: 1 });
        });
    });

    describe("removelocation", () => {
        /** The precheck found the location row: the state file says `present`. */
        const present = (): string => {
            const state = podStateFile();
            fs.writeFileSync(state.path, "present\n");
            return state.path;
        };
        const removal = (python: { dir: string }, log: string, stateFile = present()) => ({
            PATH: `${python.dir}:${process.env.PATH ?? ""}`,
            QUAYDIR: python.dir,
            LOCATION: "eustorage",
            STATE_FILE: stateFile,
            TERMINATION_LOG: log,
        });

        it("answers the prompt with y and succeeds on Quay's success line", async () => {
            const python = fakePython(
                "WARNING: This is a destructive operation. Are you sure you want to remove eustorage from your storage locations? [y/n] Deleted placement 1\nDeleted location eustorage\n",
            );
            const log = terminationLog();
            const r = await sh(REMOVE_LOCATION_SCRIPT, removal(python, log.path));
            assert.equal(r.code, 0, r.stderr);
            assert.equal(fs.readFileSync(python.stdinFile, "utf8"), "y\n");
            assert.equal(
                fs.readFileSync(path.join(python.dir, "args"), "utf8").trim(),
                "-m util.removelocation eustorage",
            );
        });

        it("fails when the utility exits 0 but did not delete the location (its exit code lies)", async () => {
            for (const output of [
                "Storage replication is not enabled\n",
                "... [y/n] Canceling operation...\n",
                "Traceback (most recent call last):\n  File x\npeewee.OperationalError: boom\n",
                "refusing: pushes must be disabled (DISABLE_PUSHES) before removing a location\n",
                "Deleted location apstorage\n",
            ]) {
                const log = terminationLog();
                const r = await sh(REMOVE_LOCATION_SCRIPT, removal(fakePython(output, 0), log.path));
                assert.equal(r.code, 1, `accepted: ${output}`);
                assert.match(log.read(), /^removelocation eustorage failed \(exit 0\); its output: /);
            }
        });

        it("verifies the location row is gone, and fails while it is still there", async () => {
            const log = terminationLog();
            const still = await sh(VERIFY_REMOVAL_SCRIPT, {
                DATABASE_URL: db.url,
                LOCATION: "eustorage",
                TERMINATION_LOG: log.path,
            });
            assert.equal(still.code, 1);
            assert.equal(
                log.read(),
                "verify: location eustorage still has 1 row(s) in imagestoragelocation, 0 placement(s) in imagestorageplacement and 0 upload(s) in blobupload after removelocation\n",
            );
            await db.query("DELETE FROM imagestoragelocation WHERE name = 'eustorage'");
            const gone = await sh(VERIFY_REMOVAL_SCRIPT, {
                DATABASE_URL: db.url,
                LOCATION: "eustorage",
                TERMINATION_LOG: log.path,
            });
            assert.equal(gone.code, 0, gone.stderr);
            assert.deepEqual(JSON.parse(gone.stdout), {
                removedLocation: "eustorage",
                locationRows: 0,
                placements: 0,
                uploads: 0,
                verified: true,
            });
        });

        it("counts the placements and uploads left behind by a removal that stopped half-way", async () => {
            // util.removelocation runs without a transaction: a crash can leave any prefix done.
            await blob("a", ["usstorage", "eustorage"]);
            await blob("b", ["eustorage"]);
            await upload("u1", "eustorage", "1 hour");
            const log = terminationLog();
            const r = await sh(VERIFY_REMOVAL_SCRIPT, {
                DATABASE_URL: db.url,
                LOCATION: "eustorage",
                TERMINATION_LOG: log.path,
            });
            assert.equal(r.code, 1);
            assert.equal(
                log.read(),
                "verify: location eustorage still has 1 row(s) in imagestoragelocation, 2 placement(s) in imagestorageplacement and 1 upload(s) in blobupload after removelocation\n",
            );
        });

        it("skips the utility when the precheck found the location already gone", async () => {
            const python = fakePython("Deleted location eustorage\n");
            const state = podStateFile();
            fs.writeFileSync(state.path, "absent\n");
            const log = terminationLog();
            const r = await sh(REMOVE_LOCATION_SCRIPT, removal(python, log.path, state.path));
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.stdout, "location eustorage already removed; verifying\n");
            assert.equal(fs.existsSync(path.join(python.dir, "args")), false, "python ran");
            assert.equal(log.read(), "");
        });

        it("refuses (exit 2) without the precheck's state, and does not run the utility", async () => {
            for (const content of [undefined, "", "maybe\n"]) {
                const python = fakePython("Deleted location eustorage\n");
                const state = podStateFile();
                if (content !== undefined) fs.writeFileSync(state.path, content);
                const log = terminationLog();
                const r = await sh(REMOVE_LOCATION_SCRIPT, removal(python, log.path, state.path));
                assert.equal(r.code, 2, `state ${JSON.stringify(content)}`);
                assert.equal(fs.existsSync(path.join(python.dir, "args")), false, "python ran");
                assert.match(
                    log.read(),
                    /^removelocation eustorage: no precheck state in \S+location-state \(found "(maybe)?"\); the precheck init container must run first\n$/,
                );
            }
        });

        it("treats a quote in the location as data, not SQL", async () => {
            const log = terminationLog();
            const r = await sh(VERIFY_REMOVAL_SCRIPT, {
                DATABASE_URL: db.url,
                LOCATION: "x'; DROP TABLE imagestoragelocation; --",
                TERMINATION_LOG: log.path,
            });
            assert.equal(r.code, 0, r.stderr);
            assert.equal((await db.query("SELECT count(*)::int AS n FROM imagestoragelocation"))[0].n, 3);
        });
    });

    describe("removal precheck", () => {
        /** The precheck's env for removing eustorage while usstorage and apstorage remain. */
        const precheckEnv = (log: string, state: string, extra: Record<string, string> = {}) => ({
            DATABASE_URL: db.url,
            LOCATION: "eustorage",
            LOCATIONS: "usstorage,apstorage",
            SQL_FILE: PRECHECK_SQL,
            STATE_FILE: state,
            TERMINATION_LOG: log,
            ...extra,
        });
        interface Precheck {
            location: string;
            locationPresent: boolean;
            replication: { complete: boolean; queue: Record<string, number> };
            uploads: { live: number; stale: number; newest: string | null };
            userRegions: number;
            safe: boolean;
        }
        const verdict = (r: ExecResult): Precheck => JSON.parse(r.stdout.split("\n")[0]) as Precheck;

        it("passes when replication is complete and no upload is live, and records the row as present", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            const log = terminationLog();
            const state = podStateFile();
            const r = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, state.path));
            assert.equal(r.code, 0, r.stderr);
            assert.equal(state.read(), "present\n");
            assert.equal(log.read(), "");
            const v = verdict(r);
            assert.deepEqual(Object.keys(v), [
                "location",
                "locationPresent",
                "replication",
                "uploads",
                "userRegions",
                "safe",
            ]);
            assert.deepEqual(
                { ...v, replication: v.replication.complete },
                {
                    location: "eustorage",
                    locationPresent: true,
                    replication: true,
                    uploads: { live: 0, stale: 0, newest: null },
                    userRegions: 0,
                    safe: true,
                },
            );
            assert.match(
                r.stdout,
                /\nprecheck: removing eustorage is safe \(location row present\): every blob in use is in usstorage,apstorage and no upload to eustorage is live\n$/,
            );
        });

        it("reports the replication verdict exactly as replication-status.sql does", async () => {
            await blob("a", ["usstorage", "eustorage"]);
            await blob("b", ["eustorage", "apstorage"]);
            await deadItem("a");
            await deadItem("gone");
            const precheck = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(terminationLog().path, podStateFile().path));
            const status = await sh(STATUS_SCRIPT, {
                DATABASE_URL: db.url,
                LOCATIONS: "usstorage,apstorage",
                SQL_FILE: STATUS_SQL,
            });
            assert.equal(status.code, 0, status.stderr);
            assert.deepEqual(verdict(precheck).replication, JSON.parse(status.stdout));
            assert.deepEqual(verdict(precheck).replication.queue, {
                alive: 0,
                running: 0,
                waitingRetry: 0,
                dead: 2,
                deadBlocking: 1,
            });
        });

        it("fails, naming the live upload and the wait, when an upload to the location was created just now", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await upload("u-live", "eustorage", "0 seconds");
            await upload("u-other", "usstorage", "0 seconds");
            const log = terminationLog();
            const state = podStateFile();
            const r = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, state.path));
            assert.equal(r.code, 1);
            assert.equal(state.read(), "present\n");
            assert.deepEqual(verdict(r).uploads.live, 1);
            assert.match(
                log.read(),
                /^removal of eustorage stopped: 1 live upload\(s\) to eustorage \(created within the last 2880 minutes, newest \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\): a push may still be writing there and util\.removelocation deletes uploads; wait until every upload to eustorage is older than 2880 minutes \(Quay's own threshold for abandoned uploads\)\. Then run pulumi up again\.\n$/,
            );
        });

        it("passes with a stale upload (three days old), which util.removelocation may delete, and counts it", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await upload("u-stale", "eustorage", "3 days");
            const log = terminationLog();
            const state = podStateFile();
            const r = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, state.path));
            assert.equal(r.code, 0, r.stderr);
            assert.equal(state.read(), "present\n");
            const v = verdict(r);
            assert.equal(v.uploads.live, 0);
            assert.equal(v.uploads.stale, 1);
            assert.match(v.uploads.newest ?? "", /^\d{4}-\d\d-\d\dT/);
            assert.equal(v.safe, true);
        });

        it("takes the grace from UPLOAD_GRACE_MINUTES and compares in UTC whatever the session time zone", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            // With a 60-minute grace: live (10 minutes old) and stale (70 minutes old). A local-time
            // comparison would call the first stale in UTC+14 and the second live in UTC-11.
            await upload("u-10m", "eustorage", "10 minutes");
            await upload("u-70m", "eustorage", "70 minutes");
            for (const tz of ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"]) {
                const r = await sh(
                    REMOVAL_PRECHECK_SCRIPT,
                    precheckEnv(terminationLog().path, podStateFile().path, { UPLOAD_GRACE_MINUTES: "60", PGTZ: tz }),
                );
                assert.equal(r.code, 1, `session time zone ${tz}`);
                assert.deepEqual(
                    { live: verdict(r).uploads.live, stale: verdict(r).uploads.stale },
                    { live: 1, stale: 1 },
                    tz,
                );
            }
        });

        it("fails, saying what is missing where and the fix, while replication is incomplete", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await blob("b", ["usstorage", "eustorage"]);
            const log = terminationLog();
            const state = podStateFile();
            const r = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, state.path));
            assert.equal(r.code, 1);
            assert.equal(state.read(), "present\n");
            assert.match(
                log.read(),
                /^removal of eustorage stopped: replication to usstorage,apstorage is not complete \(blobs missing per remaining location: \{ ?"usstorage" ?: ?0, ?"apstorage" ?: ?1 ?\}; locations without a row: \[\]; replication queue: \{"alive" ?: ?0, ?"running" ?: ?0, ?"waitingRetry" ?: ?0, ?"dead" ?: ?0, ?"deadBlocking" ?: ?0\}\): let replication finish \(if blobs are missing and nothing is queued for them, bump lifecycle\.backfillRun to run the backfill again\)\. Then run pulumi up again\.\n$/,
            );
        });

        it("names dead blocking items and a live upload together, each with its fix", async () => {
            await blob("b", ["usstorage", "eustorage"]);
            await deadItem("b");
            await upload("u-live", "eustorage", "5 minutes");
            const log = terminationLog();
            const r = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, podStateFile().path));
            assert.equal(r.code, 1);
            assert.match(
                log.read(),
                /^removal of eustorage stopped: replication to usstorage,apstorage is not complete \(.*"deadBlocking" ?: ?1\}\): 1 dead replication item\(s\) block it and are never retried: bump lifecycle\.backfillRun to run the backfill again and let replication finish\. 1 live upload\(s\) to eustorage \(created within the last 2880 minutes, newest [^)]+\): .* Then run pulumi up again\.\n$/,
            );
        });

        it("fails, counting the rows and giving the SQL to list and delete them, when namespaces have the location as a replication region", async () => {
            // util.removelocation would delete the uploads and placements, then fail on
            // fk_userregion_location_id_imagestoragelocation, print an error and exit 0.
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await region(7, "eustorage");
            await region(8, "eustorage");
            await region(8, "usstorage");
            const log = terminationLog();
            const state = podStateFile();
            const r = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, state.path));
            assert.equal(r.code, 1);
            assert.equal(state.read(), "present\n");
            const v = verdict(r);
            assert.deepEqual(
                { complete: v.replication.complete, userRegions: v.userRegions, safe: v.safe },
                { complete: true, userRegions: 2, safe: false },
            );
            assert.equal(log.read(), regionsMessage(2));
        });

        it("passes when the only userregion rows name other locations", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await region(7, "usstorage");
            await region(8, "apstorage");
            const log = terminationLog();
            const r = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, podStateFile().path));
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(
                { userRegions: verdict(r).userRegions, safe: verdict(r).safe },
                { userRegions: 0, safe: true },
            );
            assert.equal(log.read(), "");
        });

        it("records the location as absent when its row is already gone, and passes on replication alone", async () => {
            await blob("a", ["usstorage", "apstorage"]);
            await db.query("DELETE FROM imagestoragelocation WHERE name = 'eustorage'");
            const log = terminationLog();
            const state = podStateFile();
            const r = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, state.path));
            assert.equal(r.code, 0, r.stderr);
            assert.equal(state.read(), "absent\n");
            const v = verdict(r);
            assert.equal(v.locationPresent, false);
            assert.deepEqual(v.uploads, { live: 0, stale: 0, newest: null });
            assert.equal(v.userRegions, 0);

            // Gone, but replication to what remains is not complete: still stopped.
            await blob("b", ["usstorage"]);
            const stopped = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, state.path));
            assert.equal(stopped.code, 1);
            assert.equal(state.read(), "absent\n");
            assert.match(
                log.read(),
                /^removal of eustorage stopped: replication to usstorage,apstorage is not complete/,
            );
        });

        it("fails closed (exit 2, no state) when the database cannot be read", async () => {
            const log = terminationLog();
            const state = podStateFile();
            fs.writeFileSync(state.path, "present\n"); // whatever was there, it must not survive
            const r = await sh(
                REMOVAL_PRECHECK_SCRIPT,
                precheckEnv(log.path, state.path, { DATABASE_URL: "postgresql://nobody:x@127.0.0.1:1/quay" }),
            );
            assert.equal(r.code, 2);
            assert.equal(state.read(), undefined);
            assert.match(
                log.read(),
                /^removal of eustorage stopped: cannot read the database, so removing it is not safe: .*(Connection refused|could not connect|connection to server)/s,
            );
        });

        it("fails closed (exit 2) on bad arguments: a remaining location that is the one removed, a bad grace", async () => {
            const cases: [Record<string, string>, RegExp][] = [
                [{ LOCATIONS: "usstorage,eustorage" }, /location "eustorage" is also in "locations"/],
                [{ UPLOAD_GRACE_MINUTES: "2 days" }, /upload_grace_minutes must be a number of minutes, not "2 days"/],
                [{ LOCATIONS: " , " }, /the psql variable "locations" names no location/],
                [{ LOCATION: " " }, /the psql variable "location" is empty/],
            ];
            for (const [extra, message] of cases) {
                const log = terminationLog();
                const state = podStateFile();
                const r = await sh(REMOVAL_PRECHECK_SCRIPT, precheckEnv(log.path, state.path, extra));
                assert.equal(r.code, 2, JSON.stringify(extra));
                assert.equal(state.read(), undefined);
                assert.match(log.read(), message);
            }
        });

        it("runs read-only in one repeatable-read snapshot", async () => {
            // A view named blobupload, found first through search_path, reports the transaction.
            await db.query(`
        CREATE SCHEMA probe;
        CREATE FUNCTION probe.txn() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
          RAISE NOTICE 'probe: transaction_read_only=% isolation=%',
            current_setting('transaction_read_only'), current_setting('transaction_isolation');
          RETURN true;
        END $$;
        CREATE VIEW probe.blobupload AS SELECT * FROM public.blobupload WHERE probe.txn();
        CREATE VIEW probe.queueitem AS SELECT * FROM public.queueitem WHERE probe.txn();
      `);
            try {
                await upload("u1", "eustorage", "3 days");
                await db.query(
                    "INSERT INTO queueitem (queue_name, body, available_after, available, retries_remaining, state_id) VALUES ('imagestoragereplication/x/', '{}', now(), true, 0, 'p')",
                );
                const r = await run(
                    "psql",
                    [
                        db.url,
                        "-X",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-v",
                        "location=eustorage",
                        "-v",
                        "locations=usstorage",
                        "-f",
                        PRECHECK_SQL,
                    ],
                    { env: { ...process.env, PGOPTIONS: "-c search_path=probe,public" } },
                );
                assert.equal(r.code, 0, r.stderr);
                const notices = r.stderr.match(/probe: .*/g) ?? [];
                assert.ok(notices.length >= 2, r.stderr);
                for (const n of notices) assert.equal(n, "probe: transaction_read_only=on isolation=repeatable read");
                assert.equal(r.stdout.split("\n").filter((l) => l.length > 0).length, 1);
            } finally {
                await db.query("DROP SCHEMA probe CASCADE");
            }
        });
    });

    describe("removal Job, end to end (precheck, removelocation, verify)", () => {
        /** One pod of the removal Job: init containers in order, each must succeed; then verify. */
        async function removalPod(quay: { dir: string }): Promise<{ step: string; result: ExecResult }[]> {
            const state = podStateFile();
            const env = {
                DATABASE_URL: db.url,
                LOCATION: "eustorage",
                LOCATIONS: "usstorage,apstorage",
                SQL_FILE: PRECHECK_SQL,
                STATE_FILE: state.path,
                TERMINATION_LOG: terminationLog().path,
                PATH: `${quay.dir}:${process.env.PATH ?? ""}`,
                QUAYDIR: quay.dir,
            };
            const steps: [string, string][] = [
                ["precheck", REMOVAL_PRECHECK_SCRIPT],
                ["removelocation", REMOVE_LOCATION_SCRIPT],
                ["verify", VERIFY_REMOVAL_SCRIPT],
            ];
            const done: { step: string; result: ExecResult }[] = [];
            for (const [step, script] of steps) {
                const result = await sh(script, env);
                done.push({ step, result });
                if (result.code !== 0) break;
            }
            return done;
        }

        it("removes the location, and a re-run finds it absent, skips the utility and verifies (idempotent)", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await upload("u-stale", "eustorage", "3 days");

            const quay = fakeRemovelocation(db.url);
            const first = await removalPod(quay);
            assert.deepEqual(
                first.map((s) => [s.step, s.result.code]),
                [
                    ["precheck", 0],
                    ["removelocation", 0],
                    ["verify", 0],
                ],
                first.map((s) => s.result.stderr).join("\n"),
            );
            assert.match(
                first[1].result.stdout,
                /Removed 1 temporary blobs from blobupload table\.\nDeleted placement \d+\nDeleted location eustorage\n$/,
            );
            assert.deepEqual(quay.runs(), ["-m util.removelocation eustorage"]);
            const [{ n }] = await db.query<{ n: number }>(
                "SELECT count(*)::int AS n FROM imagestoragelocation WHERE name = 'eustorage'",
            );
            assert.equal(n, 0);

            const again = fakeRemovelocation(db.url);
            const second = await removalPod(again);
            assert.deepEqual(
                second.map((s) => [s.step, s.result.code]),
                [
                    ["precheck", 0],
                    ["removelocation", 0],
                    ["verify", 0],
                ],
            );
            assert.equal(second[1].result.stdout, "location eustorage already removed; verifying\n");
            assert.deepEqual(again.runs(), [], "the utility must not run again");
            assert.deepEqual(JSON.parse(second[2].result.stdout), {
                removedLocation: "eustorage",
                locationRows: 0,
                placements: 0,
                uploads: 0,
                verified: true,
            });
        });

        it("stops before the utility when an upload is live, and leaves everything in place", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await upload("u-live", "eustorage", "1 minute");
            const quay = fakeRemovelocation(db.url);
            const pod = await removalPod(quay);
            assert.deepEqual(
                pod.map((s) => [s.step, s.result.code]),
                [["precheck", 1]],
            );
            assert.deepEqual(quay.runs(), []);
            const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM blobupload");
            assert.equal(n, 1);
        });

        it("stops before the utility while a namespace has the location as a replication region; the message's SQL lists the namespaces and clears the way", async () => {
            await blob("a", ["usstorage", "eustorage", "apstorage"]);
            await region(7, "eustorage");
            const quay = fakeRemovelocation(db.url);
            const stopped = await removalPod(quay);
            assert.deepEqual(
                stopped.map((s) => [s.step, s.result.code]),
                [["precheck", 1]],
            );
            assert.deepEqual(quay.runs(), []);
            const [{ n }] = await db.query<{ n: number }>(
                "SELECT count(*)::int AS n FROM imagestorageplacement p JOIN imagestoragelocation l ON l.id = p.location_id WHERE l.name = 'eustorage'",
            );
            assert.equal(n, 1, "the placement must survive the stopped removal");

            // The operator's fix, exactly as the message gives it. The fixture has no "user" table:
            // a minimal one (Quay's table name and its id and username columns) lets the listing run.
            const fix = /list the namespaces with (SELECT .*?;) and delete the rows with (DELETE .*?;) /.exec(
                stopped[0].result.stderr,
            );
            assert.ok(fix, stopped[0].result.stderr);
            const [, list, del] = fix;
            await db.query('CREATE TABLE "user" (id SERIAL PRIMARY KEY, username VARCHAR(255) NOT NULL)');
            try {
                await db.query(`INSERT INTO "user" (id, username) VALUES (7, 'acme'), (8, 'other')`);
                assert.deepEqual(await db.query(list), [{ username: "acme" }]);
            } finally {
                await db.query('DROP TABLE "user"');
            }
            await db.query(del);

            const again = await removalPod(quay);
            assert.deepEqual(
                again.map((s) => [s.step, s.result.code]),
                [
                    ["precheck", 0],
                    ["removelocation", 0],
                    ["verify", 0],
                ],
                again.map((s) => s.result.stderr).join("\n"),
            );
            assert.deepEqual(quay.runs(), ["-m util.removelocation eustorage"]);
        });
    });

    describe("backfill", () => {
        it("runs util.backfillreplication from the Quay directory and reports", async () => {
            const python = fakePython("");
            const r = await sh(BACKFILL_SCRIPT, {
                PATH: `${python.dir}:${process.env.PATH ?? ""}`,
                QUAYDIR: python.dir,
            });
            assert.equal(r.code, 0, r.stderr);
            assert.equal(fs.readFileSync(path.join(python.dir, "args"), "utf8").trim(), "-m util.backfillreplication");
            assert.match(r.stdout, /\{"backfill":"enqueued"\}/);
        });

        it("fails when the utility fails", async () => {
            const python = fakePython("Traceback\n", 1);
            const r = await sh(BACKFILL_SCRIPT, {
                PATH: `${python.dir}:${process.env.PATH ?? ""}`,
                QUAYDIR: python.dir,
            });
            assert.notEqual(r.code, 0);
        });
    });
});
