// `npm test`: brings bin/ up to date (scripts/build.js), then runs the suite as two mocha runs at
// once, each configured by .mocharc.js for its group (QUAY_GEOREP_TEST_GROUP):
//
//   workers  every test file but the OWN_PROCESS ones, in two parallel worker processes;
//   own      the OWN_PROCESS files (the failover scripts on a PostgreSQL primary and standby), in
//            one more mocha process beside them.
//
// Why: the failover file takes seven seconds of which its own process is busy half a second; the
// rest it waits on PostgreSQL starting, stopping and copying servers. As one of three workers it
// held a worker that, when free, loaded the Pulumi SDK and warmed up a third copy of the program
// (about three seconds of CPU per worker on this 2-core machine); beside two workers, it overlaps
// with them and loads nothing. Measured in docs/benchmark.md ("The test suite").
//
// The workers' report is printed as it comes; the own process's is held and printed after it,
// then one closing line for both, counted from each run's reporter (test/support/reporter.js,
// QUAY_GEOREP_TEST_SUMMARY). The exit code is non-zero when either run's is (a failure, or a skip
// under CI=true). Extra arguments go to both mocha runs (`npm test -- --grep standby`).
//
// Usage: node scripts/test.js [mocha arguments…]
"use strict";
const { Buffer } = require("node:buffer");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { ensureBuilt } = require("./build");

const ROOT = path.resolve(__dirname, "..");
const MOCHA = require.resolve("mocha/bin/mocha.js", { paths: [ROOT] });

/** Starts one group's mocha run; resolves with its exit code, its held output and its totals. */
function runGroup(group, args, { hold }) {
    const summary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "quay-georep-test-")), "summary.json");
    const child = spawn(process.execPath, [MOCHA, ...args], {
        cwd: ROOT,
        env: { ...process.env, QUAY_GEOREP_TEST_GROUP: group, QUAY_GEOREP_TEST_SUMMARY: summary },
        stdio: ["ignore", hold ? "pipe" : "inherit", hold ? "pipe" : "inherit"],
    });
    const held = [];
    if (hold) {
        child.stdout.on("data", (d) => held.push(d));
        child.stderr.on("data", (d) => held.push(d));
    }
    /** Reads the run's totals (undefined when its reporter never wrote them) and removes their folder. */
    const totals = () => {
        try {
            return JSON.parse(fs.readFileSync(summary, "utf8"));
        } catch {
            return undefined; // mocha ended before its reporter did (it could not load a file, say)
        } finally {
            fs.rmSync(path.dirname(summary), { recursive: true, force: true });
        }
    };
    return {
        child,
        done: new Promise((resolve) => {
            // A child that cannot start emits "error" and may not emit "close": either settles the run once.
            child.once("error", (err) =>
                resolve({ group, code: 1, output: `could not start mocha: ${err.message}\n`, totals: totals() }),
            );
            child.once("close", (code, signal) =>
                resolve({
                    group,
                    code: code ?? (signal ? 1 : 0),
                    output: Buffer.concat(held).toString("utf8"),
                    totals: totals(),
                }),
            );
        }),
    };
}

async function main(args) {
    await ensureBuilt();
    // The suite's configuration, loaded once here for what it sets in the environment: the
    // directories of the psql and python3 programs first on PATH (QUAY_GEOREP_TEST_TOOL_DIRS) and
    // Node's compile cache. Both runs inherit them instead of finding the programs again (starting
    // pyenv's shim and Debian's pg_wrapper takes about a tenth of a second of CPU).
    require("../.mocharc.js");
    const runs = [runGroup("workers", args, { hold: false }), runGroup("own", args, { hold: true })];
    const stop = (signal) => {
        for (const r of runs) r.child.kill(signal);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    const [workers, own] = await Promise.all(runs.map((r) => r.done));
    process.stdout.write(`\n== in a process of its own (.mocharc.js OWN_PROCESS), beside the workers\n${own.output}`);
    const results = [workers, own];
    const missing = results.filter((r) => r.totals === undefined).map((r) => r.group);
    const sum = (key) => results.reduce((n, r) => n + (r.totals?.[key] ?? 0), 0);
    process.stdout.write(
        `\ntests (both runs): ${sum("passes")} passed, ${sum("failures")} failed, ${sum("pending")} skipped` +
            (missing.length > 0 ? `; the ${missing.join(" and ")} run ended without its totals` : "") +
            "\n",
    );
    return results.some((r) => r.code !== 0) || missing.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
        process.stderr.write(`npm test: ${err.message}\n`);
        process.exit(1);
    },
);
