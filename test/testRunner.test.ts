/**
 * How `npm test` splits the suite (scripts/test.js, .mocharc.js): two groups that together run
 * every test file once, the own-process group in mocha's own process, the rest in two workers; the
 * own-process files load nothing of the Pulumi SDK (what makes a process of their own cheap).
 */
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_DIR } from "./mocks";
import { removeScratchDirs, scratchDir } from "./support/scratch";

/** The compiled test/support/scratch.ts: the root hook .mocharc.js loads, and what the probes require. */
const SCRATCH = path.join(PROJECT_DIR, "bin", "test", "support", "scratch.js");

interface MochaConfig {
    spec: string[];
    require: string[];
    parallel: boolean;
    jobs?: number;
    "node-option"?: string[];
}

/** .mocharc.js as mocha loads it for a group (undefined: no group), in a process of its own. */
function config(group: string | undefined): MochaConfig {
    const env = { ...process.env };
    delete env.QUAY_GEOREP_TEST_GROUP;
    if (group !== undefined) env.QUAY_GEOREP_TEST_GROUP = group;
    const out = execFileSync(
        process.execPath,
        [
            "-e",
            `process.stdout.write(JSON.stringify(require(${JSON.stringify(path.join(PROJECT_DIR, ".mocharc.js"))})))`,
        ],
        { cwd: PROJECT_DIR, env, encoding: "utf8" },
    );
    return JSON.parse(out) as MochaConfig;
}

/** The compiled modules of this project a compiled file requires, transitively (package names for the rest). */
function requiredFrom(file: string, seen = new Set<string>()): Set<string> {
    if (seen.has(file)) return seen;
    seen.add(file);
    const text = fs.readFileSync(file, "utf8");
    for (const [, spec] of text.matchAll(/require\("([^"]+)"\)/g)) {
        if (spec.startsWith(".")) {
            const target = path.resolve(path.dirname(file), spec);
            const js = [target, `${target}.js`, path.join(target, "index.js")].find(
                (f) => fs.existsSync(f) && fs.statSync(f).isFile(),
            );
            if (js !== undefined) requiredFrom(js, seen);
        } else {
            seen.add(spec);
        }
    }
    return seen;
}

describe("npm test's two groups (scripts/test.js, .mocharc.js)", () => {
    const all = config(undefined);
    const workers = config("workers");
    const own = config("own");

    it("runs every test file once: the own-process files in mocha's process, the rest in two workers", () => {
        assert.ok(all.spec.length > 30, `found ${all.spec.length} test files`);
        assert.deepEqual([...workers.spec, ...own.spec].sort(), [...all.spec].sort());
        assert.deepEqual(
            own.spec.filter((f) => workers.spec.includes(f)),
            [],
        );
        assert.deepEqual(own.spec, [path.join("bin", "test", "standbyScripts.test.js")]);
        assert.equal(own.parallel, false);
        assert.equal(workers.parallel, true);
        assert.equal(workers.jobs, 2);
        // As one run (`npx mocha`): three workers.
        assert.equal(all.parallel, true);
        assert.equal(all.jobs, 3);
    });

    it("keeps the own-process files free of the Pulumi SDK", () => {
        for (const file of own.spec) {
            const required = [...requiredFrom(path.join(PROJECT_DIR, file))];
            assert.ok(
                required.some((r) => r.endsWith(path.join("test", "support", "standby.js"))),
                "the scan follows the file's imports",
            );
            assert.deepEqual(
                required.filter((r) => r.startsWith("@pulumi/")),
                [],
                `${file} loads the Pulumi SDK: move it back among the workers' files`,
            );
        }
    });

    it("loads offline/deferClosure.ts first, then the scratch folders' removal hook, in every group", () => {
        // First, so that no test file loads the SDK with its function serialization before it.
        const defer = path.join(PROJECT_DIR, "bin", "offline", "deferClosure.js");
        for (const [name, group] of Object.entries({ all, workers, own }))
            assert.deepEqual(group.require, [defer, SCRATCH], name);
    });

    it("refuses a group it does not know, naming the variable", () => {
        const r = spawnSync(process.execPath, ["-e", `require("./.mocharc.js")`], {
            cwd: PROJECT_DIR,
            env: { ...process.env, QUAY_GEOREP_TEST_GROUP: "own-process" },
            encoding: "utf8",
        });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /QUAY_GEOREP_TEST_GROUP must be "workers" or "own", got "own-process"/);
    });
});

describe("the tests' scratch folders (test/support/scratch.ts)", () => {
    const MOCHA = require.resolve("mocha/bin/mocha.js", { paths: [PROJECT_DIR] });

    it("removes a file's folders after its tests, in the parallel workers, before the worker's next file", () => {
        const dir = scratchDir("scratch-test");
        const record = path.join(dir, "made");
        // Four spec files in two workers: some worker runs two or more of them, one after the other.
        // Each test first counts the folders its own worker's earlier files made that still exist,
        // then makes one and records it with the worker's pid.
        const files = ["a", "b", "c", "d"].map((name) => {
            const file = path.join(dir, `${name}.spec.js`);
            fs.writeFileSync(
                file,
                `const fs = require("node:fs");
const { scratchDir } = require(${JSON.stringify(SCRATCH)});
it(${JSON.stringify(name)}, () => {
    const record = ${JSON.stringify(record)};
    const mine = (fs.existsSync(record) ? fs.readFileSync(record, "utf8") : "").split("\\n")
        .filter((l) => l.startsWith("made " + process.pid + " ")).map((l) => l.split(" ")[2]);
    fs.appendFileSync(record, "earlier " + process.pid + " " + mine.length + " " + mine.filter((d) => fs.existsSync(d)).length + "\\n");
    fs.appendFileSync(record, "made " + process.pid + " " + scratchDir("scratch-probe") + "\\n");
});
`,
            );
            return file;
        });
        const r = spawnSync(
            process.execPath,
            [MOCHA, "--no-config", "--parallel", "--jobs", "2", "--require", SCRATCH, "--reporter", "dot", ...files],
            { cwd: PROJECT_DIR, encoding: "utf8" },
        );
        assert.equal(r.status, 0, r.stdout + r.stderr);
        const lines = fs.readFileSync(record, "utf8").split("\n").filter(Boolean);
        const earlier = lines.filter((l) => l.startsWith("earlier ")).map((l) => l.split(" ").slice(2).map(Number));
        const made = lines.filter((l) => l.startsWith("made ")).map((l) => l.split(" ")[2]);
        assert.equal(made.length, 4, lines.join("\n"));
        assert.ok(
            earlier.some(([count]) => count > 0),
            `no worker ran two files, nothing was checked:\n${lines.join("\n")}`,
        );
        assert.deepEqual(
            earlier.filter(([, left]) => left > 0),
            [],
            `an earlier file's folder outlived it:\n${lines.join("\n")}`,
        );
        for (const d of made) {
            assert.match(path.basename(d), /^quay-georep-scratch-probe-/);
            assert.equal(fs.existsSync(d), false, `${d} left behind`);
        }
    });

    it("removes what it made when asked, and only that", () => {
        const a = scratchDir("scratch-a");
        fs.writeFileSync(path.join(a, "file"), "x");
        // A folder beside it, made by someone else with the same prefix.
        const other = fs.mkdtempSync(path.join(path.dirname(a), "quay-georep-scratch-a-"));
        try {
            const pending = removeScratchDirs();
            assert.ok(pending.includes(a));
            assert.ok(!pending.includes(other));
            assert.equal(fs.existsSync(a), false);
            assert.equal(fs.existsSync(other), true);
            assert.deepEqual(removeScratchDirs(), []);
        } finally {
            fs.rmSync(other, { recursive: true, force: true });
        }
    });
});
