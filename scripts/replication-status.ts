// Replication verdict for geo-replicated Quay: is every in-use blob in every required location,
// with no replication work left?
//
//   npm run replication-status -- --locations usstorage,eustorage [--database-url URL]
//   (= node scripts/run.js scripts/replication-status.ts ...: this file, compiled)
//
// Runs sql/replication-status.sql through the real `psql` (read-only transaction; see the header
// of that file for the exact semantics), prints its JSON verdict on stdout and a short summary on
// stderr. The database URL defaults to $DATABASE_URL; `psql` can be overridden with $PSQL.
//
// Exit codes: 0 replication complete, 1 incomplete, 2 usage / connection / query error.
import { execFile } from "node:child_process";
import * as path from "node:path";
import { PROJECT_ROOT } from "../lib/projectRoot";

const SQL_FILE = path.join(PROJECT_ROOT, "sql", "replication-status.sql");

const USAGE = `usage: replication-status --locations LOC1,LOC2[,...] [--database-url URL]

  --locations      comma-separated storage location IDs every blob must be in
                   (DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, or the sites that remain)
  --database-url   Quay's PostgreSQL, e.g. postgresql://user:pass@host:5432/quay?sslmode=require
                   (default: $DATABASE_URL)

exit status: 0 complete, 1 incomplete, 2 usage or connection error`;

interface Verdict {
    required: string[];
    missingLocations: string[];
    blobsInUse: number;
    missingPlacements: Record<string, number>;
    queue: { alive: number; running: number; waitingRetry: number; dead: number; deadBlocking: number };
    complete: boolean;
}

class UsageError extends Error {}
class RunError extends Error {}

interface Options {
    locations: string;
    databaseUrl: string;
}

/** What the command reads and where it prints: the process's own, unless a caller (a test) passes others. */
export interface ReplicationStatusIo {
    readonly env: NodeJS.ProcessEnv;
    stdout(text: string): void;
    stderr(text: string): void;
}

const PROCESS_IO: ReplicationStatusIo = {
    env: process.env,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
};

function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Options | "help" {
    let locations: string | undefined;
    let databaseUrl: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "-h" || arg === "--help") return "help";
        const eq = arg.indexOf("=");
        const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
        let value: string | undefined;
        if (flag === "--locations" || flag === "--database-url") {
            if (flag !== arg) {
                value = arg.slice(eq + 1);
            } else {
                value = argv[++i];
                if (value === undefined) throw new UsageError(`${flag} needs a value`);
            }
            if (flag === "--locations") locations = value;
            else databaseUrl = value;
        } else {
            throw new UsageError(`unknown argument: ${arg}`);
        }
    }
    if (locations === undefined) throw new UsageError("--locations is required");
    const names = locations
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    if (names.length === 0) throw new UsageError("--locations names no location");
    databaseUrl = databaseUrl ?? env.DATABASE_URL;
    if (!databaseUrl) {
        throw new UsageError("no database: pass --database-url URL or set DATABASE_URL");
    }
    return { locations: names.join(","), databaseUrl };
}

function runPsql(opts: Options, processEnv: NodeJS.ProcessEnv): Promise<string> {
    const psql = processEnv.PSQL || "psql";
    const args = [opts.databaseUrl, "-X", "-v", "ON_ERROR_STOP=1", "-v", `locations=${opts.locations}`, "-f", SQL_FILE];
    const env = { ...processEnv, PGCONNECT_TIMEOUT: processEnv.PGCONNECT_TIMEOUT || "10" };
    return new Promise((resolve, reject) => {
        execFile(psql, args, { env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err) {
                const e = err as NodeJS.ErrnoException & { code?: number | string };
                if (e.code === "ENOENT") {
                    reject(new RunError(`cannot run ${psql}: not found (install the PostgreSQL client)`));
                } else {
                    const detail = String(stderr).trim() || e.message;
                    reject(new RunError(`psql failed (exit ${e.code ?? "?"}):\n${detail}`));
                }
                return;
            }
            resolve(String(stdout));
        });
    });
}

function parseVerdict(stdout: string): Verdict {
    const lines = stdout.split("\n").filter((l) => l.trim().length > 0);
    if (lines.length !== 1) {
        throw new RunError(`unexpected output from psql (expected one JSON line):\n${stdout}`);
    }
    try {
        return JSON.parse(lines[0]) as Verdict;
    } catch {
        throw new RunError(`unexpected output from psql (not JSON):\n${lines[0]}`);
    }
}

function summary(v: Verdict): string {
    const out: string[] = [];
    const locs = v.required.join(", ");
    if (v.complete) {
        out.push(`replication COMPLETE for ${locs}`);
        const dead = v.queue.dead > 0 ? `; ${v.queue.dead} dead items block nothing (their blobs are in place)` : "";
        out.push(`  ${v.blobsInUse} blobs in use, present in every location; no replication item alive${dead}`);
        return out.join("\n");
    }
    out.push(`replication INCOMPLETE for ${locs}`);
    out.push(`  blobs in use: ${v.blobsInUse}`);
    for (const name of v.required) {
        const missing = v.missingPlacements[name] ?? 0;
        if (v.missingLocations.includes(name)) {
            out.push(`  ${name}: no imagestoragelocation row; all ${missing} blobs missing`);
        } else if (missing > 0) {
            out.push(`  ${name}: ${missing} blobs missing`);
        } else {
            out.push(`  ${name}: all blobs present`);
        }
    }
    const q = v.queue;
    out.push(
        `  replication queue: ${q.alive} alive (${q.running} running, ${q.waitingRetry} waiting retry), ${q.dead} dead (${q.deadBlocking} blocking)`,
    );
    if (q.deadBlocking > 0) {
        out.push(
            "  blocking dead items (their blobs still lack a required location) are never retried: " +
                "run `python -m util.backfillreplication` in a Quay pod (lifecycle.backfillRun)",
        );
    }
    return out.join("\n");
}

async function verdictOf(argv: readonly string[], io: ReplicationStatusIo): Promise<number> {
    let opts: Options | "help";
    try {
        opts = parseArgs(argv, io.env);
    } catch (err) {
        if (err instanceof UsageError) {
            io.stderr(`replication-status: ${err.message}\n\n${USAGE}\n`);
            return 2;
        }
        throw err;
    }
    if (opts === "help") {
        io.stdout(`${USAGE}\n`);
        return 0;
    }
    const verdict = parseVerdict(await runPsql(opts, io.env));
    io.stdout(`${JSON.stringify(verdict)}\n`);
    io.stderr(`${summary(verdict)}\n`);
    return verdict.complete ? 0 : 1;
}

/**
 * The command: prints the verdict and returns the exit code (0 complete, 1 incomplete, 2 usage,
 * connection or query error, its message on stderr without a stack trace).
 */
export async function main(argv: readonly string[], io: ReplicationStatusIo = PROCESS_IO): Promise<number> {
    try {
        return await verdictOf(argv, io);
    } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        io.stderr(`replication-status: ${message}\n`);
        return 2;
    }
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    });
}
