/**
 * The Pulumi SDK's share of a render: replays a folder `npm run render` wrote, registering each
 * recorded resource again through the same offline runtime (offline/runtime.ts `runProgram`) with
 * nothing of the program around it: the class of its type, its recorded inputs and options, the
 * stack's recorded outputs; no config read or validated, no Outputs passed between resources, no
 * manifest validated, no file written. `npm run bench` replays its renders of 2 and 100 sites: what
 * the replay costs per added site is what the SDK alone costs to register those sites' resources
 * under mocks, the floor under the render's own cost per site (docs/benchmark.md).
 *
 * A replay is held to the folder: each stack must register exactly the recorded resources (URN,
 * type, parent, provider, dependsOn, options and inputs, as `renderFiles` writes them), or it fails
 * and names the differences, so the floor is never measured on other resources than the render's.
 *
 * Usage: node scripts/run.js offline/replay.ts --dir RENDERED_DIR
 * Exit codes: 0 replayed; 1 a stack registered something else or failed; 2 bad usage.
 */
// First: the SDK then loads without its function serialization, as the renderer loads it.
import "./deferClosure";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { HeapBudget } from "./heapBudget";
import { RenderedResource, renderedResource } from "./renderedFolder";
import { ORGANIZATION, runProgram, RunResult, withSortedKeys } from "./runtime";

/** Registers one resource of a given type. */
export type Register = (
    name: string,
    inputs: Record<string, unknown>,
    opts: pulumi.CustomResourceOptions,
) => pulumi.Resource;

/** The provider packages whose resources the program registers, by the first part of a type token. */
const PROVIDER_PACKAGES: ReadonlySet<string> = new Set(["aws", "azure-native", "kubernetes", "postgresql", "random"]);

/** A provider of any package, registered with the inputs it is given (ProviderResource is abstract). */
class ReplayedProvider extends pulumi.ProviderResource {}

type ResourceClass = new (name: string, args: unknown, opts: pulumi.CustomResourceOptions) => pulumi.Resource;

/** A package module, loaded as the program loads it (a module of its own, not the package's whole index). */
function loadModule(spec: string): Record<string, unknown> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- chosen by the type token at run time
    return require(spec) as Record<string, unknown>;
}

/**
 * The function that registers a resource of `type` (a Pulumi type token) as the program would:
 * - `pulumi:pulumi:StackReference`: a StackReference of the recorded name;
 * - `pulumi:providers:<pkg>`: a ProviderResource of the package with the recorded inputs as they
 *   are (a package's generated Provider class JSON-encodes its non-string arguments, and the
 *   recorded inputs are already encoded);
 * - `kubernetes:<group>/<version>:<Kind>`: the @pulumi/kubernetes class of that group (its first
 *   label: `rbac.authorization.k8s.io` is `rbac`), version and kind; a kind the package has no
 *   class for (a custom resource: `quay.redhat.com/v1:QuayRegistry`) is an
 *   `apiextensions.CustomResource`;
 * - `<pkg>:<module>[/<file>]:<Type>` of the other provider packages: class `Type` of
 *   `@pulumi/<pkg>/<module>` (of `@pulumi/<pkg>` for module `index`);
 * - any other type (the program's own components, `quay-georep:…`): a ComponentResource.
 * Throws for a provider package's type that has no class.
 */
export function registerFor(type: string, load: (spec: string) => Record<string, unknown> = loadModule): Register {
    const [pkg, module, member] = type.split(":");
    if (type === "pulumi:pulumi:StackReference") {
        return (name, inputs, opts) => new pulumi.StackReference(name, { name: String(inputs.name) }, opts);
    }
    if (pkg === "pulumi" && module === "providers") {
        return (name, inputs, opts) => new ReplayedProvider(member, name, inputs, opts);
    }
    if (!PROVIDER_PACKAGES.has(pkg) || module === undefined || member === undefined) {
        return (name, _inputs, opts) => new pulumi.ComponentResource(type, name, {}, opts);
    }
    let cls: unknown;
    if (pkg === "kubernetes") {
        const [group, version] = module.split("/");
        const k8s = load("@pulumi/kubernetes") as Record<string, Record<string, Record<string, unknown>> | undefined>;
        cls = k8s[group.split(".")[0]]?.[version]?.[member];
        cls ??= (k8s.apiextensions as unknown as Record<string, unknown>).CustomResource;
    } else {
        const first = module.split("/")[0];
        cls = load(first === "index" ? `@pulumi/${pkg}` : `@pulumi/${pkg}/${first}`)[member];
    }
    if (typeof cls !== "function") throw new Error(`no class for resource type ${type}`);
    const Class = cls as ResourceClass;
    return (name, inputs, opts) => new Class(name, inputs, opts);
}

/**
 * A program that registers `resources` (one stack's resources.json) and returns `outputs` as the
 * stack's outputs. Each resource is registered after those it needs (parent, provider, dependsOn),
 * otherwise in file order; the stack resource itself is the runtime's. Throws when a resource
 * needs one the file does not hold, or the file has a cycle.
 */
export function replayProgram(
    resources: readonly RenderedResource[],
    outputs: Record<string, unknown>,
    registerOf: (type: string) => Register = registerFor,
): () => Record<string, unknown> {
    return () => {
        const stack = resources.find((r) => r.type === "pulumi:pulumi:Stack");
        const stackUrn = stack?.urn ?? "";
        const byUrn = new Map(resources.map((r) => [r.urn, r]));
        const made = new Map<string, pulumi.Resource>();
        const underway = new Set<string>();
        const make = (urn: string, from: string): pulumi.Resource => {
            const done = made.get(urn);
            if (done !== undefined) return done;
            const r = byUrn.get(urn);
            if (r === undefined)
                throw new Error(`${from} needs ${urn}, which the stack's resources.json does not hold`);
            if (underway.has(urn)) throw new Error(`a cycle of parents, providers or dependsOn through ${urn}`);
            underway.add(urn);
            const opts: pulumi.CustomResourceOptions = {
                parent: r.parent !== null && r.parent !== stackUrn ? make(r.parent, urn) : undefined,
                provider: r.provider !== null ? (make(r.provider, urn) as pulumi.ProviderResource) : undefined,
                dependsOn: r.dependsOn.map((d) => make(d, urn)),
                protect: r.protect,
                retainOnDelete: r.retainOnDelete,
                ...(r.ignoreChanges !== undefined ? { ignoreChanges: [...r.ignoreChanges] } : {}),
                ...(r.aliases !== undefined ? { aliases: [...r.aliases] } : {}),
            };
            const resource = registerOf(r.type)(r.name, r.inputs, opts);
            made.set(urn, resource);
            return resource;
        };
        for (const r of resources) {
            if (r !== stack) make(r.urn, r.urn);
        }
        return outputs;
    };
}

/**
 * How a replay's run differs from the resources it replayed: resources missing or extra (by URN),
 * and resources registered otherwise than recorded (first 10). Empty when they are the same.
 */
export function replayDifferences(recorded: readonly RenderedResource[], run: RunResult): string[] {
    const want = new Map(recorded.map((r) => [r.urn, JSON.stringify(withSortedKeys(r))]));
    const got = new Map(run.resources.map((r) => [r.urn, JSON.stringify(withSortedKeys(renderedResource(r)))]));
    const differences = [
        ...[...want.keys()].filter((u) => !got.has(u)).map((u) => `not registered: ${u}`),
        ...[...got.keys()].filter((u) => !want.has(u)).map((u) => `registered but not recorded: ${u}`),
        ...[...want].filter(([u, w]) => got.has(u) && got.get(u) !== w).map(([u]) => `registered otherwise: ${u}`),
    ];
    return differences.length > 10
        ? [...differences.slice(0, 10), `… and ${differences.length - 10} more`]
        : differences;
}

/** A rendered folder's stacks: each subfolder with a resources.json. */
export interface RenderedStackFiles {
    readonly stack: string;
    readonly resources: RenderedResource[];
    readonly outputs: Record<string, unknown>;
}

/** Reads a rendered folder's stacks, sorted by name. */
export function readRendered(dir: string): RenderedStackFiles[] {
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, "resources.json")))
        .map((e) => e.name)
        .sort()
        .map((stack) => ({
            stack,
            resources: JSON.parse(
                fs.readFileSync(path.join(dir, stack, "resources.json"), "utf8"),
            ) as RenderedResource[],
            outputs: JSON.parse(fs.readFileSync(path.join(dir, stack, "outputs.json"), "utf8")) as Record<
                string,
                unknown
            >,
        }));
}

/** The project of a URN (`urn:pulumi:<stack>::<project>::…`). */
function projectOf(urn: string): string {
    const m = /^urn:pulumi:[^:]+::([^:]+)::/.exec(urn);
    if (m === null) throw new Error(`not a Pulumi URN: ${urn}`);
    return m[1];
}

/**
 * The order the renderer ran the stacks in: the shared stack first (the one the other stacks'
 * StackReferences read most), then the others by name, as offline/render.ts `renderStacks` orders
 * them. Each stack then reads, through its StackReferences, only the outputs of the stacks before
 * it, as in the render.
 */
export function renderOrder(stacks: readonly RenderedStackFiles[]): RenderedStackFiles[] {
    const reads = new Map<string, number>();
    for (const s of stacks) {
        for (const r of s.resources) {
            if (r.type !== "pulumi:pulumi:StackReference") continue;
            const read = String(r.inputs.name).split("/").pop() ?? "";
            if (read !== s.stack) reads.set(read, (reads.get(read) ?? 0) + 1);
        }
    }
    const shared = [...reads].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
    const byName = [...stacks].sort((a, b) => (a.stack < b.stack ? -1 : a.stack > b.stack ? 1 : 0));
    return [...byName.filter((s) => s.stack === shared), ...byName.filter((s) => s.stack !== shared)];
}

/** Replays every stack of a rendered folder; returns the problems (empty when every replay matched). */
export async function replayRendered(dir: string): Promise<{ stacks: number; resources: number; problems: string[] }> {
    const stacks = renderOrder(readRendered(dir));
    if (stacks.length === 0) throw new Error(`no rendered stacks (folders with resources.json) in ${dir}`);
    const stackOutputs: Record<string, Record<string, unknown>> = {};
    const heap = new HeapBudget();
    const problems: string[] = [];
    let resources = 0;
    for (const s of stacks) {
        const first = s.resources[0];
        if (first === undefined) continue;
        const project = projectOf(first.urn);
        const run = await runProgram({
            project,
            stack: s.stack,
            config: {},
            stackOutputs: { ...stackOutputs },
            program: replayProgram(s.resources, s.outputs),
        });
        resources += run.resources.length;
        const errors = [...new Set(run.errors.map((e) => e.message))];
        for (const d of [...errors, ...replayDifferences(s.resources, run)]) problems.push(`stack ${s.stack}: ${d}`);
        stackOutputs[`${ORGANIZATION}/${project}/${s.stack}`] = s.outputs;
        heap.between();
    }
    return { stacks: stacks.length, resources, problems };
}

const USAGE = "usage: node scripts/run.js offline/replay.ts --dir RENDERED_DIR";

/** Where the CLI writes (the tests capture it). */
export interface ReplayIo {
    stdout(text: string): void;
    stderr(text: string): void;
}

const PROCESS_IO: ReplayIo = {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
};

/** The CLI; returns the exit code (0 replayed as rendered, 1 not, 2 bad usage or an unreadable folder). */
export async function main(argv: readonly string[], io: ReplayIo = PROCESS_IO): Promise<number> {
    if (argv.length !== 2 || argv[0] !== "--dir") {
        io.stderr(`${USAGE}\n`);
        return 2;
    }
    let outcome;
    try {
        outcome = await replayRendered(path.resolve(argv[1]));
    } catch (err) {
        io.stderr(`${(err as Error).message}\n${USAGE}\n`);
        return 2;
    }
    if (outcome.problems.length > 0) {
        io.stderr(`the replay registered something other than the render:\n  ${outcome.problems.join("\n  ")}\n`);
        return 1;
    }
    io.stdout(`replayed ${outcome.stacks} stacks, ${outcome.resources} resources, as rendered\n`);
    return 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err) => {
            process.stderr.write(`replay failed: ${(err as Error).message}\n`);
            process.exit(1);
        },
    );
}
