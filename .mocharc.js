// mocha's configuration: the compiled tests (bin/test/, which `npm test` builds first with
// scripts/build.js), run in parallel worker processes.
//
// Workers take the next file whenever they are free, in the order given here: the files that take
// longest start first (most of them wait on PostgreSQL, psql, sh or python3 rather than compute),
// so no worker is left with a long file at the end while the others are done. A file not listed
// keeps its place after them, in path order.
"use strict";
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
    return all.sort((a, b) => rank(a) - rank(b)).map((f) => path.join("bin", "test", f));
}

// Node's on-disk compile cache (as scripts/run.js uses for the npm scripts): the workers, and the
// processes tests start (`node` on a compiled CLI, the policy pack), inherit the variable and skip
// compiling the modules an earlier run compiled, the Pulumi SDK above all.
const compileCache = path.join(__dirname, "node_modules", ".cache", "quay-georep", "v8");
process.env.NODE_COMPILE_CACHE ??= compileCache;
if (typeof Module.enableCompileCache === "function") Module.enableCompileCache(process.env.NODE_COMPILE_CACHE);

module.exports = {
    spec: specs(),
    parallel: true,
    // One more worker than cores: the first file (the failover scripts on a PostgreSQL pair) mostly
    // waits for its servers, and the other two workers share the cores meanwhile.
    jobs: 3,
    // A larger young generation: the program's runs allocate much short-lived data (Outputs,
    // promises), which then dies in it instead of being copied into the old generation.
    "node-option": ["max-semi-space-size=64"],
    timeout: 20000,
    reporter: "./test/support/reporter.js",
};
