// Runs one of the project's TypeScript entry points compiled, the way the npm scripts run them:
//
//   node --expose-gc scripts/run.js offline/render.ts [args…]      (npm run render -- args…)
//
// In one process: bring bin/ up to date (scripts/build.js; nothing is done or printed when the
// sources are unchanged), turn on Node's on-disk compile cache (module.enableCompileCache, kept in
// node_modules/.cache/quay-georep/: V8 then skips compiling the modules it compiled in an earlier
// run, the Pulumi SDK above all), then start bin/<entry>.js as the main module, as `node
// bin/<entry>.js args…` would: same process.argv, `require.main === module` in it, same exit code.
"use strict";
const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");
const { ensureBuilt, OUT } = require("./build");

/** Node's compile cache for the compiled tree and node_modules (a missing API or folder only costs speed). */
const COMPILE_CACHE_DIR = path.join(__dirname, "..", "node_modules", ".cache", "quay-georep", "v8");

function usage(message) {
    process.stderr.write(`${message}\nusage: node scripts/run.js <entry.ts> [args…]\n`);
    process.exit(2);
}

const entry = process.argv[2];
if (entry === undefined || !entry.endsWith(".ts")) usage(`not a TypeScript entry point: ${entry ?? "(none)"}`);
const compiled = path.join(OUT, entry.replace(/\.ts$/, ".js"));

ensureBuilt().then(
    () => {
        if (!fs.existsSync(compiled)) usage(`no such entry point: ${entry}`);
        if (typeof Module.enableCompileCache === "function") Module.enableCompileCache(COMPILE_CACHE_DIR);
        // What `node bin/<entry>.js args…` would see: argv[1] is the script, then its arguments.
        process.argv.splice(1, 2, compiled);
        Module.runMain(compiled);
    },
    (err) => {
        process.stderr.write(`build failed: ${err.message}\n`);
        process.exit(1);
    },
);
