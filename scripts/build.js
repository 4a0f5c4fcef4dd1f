// The build the npm scripts and the tests run first: every TypeScript file of the project (the program,
// offline/, scripts/, test/, policy/) transpiled by esbuild into bin/ (git-ignored), one JavaScript
// file per source file at the same relative path (bin/offline/render.js, bin/test/mocks.test.js, …),
// CommonJS, with a source map beside each (run with NODE_OPTIONS=--enable-source-maps to see
// TypeScript lines in a stack trace).
//
// Cached by content: bin/.build-hash holds a SHA-256 of every source file (path and bytes),
// tsconfig.json, this file and the esbuild version; when it matches, nothing is done and nothing is
// printed. Otherwise the tree is rebuilt whole into a fresh folder that then replaces bin/, so a file
// deleted from the sources never lingers as a compiled test or module. Transpiling only: type errors
// are `npm run build`'s (tsc --noEmit), as they were ts-node --transpile-only's.
//
// `pulumi up` does not use this: Pulumi's Node.js runtime runs index.ts (package.json `main`) itself.
//
// Usage: node scripts/build.js [--force]   (exit 0 built or cached; 1 a file does not transpile)
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "bin");
const STAMP = ".build-hash";
// Folders that hold no source of this project (dot-folders such as .git and .schemas are skipped too).
const SKIP = new Set(["node_modules", "bin", "rendered"]);

/** Every .ts file of the project but declarations, relative to ROOT, sorted. */
function sources(dir = ROOT, rel = "") {
    const found = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const name = entry.name;
        if (entry.isDirectory()) {
            if (!name.startsWith(".") && !SKIP.has(name))
                found.push(...sources(path.join(dir, name), path.posix.join(rel, name)));
        } else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) {
            found.push(path.posix.join(rel, name));
        }
    }
    return found.sort();
}

/** The esbuild package's version, read without loading esbuild (loading it costs a cached run time). */
function esbuildVersion() {
    const pkg = require.resolve("esbuild/package.json", { paths: [ROOT] });
    return JSON.parse(fs.readFileSync(pkg, "utf8")).version;
}

/** What the output depends on: the sources, the compiler options, this build and the transpiler. */
function contentHash(files) {
    const hash = crypto.createHash("sha256");
    const add = (label, bytes) => hash.update(`${label}\0${bytes.length}\0`).update(bytes);
    add("esbuild", esbuildVersion());
    add("build", fs.readFileSync(__filename));
    add("tsconfig", fs.readFileSync(path.join(ROOT, "tsconfig.json")));
    for (const file of files) add(file, fs.readFileSync(path.join(ROOT, file)));
    return hash.digest("hex");
}

/** The hash the current bin/ was built from, if any. */
function builtHash() {
    try {
        return fs.readFileSync(path.join(OUT, STAMP), "utf8").trim();
    } catch {
        return undefined;
    }
}

/** Transpiles `files` into a fresh folder, then swaps it in for bin/. */
async function build(files, hash) {
    const esbuild = require("esbuild");
    const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
    // Beside bin/ (a rename stays on one file system), hidden so that sources() never walks into it.
    const tmp = fs.mkdtempSync(path.join(ROOT, ".bin-new-"));
    try {
        await esbuild.build({
            absWorkingDir: ROOT,
            entryPoints: files,
            outbase: ROOT,
            outdir: tmp,
            bundle: false,
            platform: "node",
            format: "cjs",
            target: "node22",
            sourcemap: "linked",
            // tsc's reading of the options esbuild honours (class-field semantics, import elision).
            tsconfigRaw: { compilerOptions: tsconfig.compilerOptions },
            logLevel: "silent",
        });
        fs.writeFileSync(path.join(tmp, STAMP), `${hash}\n`);
        const old = path.join(ROOT, `.bin-old-${process.pid}`);
        if (fs.existsSync(OUT)) fs.renameSync(OUT, old);
        fs.renameSync(tmp, OUT);
        fs.rmSync(old, { recursive: true, force: true });
    } catch (err) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw err;
    }
}

/** Builds bin/ unless it is current; returns whether it built. */
async function ensureBuilt({ force = false } = {}) {
    const files = sources();
    const hash = contentHash(files);
    if (!force && builtHash() === hash) return false;
    const started = Date.now();
    await build(files, hash);
    process.stderr.write(`build: ${files.length} TypeScript files → bin/ (${Date.now() - started} ms)\n`);
    return true;
}

module.exports = { ensureBuilt, sources, contentHash, OUT, STAMP };

if (require.main === module) {
    ensureBuilt({ force: process.argv.includes("--force") }).then(
        () => undefined,
        (err) => {
            // esbuild's own message names the file, line and column of each error.
            process.stderr.write(`build failed: ${err.message}\n`);
            process.exitCode = 1;
        },
    );
}
