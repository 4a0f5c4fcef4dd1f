/**
 * offline/validatorCache.ts `loadValidatorModule`: a compiled validator module (ajv's standalone
 * code, as the renderer keeps its CRD validators) loaded as `require` loads it, with V8's code for
 * it kept beside it once its validators have run, and used from then on; a cache V8 refuses is made
 * again, and one that cannot be written costs only the time.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv from "ajv";
import standaloneCode from "ajv/dist/standalone";
import { codeCacheFile, loadValidatorModule, PRUNE_AFTER_MS, pruneValidatorCache } from "../offline/validatorCache";
import { PROJECT_DIR } from "./mocks";
import { scratchDir } from "./support/scratch";

const SCHEMA = {
    type: "object",
    required: ["kind"],
    properties: { kind: { const: "QuayRegistry" }, name: { type: "string", maxLength: 5 } },
    additionalProperties: false,
};

/** A standalone validator module in a new folder, resolving `ajv` as the project's cache folder does. */
function validatorModule(): string {
    const dir = scratchDir("validator-cache");
    fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(dir, "node_modules"), "dir");
    const ajv = new Ajv({ code: { source: true }, allErrors: true });
    ajv.addSchema(SCHEMA, "validator0");
    const file = path.join(dir, "crd-test.js");
    fs.writeFileSync(file, standaloneCode(ajv, { "test/v1/Thing": "validator0" }));
    return file;
}

/** What a validator says of a value: valid, or the keywords it failed. */
function verdict(validators: ReturnType<typeof loadValidatorModule>["validators"], value: unknown) {
    const validate = validators["test/v1/Thing"];
    return validate(value) ? "valid" : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`);
}

/**
 * Loads `file` in a new Node process, as a render does: V8 also keeps code in memory for a source
 * it compiled before, so only a new process shows what the file on disk gives.
 */
function loadInNewProcess(file: string): { codeCache: string; valid: boolean } {
    const script = path.join(path.dirname(file), "load.js");
    fs.writeFileSync(
        script,
        `const { loadValidatorModule } = require(${JSON.stringify(require.resolve("../offline/validatorCache"))});\n` +
            "const load = loadValidatorModule(process.argv[2]);\n" +
            'const valid = load.validators["test/v1/Thing"]({ kind: "QuayRegistry" });\n' +
            "process.stdout.write(JSON.stringify({ codeCache: load.codeCache, valid }));\n",
    );
    return JSON.parse(execFileSync(process.execPath, [script, file], { encoding: "utf8" })) as {
        codeCache: string;
        valid: boolean;
    };
}

describe("validator modules: loaded with V8's code for them", () => {
    it("makes the code at the first load, after the validators ran, and uses it from then on", () => {
        const file = validatorModule();
        const cache = codeCacheFile(file);
        assert.ok(!fs.existsSync(cache));
        const first = loadValidatorModule(file);
        assert.equal(first.codeCache, "created");
        assert.ok(fs.statSync(cache).size > 0);
        // The warm-up call leaves no errors behind: the module's own initial value is kept.
        assert.equal(first.validators["test/v1/Thing"].errors, undefined);
        for (const load of [first, loadValidatorModule(file)]) {
            assert.equal(verdict(load.validators, { kind: "QuayRegistry", name: "ok" }), "valid");
            assert.deepEqual(verdict(load.validators, { kind: "Other", name: "too long", extra: 1 }), [
                " additionalProperties",
                "/kind const",
                "/name maxLength",
            ]);
        }
        // In new processes, as renders load it: the first makes the code, the next one uses it.
        const other = validatorModule();
        assert.deepEqual(loadInNewProcess(other), { codeCache: "created", valid: true });
        assert.deepEqual(loadInNewProcess(other), { codeCache: "used", valid: true });
    });

    it("makes the code again when V8 refuses the file's (damaged, or another V8's)", () => {
        const file = validatorModule();
        assert.equal(loadInNewProcess(file).codeCache, "created");
        const cache = fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith(".v8"));
        assert.equal(cache.length, 1);
        fs.writeFileSync(path.join(path.dirname(file), cache[0]), Buffer.from("not V8's code cache"));
        assert.deepEqual(loadInNewProcess(file), { codeCache: "rejected, made again", valid: true });
        assert.deepEqual(loadInNewProcess(file), { codeCache: "used", valid: true });
    });

    it("serves the validators when the code cannot be written", () => {
        const file = validatorModule();
        fs.mkdirSync(codeCacheFile(file)); // a folder where the file would go: neither read nor replaced
        const load = loadValidatorModule(file);
        assert.equal(load.codeCache, "not written");
        assert.deepEqual(verdict(load.validators, {}), [" required"]);
        assert.ok(fs.statSync(codeCacheFile(file)).isDirectory());
    });

    it("gives the module require, module, exports, __filename and __dirname as Node does", () => {
        const dir = scratchDir("validator-cache");
        fs.writeFileSync(path.join(dir, "helper.js"), "module.exports = (v) => v === 42;\n");
        const file = path.join(dir, "crd-plain.js");
        fs.writeFileSync(
            file,
            '"use strict";\nconst helper = require("./helper");\nfunction v(x) { return helper(x); }\n' +
                "v.where = [__filename, __dirname, this === exports, module.exports === exports];\n" +
                'exports["k"] = v;\n',
        );
        const { validators } = loadValidatorModule(file);
        const v = validators.k as unknown as ((x: unknown) => boolean) & { where: unknown[] };
        assert.deepEqual(v.where, [file, dir, true, true]);
        assert.equal(v(42), true);
        assert.equal(v(41), false);
    });

    it("keeps one code file per Node and flags: another NODE_OPTIONS is another file", () => {
        const file = "/x/crd-a.js";
        const before = process.env.NODE_OPTIONS;
        try {
            const here = codeCacheFile(file);
            process.env.NODE_OPTIONS = `${before ?? ""} --max-semi-space-size=7`;
            const other = codeCacheFile(file);
            assert.match(here, /^\/x\/crd-a\.js\.[0-9a-f]{16}\.v8$/);
            assert.notEqual(other, here);
        } finally {
            if (before === undefined) delete process.env.NODE_OPTIONS;
            else process.env.NODE_OPTIONS = before;
        }
    });

    it("removes what a new module replaces: other builds' modules once an hour old, orphaned code, dead writes", () => {
        const dir = scratchDir("validator-prune");
        const h = (c: string) => c.repeat(32);
        const code = "0123456789abcdef";
        const now = Date.now();
        const files: Record<string, number> = {
            [`crd-${h("a")}.js`]: now, // the new one
            [`crd-${h("a")}.js.${code}.v8`]: now,
            [`crd-${h("b")}.js`]: now - 2 * PRUNE_AFTER_MS, // an earlier build's, old
            [`crd-${h("b")}.js.${code}.v8`]: now,
            [`crd-${h("c")}.js`]: now - PRUNE_AFTER_MS / 6, // another build's, recent: may still be loading
            [`crd-${h("c")}.js.${code}.v8`]: now,
            [`crd-${h("d")}.js.${code}.v8`]: now, // its module is gone
            [`crd-${h("e")}.js.123.tmp`]: now - 2 * PRUNE_AFTER_MS, // a writer that died
            [`crd-${h("f")}.js.456.tmp`]: now, // a writer still writing
            [`other-${h("b")}.js`]: now - 2 * PRUNE_AFTER_MS, // another name's
            README: now - 2 * PRUNE_AFTER_MS,
        };
        for (const [name, mtime] of Object.entries(files)) {
            fs.writeFileSync(path.join(dir, name), "x");
            fs.utimesSync(path.join(dir, name), new Date(mtime), new Date(mtime));
        }
        const removed = pruneValidatorCache(dir, "crd", path.join(dir, `crd-${h("a")}.js`), now);
        assert.deepEqual(removed, [
            `crd-${h("b")}.js`,
            `crd-${h("b")}.js.${code}.v8`,
            `crd-${h("d")}.js.${code}.v8`,
            `crd-${h("e")}.js.123.tmp`,
        ]);
        assert.deepEqual(
            fs.readdirSync(dir).sort(),
            Object.keys(files)
                .filter((f) => !removed.includes(f))
                .sort(),
        );
        // The one kept is never removed, however old.
        fs.utimesSync(path.join(dir, `crd-${h("a")}.js`), new Date(0), new Date(0));
        assert.deepEqual(pruneValidatorCache(dir, "crd", path.join(dir, `crd-${h("a")}.js`), now), []);
    });
});
