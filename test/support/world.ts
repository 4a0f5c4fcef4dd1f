/**
 * A deployment simulated stack by stack: what each stack last deployed (its outputs and the URNs
 * and types in its state), and `up(stack)`, which runs the real program for that stack under mocks
 * with the current config and records its outputs and resources when it succeeded, as
 * `pulumi up -s <stack>` would. The offline renderer's `--deployed` does the same from files, and
 * every `up` checks that those files give back what the next run is judged by.
 */
import { strict as assert } from "node:assert";
import { recordFromOutputs } from "../../lib/topology";
import { addDeployedStack, DeployedRenders, renderFiles } from "../../offline/render";
import { ORGANIZATION, plain, RunResult } from "../../offline/runtime";
import { StackConfig } from "../../offline/stackConfig";
import { SECRET_KEYS } from "../../config/config";
import { exampleConfig, PROJECT, runStack, withConfig } from "../mocks";

/** One site entry of `quay-georep:sites`, as written in Pulumi.yaml. */
export type SiteEntry = Record<string, unknown>;

/** The fully qualified name of a stack of this project, as StackReferences name it. */
export function fq(stack: string): string {
    return `${ORGANIZATION}/${PROJECT}/${stack}`;
}

/** Run results already checked by {@link checkRenderedRoundTrip}, with the stacks they were checked as. */
const roundTripped = new WeakMap<RunResult, Set<string>>();

/**
 * Checks that a successful run, written as `npm run render` writes it and read back as `--deployed`
 * reads each stack's folder (readDeployedRenders → addDeployedStack; test/render.test.ts runs the
 * folders), gives back what the next run is judged by: its outputs' record and `state`, its
 * resources' URNs and types. The check depends on the result and the stack alone, and run results are shared and
 * read-only (test/mocks.ts `runStack`), so each result is checked once per stack name.
 */
function checkRenderedRoundTrip(
    stack: string,
    result: RunResult,
    state: readonly { urn: string; type: string }[],
): void {
    let stacks = roundTripped.get(result);
    if (stacks?.has(stack)) return;
    const files = renderFiles(result);
    const read: DeployedRenders = { outputs: {}, resources: {} };
    addDeployedStack(read, PROJECT, stack, files["outputs.json"], files["resources.json"]);
    assert.deepEqual(
        recordFromOutputs(read.outputs[fq(stack)]),
        recordFromOutputs(plain(result.outputs) as Record<string, unknown>),
    );
    assert.deepEqual(read.resources[fq(stack)], state);
    if (stacks === undefined) roundTripped.set(result, (stacks = new Set()));
    stacks.add(stack);
}

export class World {
    /** Last deployed outputs, by fully qualified stack name. */
    readonly outputs: Record<string, Record<string, unknown>> = {};
    /** URN and type of each resource in each stack's state. */
    readonly resources: Record<string, { urn: string; type: string }[]> = {};
    /** Project-level config changes applied to the example (e.g. `sites`). */
    project: Record<string, unknown>;
    /** Per-stack config changes (e.g. `lifecycleJobs`), by stack name. */
    readonly stackChanges: Record<string, Record<string, unknown>> = {};

    constructor(project: Record<string, unknown> = {}) {
        this.project = project;
    }

    /** The config `pulumi up -s <stack>` would read: the example's, for a new site stack the eu one's. */
    config(stack: string): StackConfig {
        const base = stack === "us" ? exampleConfig("us") : { ...exampleConfig("eu"), stack };
        const changes = this.stackChanges[stack] ?? {};
        const secrets = Object.keys(changes).filter((k) => SECRET_KEYS.includes(k));
        const withStack = withConfig(base, changes, secrets, { inStackFile: true });
        return withConfig(withStack, this.project);
    }

    /**
     * Runs the program for a stack; on success its outputs and state become what is deployed. The
     * run is also written as `npm run render` writes it and read back as `--deployed` reads it, and
     * what the program would judge the next run by must come back unchanged.
     */
    async up(stack: string): Promise<RunResult> {
        const result = await runStack(this.config(stack), { ...this.outputs }, { ...this.resources });
        if (result.errors.length === 0) {
            this.outputs[fq(stack)] = result.outputs;
            this.resources[fq(stack)] = result.resources.map((r) => ({ urn: r.urn, type: r.type }));
            checkRenderedRoundTrip(stack, result, this.resources[fq(stack)]);
        }
        return result;
    }

    /** Like `up`, but fails the test with the program's errors. */
    async upClean(stack: string): Promise<RunResult> {
        const r = await this.up(stack);
        if (r.errors.length > 0)
            throw new Error(`pulumi up -s ${stack} failed:\n${r.errors.map((e) => e.message).join("\n")}`);
        return r;
    }

    /** Deployed outputs of a stack. */
    out(stack: string): Record<string, unknown> {
        return this.outputs[fq(stack)] ?? {};
    }
}
