/**
 * The bench's SDK floor (offline/replay.ts): a render's folder replayed registers exactly the
 * resources the render recorded, and a replay that would register anything else is refused, so the
 * floor is never measured on other resources than the render's.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { literal } from "../lib/regexp";
import { main as render } from "../offline/render";
import {
    main as replay,
    registerFor,
    RenderedStackFiles,
    renderOrder,
    replayDifferences,
    replayProgram,
} from "../offline/replay";
import { RenderedResource } from "../offline/renderedFolder";
import { RunResult } from "../offline/runtime";
import { runMemoized } from "./mocks";
import { scratchDir } from "./support/scratch";

/** Runs a CLI's main in-process and collects what it printed. */
async function cli(
    main: (argv: string[], io: { stdout(t: string): void; stderr(t: string): void }) => Promise<number>,
    argv: string[],
) {
    let stdout = "";
    let stderr = "";
    const code = await main(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
    return { code, stdout, stderr };
}

/** The example rendered into a scratch folder, as `npm run render -- --out DIR` writes it. */
async function renderedExample(): Promise<string> {
    const out = path.join(scratchDir("replay-"), "rendered");
    const rendered = await render(["--out", out], {
        stdout: () => undefined,
        stderr: (t) => assert.fail(`the render printed an error: ${t}`),
        run: runMemoized,
    });
    assert.equal(rendered, 0);
    return out;
}

const readResources = (dir: string, stack: string) =>
    JSON.parse(fs.readFileSync(path.join(dir, stack, "resources.json"), "utf8")) as RenderedResource[];
const writeResources = (dir: string, stack: string, resources: RenderedResource[]) =>
    fs.writeFileSync(path.join(dir, stack, "resources.json"), `${JSON.stringify(resources, null, 2)}\n`);

describe("replay of a render (the bench's SDK floor)", function () {
    this.timeout(60000);

    it("registers the example's render again, resource for resource: URN, type, parent, provider, options and inputs", async () => {
        const dir = await renderedExample();
        const count = ["us", "eu"].reduce((n, s) => n + readResources(dir, s).length, 0);
        const kinds = new Set(["us", "eu"].flatMap((s) => readResources(dir, s).map((r) => r.type.split(":")[0])));
        // Every kind of resource the replay maps: each provider package, providers, components, the stack.
        for (const kind of ["aws", "azure-native", "kubernetes", "postgresql", "random", "pulumi", "quay-georep"]) {
            assert.ok(kinds.has(kind), `the example renders no ${kind} resource`);
        }
        const result = await cli(replay, ["--dir", dir]);
        assert.deepEqual(result, {
            code: 0,
            stdout: `replayed 2 stacks, ${count} resources, as rendered\n`,
            stderr: "",
        });
    });

    it("refuses a replay that registers an input otherwise than recorded, and names the resource", async () => {
        const dir = await renderedExample();
        const resources = readResources(dir, "us");
        const bucket = resources.find((r) => r.type === "aws:s3/bucket:Bucket");
        assert.ok(bucket !== undefined, "the example's shared stack has an S3 bucket");
        // Not an argument of aws.s3.Bucket: its class drops it, so the replay sends other inputs than the render's.
        bucket.inputs.notAnArgument = "x";
        writeResources(dir, "us", resources);
        const result = await cli(replay, ["--dir", dir]);
        assert.equal(result.code, 1);
        assert.equal(
            result.stderr,
            `the replay registered something other than the render:\n  stack us: registered otherwise: ${bucket.urn}\n`,
        );
    });

    it("refuses a folder whose resource needs one it does not hold", async () => {
        const dir = await renderedExample();
        const resources = readResources(dir, "eu");
        const parent = resources.find((r) => r.type === "quay-georep:quay:QuayRegistry");
        assert.ok(parent !== undefined, "the example's site stack has a QuayRegistry component");
        assert.ok(
            resources.some((r) => r.parent === parent.urn),
            "the component has a child",
        );
        writeResources(
            dir,
            "eu",
            resources.filter((r) => r !== parent),
        );
        const result = await cli(replay, ["--dir", dir]);
        assert.equal(result.code, 1);
        assert.match(
            result.stderr,
            new RegExp(`stack eu: \\S+ needs ${literal(parent.urn)}, which the stack's resources.json does not hold\n`),
        );
    });

    it("refuses bad usage and a folder without rendered stacks, exit 2", async () => {
        assert.deepEqual(await cli(replay, []), {
            code: 2,
            stdout: "",
            stderr: "usage: node scripts/run.js offline/replay.ts --dir RENDERED_DIR\n",
        });
        const empty = scratchDir("replay-empty-");
        const result = await cli(replay, ["--dir", empty]);
        assert.equal(result.code, 2);
        assert.match(
            result.stderr,
            new RegExp(`^no rendered stacks \\(folders with resources.json\\) in ${literal(empty)}\n`),
        );
    });
});

describe("replay: the class of each type token", () => {
    /** A stand-in class that records how it was constructed. */
    const made = (label: string) =>
        class {
            readonly label = label;
            constructor(
                readonly name: string,
                readonly args: unknown,
                readonly opts: unknown,
            ) {}
        };
    const modules: Record<string, Record<string, unknown>> = {
        "@pulumi/aws/s3": { Bucket: made("aws.s3.Bucket") },
        "@pulumi/azure-native/storage": { StorageAccount: made("azure-native.storage.StorageAccount") },
        "@pulumi/postgresql": { Database: made("postgresql.Database") },
        "@pulumi/random": { RandomPassword: made("random.RandomPassword") },
        "@pulumi/kubernetes": {
            core: { v1: { Secret: made("k8s.core.v1.Secret") } },
            rbac: { v1: { Role: made("k8s.rbac.v1.Role") } },
            apiextensions: { CustomResource: made("k8s.apiextensions.CustomResource") },
        },
    };
    const loaded: string[] = [];
    const load = (spec: string) => {
        loaded.push(spec);
        const m = modules[spec];
        if (m === undefined) throw new Error(`unexpected module ${spec}`);
        return m;
    };
    const labelOf = (type: string) =>
        (registerFor(type, load)("n", { a: 1 }, { protect: true }) as unknown as { label: string; name: string }).label;

    it("takes a provider package's class from the module the token names, as the program imports it", () => {
        loaded.length = 0;
        assert.equal(labelOf("aws:s3/bucket:Bucket"), "aws.s3.Bucket");
        assert.equal(labelOf("azure-native:storage:StorageAccount"), "azure-native.storage.StorageAccount");
        assert.equal(labelOf("postgresql:index/database:Database"), "postgresql.Database");
        assert.equal(labelOf("random:index/randomPassword:RandomPassword"), "random.RandomPassword");
        assert.deepEqual(loaded, [
            "@pulumi/aws/s3",
            "@pulumi/azure-native/storage",
            "@pulumi/postgresql",
            "@pulumi/random",
        ]);
    });

    it("takes a Kubernetes kind from its group's first label and version, a custom kind as a CustomResource", () => {
        assert.equal(labelOf("kubernetes:core/v1:Secret"), "k8s.core.v1.Secret");
        assert.equal(labelOf("kubernetes:rbac.authorization.k8s.io/v1:Role"), "k8s.rbac.v1.Role");
        assert.equal(labelOf("kubernetes:quay.redhat.com/v1:QuayRegistry"), "k8s.apiextensions.CustomResource");
        assert.equal(labelOf("kubernetes:core/v2:Secret"), "k8s.apiextensions.CustomResource");
    });

    it("passes the recorded name, inputs and options to the class", () => {
        const r = registerFor("aws:s3/bucket:Bucket", load)("b", { bucket: "x" }, { protect: true }) as unknown as {
            name: string;
            args: unknown;
            opts: unknown;
        };
        assert.deepEqual([r.name, r.args, r.opts], ["b", { bucket: "x" }, { protect: true }]);
    });

    it("refuses a provider package's type it has no class for, naming the type", () => {
        assert.throws(
            () => registerFor("aws:s3/nope:Nope", load),
            /^Error: no class for resource type aws:s3\/nope:Nope$/,
        );
    });
});

describe("replay: order and comparison", () => {
    const stackRef = (stack: string, reads: string): RenderedResource => ({
        urn: `urn:pulumi:${stack}::p::pulumi:pulumi:StackReference::p-${reads}-stack`,
        type: "pulumi:pulumi:StackReference",
        name: `p-${reads}-stack`,
        parent: null,
        provider: null,
        inputs: { name: `organization/p/${reads}` },
        protect: false,
        retainOnDelete: false,
        dependsOn: [],
    });
    const stack = (name: string, reads: string[]): RenderedStackFiles => ({
        stack: name,
        resources: reads.map((r) => stackRef(name, r)),
        outputs: {},
    });

    it("replays the stack the others read first, then the rest by name, as the renderer orders them", () => {
        const stacks = [stack("a", ["a", "m"]), stack("b", ["b", "m"]), stack("m", ["m"]), stack("z", ["z", "m"])];
        assert.deepEqual(
            renderOrder(stacks).map((s) => s.stack),
            ["m", "a", "b", "z"],
        );
        // A stack reading only itself leads nothing: names order them all.
        assert.deepEqual(
            renderOrder([stack("b", ["b"]), stack("a", ["a"])]).map((s) => s.stack),
            ["a", "b"],
        );
    });

    it("registers each resource after its parent, provider and dependsOn, and refuses a cycle or a missing one", () => {
        const resource = (name: string, more: Partial<RenderedResource> = {}): RenderedResource => ({
            ...stackRef("a", name),
            urn: `urn:pulumi:a::p::t:m:T::${name}`,
            type: "t:m:T",
            name,
            ...more,
        });
        const urn = (name: string) => resource(name).urn;
        const order = (resources: RenderedResource[]) => {
            const made: string[] = [];
            replayProgram(resources, {}, () => (name) => {
                made.push(name);
                return { name } as never;
            })();
            return made;
        };
        // File order, but for what each needs first: c's parent b, b's provider p, p after d (dependsOn).
        assert.deepEqual(
            order([
                resource("c", { parent: urn("b") }),
                resource("b", { provider: urn("p") }),
                resource("p", { dependsOn: [urn("d")] }),
                resource("d"),
            ]),
            ["d", "p", "b", "c"],
        );
        assert.throws(
            () => order([resource("x", { parent: urn("y") }), resource("y", { dependsOn: [urn("x")] })]),
            new RegExp(`^Error: a cycle of parents, providers or dependsOn through ${literal(urn("x"))}$`),
        );
        assert.throws(
            () => order([resource("x", { dependsOn: [urn("gone")] })]),
            new RegExp(
                `^Error: ${literal(urn("x"))} needs ${literal(urn("gone"))}, which the stack's resources.json does not hold$`,
            ),
        );
    });

    it("names resources not registered, registered but not recorded, and registered otherwise, ten at most", () => {
        const recorded = ["x", "y", "z"].map((s) => stackRef("a", s));
        const asRun = (r: RenderedResource) => ({
            ...r,
            custom: true,
            parent: r.parent ?? undefined,
            provider: r.provider ?? undefined,
            aliases: [],
        });
        const run = (resources: RenderedResource[]): RunResult => ({
            resources: resources.map(asRun),
            outputs: {},
            errors: [],
        });
        assert.deepEqual(replayDifferences(recorded, run(recorded)), []);
        const other = { ...recorded[1], inputs: { name: "organization/p/other" } };
        assert.deepEqual(replayDifferences(recorded, run([recorded[0], other, stackRef("a", "w")])), [
            `not registered: ${recorded[2].urn}`,
            `registered but not recorded: ${stackRef("a", "w").urn}`,
            `registered otherwise: ${recorded[1].urn}`,
        ]);
        const many = Array.from({ length: 12 }, (_, i) => stackRef("a", `s${i}`));
        assert.deepEqual(replayDifferences(many, run([])).slice(-2), [
            `not registered: ${many[9].urn}`,
            "… and 2 more",
        ]);
    });
});
