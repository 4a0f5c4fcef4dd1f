/**
 * The offline renderer (the README's first command): what it writes, that it writes the same
 * bytes every time, that no secret leaks, and how it fails.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import { loadManifestSchemas } from "../offline/manifests";
import { HeapBudget } from "../offline/heapBudget";
import { main, manifestErrors, renderFiles, renderStacks, sortedJson } from "../offline/render";
import { staleStackFolders, writeStackFolder } from "../offline/renderedFolder";
import { RecordedResource, redacted, runProgram, SECRET_PLACEHOLDER, withSortedKeys } from "../offline/runtime";
import { PROJECT_DIR, runMemoized } from "./mocks";
import { scratchDir } from "./support/scratch";

/** What one run of the renderer CLI returned and printed. */
interface CliResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** The renderer CLI as a process: `node <compiled offline/render>` (what `npm run render` starts). */
function cliProcess(args: string[]): Promise<CliResult> {
    return new Promise((resolve) => {
        execFile(
            process.execPath,
            [require.resolve("../offline/render"), ...args],
            { cwd: PROJECT_DIR },
            (err, stdout, stderr) =>
                resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
    });
}

/**
 * The renderer CLI in this process: its `main`, with what it prints captured, running the program
 * through the tests' memo (the example's runs are the same in every test; "is deterministic" below
 * runs them afresh). The process around it (arguments in, exit code out) is tested once, with
 * {@link cliProcess}.
 */
async function cli(args: string[]): Promise<CliResult> {
    let stdout = "";
    let stderr = "";
    const code = await main(args, {
        stdout: (t) => void (stdout += t),
        stderr: (t) => void (stderr += t),
        run: runMemoized,
    });
    return { code, stdout, stderr };
}

/** A copy of the project's config files in a temp dir, with one file rewritten. */
function tempProject(edit?: (file: string, text: string) => string): string {
    const dir = scratchDir("render");
    for (const f of fs.readdirSync(PROJECT_DIR).filter((n) => /^Pulumi(\..+)?\.yaml$/.test(n))) {
        const text = fs.readFileSync(path.join(PROJECT_DIR, f), "utf8");
        fs.writeFileSync(path.join(dir, f), edit ? edit(f, text) : text);
    }
    return dir;
}

describe("offline renderer", () => {
    let first: Awaited<ReturnType<typeof renderStacks>>;
    before(async () => {
        first = await renderStacks(PROJECT_DIR, undefined, undefined, undefined, runMemoized);
    });

    it("renders every example stack, shared stack first, with no failures", () => {
        assert.deepEqual(first.failed, []);
        assert.deepEqual(
            first.rendered.map((r) => r.stack),
            ["us", "eu"],
        );
    });

    it("writes config.yaml, quayregistry.yaml, resources.json and outputs.json per stack", () => {
        for (const r of first.rendered) {
            assert.deepEqual(Object.keys(r.files).sort(), [
                "config.yaml",
                "outputs.json",
                "quayregistry.yaml",
                "resources.json",
            ]);
        }
    });

    it("writes the same config.yaml for every stack: the one bundle", () => {
        const [us, eu] = first.rendered;
        assert.equal(eu.files["config.yaml"], us.files["config.yaml"]);
        const config = parse(us.files["config.yaml"]) as Record<string, unknown>;
        assert.equal(config.SERVER_HOSTNAME, "quay.example.com");
    });

    it("shows every secret as <secret> and never the placeholder or undefined", () => {
        for (const r of first.rendered) {
            for (const [name, text] of Object.entries(r.files)) {
                assert.ok(!text.includes(SECRET_PLACEHOLDER), `${r.stack}/${name} leaks the raw placeholder`);
                assert.ok(!text.includes("undefined"), `${r.stack}/${name} contains undefined`);
            }
        }
        const config = parse(first.rendered[0].files["config.yaml"]) as Record<string, unknown>;
        assert.equal(config.SECRET_KEY, "<secret>");
        assert.equal(config.DATABASE_SECRET_KEY, "<secret>");
        assert.match(String(config.DB_URI), /^postgresql:\/\/[^:]+:<secret>@/);
        const outputs = JSON.parse(first.rendered[0].files["outputs.json"]) as Record<string, unknown>;
        assert.equal(outputs.bundle, "<secret>");
    });

    it("lists resources sorted by URN with type, parent, provider, inputs and protection flags", () => {
        const resources = JSON.parse(first.rendered[0].files["resources.json"]) as Record<string, unknown>[];
        const urnList = resources.map((r) => r.urn as string);
        assert.deepEqual(urnList, [...urnList].sort());
        for (const r of resources) {
            // `aliases` and `ignoreChanges` only for a resource that has any.
            const aliased = Array.isArray(r.aliases) && r.aliases.length > 0;
            const ignores = Array.isArray(r.ignoreChanges) && r.ignoreChanges.length > 0;
            assert.deepEqual(Object.keys(r).sort(), [
                ...(aliased ? ["aliases"] : []),
                "dependsOn",
                ...(ignores ? ["ignoreChanges"] : []),
                "inputs",
                "name",
                "parent",
                "protect",
                "provider",
                "retainOnDelete",
                "type",
                "urn",
            ]);
        }
        const secret = resources.find((r) => r.type === "kubernetes:core/v1:Secret");
        assert.equal((secret?.inputs as Record<string, unknown>).stringData, "<secret>");
        // The Redis VM keeps the AMI it was built from (components/redis/aws.ts).
        const vm = resources.find((r) => r.name === "quay-georep-redis-vm");
        assert.deepEqual(vm?.ignoreChanges, ["ami"]);
    });

    it("writes each resource's aliases as the URNs they denote, and only when it has any", async () => {
        const result = await runProgram({
            project: "quay-georep",
            stack: "us",
            config: {},
            program: () => {
                const parent = new pulumi.ComponentResource(
                    "quay-georep:test:Parent",
                    "p",
                    {},
                    { aliases: [{ name: "old-p" }] },
                );
                const old = new pulumi.ComponentResource("quay-georep:test:Old", "q");
                new pulumi.ComponentResource(
                    "quay-georep:test:Child",
                    "p-child",
                    {},
                    {
                        parent,
                        aliases: [
                            "urn:pulumi:us::quay-georep::quay-georep:test:Child::as-written",
                            { name: "p-old-child" },
                            { parent: pulumi.rootStackResource },
                            { parent: old },
                            { type: "quay-georep:test:OldChild" },
                            { stack: "eu", project: "other", parent: pulumi.rootStackResource },
                            pulumi.output({ name: "from-output" }),
                            { name: 42 as unknown as string },
                        ],
                    },
                );
                // @pulumi/aws adds `{ type: "aws:s3/bucketV2:BucketV2" }` itself: left out.
                new aws.s3.Bucket("b", {}, { parent, aliases: [{ name: "old-b" }] });
                return {};
            },
        });
        assert.deepEqual(result.errors, []);
        const P = "urn:pulumi:us::quay-georep::quay-georep:test:Parent";
        const listed = JSON.parse(renderFiles(result)["resources.json"]) as { urn: string; aliases?: string[] }[];
        assert.deepEqual(
            listed.filter((r) => r.aliases !== undefined).map((r) => [r.urn, r.aliases]),
            [
                [`${P}$aws:s3/bucket:Bucket::b`, [`${P}$aws:s3/bucket:Bucket::old-b`]],
                [
                    `${P}$quay-georep:test:Child::p-child`,
                    [
                        "urn:pulumi:us::quay-georep::quay-georep:test:Child::as-written",
                        `${P}$quay-georep:test:Child::p-old-child`,
                        "urn:pulumi:us::quay-georep::quay-georep:test:Child::p-child",
                        "urn:pulumi:us::quay-georep::quay-georep:test:Old$quay-georep:test:Child::p-child",
                        `${P}$quay-georep:test:OldChild::p-child`,
                        "urn:pulumi:eu::other::quay-georep:test:Child::p-child",
                        `${P}$quay-georep:test:Child::from-output`,
                        '{"name":42}',
                    ],
                ],
                [`${P}::p`, [`${P}::old-p`]],
            ],
        );
        assert.equal(listed.length, 5, "the stack, p, q, p-child and b");
    });

    it("is deterministic: a second run writes the same bytes", async () => {
        const second = await renderStacks(PROJECT_DIR); // runProgram itself, not the memo
        for (let i = 0; i < first.rendered.length; i++)
            assert.deepEqual(second.rendered[i].files, first.rendered[i].files);
    });

    it("renders one stack with --stack, writing only that stack", async () => {
        const out = scratchDir("out");
        const r = await cli(["--stack", "eu", "--out", out]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(fs.readdirSync(out), ["eu"]);
        assert.match(r.stdout, /^stack eu \(site\): \d+ resources/m);
        assert.match(r.stdout, /\+ kubernetes:quay\.redhat\.com\/v1:QuayRegistry {2}quay-georep-eustorage-registry/);
    });

    it("exits 1 with every validation message and no stack trace on invalid config", async () => {
        const dir = tempProject((f, text) =>
            f === "Pulumi.yaml" ? text.replace("hostname: quay.example.com", "hostname: quay_example") : text,
        );
        const r = await cli(["--dir", dir, "--out", path.join(dir, "out")]);
        assert.equal(r.code, 1);
        assert.match(
            r.stderr,
            /stack us: not rendered\n {2}quay-georep configuration for stack "us" has 1 problem:\n {4}- hostname: "quay_example" is not a DNS name/,
        );
        assert.ok(!/\n\s+at /.test(r.stderr), `stack trace shown:\n${r.stderr}`);
    });

    it("refuses to render a Kubernetes object the API server would refuse, naming it, the field and the reason", () => {
        const us = first.rendered[0].result;
        const job = us.resources.find((r) => r.type === "kubernetes:batch/v1:Job") as RecordedResource;
        const name = "j".repeat(64);
        const broken = {
            ...us,
            resources: us.resources.map((r) =>
                r === job ? { ...r, inputs: { ...r.inputs, metadata: { ...(r.inputs.metadata as object), name } } } : r,
            ),
        };
        assert.deepEqual(manifestErrors(us, loadManifestSchemas()), []);
        assert.deepEqual(manifestErrors(broken, loadManifestSchemas()), [
            `1 Kubernetes object(s) fail their schema:\n  - kubernetes:batch/v1:Job ${job.name} (Job ${name}): metadata.name must be no more than 63 characters (got 64): the Job controller puts the name in the batch.kubernetes.io/job-name label, whose values are at most 63`,
        ]);
    });

    it("with --deployed, renders the lifecycle step a change triggers: a removed site drains first", async () => {
        const base = scratchDir("base");
        assert.equal((await cli(["--out", base])).code, 0);
        const dir = tempProject((f, text) => {
            if (f !== "Pulumi.yaml") return text;
            const doc = parse(text) as { config: Record<string, { value: Record<string, unknown> }> };
            const sites = doc.config.sites.value as unknown as { name: string }[];
            doc.config.sites.value = sites.filter((s) => s.name !== "eustorage") as unknown as Record<string, unknown>;
            const lb = doc.config.entryPoint.value as Record<string, Record<string, string>>;
            delete lb.latencyRegions.eustorage;
            delete lb.healthCheckAddresses.eustorage;
            return stringify(doc);
        });
        const outputs = async (extra: string[]) => {
            const out = path.join(dir, `out-${extra.length}`);
            const r = await cli(["--dir", dir, "--out", out, ...extra]);
            assert.equal(r.code, 0, r.stderr);
            return JSON.parse(fs.readFileSync(path.join(out, "us", "outputs.json"), "utf8")) as Record<string, unknown>;
        };
        // Never deployed: nothing to drain (and eu, with no site, is refused: it deployed nothing either).
        const fresh = await outputs(["--stack", "us"]);
        assert.equal(fresh.topology, "usstorage:active");
        const next = await outputs(["--deployed", base]);
        assert.equal(next.topology, "usstorage:active,eustorage:draining");
        assert.match((next.lifecyclePending as string[])[0], /^eustorage drains first/);
    });

    it("refuses a plain-text leaf next to a secure one, and writes nothing of that stack", async () => {
        const dir = tempProject((f, text) =>
            f === "Pulumi.us.yaml"
                ? `${text}  quay-georep:storageCredentials:\n    usstorage:\n      accessKey:\n        secure: v1:abc\n      secretKey: PLAINTEXT-SECRET\n`
                : text,
        );
        const out = path.join(dir, "out");
        const r = await cli(["--dir", dir, "--out", out]);
        assert.equal(r.code, 1);
        assert.match(
            r.stderr,
            /- storageCredentials\.usstorage\.secretKey: "<plain text>" is a secret stored in plain text \(next to encrypted values of the same key\)/,
        );
        assert.ok(!fs.existsSync(path.join(out, "us")), "nothing of the refused stack is written");
        const written = fs.existsSync(out) ? fs.readdirSync(out, { recursive: true }).join("\n") : "";
        assert.ok(!/PLAINTEXT-SECRET/.test(r.stdout + r.stderr + written), "the value is never printed");
    });

    it("exits 2 on an unknown stack or argument", async () => {
        const r = await cli(["--stack", "mars"]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /no stack "mars"/);
        assert.equal((await cli(["--bogus"])).code, 2);
    });

    it("runs as a process: its arguments reach main, and main's exit code is the process's", async () => {
        const r = await cliProcess(["--stack", "mars"]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /^no stack "mars": .* has Pulumi\.eu\.yaml, Pulumi\.us\.yaml\nusage: npm run render /);
        assert.equal(r.stdout, "");
    });

    it("rewrites only the files whose bytes change, and removes what no longer belongs", () => {
        const out = scratchDir("write");
        const target = path.join(out, "us");
        const files = { "config.yaml": "a: 1\n", "outputs.json": "{}\n", "resources.json": "[]\n" };
        assert.deepEqual(writeStackFolder(target, files), {
            written: ["config.yaml", "outputs.json", "resources.json"],
            unchanged: [],
            removed: [],
        });
        // An unchanged file keeps its inode and mtime; the stale file and folder go.
        const before = fs.statSync(path.join(target, "config.yaml"));
        fs.utimesSync(path.join(target, "config.yaml"), new Date(0), new Date(0));
        fs.writeFileSync(path.join(target, "quayregistry.yaml"), "stale\n");
        fs.mkdirSync(path.join(target, "old"));
        const second = writeStackFolder(target, { ...files, "outputs.json": '{"role":"shared"}\n' });
        assert.deepEqual(second, {
            written: ["outputs.json"],
            unchanged: ["config.yaml", "resources.json"],
            removed: ["old", "quayregistry.yaml"],
        });
        const after = fs.statSync(path.join(target, "config.yaml"));
        assert.equal(after.ino, before.ino);
        assert.equal(after.mtimeMs, 0);
        assert.deepEqual(fs.readdirSync(target).sort(), ["config.yaml", "outputs.json", "resources.json"]);
        assert.equal(fs.readFileSync(path.join(target, "outputs.json"), "utf8"), '{"role":"shared"}\n');
    });

    it("removes the folder of a stack the project no longer has, and only a folder the renderer wrote", () => {
        const out = scratchDir("stale");
        writeStackFolder(path.join(out, "us"), { "resources.json": "[]\n" });
        writeStackFolder(path.join(out, "ap"), { "resources.json": "[]\n", "outputs.json": "{}\n" });
        writeStackFolder(path.join(out, "notes"), { "resources.json": "[]\n", "README.md": "mine\n" });
        fs.mkdirSync(path.join(out, "empty"));
        fs.writeFileSync(path.join(out, "ap.txt"), "a file, not a stack folder\n");
        assert.deepEqual(staleStackFolders(out, ["eu", "us"]), ["ap"]);
        assert.deepEqual(staleStackFolders(path.join(out, "missing"), ["us"]), []);
    });

    it("leaves an unchanged render untouched and drops a removed stack's folder (npm run render twice)", async () => {
        const out = scratchDir("rerender");
        assert.equal((await cli(["--out", out])).code, 0);
        writeStackFolder(path.join(out, "ap"), { "resources.json": "[]\n" });
        const stamp = new Date(0);
        for (const stack of ["us", "eu"]) {
            for (const f of fs.readdirSync(path.join(out, stack)))
                fs.utimesSync(path.join(out, stack, f), stamp, stamp);
        }
        assert.equal((await cli(["--out", out])).code, 0);
        assert.deepEqual(fs.readdirSync(out).sort(), ["eu", "us"]);
        for (const stack of ["us", "eu"]) {
            for (const f of fs.readdirSync(path.join(out, stack))) {
                assert.equal(fs.statSync(path.join(out, stack, f)).mtimeMs, 0, `${stack}/${f} was rewritten`);
            }
        }
    });
});

describe("render: the JSON files and what they print of secrets", () => {
    /** Objects in and out of order, integer-like keys, nesting, a Date, holes and undefined. */
    const VALUES: unknown[] = [
        {},
        [],
        { a: 1, b: [2, { c: 3, d: null }] },
        { b: 1, a: { d: 2, c: [{ f: 1, e: 0 }] } },
        { "10": "ten", "2": "two", a: "x", "": "empty" },
        [{ z: 1, y: [] }, "s", 1.5, false, null],
        { when: new Date(0), list: [undefined, 1], gone: undefined, deep: { x: { b: 1, a: 2 } } },
        Object.assign(Object.create(null) as object, { b: 1, a: 2 }),
    ];

    it("prints sortedJson as JSON.stringify prints withSortedKeys, and changes nothing it is given", () => {
        for (const value of VALUES) {
            const before = JSON.stringify(value);
            assert.equal(sortedJson(value), `${JSON.stringify(withSortedKeys(value), null, 2)}\n`);
            assert.equal(JSON.stringify(value), before, "the value is left as it was");
        }
    });

    it("redacts every secret, copying down to it, and returns what holds none as it is", () => {
        const clean = { a: [1, { b: "text" }], c: { d: null } };
        assert.equal(redacted(clean), clean, "nothing to redact: no copy");
        const holding = {
            a: [1, { secret: "p" }, "x"],
            keep: { d: "plain" },
            url: `postgres://quay:${SECRET_PLACEHOLDER}@db`,
        };
        const before = JSON.stringify(holding);
        const out = redacted(holding) as typeof holding;
        assert.deepEqual(out, { a: [1, "<secret>", "x"], keep: { d: "plain" }, url: "postgres://quay:<secret>@db" });
        assert.equal(JSON.stringify(holding), before, "the value given is not changed");
        assert.notEqual(out, holding);
        assert.notEqual(out.a, holding.a);
        assert.equal(out.keep, holding.keep, "a part without a secret is shared");
        assert.equal(redacted({ secret: { nested: 1 } }), "<secret>");
    });
});

describe("render: garbage collected between stacks", () => {
    const global = globalThis as { gc?: () => void };
    let saved: (() => void) | undefined;
    beforeEach(() => (saved = global.gc));
    afterEach(() => {
        if (saved === undefined) delete global.gc;
        else global.gc = saved;
    });

    it("collects once the heap has grown by the budget since the last collection, and not before", () => {
        let used = 100;
        let collections = 0;
        global.gc = () => {
            collections++;
            used = 120; // what the collection left
        };
        const heap = new HeapBudget(50, () => used);
        assert.equal(heap.between(), false, "nothing allocated yet");
        used = 149;
        assert.equal(heap.between(), false, "49 grown, under the budget");
        used = 150;
        assert.equal(heap.between(), true, "50 grown");
        assert.equal(collections, 1);
        used = 169;
        assert.equal(heap.between(), false, "counted from what the collection left (120)");
        used = 170;
        assert.equal(heap.between(), true);
        assert.equal(collections, 2);
    });

    it("does nothing when the process was started without --expose-gc", () => {
        delete global.gc;
        let used = 0;
        const heap = new HeapBudget(10, () => used);
        used = 1e9;
        assert.equal(heap.between(), false);
    });

    it("is asked for by the render script", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as {
            scripts: Record<string, string>;
        };
        assert.match(pkg.scripts.render, /^node --expose-gc scripts\/run\.js offline\/render\.ts$/);
    });
});
