/**
 * Compiled ajv validators kept on disk between runs, so a render does not compile the same CRD
 * schemas again: compiling the OLM Subscription and QuayRegistry schemas takes longer than running
 * the program for both example stacks. ajv writes a compiled validator out as a CommonJS module
 * ("standalone code", ajv/dist/standalone); the module is stored under
 * `node_modules/.cache/quay-georep/` by a hash of everything it was made from (the caller's inputs,
 * e.g. the schema file's pinned SHA-256 and the code that translates it, plus this file and the ajv
 * version) and loaded from then on (`loadValidatorModule`), with V8's code for it kept beside it. A
 * cache that cannot be written only costs the compile: the validators are then the ones just
 * compiled.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import * as vm from "node:vm";
import type Ajv from "ajv";
import type { ValidateFunction } from "ajv";
import { PROJECT_ROOT } from "../lib/projectRoot";
import { literal } from "../lib/regexp";

/** Where compiled validators are kept (git-ignored with node_modules; deleting it is always safe). */
export const VALIDATOR_CACHE_DIR = path.join(PROJECT_ROOT, "node_modules", ".cache", "quay-georep");

/** What a cache miss compiles: an ajv made with `code.source`, and the JSON schemas to compile, by export name. */
export interface ValidatorSources {
    readonly ajv: Ajv;
    readonly schemas: Readonly<Record<string, object>>;
}

/** ajv's version: another ajv generates other code. */
function ajvVersion(): string {
    const file = require.resolve("ajv/package.json");
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
}

/** The cache file for `name` made from `inputs`. */
export function validatorCacheFile(name: string, inputs: readonly (string | Buffer)[]): string {
    const hash = createHash("sha256");
    for (const part of [fs.readFileSync(__filename), ajvVersion(), ...inputs]) {
        hash.update(`${part.length}\0`).update(part);
    }
    return path.join(VALIDATOR_CACHE_DIR, `${name}-${hash.digest("hex").slice(0, 32)}.js`);
}

/**
 * The validators for the schemas `make` returns, by the same names; from the cache when they were
 * made from the same `inputs` before. `inputs` must name everything the validators depend on besides
 * ajv: the schema's bytes (or its pinned hash) and the code that builds the schemas and the ajv (e.g.
 * the caller's own file). Compile errors (a schema ajv refuses) are thrown as ajv throws them.
 */
export function cachedValidators(
    name: string,
    inputs: readonly (string | Buffer)[],
    make: () => ValidatorSources,
): Readonly<Record<string, ValidateFunction>> {
    const file = validatorCacheFile(name, inputs);
    if (fs.existsSync(file)) {
        let validators = loadedModules.get(file);
        if (validators === undefined) loadedModules.set(file, (validators = loadValidatorModule(file).validators));
        return validators;
    }
    const { ajv, schemas } = make();
    // standaloneCode exports validators by schema id: each schema gets one.
    const ids = Object.fromEntries(Object.keys(schemas).map((key, i) => [key, `validator${i}`]));
    const validators: Record<string, ValidateFunction> = {};
    for (const [key, schema] of Object.entries(schemas)) {
        ajv.addSchema(schema, ids[key]);
        validators[key] = ajv.getSchema(ids[key]) as ValidateFunction;
    }
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { default: standaloneCode } = require("ajv/dist/standalone") as typeof import("ajv/dist/standalone");
        const code = standaloneCode(ajv, ids);
        fs.mkdirSync(VALIDATOR_CACHE_DIR, { recursive: true });
        writeWhole(file, code);
        pruneValidatorCache(VALIDATOR_CACHE_DIR, name, file);
    } catch {
        // A read-only node_modules: the validators just compiled still serve this run.
    }
    return validators;
}

/** How old another module of the same name must be before {@link pruneValidatorCache} removes it. */
export const PRUNE_AFTER_MS = 60 * 60 * 1000;

/**
 * Removes what a new module of `name` (`keep`) replaces in `dir`: the modules of that name made from
 * other inputs (an earlier version of the code that makes them, or of a pinned schema), with their
 * V8 code files, once they are `maxAgeMs` old (a process of an earlier build that is still running
 * has loaded its module by then: the renderer loads them as it starts); V8 code files whose module
 * is gone; and files left half written by a process that died (`.tmp`) as old. Without this, every
 * edit of offline/manifests.ts left about 2.5 MB behind. Returns the names removed; a file that
 * cannot be removed stays, silently.
 */
export function pruneValidatorCache(
    dir: string,
    name: string,
    keep: string,
    now = Date.now(),
    maxAgeMs = PRUNE_AFTER_MS,
): string[] {
    const prefix = literal(name);
    const moduleFile = new RegExp(`^${prefix}-[0-9a-f]{32}\\.js$`);
    const codeFile = new RegExp(`^(${prefix}-[0-9a-f]{32}\\.js)\\.[0-9a-f]{16}\\.v8$`);
    const entries = fs.readdirSync(dir);
    const old = (entry: string) => {
        try {
            return fs.statSync(path.join(dir, entry)).mtimeMs < now - maxAgeMs;
        } catch {
            return false; // gone already
        }
    };
    const removed: string[] = [];
    const remove = (entry: string) => {
        try {
            fs.rmSync(path.join(dir, entry));
            removed.push(entry);
        } catch {
            // another process removed it, or it cannot be removed
        }
    };
    const stale = new Set(entries.filter((e) => moduleFile.test(e) && e !== path.basename(keep) && old(e)));
    for (const entry of stale) remove(entry);
    for (const entry of entries) {
        const of = codeFile.exec(entry)?.[1];
        if (of !== undefined && (stale.has(of) || !entries.includes(of))) remove(entry);
        else if (entry.startsWith(`${name}-`) && entry.endsWith(".tmp") && old(entry)) remove(entry);
    }
    return removed.sort();
}

/** Writes a file whole, then renames it into place: a concurrent run (a parallel test worker) never reads half a file. */
function writeWhole(file: string, data: string | Buffer): void {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
}

/** Validator modules this process has loaded, by file, as `require` would keep them. */
const loadedModules = new Map<string, Readonly<Record<string, ValidateFunction>>>();

/** How a load used V8's code cache (see {@link loadValidatorModule}). */
export type CodeCacheUse = "used" | "created" | "rejected, made again" | "not written";

/**
 * The file V8's code for `file` is kept in, for this Node and these flags: V8 refuses code made by
 * another version, or under other flags, so a render (`--expose-gc`) and a test worker keep one each
 * instead of overwriting each other's.
 */
export function codeCacheFile(file: string): string {
    const runtime = JSON.stringify([process.version, process.arch, process.execArgv, process.env.NODE_OPTIONS ?? ""]);
    return `${file}.${createHash("sha256").update(runtime).digest("hex").slice(0, 16)}.v8`;
}

/** A CommonJS module's function, as Node wraps a file's source (lib/internal/modules/cjs/loader.js, `wrapper`). */
type ModuleFunction = (
    exports: object,
    require: NodeJS.Require,
    module: { exports: object },
    filename: string,
    dirname: string,
) => void;

/**
 * Loads a validator module as `require` would (its `require`, `module`, `exports`, `__filename` and
 * `__dirname`), with V8's code for it from {@link codeCacheFile} when there is one. A validator is a
 * function of hundreds of kilobytes (ajv inlines a CRD's whole schema), and V8 compiles a function
 * when it is first called, not when its file is loaded. Loaded with `require` under Node's compile
 * cache (`module.enableCompileCache`, as the render script runs), the QuayRegistry and Subscription
 * validators still took 40-60 ms of CPU at their first call, and under 0.1 ms at the second; the
 * example render's load and first validation of its 111 objects went from 91-111 ms to 36-60 ms of
 * CPU with this (docs/benchmark.md). Code made after the functions ran holds them compiled (Node's
 * `vm` docs, `script.createCachedData()`: "cacheWithAdd contains fully compiled function add()").
 * So when there is no cache, or V8 refuses it (V8 checks the data's header against its own version,
 * its flags and the source, and compiles as if there were none when they differ or the file is not
 * V8's; the file is only ever replaced whole, so it is never half written), each validator is
 * called once on `{}` (its `errors` put back as they were), which compiles it, and the code is
 * written. `codeCache` says which of these happened.
 */
export function loadValidatorModule(file: string): {
    validators: Readonly<Record<string, ValidateFunction>>;
    codeCache: CodeCacheUse;
} {
    const source = fs.readFileSync(file, "utf8");
    const cacheFile = codeCacheFile(file);
    let cachedData: Buffer | undefined;
    try {
        cachedData = fs.readFileSync(cacheFile);
    } catch {
        // none yet
    }
    const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
    const script = new vm.Script(wrapped, { filename: file, cachedData });
    const module = { exports: {} as Record<string, ValidateFunction> };
    const run = script.runInThisContext() as ModuleFunction;
    run.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
    const validators = module.exports;
    if (cachedData !== undefined && !script.cachedDataRejected) return { validators, codeCache: "used" };
    for (const validate of Object.values(validators)) {
        const errors = validate.errors;
        validate({});
        validate.errors = errors;
    }
    try {
        writeWhole(cacheFile, script.createCachedData());
    } catch {
        return { validators, codeCache: "not written" };
    }
    return { validators, codeCache: cachedData === undefined ? "created" : "rejected, made again" };
}
