/**
 * The database-failover Jobs' scripts, run for real: the same shell text the Job pods run, with
 * `sh`, the real `psql`, and two PostgreSQL servers in streaming replication (a primary and a
 * `pg_basebackup -R` standby, made by `.ci/postgres-standby.sh`). The tests stop the primary,
 * pause the standby's replay and promote it; after each one the pair is put back (or the standby
 * rebuilt) by test/support/standby.ts.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LAG_GATE_SCRIPT, PROMOTE_SCRIPT, VERIFY_PRIMARY_SCRIPT } from "../lib/standbyScripts";
import { ExecResult, ReplicationVerdict, run, runStatusSql } from "./support/postgres";
import { scratchDir } from "./support/scratch";
import { StandbyPair } from "./support/standby";

/** A port nothing listens on (privileged, never bound here). */
const CLOSED_URL = "postgresql://georep_test:georep_test@127.0.0.1:1/postgres";

/** What LAG_GATE_SCRIPT prints. */
interface LagReport {
    primaryLsn: string;
    receiveLsn: string | null;
    replayLsn: string | null;
    lagBytes: number | null;
    receiveLagBytes: number | null;
    maxLagBytes: number;
    inRecovery: boolean;
    replayPaused: boolean;
    sameSystem: boolean;
    waitedSeconds: number;
    ok: boolean;
}

/** What PROMOTE_SCRIPT prints. */
interface PromoteReport {
    promoted: boolean;
    alreadyPrimary: boolean;
    replayLsnBeforePromotion: string | null;
    lsn: string | null;
    timeline: number | null;
}

interface ScriptRun extends ExecResult {
    /** The termination log after the run ("" when nothing was written). */
    log: string;
}

/** Runs a script with `sh -c`, as the Job containers do, with its own termination log. */
async function sh(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<ScriptRun> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "georep-term-"));
    const file = path.join(dir, "termination-log");
    try {
        const r = await run("/bin/sh", ["-c", script], {
            env: { ...process.env, TERMINATION_LOG: file, ...env },
            timeoutMs,
        });
        return { ...r, log: fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "" };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The one JSON line a script prints on stdout. */
function report<T>(r: ExecResult): T {
    const lines = r.stdout.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, `expected one line on stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    return JSON.parse(lines[0]) as T;
}

/** The current timeline of a primary (the first 8 hex digits of its current WAL file's name). */
const TIMELINE_SQL = "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tl";

describe("database failover scripts (real sh, psql, and a PostgreSQL primary with a streaming standby)", function () {
    this.timeout(120_000);
    let pair: StandbyPair;
    let db: string;

    before(async function () {
        this.timeout(240_000);
        pair = await StandbyPair.open(this);
        db = await pair.createDatabase();
    });
    after(async function () {
        if (pair === undefined) return;
        try {
            if (db !== undefined) await pair.dropDatabase(db);
        } finally {
            await pair.close();
        }
    });

    /** A registry write on `node`: a storage location row in the fixture database. */
    const write = (node: "primary" | "standby", name: string) =>
        pair.query(node, "INSERT INTO imagestoragelocation (name) VALUES ($1)", [name], db);
    const locations = async (node: "primary" | "standby") =>
        (await pair.query<{ name: string }>(node, "SELECT name FROM imagestoragelocation ORDER BY id", [], db)).map(
            (r) => r.name,
        );
    const gate = (env: Record<string, string> = {}) =>
        sh(LAG_GATE_SCRIPT, { PRIMARY_URL: pair.url("primary"), STANDBY_URL: pair.url("standby"), ...env });

    /** Empty fixture tables on both servers: the standby where the primary is (no earlier rows on either). */
    async function fresh(): Promise<void> {
        await pair.query(
            "primary",
            "TRUNCATE imagestoragelocation, imagestorageplacement, imagestorage, manifestblob, manifest, repository RESTART IDENTITY CASCADE",
            [],
            db,
        );
        await pair.waitForReplay();
    }

    /**
     * Each test starts fresh, and the pair is put back after it (the standby rebuilt when a test
     * promoted it). Hooks of the describes that use them; a describe that shares one failover
     * among its tests has its own (`before`/`after`).
     */
    function eachTestFresh(): void {
        beforeEach(fresh);
        afterEach(async function () {
            await pair?.restore();
        });
    }

    describe("LAG_GATE_SCRIPT", () => {
        eachTestFresh();

        it("passes once the writes have stopped and the standby has replayed them", async () => {
            await write("primary", "usstorage");
            await write("primary", "eustorage");
            const [{ lsn }] = await pair.query<{ lsn: string }>("primary", "SELECT pg_current_wal_lsn()::text AS lsn");

            const r = await gate({ WAIT_SECONDS: "15" });
            assert.equal(r.code, 0, r.stderr);
            const out = report<LagReport>(r);
            const { lagBytes, receiveLagBytes, maxLagBytes, inRecovery, replayPaused, sameSystem, ok } = out;
            assert.deepEqual(
                { lagBytes, receiveLagBytes, maxLagBytes, inRecovery, replayPaused, sameSystem, ok },
                {
                    lagBytes: 0,
                    receiveLagBytes: 0,
                    maxLagBytes: 0,
                    inRecovery: true,
                    replayPaused: false,
                    sameSystem: true,
                    ok: true,
                },
            );
            // The gate's target is at or after the last write, and the standby replayed up to it.
            const [cmp] = await pair.query<{ target: boolean; replayed: boolean }>(
                "primary",
                "SELECT $1::pg_lsn >= $2::pg_lsn AS target, $3::pg_lsn >= $1::pg_lsn AS replayed",
                [out.primaryLsn, lsn, out.replayLsn],
            );
            assert.deepEqual(cmp, { target: true, replayed: true });
            assert.equal(
                r.stderr,
                `lag gate: the standby has replayed the primary's WAL up to ${out.primaryLsn} (lag 0 bytes, MAX_LAG_BYTES=0): everything written before the gate started is on the standby\n`,
            );
            assert.equal(r.log, "");
            assert.deepEqual(await locations("standby"), ["usstorage", "eustorage"]);
        });

        it("fails while the standby lags, naming the lag and the fix, and passes once it has caught up", async () => {
            await pair.query("standby", "SELECT pg_wal_replay_pause()");
            try {
                await write("primary", "usstorage");
                const [{ lsn }] = await pair.query<{ lsn: string }>(
                    "primary",
                    "SELECT pg_current_wal_lsn()::text AS lsn",
                );
                // Received but not replayed: the WAL is on the standby, replay holds it back.
                const received = async () =>
                    (
                        await pair.query<{ ok: boolean }>(
                            "standby",
                            "SELECT COALESCE(pg_last_wal_receive_lsn() >= $1::pg_lsn, false) AS ok",
                            [lsn],
                        )
                    )[0].ok;
                for (let i = 0; i < 50 && !(await received()); i++) await new Promise((res) => setTimeout(res, 100));

                const r = await gate({ WAIT_SECONDS: "1" });
                assert.equal(r.code, 1, r.stderr);
                const out = report<LagReport>(r);
                assert.equal(out.ok, false);
                assert.equal(out.replayPaused, true);
                assert.equal(out.inRecovery, true);
                assert.ok(out.lagBytes !== null && out.lagBytes > 0, JSON.stringify(out));
                assert.equal(out.receiveLagBytes, 0);
                const [{ diff }] = await pair.query<{ diff: string }>(
                    "primary",
                    "SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::text AS diff",
                    [out.primaryLsn, out.replayLsn],
                );
                assert.equal(String(out.lagBytes), diff);
                const message =
                    `lag gate: the standby is ${out.lagBytes} bytes behind the primary after ${out.waitedSeconds}s ` +
                    `(primary at ${out.primaryLsn}, standby replayed up to ${out.replayLsn}; MAX_LAG_BYTES=0), so ` +
                    "switching over now would lose the writes in between. Replay is paused on the standby " +
                    "(pg_is_wal_replay_paused() is true): resume it with SELECT pg_wal_replay_resume(). Keep the " +
                    "registry read-only longer and run the gate again when the standby has caught up (or raise WAIT_SECONDS).\n";
                assert.equal(r.log, message);
                assert.ok(r.stderr.endsWith(message), r.stderr);
                assert.ok(out.waitedSeconds >= 1, "it waited before failing");
                assert.deepEqual(await locations("standby"), []);

                // An allowance larger than the lag lets it through, still saying how far behind it is.
                const allowed = await gate({ WAIT_SECONDS: "0", MAX_LAG_BYTES: String(16 * 1024 * 1024) });
                assert.equal(allowed.code, 0, allowed.stderr);
                const within = report<LagReport>(allowed);
                assert.equal(within.ok, true);
                assert.ok(within.lagBytes !== null && within.lagBytes > 0);
            } finally {
                await pair.query("standby", "SELECT pg_wal_replay_resume()");
            }
            const after = await gate({ WAIT_SECONDS: "15" });
            assert.equal(after.code, 0, after.stderr);
            assert.equal(report<LagReport>(after).lagBytes, 0);
            assert.deepEqual(await locations("standby"), ["usstorage"]);
        });

        it("exits 2 when the primary cannot be reached, without printing the URL", async () => {
            await pair.stop("primary");
            const r = await gate({ WAIT_SECONDS: "0" });
            assert.equal(r.code, 2, r.stderr);
            assert.equal(r.stdout, "");
            assert.match(
                r.log,
                /^lag gate: cannot read the primary's WAL position \(PRIMARY_URL\), so the standby's lag is unknown: psql: error: connection to server at "127\.0\.0\.1", port \d+ failed: Connection refused/,
            );
            assert.doesNotMatch(r.stderr + r.log, /postgresql:\/\//);
        });

        it("exits 2 when the standby cannot be reached", async () => {
            const r = await gate({ STANDBY_URL: CLOSED_URL, WAIT_SECONDS: "0" });
            assert.equal(r.code, 2, r.stderr);
            assert.match(
                r.log,
                /^lag gate: cannot read the standby's replay position \(STANDBY_URL\): psql: error: connection to server at "127\.0\.0\.1", port 1 failed/,
            );
        });

        it("refuses a STANDBY_URL that is not in recovery, without waiting", async () => {
            const r = await gate({ STANDBY_URL: pair.url("primary"), WAIT_SECONDS: "30" });
            assert.equal(r.code, 1, r.stderr);
            const out = report<LagReport>(r);
            assert.deepEqual([out.inRecovery, out.lagBytes, out.waitedSeconds, out.ok], [false, null, 0, false]);
            assert.equal(
                r.log,
                "lag gate: the STANDBY_URL server is not in recovery, so it is no standby and has no lag to measure: it was already promoted, or the URL names a primary. Point STANDBY_URL at the standby of PRIMARY_URL.\n",
            );
        });

        it("counts 0 s waited for its first answer, even when the clock's second turns after it started", async () => {
            // A `date` first on PATH whose seconds move on at every call: the gate reads the clock
            // at its start, and the real second may turn before its first answer, which it did
            // not wait for. (Found as a flaky 1 in CI.)
            const bin = scratchDir("georep-clock-");
            const calls = path.join(bin, "calls");
            fs.writeFileSync(
                path.join(bin, "date"),
                `#!/bin/sh\nn=$(cat "${calls}" 2>/dev/null || echo 0)\necho $((n + 1)) > "${calls}"\necho $((1000 + n))\n`,
                { mode: 0o755 },
            );
            const r = await gate({
                STANDBY_URL: pair.url("primary"),
                WAIT_SECONDS: "30",
                PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
            });
            assert.equal(r.code, 1, r.stderr);
            const out = report<LagReport>(r);
            assert.deepEqual([out.inRecovery, out.waitedSeconds], [false, 0]);
            // The answer came from the stand-in clock (a real second rarely turns in between).
            assert.equal(fs.readFileSync(calls, "utf8"), "1\n", "the gate read the stand-in clock once, at its start");
        });

        it("rejects a MAX_LAG_BYTES that is not a whole number", async () => {
            const r = await gate({ MAX_LAG_BYTES: "1e6" });
            assert.equal(r.code, 2);
            assert.equal(r.log, 'lag gate: MAX_LAG_BYTES must be a whole number of bytes, not "1e6"\n');
        });
    });

    describe("PROMOTE_SCRIPT (the unplanned failover: the primary's region is lost)", () => {
        /** Seeds the registry's tables on the primary and waits until the standby has them. */
        async function seedAndReplicate(): Promise<void> {
            await pair.query(
                "primary",
                "INSERT INTO repository (id, namespace_user_id, name) VALUES (1, 1, 'app')",
                [],
                db,
            );
            await write("primary", "usstorage");
            await write("primary", "eustorage");
            await pair.query(
                "primary",
                `WITH s AS (INSERT INTO imagestorage (uuid, uploading, image_size, content_checksum)
                            VALUES ('blob-a', false, 1, 'sha256:a') RETURNING id),
                      m AS (INSERT INTO manifest (repository_id, digest) VALUES (1, 'sha256:m') RETURNING id),
                      p AS (INSERT INTO imagestorageplacement (storage_id, location_id)
                            SELECT s.id, l.id FROM s, imagestoragelocation l)
                 INSERT INTO manifestblob (repository_id, manifest_id, blob_id) SELECT 1, m.id, s.id FROM m, s`,
                [],
                db,
            );
            await pair.waitForReplay();
        }

        /** Stops the primary the hard way and promotes the standby; returns the report. */
        async function failover(): Promise<{
            r: ScriptRun;
            out: PromoteReport;
            timelineBefore: number;
            replayed: string;
        }> {
            const [{ tl }] = await pair.query<{ tl: number }>("primary", TIMELINE_SQL);
            await pair.stop("primary", "immediate");
            // What was received before the loss is replayed before promotion anyway; wait for it, so
            // the position read here is the one the script reads.
            const settled = async () =>
                (
                    await pair.query<{ ok: boolean }>(
                        "standby",
                        "SELECT pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() AS ok",
                    )
                )[0].ok;
            for (let i = 0; i < 50 && !(await settled()); i++) await new Promise((res) => setTimeout(res, 100));
            const [{ replayed }] = await pair.query<{ replayed: string }>(
                "standby",
                "SELECT pg_last_wal_replay_lsn()::text AS replayed",
            );
            const r = await sh(PROMOTE_SCRIPT, { STANDBY_URL: pair.url("standby"), WAIT_SECONDS: "30" });
            assert.equal(r.code, 0, r.stderr);
            return { r, out: report<PromoteReport>(r), timelineBefore: tl, replayed };
        }

        // One failover, looked at three ways: a rebuilt standby (pg_basebackup, then its start) is
        // the costliest step of these tests, and the three need the same loss of the primary.
        describe("with the primary stopped", () => {
            let onStandby: ReplicationVerdict;
            let failed: Awaited<ReturnType<typeof failover>>;
            let afterFailover: ReplicationVerdict;
            before(async function () {
                await fresh();
                await seedAndReplicate();
                // It answers on the hot standby too (its transaction is READ ONLY), before the failover.
                onStandby = await runStatusSql(pair.url("standby", db), "usstorage,eustorage");
                failed = await failover();
                afterFailover = await runStatusSql(pair.url("standby", db), "usstorage,eustorage");
            });
            after(async function () {
                await pair?.restore();
            });

            it("promotes the standby; the new primary accepts writes and has the data", async () => {
                const { r, out, timelineBefore, replayed } = failed;
                assert.deepEqual(
                    { ...out, lsn: undefined },
                    {
                        promoted: true,
                        alreadyPrimary: false,
                        replayLsnBeforePromotion: replayed,
                        lsn: undefined,
                        timeline: timelineBefore + 1,
                    },
                );
                assert.match(out.lsn ?? "", /^[0-9A-F]+\/[0-9A-F]+$/);
                assert.equal(
                    r.stderr,
                    `promote: promoting the standby (replayed up to ${replayed}), waiting up to 30s\n` +
                        `promote: the standby is now a primary on timeline ${timelineBefore + 1}; it had replayed up to ${replayed}. ` +
                        "The old primary is not stopped by this: make sure nothing can write to it before the registry writes here\n",
                );
                assert.equal(r.log, "");

                const verify = await sh(VERIFY_PRIMARY_SCRIPT, { DATABASE_URL: pair.url("standby", db) });
                assert.equal(verify.code, 0, verify.stderr);
                assert.deepEqual(report(verify), {
                    inRecovery: false,
                    transactionReadOnly: false,
                    acceptsWrites: true,
                });

                await write("standby", "apstorage");
                assert.deepEqual(await locations("standby"), ["usstorage", "eustorage", "apstorage"]);
            });

            it("is idempotent: a second run finds a primary and does nothing", async () => {
                const again = await sh(PROMOTE_SCRIPT, { STANDBY_URL: pair.url("standby") });
                assert.equal(again.code, 0, again.stderr);
                const second = report<PromoteReport>(again);
                assert.equal(second.promoted, true);
                assert.equal(second.alreadyPrimary, true);
                assert.equal(second.timeline, failed.out.timeline);
                assert.equal(
                    again.stderr,
                    `promote: the server is already a primary (not in recovery, timeline ${failed.out.timeline}): nothing to do\n`,
                );
            });

            it("leaves the replication-status SQL answering on the promoted server", () => {
                const expected: ReplicationVerdict = {
                    required: ["usstorage", "eustorage"],
                    missingLocations: [],
                    blobsInUse: 1,
                    missingPlacements: { usstorage: 0, eustorage: 0 },
                    queue: { alive: 0, running: 0, waitingRetry: 0, dead: 0, deadBlocking: 0 },
                    complete: true,
                };
                assert.deepEqual(afterFailover, expected);
                assert.deepEqual(onStandby, expected);
            });
        });

        describe("on its own", () => {
            eachTestFresh();

            it("exits 2 when the standby cannot be reached", async () => {
                const r = await sh(PROMOTE_SCRIPT, { STANDBY_URL: CLOSED_URL });
                assert.equal(r.code, 2, r.stderr);
                assert.equal(r.stdout, "");
                assert.match(
                    r.log,
                    /^promote: cannot reach the standby \(STANDBY_URL\), so it was not promoted: psql: error: connection to server at "127\.0\.0\.1", port 1 failed/,
                );
            });

            // What the scripts do not do: fence the old primary. Promoting while it still runs (a
            // partition, not a loss) leaves two primaries that both accept writes: split brain. The
            // runbook stops the old primary (or cuts it off) before the registry is pointed here.
            it("does not fence the old primary: promoted while it runs, both accept writes", async () => {
                const r = await sh(PROMOTE_SCRIPT, { STANDBY_URL: pair.url("standby"), WAIT_SECONDS: "30" });
                assert.equal(r.code, 0, r.stderr);
                for (const node of ["primary", "standby"] as const) {
                    const verify = await sh(VERIFY_PRIMARY_SCRIPT, { DATABASE_URL: pair.url(node, db) });
                    assert.equal(verify.code, 0, `${node}: ${verify.stderr}`);
                    await write(node, `written-on-${node}`);
                }
                assert.deepEqual(await locations("primary"), ["written-on-primary"]);
                assert.deepEqual(await locations("standby"), ["written-on-standby"]);
                // Only the lag gate notices that the standby is no standby any more.
                const g = await gate({ WAIT_SECONDS: "0" });
                assert.equal(g.code, 1);
                assert.match(g.log, /not in recovery/);
            });
        });
    });

    describe("VERIFY_PRIMARY_SCRIPT", () => {
        eachTestFresh();

        it("passes on the primary", async () => {
            const r = await sh(VERIFY_PRIMARY_SCRIPT, { DATABASE_URL: pair.url("primary", db) });
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(report(r), { inRecovery: false, transactionReadOnly: false, acceptsWrites: true });
            assert.equal(
                r.stderr,
                "verify primary: the server accepts writes (not in recovery, transaction_read_only off, a transaction id assigned)\n",
            );
        });

        it("fails on a standby, which refuses writes", async () => {
            const r = await sh(VERIFY_PRIMARY_SCRIPT, { DATABASE_URL: pair.url("standby", db) });
            assert.equal(r.code, 1, r.stderr);
            assert.deepEqual(report(r), { inRecovery: true, transactionReadOnly: true, acceptsWrites: false });
            assert.equal(
                r.log,
                "verify primary: the server is in recovery (a standby, or its promotion has not finished), so it refuses writes. Promote it first (or wait for the promotion to finish), or point DATABASE_URL at the new primary; keep the registry read-only until this passes.\n",
            );
        });

        it("fails on a primary whose sessions are read-only (default_transaction_read_only)", async () => {
            const r = await sh(VERIFY_PRIMARY_SCRIPT, {
                DATABASE_URL: pair.url("primary", db),
                PGOPTIONS: "-c default_transaction_read_only=on",
            });
            assert.equal(r.code, 1, r.stderr);
            assert.deepEqual(report(r), { inRecovery: false, transactionReadOnly: true, acceptsWrites: false });
            assert.match(
                r.log,
                /^verify primary: the server is a primary but read-only for this connection: default_transaction_read_only is on/,
            );
        });

        it("exits 2 when the server cannot be reached", async () => {
            const r = await sh(VERIFY_PRIMARY_SCRIPT, { DATABASE_URL: CLOSED_URL });
            assert.equal(r.code, 2, r.stderr);
            assert.match(
                r.log,
                /^verify primary: cannot reach the database \(DATABASE_URL\), so it is unknown whether it accepts writes: psql: error:/,
            );
        });
    });
});
