// Real-PostgreSQL helpers for the replication-status tests.
//
// Connection settings come from the libpq environment variables, with defaults matching what
// `.ci/postgres.sh` sets up: PGHOST=127.0.0.1, PGPORT=5432, PGUSER=georep_test,
// PGPASSWORD=georep_test. The role needs CREATEDB: each suite gets its own throwaway database
// (created from the fixture test/fixtures/quay-schema.sql, dropped afterwards).
//
// The status SQL is always run through the real `psql` binary (override with env PSQL), exactly
// as an operator runs it: psql "<url>" -X -v ON_ERROR_STOP=1 -v locations=... -f <file>.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { PROJECT_ROOT } from "../../lib/projectRoot";

export const REPO_ROOT = PROJECT_ROOT;
export const STATUS_SQL = path.join(REPO_ROOT, "sql", "replication-status.sql");
export const FIXTURE_SQL = path.join(REPO_ROOT, "test", "fixtures", "quay-schema.sql");

export interface PgSettings {
    host: string;
    port: number;
    user: string;
    password: string;
}

export function pgSettings(): PgSettings {
    return {
        host: process.env.PGHOST || "127.0.0.1",
        port: Number(process.env.PGPORT || "5432"),
        user: process.env.PGUSER || "georep_test",
        password: process.env.PGPASSWORD ?? "georep_test",
    };
}

export function databaseUrl(database: string, s: PgSettings = pgSettings()): string {
    const auth = `${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}`;
    return `postgresql://${auth}@${s.host}:${s.port}/${encodeURIComponent(database)}`;
}

function connect(database: string): Client {
    const s = pgSettings();
    return new Client({
        host: s.host,
        port: s.port,
        user: s.user,
        password: s.password,
        database,
        connectionTimeoutMillis: 5000,
    });
}

/** Thrown (never skipped) when the test PostgreSQL cannot be reached. */
export class PostgresUnavailableError extends Error {}

async function adminClient(): Promise<Client> {
    const s = pgSettings();
    const client = connect("postgres");
    try {
        await client.connect();
    } catch (err) {
        throw new PostgresUnavailableError(
            `Cannot connect to the test PostgreSQL at ${s.host}:${s.port} as "${s.user}" ` +
                `(${(err as Error).message}). These tests need a real server: run ` +
                "`bash .ci/postgres.sh` (as root) first, or point PGHOST/PGPORT/PGUSER/PGPASSWORD " +
                "at a server where that role has CREATEDB.",
        );
    }
    return client;
}

/**
 * Every table of test/fixtures/quay-schema.sql, referencing tables before the tables they reference
 * (the order rows can be deleted in). {@link TestDatabase.create} checks the list against the fixture.
 */
export const FIXTURE_TABLES = [
    "queueitem",
    "manifestblob",
    "imagestorageplacement",
    "blobupload",
    "userregion",
    "manifest",
    "imagestorage",
    "imagestoragelocation",
    "repository",
] as const;

/**
 * What {@link TestDatabase.reset} runs: every row deleted, every `id` sequence restarted at 1. The
 * state `TRUNCATE … RESTART IDENTITY CASCADE` leaves, at a small part of its cost on these few rows
 * (a truncation makes new files for every table and index: about 50 ms, once per test).
 */
const RESET_SQL = [
    ...FIXTURE_TABLES.map((t) => `DELETE FROM ${t};`),
    `SELECT setval(pg_get_serial_sequence(t, 'id'), 1, false) FROM unnest(ARRAY[${FIXTURE_TABLES.map((t) => `'${t}'`).join(", ")}]) AS t;`,
].join("\n");

/** A throwaway database loaded with the Quay fixture schema. */
export class TestDatabase {
    private constructor(
        readonly name: string,
        readonly client: Client,
    ) {}

    get url(): string {
        return databaseUrl(this.name);
    }

    static async create(): Promise<TestDatabase> {
        const name = `georep_test_${process.pid}_${randomBytes(4).toString("hex")}`;
        const admin = await adminClient();
        try {
            await admin.query(`CREATE DATABASE "${name}"`);
        } finally {
            await admin.end();
        }
        const db = new TestDatabase(name, connect(name));
        try {
            await db.client.connect();
            await db.client.query(readFileSync(FIXTURE_SQL, "utf8"));
            const tables = await db.query<{ name: string }>(
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
            );
            const listed = [...FIXTURE_TABLES].sort();
            if (JSON.stringify(tables.map((t) => t.name)) !== JSON.stringify(listed)) {
                throw new Error(
                    `the fixture's tables (${tables.map((t) => t.name).join(", ")}) are not FIXTURE_TABLES ` +
                        `(${listed.join(", ")}): list them in test/support/postgres.ts, referencing tables first`,
                );
            }
        } catch (err) {
            await db.drop().catch(() => undefined);
            throw err;
        }
        return db;
    }

    async query<R extends Record<string, unknown> = Record<string, unknown>>(
        sql: string,
        params: unknown[] = [],
    ): Promise<R[]> {
        return (await this.client.query<R>(sql, params)).rows;
    }

    /** Empties every fixture table and resets the ids, so each test starts from nothing. */
    async reset(): Promise<void> {
        await this.client.query(RESET_SQL);
    }

    async drop(): Promise<void> {
        await this.client.end().catch(() => undefined);
        const admin = await adminClient();
        try {
            await admin.query(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`);
        } finally {
            await admin.end();
        }
    }
}

export interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs a program without a shell and collects its exit code and output. */
export function run(
    file: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
        execFile(
            file,
            args,
            {
                cwd: options.cwd ?? REPO_ROOT,
                env: options.env ?? process.env,
                timeout: options.timeoutMs ?? 15000,
                maxBuffer: 16 * 1024 * 1024,
            },
            (err, stdout, stderr) => {
                if (err && typeof err.code !== "number") {
                    reject(new Error(`could not run ${file}: ${err.message}`));
                    return;
                }
                resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
            },
        );
    });
}

/** psql's arguments for the operator's invocation of the status SQL. */
export function psqlStatusArgs(url: string, locations: string | undefined): string[] {
    const args = [url, "-X", "-v", "ON_ERROR_STOP=1"];
    if (locations !== undefined) args.push("-v", `locations=${locations}`);
    args.push("-f", STATUS_SQL);
    return args;
}

/** Runs sql/replication-status.sql through psql; returns the raw result. */
export function runStatusSqlRaw(
    url: string,
    locations: string | undefined,
    extraEnv: NodeJS.ProcessEnv = {},
): Promise<ExecResult> {
    return run(process.env.PSQL || "psql", psqlStatusArgs(url, locations), {
        env: { ...process.env, ...extraEnv },
    });
}

export interface ReplicationVerdict {
    required: string[];
    missingLocations: string[];
    blobsInUse: number;
    missingPlacements: Record<string, number>;
    queue: { alive: number; running: number; waitingRetry: number; dead: number; deadBlocking: number };
    complete: boolean;
}

/** Runs the status SQL through psql and parses its single JSON line; throws on any failure. */
export async function runStatusSql(
    url: string,
    locations: string,
    extraEnv: NodeJS.ProcessEnv = {},
): Promise<ReplicationVerdict> {
    const r = await runStatusSqlRaw(url, locations, extraEnv);
    if (r.code !== 0) {
        throw new Error(`psql exited ${r.code}: ${r.stderr.trim()}`);
    }
    const lines = r.stdout.split("\n").filter((l) => l.length > 0);
    if (lines.length !== 1) {
        throw new Error(`expected exactly one output line from psql, got:\n${r.stdout}`);
    }
    return JSON.parse(lines[0]) as ReplicationVerdict;
}
