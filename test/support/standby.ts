// A real PostgreSQL primary and its streaming standby, for the failover scripts' tests.
//
// `.ci/postgres-standby.sh` makes the pair and describes it in <PG_PAIR_DIR>/pair.json (default
// /var/lib/quay-georep/pg-pair): ports (5433, 5434), configuration and data directories, the OS user
// that owns them. The tests connect over TCP as PGUSER/PGPASSWORD (georep_test, as on 5432), and
// control the servers as that owner: pg_ctl and pg_basebackup directly when the tests run as the
// owner, through `runuser -u <owner> --` when they run as root (pg_ctl refuses root).
//
// Every test leaves the pair as it found it: `restore()` (run after each test) starts a stopped
// server, resumes a paused replay, and rebuilds a standby that was promoted or does not catch up
// (pg_basebackup -R, as the script does). Waits are bounded. The tests hold <PG_PAIR_DIR>/lock
// (the script's lock: a file holding the holder's pid) so two runs never move the pair at once.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { databaseUrl, ExecResult, FIXTURE_SQL, pgSettings, PgSettings, run } from "./postgres";

export const PAIR_DIR = process.env.PG_PAIR_DIR || "/var/lib/quay-georep/pg-pair";
const SETUP = "`bash .ci/postgres-standby.sh` (as root, or `sudo bash .ci/postgres-standby.sh`)";
/** Prefix of the throwaway databases the tests create on the primary. */
const DB_PREFIX = "georep_standby_";

export type Node = "primary" | "standby";

interface NodeLayout {
    readonly host: string;
    readonly port: number;
    readonly conf: string;
    readonly data: string;
    readonly log: string;
}

/** pair.json, as .ci/postgres-standby.sh writes it. */
interface PairLayout {
    readonly version: string;
    readonly bindir: string;
    readonly owner: string;
    readonly dir: string;
    readonly lock: string;
    readonly passfile: string;
    readonly replicationUser: string;
    readonly applicationName: string;
    readonly primary: NodeLayout;
    readonly standby: NodeLayout;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns true; false after `ms`. Every 20 ms at first (a standby on the
 * same machine replays a test's few writes within milliseconds, and every test waits for it twice),
 * then less often, up to every 200 ms.
 */
async function until(ms: number, check: () => Promise<boolean>): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (let pause = 20; ; pause = Math.min(200, pause * 2)) {
        if (await check().catch(() => false)) return true;
        if (Date.now() > deadline) return false;
        await sleep(pause);
    }
}

/** The environment without libpq's variables: the connection strings say everything. */
function withoutLibpqEnv(): NodeJS.ProcessEnv {
    return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("PG")));
}

/** Why the tests cannot use the pair here, or undefined when they can. */
function unusable(layout: PairLayout | undefined): string | undefined {
    if (layout === undefined) return `no standby pair: ${path.join(PAIR_DIR, "pair.json")} is missing`;
    const uid = process.getuid?.();
    if (uid === 0 || uid === fs.statSync(layout.dir).uid) return undefined;
    return `the standby pair under ${layout.dir} belongs to ${layout.owner}: run the tests as ${layout.owner} or root, or re-run the setup with PG_PAIR_OWNER=<your user>`;
}

/**
 * Whether a query failed because its connection is gone (the server restarted or ended the session)
 * rather than because of the statement: no SQLSTATE, or one of class 08 (connection exception) or
 * 57P (operator intervention: admin or crash shutdown, cannot connect now).
 */
function connectionLost(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return true;
    return code.startsWith("08") || code.startsWith("57P");
}

/** The pair, once its lock is held and both servers are in their roles. */
export class StandbyPair {
    /**
     * Open connections, by node and database. A statement reuses its node's connection to its
     * database (a connection costs a backend and a SCRAM exchange, about 5 ms of CPU, and the tests
     * run about a hundred statements); the pair forgets them when it stops a server or drops a
     * database, and a statement whose connection is gone runs once more on a new one.
     */
    private readonly clients = new Map<string, Promise<Client>>();

    private constructor(
        private readonly layout: PairLayout,
        readonly settings: PgSettings,
    ) {}

    /**
     * Opens the pair for a suite (call in `before`): fails under CI=true when it is missing or
     * cannot be controlled, naming the setup script; skips, saying so, elsewhere.
     */
    static async open(ctx: Mocha.Context): Promise<StandbyPair> {
        const file = path.join(PAIR_DIR, "pair.json");
        const layout = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as PairLayout) : undefined;
        const why = unusable(layout);
        if (why !== undefined || layout === undefined) {
            const message = `${why}. These tests need a PostgreSQL primary and a streaming standby: run ${SETUP} first`;
            if (process.env.CI === "true") assert.fail(`${message}; CI must run the failover scripts for real`);
            console.log(`      skipped: ${message}`);
            ctx.skip();
        }
        const s = pgSettings();
        const pair = new StandbyPair(layout, {
            host: layout.primary.host,
            port: layout.primary.port,
            user: s.user,
            password: s.password,
        });
        await pair.lock();
        try {
            await pair.restore();
            await pair.dropLeftoverDatabases();
        } catch (err) {
            await pair.close();
            throw new Error(`the standby pair is not usable (${(err as Error).message}); run ${SETUP} to repair it`);
        }
        return pair;
    }

    /** Closes the pair's connections and releases the lock (call in `after`). */
    async close(): Promise<void> {
        try {
            await this.forget(() => true);
        } finally {
            this.unlock();
        }
    }

    /** A libpq URL for one server, as the Jobs get it. */
    url(node: Node, database = "postgres"): string {
        return databaseUrl(database, { ...this.settings, host: this.layout[node].host, port: this.layout[node].port });
    }

    /**
     * Runs one statement on the node's connection to `database`, opened on first use; once more on a
     * new connection when that one is gone (its server restarted, or ended the session).
     */
    async query<R extends Record<string, unknown> = Record<string, unknown>>(
        node: Node,
        sql: string,
        params: unknown[] = [],
        database = "postgres",
    ): Promise<R[]> {
        const key = `${node}/${database}`;
        for (let attempt = 1; ; attempt++) {
            const client = await this.client(node, database);
            try {
                return (await client.query<R>(sql, params)).rows;
            } catch (err) {
                if (attempt > 1 || !connectionLost(err)) throw err;
                await this.forget((k) => k === key);
            }
        }
    }

    /** The node's open connection to `database`, or a new one (not kept when it cannot connect). */
    private client(node: Node, database: string): Promise<Client> {
        const key = `${node}/${database}`;
        let client = this.clients.get(key);
        if (client === undefined) {
            const c = new Client({
                host: this.layout[node].host,
                port: this.layout[node].port,
                user: this.settings.user,
                password: this.settings.password,
                database,
                connectionTimeoutMillis: 5000,
            });
            // An idle connection the server ends emits "error": forget it (the next statement reconnects).
            c.on("error", () => {
                if (this.clients.get(key) === client) this.clients.delete(key);
            });
            client = c.connect().then(() => c);
            this.clients.set(key, client);
            client.catch(() => {
                if (this.clients.get(key) === client) this.clients.delete(key);
            });
        }
        return client;
    }

    /** Closes and forgets the open connections whose `node/database` key matches. */
    private async forget(matches: (key: string) => boolean): Promise<void> {
        const gone = [...this.clients].filter(([key]) => matches(key));
        for (const [key] of gone) this.clients.delete(key);
        await Promise.all(
            gone.map(([, client]) =>
                client.then(
                    (c) => c.end().catch(() => undefined),
                    () => undefined,
                ),
            ),
        );
    }

    /** Creates a database on the primary from the Quay fixture schema; returns its name. */
    async createDatabase(): Promise<string> {
        const name = `${DB_PREFIX}${process.pid}_${randomBytes(4).toString("hex")}`;
        await this.query("primary", `CREATE DATABASE "${name}"`);
        await this.query("primary", fs.readFileSync(FIXTURE_SQL, "utf8"), [], name);
        return name;
    }

    /** Drops a database on the primary (the standby follows); the pair's connections to it first. */
    async dropDatabase(name: string): Promise<void> {
        await this.forget((key) => key.endsWith(`/${name}`));
        await this.query("primary", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }

    /** Stops a server: `fast` as in a planned shutdown, `immediate` as when its region is lost. */
    async stop(node: Node, mode: "fast" | "immediate" = "fast"): Promise<void> {
        await this.forget((key) => key.startsWith(`${node}/`));
        if (!(await this.running(node))) return;
        this.check(await this.pgCtl(node, ["-m", mode, "-w", "-t", "60", "stop"]), `stop the ${node}`);
    }

    async start(node: Node): Promise<void> {
        if (await this.running(node)) return;
        this.check(
            await this.pgCtl(node, ["-l", this.layout[node].log, "-w", "-t", "60", "start"]),
            `start the ${node}`,
        );
    }

    /** Waits (15 s at most) until the standby has replayed what the primary has written so far. */
    async waitForReplay(ms = 15_000): Promise<void> {
        const [{ lsn }] = await this.query<{ lsn: string }>("primary", "SELECT pg_current_wal_lsn()::text AS lsn");
        const caughtUp = await until(ms, async () => {
            const [row] = await this.query<{ done: boolean }>(
                "standby",
                "SELECT COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS done",
                [lsn],
            );
            return row.done;
        });
        assert.ok(caughtUp, `the standby did not replay up to the primary's ${lsn} within ${ms} ms`);
    }

    /**
     * Puts the pair back: the primary running and not in recovery; the standby running, in
     * recovery, a copy of this primary, not paused and caught up, or else rebuilt.
     */
    async restore(): Promise<void> {
        await this.start("primary");
        const [p] = await this.query<{ r: boolean; id: string }>(
            "primary",
            "SELECT pg_is_in_recovery() AS r, system_identifier::text AS id FROM pg_control_system()",
        );
        assert.equal(p.r, false, "the primary is in recovery");
        if (await this.standbyHealthy(p.id)) return;
        await this.rebuildStandby();
        assert.ok(
            await this.standbyHealthy(p.id),
            `the rebuilt standby does not follow the primary; see ${this.layout.standby.log}`,
        );
    }

    /** Throws the standby away and makes it again from the primary, as .ci/postgres-standby.sh does. */
    async rebuildStandby(): Promise<void> {
        await this.stop("standby", "immediate");
        fs.rmSync(this.layout.standby.data, { recursive: true, force: true });
        const conninfo = [
            `host=${this.layout.primary.host}`,
            `port=${this.layout.primary.port}`,
            `user=${this.layout.replicationUser}`,
            `passfile=${this.layout.passfile}`,
            `application_name=${this.layout.applicationName}`,
        ].join(" ");
        // pg_basebackup makes the directory itself (0700, owned by whoever runs it: the owner).
        const backup = await this.asOwner(
            path.join(this.layout.bindir, "pg_basebackup"),
            ["--no-password", "-R", "-X", "stream", "-c", "fast", "-D", this.layout.standby.data, "-d", conninfo],
            120_000,
        );
        this.check(backup, "make the standby with pg_basebackup");
        await this.start("standby");
    }

    private async standbyHealthy(primaryId: string): Promise<boolean> {
        if (!(await this.running("standby"))) {
            const started = await this.pgCtl("standby", ["-l", this.layout.standby.log, "-w", "-t", "60", "start"]);
            if (started.code !== 0) return false;
        }
        const rows = await this.query<{ r: boolean; id: string; paused: boolean }>(
            "standby",
            `SELECT pg_is_in_recovery() AS r, system_identifier::text AS id,
                    CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused
             FROM pg_control_system()`,
        ).catch(() => []);
        if (rows.length !== 1 || !rows[0].r || rows[0].id !== primaryId) return false;
        if (rows[0].paused) await this.query("standby", "SELECT pg_wal_replay_resume()");
        return this.waitForReplay().then(
            () => true,
            () => false,
        );
    }

    /**
     * Whether the node's postmaster runs, as `pg_ctl status` tells it (postgres src/bin/pg_ctl/pg_ctl.c
     * `do_status`: the PID on the first line of the data directory's postmaster.pid, `get_pgpid`,
     * alive to `kill(pid, 0)`, `postmaster_is_alive`), read here instead of starting pg_ctl: given
     * the config directory, pg_ctl first runs `postgres -C data_directory` to find the data
     * directory (`adjust_data_dir`), two processes for every question.
     */
    private running(node: Node): Promise<boolean> {
        let text: string;
        try {
            text = fs.readFileSync(path.join(this.layout[node].data, "postmaster.pid"), "utf8");
        } catch {
            return Promise.resolve(false); // no postmaster.pid: not running
        }
        const pid = Number(text.split("\n")[0]);
        if (!Number.isInteger(pid) || pid <= 0) return Promise.resolve(false);
        try {
            process.kill(pid, 0);
            return Promise.resolve(true);
        } catch (err) {
            // EPERM: it runs, as another user (pg_ctl checks the same way, as the owner).
            return Promise.resolve((err as NodeJS.ErrnoException).code === "EPERM");
        }
    }

    private pgCtl(node: Node, args: string[]): Promise<ExecResult> {
        return this.asOwner(path.join(this.layout.bindir, "pg_ctl"), ["-D", this.layout[node].conf, ...args], 90_000);
    }

    /** Runs a program as the pair's owner, from its directory, without libpq variables. */
    private asOwner(file: string, args: string[], timeoutMs: number): Promise<ExecResult> {
        const [cmd, argv] =
            process.getuid?.() === 0 ? ["runuser", ["-u", this.layout.owner, "--", file, ...args]] : [file, args];
        return run(cmd, argv, { cwd: this.layout.dir, env: withoutLibpqEnv(), timeoutMs });
    }

    private check(r: ExecResult, what: string): void {
        assert.equal(r.code, 0, `could not ${what}:\n${r.stdout}${r.stderr}`);
    }

    /** Databases of earlier runs that ended before their `after` hook. */
    private async dropLeftoverDatabases(): Promise<void> {
        const rows = await this.query<{ name: string }>(
            "primary",
            "SELECT datname AS name FROM pg_database WHERE starts_with(datname, $1)",
            [DB_PREFIX],
        );
        for (const { name } of rows) await this.dropDatabase(name);
    }

    private async lock(): Promise<void> {
        const file = this.layout.lock;
        const deadline = Date.now() + 120_000;
        for (;;) {
            try {
                fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
                return;
            } catch (err) {
                if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
            }
            const holder = fs.readFileSync(file, "utf8").trim();
            const age = Date.now() - fs.statSync(file).mtimeMs;
            // A holder that is gone (or never wrote its pid) leaves a lock nobody will release.
            if ((holder !== "" && !fs.existsSync(`/proc/${holder}`)) || (holder === "" && age > 60_000)) {
                fs.rmSync(file, { force: true });
                continue;
            }
            assert.ok(
                Date.now() < deadline,
                `${file} is held by pid ${holder} (another test run, or the setup script)`,
            );
            await sleep(500);
        }
    }

    private unlock(): void {
        const file = this.layout.lock;
        if (fs.existsSync(file) && fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.rmSync(file);
    }
}
