/**
 * `npm run render`: runs the real program for every `Pulumi.<stack>.yaml` under Pulumi's mock
 * runtime and writes what each stack would deploy to `rendered/<stack>/`. No CLI, cloud or
 * credentials. The shared stack runs first; its outputs feed the others' StackReferences.
 *
 * Usage: npm run render [-- --stack NAME] [--dir PROJECT_DIR] [--out OUT_DIR] [--deployed RENDERED_DIR]
 * `--deployed` reads an earlier render (e.g. the base branch's `rendered/`) as what is deployed, so
 * the render shows the lifecycle step the change triggers.
 * Exit codes: 0 rendered; 1 a stack's config or program failed; 2 bad usage.
 * A stack's folder is rewritten only where its bytes change: an unchanged file is left as it is.
 */
// First: the SDK then loads without its function serialization (offline/deferClosure.ts).
import "./deferClosure";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { mapArrayShared } from "../lib/mapShared";
import { PROJECT_ROOT } from "../lib/projectRoot";
import { READONLY_KEY_FILE_ENV } from "../lib/serviceKey";
import { loadManifestSchemas, ManifestSchemas, validateManifests } from "./manifests";
import { HeapBudget } from "./heapBudget";
import { renderedResource, staleStackFolders, writeStackFolder } from "./renderedFolder";
import {
    ORGANIZATION,
    plain,
    RecordedResource,
    redacted,
    RunResult,
    runProgram,
    SECRET_PLACEHOLDER,
    withSortedKeys,
} from "./runtime";
import { listStacks, ProjectFile, readProject, readStackConfig } from "./stackConfig";

/** The files one stack's rendering consists of. */
export interface RenderedStack {
    readonly stack: string;
    readonly result: RunResult;
    /** File name → content, written under `<out>/<stack>/`. */
    readonly files: Readonly<Record<string, string>>;
    /** The human summary printed on stdout. */
    readonly summary: string;
}

const YAML_OPTS = { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false } as const;

function findResource(result: RunResult, type: string): RecordedResource | undefined {
    return result.resources.find((r) => r.type === type);
}

/**
 * The cluster's bundle Secret: the Secret of the QuayRegistry component (the lifecycle Jobs
 * have Secrets of their own: the database URL, the maintenance bundle).
 */
export function bundleSecretOf(result: RunResult): RecordedResource | undefined {
    return result.resources.find(
        (r) => r.type === "kubernetes:core/v1:Secret" && /(::|\$)quay-georep:quay:QuayRegistry::/.test(r.parent ?? ""),
    );
}

/**
 * Stable JSON: keys sorted at every level (`withSortedKeys`), indented by two, with a final newline.
 * The parts already in that order are not copied (`inSortedOrder`): the recorded inputs mostly are,
 * as the SDK's Struct round trip gives them back sorted.
 */
export function sortedJson(value: unknown): string {
    return `${JSON.stringify(inSortedOrder(value), null, 2)}\n`;
}

/**
 * What `JSON.stringify` prints as it prints `withSortedKeys(value)`: `value` itself where every
 * plain object in it (of Object's prototype or none) lists its keys in `sort()` order already,
 * else a copy of the parts that do not (and of what holds them). Anything else that is an object
 * (a Date, a class's instance) is copied as `withSortedKeys` copies it.
 */
function inSortedOrder(value: unknown): unknown {
    if (Array.isArray(value)) return mapArrayShared(value, inSortedOrder);
    if (typeof value !== "object" || value === null) return value;
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return withSortedKeys(value);
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    let same = true;
    for (let i = 1; i < keys.length && same; i++) same = keys[i - 1] < keys[i];
    const children = keys.map((k) => inSortedOrder(obj[k]));
    if (same && children.every((c, i) => c === obj[keys[i]])) return value;
    const order = keys.map((k, i) => [k, children[i]] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(order);
}

/**
 * The files of one stack: config.yaml, quayregistry.yaml, resources.json (each resource's URN,
 * type, parent, provider, inputs, options and, when it has any, the URNs its `aliases` denote),
 * outputs.json.
 */
export function renderFiles(result: RunResult): Record<string, string> {
    const files: Record<string, string> = {};
    const secret = bundleSecretOf(result);
    const bundle = secret ? plain(secret.inputs.stringData) : plain(result.outputs.bundle);
    if (bundle !== null && typeof bundle === "object" && "config.yaml" in bundle) {
        files["config.yaml"] = redacted((bundle as Record<string, string>)["config.yaml"]) as string;
    }
    const registry = findResource(result, "kubernetes:quay.redhat.com/v1:QuayRegistry");
    if (registry) {
        const { apiVersion, kind, metadata, spec } = redacted(registry.inputs) as Record<string, unknown>;
        files["quayregistry.yaml"] = stringify({ apiVersion, kind, metadata, spec }, YAML_OPTS);
    }
    files["resources.json"] = sortedJson(result.resources.map(renderedResource));
    files["outputs.json"] = sortedJson(redacted(result.outputs));
    return files;
}

/** A preview-like tree of the stack's resources. */
export function summarize(stack: string, result: RunResult, outDir: string, files: readonly string[]): string {
    const children = new Map<string, RecordedResource[]>();
    for (const r of result.resources) children.set(r.parent ?? "", [...(children.get(r.parent ?? "") ?? []), r]);
    // The stack resource is the tree's root, as in `pulumi preview`.
    const role = plain(result.outputs.role);
    const lines = [`stack ${stack} (${typeof role === "string" ? role : "?"}): ${result.resources.length} resources`];
    const walk = (parent: string, depth: number) => {
        for (const r of children.get(parent) ?? []) {
            const flags = [r.protect ? "protect" : "", r.retainOnDelete ? "retainOnDelete" : ""].filter(Boolean);
            lines.push(`  ${"  ".repeat(depth)}+ ${r.type}  ${r.name}${flags.length ? `  [${flags.join(", ")}]` : ""}`);
            walk(r.urn, depth + 1);
        }
    };
    const roots = new Set(result.resources.map((r) => r.urn));
    for (const parent of [...children.keys()].filter((p) => !roots.has(p)).sort()) walk(parent, 0);
    const shown = redacted(result.outputs) as Record<string, unknown>;
    for (const key of Object.keys(shown).sort()) {
        const value = shown[key];
        lines.push(`  output ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
    }
    lines.push(`  wrote ${path.join(outDir, stack)}/{${files.join(",")}}`);
    return lines.join("\n");
}

/**
 * Why a stack's Kubernetes objects may not be rendered: one error naming each object the API
 * server would refuse (resource, field, reason), so a pull request's render diff never shows one.
 */
export function manifestErrors(result: RunResult, schemas: ManifestSchemas): string[] {
    const invalid = validateManifests(result.resources, schemas);
    if (invalid.length === 0) return [];
    return [`${invalid.length} Kubernetes object(s) fail their schema:\n${invalid.map((m) => `  - ${m}`).join("\n")}`];
}

/** What was deployed, as an earlier render wrote it: per stack, its outputs and its resources. */
export interface DeployedRenders {
    /** Outputs by fully qualified stack name (secrets as secret placeholders). */
    readonly outputs: Record<string, Record<string, unknown>>;
    /** URN and type of each resource in the stack's state, by fully qualified stack name. */
    readonly resources: Record<string, { urn: string; type: string }[]>;
}

/** Turns the redacted `<secret>` of a rendered output back into a secret (placeholder) value. */
function unredact(value: unknown): unknown {
    if (value === "<secret>") return { secret: SECRET_PLACEHOLDER };
    if (Array.isArray(value)) return value.map(unredact);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unredact(v)]));
    }
    return value;
}

/**
 * Reads `<dir>/<stack>/outputs.json` and `resources.json` (an earlier render, e.g. the base branch's
 * `rendered/`) as the last deployed outputs and state of each stack. A stack without a folder reads
 * as initialized and never deployed.
 */
export function readDeployedRenders(dir: string, project: string): DeployedRenders {
    if (!fs.existsSync(dir)) throw new Error(`--deployed: no folder ${dir}`);
    const deployed: DeployedRenders = { outputs: {}, resources: {} };
    for (const stack of fs.readdirSync(dir).sort()) {
        const text = (file: string) => {
            const at = path.join(dir, stack, file);
            return fs.existsSync(at) ? fs.readFileSync(at, "utf8") : undefined;
        };
        addDeployedStack(deployed, project, stack, text("outputs.json"), text("resources.json"));
    }
    return deployed;
}

/**
 * Adds what one stack's rendered `outputs.json` and `resources.json` (either may be missing) say
 * was deployed: its outputs, secrets back as secrets, and the URN and type of each resource.
 */
export function addDeployedStack(
    deployed: DeployedRenders,
    project: string,
    stack: string,
    outputsJson: string | undefined,
    resourcesJson: string | undefined,
): void {
    const name = `${ORGANIZATION}/${project}/${stack}`;
    if (outputsJson !== undefined)
        deployed.outputs[name] = unredact(JSON.parse(outputsJson)) as Record<string, unknown>;
    if (resourcesJson !== undefined) {
        const list = JSON.parse(resourcesJson) as { urn: string; type: string }[];
        deployed.resources[name] = list.map((r) => ({ urn: r.urn, type: r.type }));
    }
}

/** The read-only service key offline renders use (a throwaway RSA key, never deployed). */
export const OFFLINE_READONLY_KEY = path.join(PROJECT_ROOT, "offline", "readonly-service-key.pem");

/**
 * Renders the requested stacks (all by default), shared stack first, each reading what the stacks
 * before it in this run produced (the deploy order) and otherwise what `deployed` says was
 * deployed. Throws nothing for a stack's failure: errors are in the results. `project` is `dir`'s
 * Pulumi.yaml, read once here when not given. `run` runs the program for one stack: `runProgram`,
 * or a test's memoized runs (the program is deterministic and run results are read-only).
 */
export async function renderStacks(
    dir: string,
    only?: string,
    deployed: DeployedRenders = { outputs: {}, resources: {} },
    project: ProjectFile = readProject(dir),
    run: typeof runProgram = runProgram,
): Promise<{
    /** Every stack of the project (each `Pulumi.<stack>.yaml`), sorted. */
    stacks: readonly string[];
    rendered: RenderedStack[];
    failed: { stack: string; errors: string[] }[];
    notValidated: readonly string[];
}> {
    const stacks = listStacks(dir);
    if (stacks.length === 0) throw new Error(`no Pulumi.<stack>.yaml files in ${dir}`);
    // A switchover's read-only service key: a fixed offline one, so renders stay byte-stable
    // (a real run generates one and keeps it in the secret bundle output, which renders hide).
    process.env[READONLY_KEY_FILE_ENV] ??= OFFLINE_READONLY_KEY;
    if (only !== undefined && !stacks.includes(only)) {
        throw new Error(`no stack "${only}": ${dir} has ${stacks.map((s) => `Pulumi.${s}.yaml`).join(", ")}`);
    }
    const first = readStackConfig(dir, stacks[0], project);
    const sharedStack = first.config[`${first.project}:sharedStack`] ?? "us";
    const order = [...stacks.filter((s) => s === sharedStack), ...stacks.filter((s) => s !== sharedStack)];
    const stackOutputs: Record<string, Record<string, unknown>> = { ...deployed.outputs };
    const schemas = loadManifestSchemas();
    const heap = new HeapBudget();
    const rendered: RenderedStack[] = [];
    const failed: { stack: string; errors: string[] }[] = [];
    for (const stack of order) {
        if (only !== undefined && stack !== only && stack !== sharedStack) continue;
        const cfg = stack === first.stack ? first : readStackConfig(dir, stack, project);
        const result = await run({
            ...cfg,
            stackOutputs: { ...stackOutputs },
            stackResources: deployed.resources,
        });
        if (result.errors.length > 0) {
            failed.push({ stack, errors: [...new Set(result.errors.map((e) => e.message))] });
            continue;
        }
        const invalid = manifestErrors(result, schemas);
        if (invalid.length > 0) {
            failed.push({ stack, errors: invalid });
            continue;
        }
        stackOutputs[`${ORGANIZATION}/${cfg.project}/${stack}`] = result.outputs;
        heap.between();
        if (only !== undefined && stack !== only) continue;
        const files = renderFiles(result);
        rendered.push({ stack, result, files, summary: "" });
    }
    return { stacks, rendered, failed, notValidated: schemas.notValidated };
}

/**
 * What the CLI is given from outside: where it writes (standard output and standard error; the
 * tests capture them) and, for tests, a way to see what it rendered and to run the program.
 */
export interface RenderIo {
    stdout(text: string): void;
    stderr(text: string): void;
    /**
     * Given the stacks rendered (each with the program run its files were made from) once their
     * folders are written, when the caller wants them: tests judge a render by its runs as well as
     * its files, without running every stack again.
     */
    rendered?(stacks: readonly RenderedStack[]): void;
    /** Runs the program for one stack: `runProgram` unless given (tests give their memoized runs). */
    run?: typeof runProgram;
}

const PROCESS_IO: RenderIo = {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
};

const USAGE = "usage: npm run render [-- --stack NAME] [--dir PROJECT_DIR] [--out OUT_DIR] [--deployed RENDERED_DIR]";

/**
 * The CLI: `npm run render [-- --stack NAME] [--dir PROJECT_DIR] [--out OUT_DIR] [--deployed DIR]`.
 * Returns the exit code (0 rendered, 1 a stack failed, 2 bad usage: any error before a stack is
 * run, such as an unknown stack or no Pulumi.yaml); prints only through `io`.
 */
export async function main(argv: readonly string[], io: RenderIo = PROCESS_IO): Promise<number> {
    const args: Record<string, string> = {};
    let outcome;
    let out: string;
    try {
        for (let i = 0; i < argv.length; i += 2) {
            const [flag, value] = [argv[i], argv[i + 1]];
            if (!["--stack", "--dir", "--out", "--deployed"].includes(flag) || value === undefined)
                throw new Error(`unknown or incomplete argument "${flag}"`);
            args[flag.slice(2)] = value;
        }
        const dir = path.resolve(args.dir ?? PROJECT_ROOT);
        out = path.resolve(args.out ?? path.join(dir, "rendered"));
        const project = readProject(dir);
        const deployed = args.deployed ? readDeployedRenders(path.resolve(args.deployed), project.name) : undefined;
        outcome = await renderStacks(dir, args.stack, deployed, project, io.run);
    } catch (err) {
        io.stderr(`${(err as Error).message}\n${USAGE}\n`);
        return 2;
    }
    for (const r of outcome.rendered) {
        writeStackFolder(path.join(out, r.stack), r.files);
        const names = Object.keys(r.files).sort();
        io.stdout(`${summarize(r.stack, r.result, path.relative(process.cwd(), out) || ".", names)}\n\n`);
    }
    io.rendered?.(outcome.rendered);
    // A stack removed from the project leaves no folder behind (`--stack` renders one: the others stay).
    if (args.stack === undefined) {
        for (const stale of staleStackFolders(out, outcome.stacks))
            fs.rmSync(path.join(out, stale), { recursive: true });
    }
    for (const note of outcome.notValidated) io.stderr(`warning: ${note}\n`);
    for (const f of outcome.failed) {
        io.stderr(
            `stack ${f.stack}: not rendered\n${f.errors.map((e) => `  ${e.split("\n").join("\n  ")}`).join("\n")}\n\n`,
        );
    }
    return outcome.failed.length > 0 ? 1 : 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err) => {
            process.stderr.write(`render failed: ${(err as Error).message}\n`);
            process.exit(1);
        },
    );
}
