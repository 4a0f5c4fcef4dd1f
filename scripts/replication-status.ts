// Replication verdict for geo-replicated Quay: is every in-use blob in every required location,
// with no replication work left?
//
//   npm run replication-status -- --locations usstorage,eustorage [--database-url URL]
//   (= ts-node --transpile-only scripts/replication-status.ts ...)
//
// Runs sql/replication-status.sql through the real `psql` (read-only transaction; see the header
// of that file for the exact semantics), prints its JSON verdict on stdout and a short summary on
// stderr. The database URL defaults to $DATABASE_URL; `psql` can be overridden with $PSQL.
//
// Exit codes: 0 replication complete, 1 incomplete, 2 usage / connection / query error.
import { execFile } from "node:child_process";
import * as path from "node:path";

const SQL_FILE = path.resolve(__dirname, "..", "sql", "replication-status.sql");

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

function parseArgs(argv: string[]): Options | "help" {
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
    databaseUrl = databaseUrl ?? process.env.DATABASE_URL;
    if (!databaseUrl) {
        throw new UsageError("no database: pass --database-url URL or set DATABASE_URL");
    }
    return { locations: names.join(","), databaseUrl };
}

function runPsql(opts: Options): Promise<string> {
    const psql = process.env.PSQL || "psql";
    const args = [opts.databaseUrl, "-X", "-v", "ON_ERROR_STOP=1", "-v", `locations=${opts.locations}`, "-f", SQL_FILE];
    const env = { ...process.env, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT || "10" };
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

async function main(argv: string[]): Promise<number> {
    let opts: Options | "help";
    try {
        opts = parseArgs(argv);
    } catch (err) {
        if (err instanceof UsageError) {
            process.stderr.write(`replication-status: ${err.message}\n\n${USAGE}\n`);
            return 2;
        }
        throw err;
    }
    if (opts === "help") {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const verdict = parseVerdict(await runPsql(opts));
    process.stdout.write(`${JSON.stringify(verdict)}\n`);
    process.stderr.write(`${summary(verdict)}\n`);
    return verdict.complete ? 0 : 1;
}

main(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        process.stderr.write(`replication-status: ${message}\n`);
        process.exitCode = 2;
    },
);
