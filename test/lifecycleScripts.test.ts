/**
 * The lifecycle Jobs' scripts, run for real: the same shell text the Job pods run, with `sh`,
 * the real `psql` and a real PostgreSQL holding Quay's tables. `python` (Quay's utilities) is
 * the only stand-in: a fake on PATH that prints what the real utility prints.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    BACKFILL_SCRIPT,
    GATE_SCRIPT,
    REMOVE_LOCATION_SCRIPT,
    STATUS_SCRIPT,
    VERIFY_REMOVAL_SCRIPT,
} from "../lib/jobScripts";
import { ExecResult, run, STATUS_SQL, TestDatabase } from "./support/postgres";

/** Runs a script with `sh -c`, as the Job containers do. */
function sh(script: string, env: Record<string, string>): Promise<ExecResult> {
    return run("/bin/sh", ["-c", script], { env: { ...process.env, ...env } });
}

/** A termination-log file per call, read back after the script ran. */
function terminationLog(): { path: string; read: () => string } {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "georep-term-")), "termination-log");
    return { path: file, read: () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "") };
}

/**
 * A directory with a fake `python` that records its arguments, prints `output` and exits `code`;
 * as `util.removelocation` it also reads its stdin (the answer to the y/n prompt).
 */
function fakePython(output: string, code = 0): { dir: string; stdinFile: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "georep-python-"));
    const stdinFile = path.join(dir, "stdin");
    fs.writeFileSync(path.join(dir, "output"), output);
    fs.writeFileSync(
        path.join(dir, "python"),
        `#!/bin/sh\necho "$@" > "${dir}/args"\n[ "$2" = util.removelocation ] && cat > "${stdinFile}"\ncat "${dir}/output"\nexit ${code}\n`,
        { mode: 0o755 },
    );
    return { dir, stdinFile };
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
                /^gate: retiring eustorage would lose data\. Blobs missing per remaining location: \{ ?"usstorage" ?: ?1, ?"apstorage" ?: ?2 ?\}; locations without a row: \[\]; replication queue: \{"alive" ?: ?0, ?"running" ?: ?0, ?"waitingRetry" ?: ?0, ?"dead" ?: ?0\}\./,
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
        const removal = (python: { dir: string }, log: string) => ({
            PATH: `${python.dir}:${process.env.PATH ?? ""}`,
            QUAYDIR: python.dir,
            LOCATION: "eustorage",
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
            assert.match(log.read(), /location eustorage still has 1 row\(s\)/);
            await db.query("DELETE FROM imagestoragelocation WHERE name = 'eustorage'");
            const gone = await sh(VERIFY_REMOVAL_SCRIPT, {
                DATABASE_URL: db.url,
                LOCATION: "eustorage",
                TERMINATION_LOG: log.path,
            });
            assert.equal(gone.code, 0, gone.stderr);
            assert.deepEqual(JSON.parse(gone.stdout), { removedLocation: "eustorage", verified: true });
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
