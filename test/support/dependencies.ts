/**
 * What each resource waits for through data. Components pass an order across their boundary as
 * data (an input built from an output that resolves only after the dependency, as pulumi-eks's
 * ServiceRole does), not as `dependsOn`; the offline runtime records only `dependsOn`. This runs the
 * program under the same mocks and asks the SDK, for every resource, which resources its inputs'
 * Outputs carry (`pulumi.getAllResources`): what `serializeProperty` (runtime/rpc.js) tells the
 * engine as the resource's property dependencies, which the engine orders steps by.
 */
import * as pulumi from "@pulumi/pulumi";
import { engineUrn, evaluateProgram, PROGRAM, RunOptions, RunResult, runProgram } from "../../offline/runtime";
import type { StackConfig } from "../../offline/stackConfig";
import { remember } from "../../lib/remember";
import { assertClean, PROJECT } from "../mocks";

/** The stack output the dependencies travel in (left out of the run's outputs). */
const KEY = "__dependencies";

/** A run of the program with, per resource URN, the URNs its inputs depend on (direct, sorted). */
export interface DependencyRun {
    readonly run: RunResult;
    readonly inputs: ReadonlyMap<string, readonly string[]>;
}

const runs = new Map<string, Promise<DependencyRun>>();

/** URNs of the resources an Output carries, in the engine's form. */
function dependenciesOf(value: pulumi.Output<unknown>): pulumi.Output<string[]> {
    const urns = pulumi.getAllResources(value).then((resources) => [...resources].map((r) => r.urn));
    return pulumi.output(urns).apply((list) => [...list].map(engineUrn).sort());
}

/**
 * Runs the real program (`index.ts`) for one stack, as `runStack` does, recording every resource's
 * data dependencies. Memoized by its inputs, like `runStack`; fails on program errors.
 */
export function runWithDependencies(
    cfg: StackConfig,
    stackOutputs: Record<string, Record<string, unknown>> = {},
    stackResources: Record<string, { urn: string; type: string }[]> = {},
): Promise<DependencyRun> {
    const key = JSON.stringify([cfg, stackOutputs, stackResources]);
    return remember(runs, key, 16, () => {
        const program = async (): Promise<Record<string, unknown>> => ({
            ...(await (evaluateProgram(PROGRAM) as Promise<Record<string, unknown>>)),
        });
        return recordDependencies({ ...cfg, stackOutputs, stackResources, program });
    });
}

/** Runs a program function (a few components on their own) under mocks, recording data dependencies. */
export function componentDependencies(
    make: () => Record<string, unknown> | Promise<Record<string, unknown>>,
): Promise<DependencyRun> {
    return recordDependencies({ project: PROJECT, stack: "test", config: {}, program: make });
}

async function recordDependencies(
    opts: RunOptions & { program: () => Record<string, unknown> | Promise<Record<string, unknown>> },
): Promise<DependencyRun> {
    const program = async (): Promise<Record<string, unknown>> => {
        const found: pulumi.Output<[string, string[]]>[] = [];
        pulumi.runtime.registerStackTransformation((t) => {
            // The resource's URN exists once its constructor ran, after the transformations.
            const urn = new Promise<string>((resolve) => setImmediate(() => t.resource.urn.apply(resolve)));
            found.push(pulumi.all([pulumi.output(urn).apply(engineUrn), dependenciesOf(pulumi.output(t.props))]));
            return undefined;
        });
        const exported = await opts.program();
        return { ...exported, [KEY]: pulumi.all(found) };
    };
    const run = assertClean(await runProgram({ ...opts, program }));
    const { [KEY]: pairs, ...outputs } = run.outputs;
    return { run: { ...run, outputs }, inputs: new Map(pairs as [string, string[]][]) };
}

/**
 * Every resource `urn` waits for, transitively, through data and through `dependsOn`: what the
 * engine creates or updates before it.
 */
export function waitsFor(d: DependencyRun, urn: string): Set<string> {
    const dependsOn = new Map(d.run.resources.map((r) => [r.urn, r.dependsOn]));
    const seen = new Set<string>();
    const next = [urn];
    for (let u = next.pop(); u !== undefined; u = next.pop()) {
        for (const dep of [...(d.inputs.get(u) ?? []), ...(dependsOn.get(u) ?? [])]) {
            if (!seen.has(dep)) {
                seen.add(dep);
                next.push(dep);
            }
        }
    }
    return seen;
}

/** The URNs resource `urn`'s inputs depend on directly (its property dependencies). */
export function inputsWaitFor(d: DependencyRun, urn: string): readonly string[] {
    return d.inputs.get(urn) ?? [];
}

/** What each component passed to `registerOutputs`, by component, while `run` ran. */
export async function withRegisteredOutputs<T>(
    run: () => Promise<T>,
): Promise<{ result: T; registered: ReadonlyMap<pulumi.ComponentResource, readonly string[]> }> {
    type Register = (this: pulumi.ComponentResource, outputs?: unknown) => void;
    const proto = pulumi.ComponentResource.prototype as unknown as { registerOutputs: Register };
    const original = proto.registerOutputs;
    const registered = new Map<pulumi.ComponentResource, readonly string[]>();
    proto.registerOutputs = function (outputs) {
        // The root Stack registers the stack's outputs through the same method.
        const isStack = this.constructor.name === "Stack";
        if (!isStack && outputs !== null && typeof outputs === "object" && !pulumi.Output.isInstance(outputs)) {
            registered.set(this, Object.keys(outputs));
        }
        original.call(this, outputs);
    };
    try {
        return { result: await run(), registered };
    } finally {
        proto.registerOutputs = original;
    }
}

/**
 * A component's public outputs: its own fields holding an Output, or a record of Outputs (the
 * SDK's own fields, `urn` and `__…`, left out).
 */
export function publicOutputs(component: pulumi.ComponentResource): string[] {
    const isOutputs = (v: unknown) =>
        pulumi.Output.isInstance(v) ||
        (v !== null &&
            typeof v === "object" &&
            Object.values(v).length > 0 &&
            Object.values(v).every((x) => pulumi.Output.isInstance(x)));
    return Object.entries(component)
        .filter(([k, v]) => k !== "urn" && !k.startsWith("__") && isOutputs(v))
        .map(([k]) => k)
        .sort();
}
