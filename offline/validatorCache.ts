/**
 * Compiled ajv validators kept on disk between runs, so a render does not compile the same CRD
 * schemas again: compiling the OLM Subscription and QuayRegistry schemas takes longer than running
 * the program for both example stacks. ajv writes a compiled validator out as a CommonJS module
 * ("standalone code", ajv/dist/standalone); the module is stored under
 * `node_modules/.cache/quay-georep/` by a hash of everything it was made from (the caller's inputs,
 * e.g. the schema file's pinned SHA-256 and the code that translates it, plus this file and the ajv
 * version) and loaded with `require` from then on. A cache that cannot be written only costs the
 * compile: the validators are then the ones just compiled.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type Ajv from "ajv";
import type { ValidateFunction } from "ajv";
import { PROJECT_ROOT } from "../lib/projectRoot";

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
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return require(file) as Record<string, ValidateFunction>;
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
        // Written whole, then renamed: a concurrent run (a parallel test worker) never reads half a file.
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, code);
        fs.renameSync(tmp, file);
    } catch {
        // A read-only node_modules: the validators just compiled still serve this run.
    }
    return validators;
}
