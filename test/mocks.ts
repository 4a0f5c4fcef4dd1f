/**
 * The one shared mocks module of the test suite, imported by every test file that runs the program.
 * (Not a mocha `require`: with `--parallel`, mocha loads those in its main process too, which runs no
 * test; each worker loads this module once, with the first test file that imports it.)
 *
 * Every program run goes through `offline/runtime.ts`, the same mock runtime the offline renderer
 * uses: it records each resource's type, name, parent, provider, inputs (secrets kept marked),
 * and `protect` / `retainOnDelete`. This module adds fixtures: the example stacks' config, one
 * change at a time, and finders over the recorded resources.
 */
import { parse, stringify } from "yaml";
import { bundleSecretOf, OFFLINE_READONLY_KEY } from "../offline/render";
import { PROJECT_KEYS } from "../config/config";
import { PROJECT_ROOT } from "../lib/projectRoot";
import { remember } from "../lib/remember";
import { READONLY_KEY_FILE_ENV } from "../lib/serviceKey";
import { ORGANIZATION, plain, RecordedResource, RunOptions, RunResult, runProgram } from "../offline/runtime";
import { readStackConfig, StackConfig } from "../offline/stackConfig";

/** The repository root (where Pulumi.yaml is), also when the tests run compiled from bin/test/. */
export const PROJECT_DIR = PROJECT_ROOT;
export const PROJECT = "quay-georep";

const exampleConfigs = new Map<string, StackConfig>();

/** The example stacks' merged config, exactly as `npm run render` reads it (read once, frozen). */
export function exampleConfig(stack: string): StackConfig {
    return remember(exampleConfigs, stack, 8, () => {
        const cfg = readStackConfig(PROJECT_DIR, stack);
        return Object.freeze({
            ...cfg,
            config: Object.freeze({ ...cfg.config }),
            secretKeys: Object.freeze([...cfg.secretKeys]),
        });
    });
}

/**
 * A copy of `base` with some keys changed: bare keys get the project namespace; `undefined`
 * removes a key; objects and lists are stored as JSON, as the CLI passes them.
 */
export function withConfig(
    base: StackConfig,
    changes: Record<string, unknown>,
    secretKeys: readonly string[] = [],
    opts: { inStackFile?: boolean } = {},
): StackConfig {
    const config: Record<string, string> = { ...base.config };
    const secrets = new Set(base.secretKeys);
    const project: [string, unknown][] = [];
    for (const [key, value] of Object.entries(changes)) {
        const full = key.includes(":") ? key : `${PROJECT}:${key}`;
        const bare = full.slice(PROJECT.length + 1);
        // A project-level key is edited where it lives, in Pulumi.yaml, unless the test says otherwise.
        if (!opts.inStackFile && (PROJECT_KEYS as readonly string[]).includes(bare)) project.push([bare, value]);
        if (value === undefined) {
            delete config[full];
            secrets.delete(full);
        } else {
            config[full] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    for (const key of secretKeys) secrets.add(key.includes(":") ? key : `${PROJECT}:${key}`);
    return {
        ...base,
        config,
        secretKeys: [...secrets].sort(),
        projectFile: editProjectFile(base.projectFile, project),
    };
}

const editedProjectFiles = new Map<string, string>();

/** `Pulumi.yaml`'s text with some project-level values set (`undefined` removes one). */
function editProjectFile(text: string, changes: readonly [string, unknown][]): string {
    if (changes.length === 0) return text;
    // Tests edit the same file the same way again and again (a World's every `up`): parse it once.
    const key = JSON.stringify([
        text,
        changes.map(([k, v]) => [k, v === undefined ? { removed: true } : { value: v }]),
    ]);
    return remember(editedProjectFiles, key, 64, () => editParsed(text, changes));
}

const parsedProjectFiles = new Map<string, { config?: Record<string, unknown> }>();

function editParsed(text: string, changes: readonly [string, unknown][]): string {
    // Parsed once per text (the example's, mostly), and never changed: the edit works on a copy of `config`.
    const doc = remember(parsedProjectFiles, text, 4, () => parse(text) as { config?: Record<string, unknown> });
    const config = { ...(doc.config ?? {}) };
    for (const [key, value] of changes) {
        delete config[`${PROJECT}:${key}`];
        if (value === undefined) delete config[key];
        else config[key] = typeof value === "string" ? value : { value };
    }
    return stringify({ ...doc, config });
}

/** The example's project-level `sites`, parsed (to edit one site in a test). */
export function exampleSites(): Record<string, unknown>[] {
    return JSON.parse(exampleConfig("us").config[`${PROJECT}:sites`]) as Record<string, unknown>[];
}

// Program runs in the tests read the offline renderer's fixed read-only service key, as `npm run
// render` does (offline/render.ts renderStacks sets the same variable): a run that goes read-only
// is then the same whatever ran before it in the worker, as the memo below assumes. The key's
// generation is tested on its own (test/standbyProgram.test.ts, stacks/switchover.ts readonlyKey).
process.env[READONLY_KEY_FILE_ENV] ??= OFFLINE_READONLY_KEY;

const runs = new Map<string, Promise<RunResult>>();

/**
 * Runs the program for one stack. Runs are memoized by their inputs: the program is deterministic
 * and results are read-only, and many tests look at the same few runs. The 32 most recently used
 * runs are kept (lib/remember.ts): enough for the runs a test file comes back to, without keeping
 * every run of the suite alive (each is about 2 MB, and a worker's garbage collector walks whatever
 * is kept).
 */
export function runStack(
    cfg: StackConfig,
    stackOutputs: NonNullable<RunOptions["stackOutputs"]> = {},
    stackResources: NonNullable<RunOptions["stackResources"]> = {},
): Promise<RunResult> {
    const key = JSON.stringify([cfg, stackOutputs, stackResources]);
    return remember(runs, key, 32, () => runProgram({ ...cfg, stackOutputs, stackResources }));
}

/**
 * `runProgram` through {@link runStack}'s memo, for the renderer (`renderStacks`'s and `RenderIo`'s
 * `run`): a render of the example then shares its runs with every other test of the worker that
 * runs the same stack with the same config and deployed state. A component program is run afresh.
 */
export function runMemoized(opts: RunOptions): Promise<RunResult> {
    if (opts.program !== undefined || opts.projectFile === undefined) return runProgram(opts);
    // The stack's config as readStackConfig gives it, its keys in the same order (the memo's key is JSON).
    const cfg = Object.fromEntries(
        Object.entries(opts).filter(([k]) => k !== "stackOutputs" && k !== "stackResources"),
    ) as unknown as StackConfig;
    return runStack(cfg, opts.stackOutputs, opts.stackResources);
}

/** The fully qualified name a StackReference uses for a stack of this project. */
export function stackRef(stack: string): string {
    return `${ORGANIZATION}/${PROJECT}/${stack}`;
}

/** Runs the shared stack, then another stack fed with its outputs. */
export async function runPair(
    shared: StackConfig,
    other: StackConfig,
): Promise<{ shared: RunResult; other: RunResult }> {
    const s = await runStack(shared);
    const o = await runStack(other, { [stackRef(shared.stack)]: s.outputs });
    return { shared: s, other: o };
}

/** Fails with the program's errors, for tests that expect a clean run. */
export function assertClean(result: RunResult): RunResult {
    if (result.errors.length > 0) {
        throw new Error(`program failed:\n${result.errors.map((e) => e.message).join("\n")}`);
    }
    return result;
}

/** All resources of a type token. */
export function ofType(result: RunResult, type: string): RecordedResource[] {
    return result.resources.filter((r) => r.type === type);
}

/** Exactly one resource of a type token (optionally with this name); fails otherwise. */
export function one(result: RunResult, type: string, name?: string): RecordedResource {
    const found = ofType(result, type).filter((r) => name === undefined || r.name === name);
    if (found.length !== 1) {
        throw new Error(
            `expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`,
        );
    }
    return found[0];
}

/** The cluster's bundle Secret (not the lifecycle Jobs' Secrets); fails when there is none. */
export function bundleSecret(result: RunResult): RecordedResource {
    const secret = bundleSecretOf(result);
    if (secret === undefined) throw new Error("no bundle Secret (the Secret of a QuayRegistry component)");
    return secret;
}

/**
 * URNs added and removed between two runs of one stack. The backfill Job is left out: it is keyed
 * by the topology on purpose (one backfill per topology), so any site change renames it.
 */
export function urnDiff(before: RunResult, after: RunResult): { added: string[]; removed: string[] } {
    const keep = (r: RecordedResource) => !/\$kubernetes:batch\/v1:Job::.*-backfill-/.test(r.urn);
    const a = new Set(before.resources.filter(keep).map((r) => r.urn));
    const b = new Set(after.resources.filter(keep).map((r) => r.urn));
    return { added: [...b].filter((u) => !a.has(u)), removed: [...a].filter((u) => !b.has(u)) };
}

/** A resource's inputs with secrets unwrapped. */
export function inputsOf(resource: RecordedResource): Record<string, unknown> {
    return plain(resource.inputs) as Record<string, unknown>;
}

export const TYPES = {
    secret: "kubernetes:core/v1:Secret",
    namespace: "kubernetes:core/v1:Namespace",
    quayRegistry: "kubernetes:quay.redhat.com/v1:QuayRegistry",
    k8sProvider: "pulumi:providers:kubernetes",
    randomPassword: "random:index/randomPassword:RandomPassword",
    stackReference: "pulumi:pulumi:StackReference",
    subscription: "kubernetes:operators.coreos.com/v1alpha1:Subscription",
    job: "kubernetes:batch/v1:Job",
} as const;
