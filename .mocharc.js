// mocha's configuration: the compiled tests (bin/test/, which `npm test` builds first with
// scripts/build.js), run in parallel worker processes.
//
// Workers take the next file whenever they are free, in the order given here: the files that take
// longest start first (most of them wait on PostgreSQL, psql, sh or python3 rather than compute),
// so no worker is left with a long file at the end while the others are done. A file not listed
// keeps its place after them, in path order.
//
// `npm test` (scripts/test.js) runs two groups at once, named by QUAY_GEOREP_TEST_GROUP: "workers"
// (every file but OWN_PROCESS, in two workers) and "own" (the OWN_PROCESS files, in one process of
// their own). Without the variable (`npx mocha`), every file runs in three workers, as one run.
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");

const TESTS = path.join(__dirname, "bin", "test");

/** Longest first (wall time of each file on its own). */
const LONGEST_FIRST = [
    "standbyScripts",
    "standbyProgram",
    "lifecycleProgram",
    "lifecycleScripts",
    "standbyRender",
    "policyPack",
    "render",
    "entryPoint",
    "replicationStatus",
    "serviceKey",
    "rolloutCheckScript",
    "database",
    "policy",
    "program",
    "workflows",
    "cloudInit",
];

/**
 * Files npm test runs in a mocha process of their own, beside the two workers: they wait far more
 * than they compute, and loading nothing of the Pulumi SDK they cost a process of their own little.
 * standbyScripts waits on a PostgreSQL primary and standby (starts, stops, promotions,
 * pg_basebackup): about 7 s, of which half a second is its own CPU.
 */
const OWN_PROCESS = ["standbyScripts"];

/** Which group this run is (scripts/test.js sets it), or undefined for every file as one run. */
const GROUP = process.env.QUAY_GEOREP_TEST_GROUP;
if (GROUP !== undefined && GROUP !== "workers" && GROUP !== "own") {
    throw new Error(`QUAY_GEOREP_TEST_GROUP must be "workers" or "own", got "${GROUP}"`);
}

/** Whether a compiled test file belongs to this run's group. */
function inGroup(file) {
    if (GROUP === undefined) return true;
    return OWN_PROCESS.includes(path.basename(file, ".test.js")) === (GROUP === "own");
}

/** Every compiled test file, longest first. */
function specs() {
    if (!fs.existsSync(TESTS)) return ["bin/test/**/*.test.js"]; // not built: mocha says no file matches
    const all = fs
        .readdirSync(TESTS, { recursive: true })
        .filter((f) => f.endsWith(".test.js"))
        .sort();
    const rank = (f) => {
        const i = LONGEST_FIRST.indexOf(path.basename(f, ".test.js"));
        return i === -1 ? LONGEST_FIRST.length : i;
    };
    return all
        .sort((a, b) => rank(a) - rank(b))
        .map((f) => path.join("bin", "test", f))
        .filter(inGroup);
}

/** Runs a command and returns its standard output, or undefined when it cannot run. */
function output(file, args) {
    try {
        return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
        return undefined;
    }
}

/** Where `name` resolves on PATH, its links followed; undefined when it does not. */
function resolved(name) {
    const found = output("sh", ["-c", `command -v ${name}`]);
    return found === undefined || found === "" ? undefined : fs.realpathSync(found);
}

/**
 * The directories of the programs `psql` and `python3` would run, when what PATH finds first is a
 * dispatcher script that looks the program up again at every call: Debian's `psql` is
 * postgresql-common's `pg_wrapper`, a Perl script that picks a client version (about 20 ms of CPU a
 * call, five times the client's own), and pyenv's `python3` is a shim that asks pyenv for the
 * version (about 80 ms a call). The tests start psql about 150 times (directly and from the Jobs'
 * shell scripts) and python3 about 20. Found once here, the same programs go first on PATH for the
 * workers and everything they start; where PATH already finds the program itself, nothing changes.
 */
function directToolDirs() {
    const dirs = [];
    const psql = resolved("psql");
    if (psql !== undefined && psql.endsWith(path.join("postgresql-common", "pg_wrapper"))) {
        // pg_wrapper runs /usr/lib/postgresql/<major>/bin/psql; --version names the major it picks.
        const major = /\(PostgreSQL\) (\d+)/.exec(output("psql", ["--version"]) ?? "")?.[1];
        const dir = major === undefined ? undefined : `/usr/lib/postgresql/${major}/bin`;
        if (dir !== undefined && fs.existsSync(path.join(dir, "psql"))) dirs.push(dir);
    }
    const python = resolved("python3");
    const executable = output("python3", ["-c", "import sys; print(sys.executable)"]);
    if (python !== undefined && executable !== undefined && executable !== "") {
        const dir = path.dirname(executable);
        if (fs.realpathSync(executable) !== python && fs.existsSync(path.join(dir, "python3"))) dirs.push(dir);
    }
    return dirs;
}
if (process.env.QUAY_GEOREP_TEST_TOOL_DIRS === undefined) {
    const dirs = directToolDirs();
    process.env.QUAY_GEOREP_TEST_TOOL_DIRS = dirs.join(path.delimiter);
    if (dirs.length > 0) process.env.PATH = [...dirs, process.env.PATH ?? ""].join(path.delimiter);
}

// Node's on-disk compile cache (as scripts/run.js uses for the npm scripts): the workers, and the
// processes tests start (`node` on a compiled CLI, the policy pack), inherit the variable and skip
// compiling the modules an earlier run compiled, the Pulumi SDK above all.
const compileCache = path.join(__dirname, "node_modules", ".cache", "quay-georep", "v8");
process.env.NODE_COMPILE_CACHE ??= compileCache;
if (typeof Module.enableCompileCache === "function") Module.enableCompileCache(process.env.NODE_COMPILE_CACHE);

/** test/support/scratch.ts's root hook (removes the tests' scratch folders after each file), once built. */
const SCRATCH_HOOKS = path.join(TESTS, "support", "scratch.js");
/**
 * offline/deferClosure.ts, once built: required first in each worker, before any test file loads the
 * Pulumi SDK, as the renderer loads it (without its function serialization until something calls it).
 */
const DEFER_CLOSURE = path.join(__dirname, "bin", "offline", "deferClosure.js");

module.exports = {
    spec: specs(),
    require: [DEFER_CLOSURE, SCRATCH_HOOKS].filter((f) => fs.existsSync(f)),
    // The own-process group runs in mocha's process (it runs no program: no worker, no V8 option).
    ...(GROUP === "own"
        ? { parallel: false }
        : {
              parallel: true,
              // As one run (no group), one more worker than cores: the failover scripts mostly wait
              // for their PostgreSQL servers, and the other two workers share the cores meanwhile.
              // Under npm test they run beside the workers instead, and two workers fill the cores.
              jobs: GROUP === "workers" ? 2 : 3,
              // A larger young generation: the program's runs allocate much short-lived data
              // (Outputs, promises), which then dies in it instead of being copied into the old generation.
              "node-option": ["max-semi-space-size=64"],
          }),
    timeout: 20000,
    reporter: "./test/support/reporter.js",
};
