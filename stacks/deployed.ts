/**
 * What is deployed: the last outputs of this stack and of the stacks it depends on, read through
 * StackReferences and awaited at program time, before any other resource is registered (they
 * decide which resources exist, and what an edit is refused for).
 *
 * Reading the running stack's own outputs is sound during its update: both backends answer a
 * StackReference from the stack's latest checkpoint (pulumi/pulumi `pkg/backend/diy/state.go`
 * `getSnapshotStackOutputs`, `pkg/backend/httpstate/state.go` `getSnapshotStackOutputs`, through
 * the builtin provider's `readStackReference` in `pkg/resource/deploy/builtins.go`), and the root
 * Stack resource keeps its old outputs in that checkpoint until the program registers new ones at
 * its very end (`pkg/resource/deploy/step.go` `SameStep.Apply` copies `old.Outputs`). An update
 * that fails before the end therefore leaves the last successful outputs in place.
 */
import * as pulumi from "@pulumi/pulumi";
import { recordFromOutputs, StackRecord } from "../lib/topology";
import type { QuayGeorepConfig } from "../config/config";
import { SecretValue } from "../config/validate";
import { SERVICE_KEY_FILES } from "../lib/serviceKey";

/** Component type modules that make up the shared services: whoever holds them is the shared stack. */
export const SHARED_MODULES = ["bundle", "database", "redis", "storage", "entrypoint"] as const;

/** The shared-service components (top-level URNs) a stack's state holds, from its resource URNs. */
export function sharedServiceUrns(urns: readonly string[]): string[] {
    return urns.filter((urn) => {
        const type = urn.split("::")[2] ?? "";
        return !type.includes("$") && SHARED_MODULES.some((m) => type.startsWith(`quay-georep:${m}:`));
    });
}

/** What the program knows about deployed stacks. */
export interface DeployedState {
    /** This stack's own last outputs (undefined: never deployed). */
    readonly self: StackRecord | undefined;
    /** Other stacks' last outputs, by stack name. */
    readonly stacks: Readonly<Record<string, StackRecord | undefined>>;
    /** Per stack other than the shared one that was shared before: the shared-service components its state holds. */
    readonly holders: Readonly<Record<string, readonly string[]>>;
    /**
     * Shared stack, read only when config changes the mode of a service its last run created: the
     * shared-service components its own state still holds (top-level URNs).
     */
    readonly ownServices?: readonly string[];
    /** Stacks whose state could not be read, with the reason. */
    readonly unreadable: Readonly<Record<string, string>>;
    /** The StackReference of each stack read, for outputs that flow into resources (the bundle). */
    readonly refs: ReadonlyMap<string, pulumi.StackReference>;
    /**
     * Shared stack: the read-only service key its last bundle carries (`quay-readonly.pem`), reused
     * while the registry stays read-only so every step of a switchover runs the same key.
     */
    readonly lastServiceKeyPem?: SecretValue;
}

/** Output names read from every stack (see `StackRecord`). */
const RECORD_OUTPUTS = [
    "role",
    "sharedStack",
    "site",
    "deployedTopology",
    "topology",
    "sites",
    "backfilledTopology",
    "bundleSha256",
    "deployedBundleSha256",
    "standby",
    "deployedEpoch",
    "services",
];

/** An Output's value, as the SDK's own StackReference reads it (`promise` is internal to the SDK). */
interface PromisedOutput<T> {
    promise(): Promise<T | undefined>;
}

/**
 * The record outputs of a referenced stack, read at once. `getOutputDetails` per name is the SDK's
 * public way, but each call walks the whole of the referenced outputs (@pulumi/pulumi
 * stackReference.js `getOutput`: `all([output(name), this.outputs])`, and each Output made on the
 * way walks its value again in `containsUnknowns`). At 100 sites the shared stack's outputs are
 * 140 KB, and eleven such reads per reference were a fifth of a site stack's run. The two Outputs'
 * values are awaited as they are (`Output.promise()`, as the SDK's own `readOutputValue` awaits
 * its Output): combining them with `all` would copy the whole of the outputs first (output.js
 * `outputRec`, a new `Set` per object on the way), which at 100 sites was a tenth of a site
 * stack's run. The semantics are `getOutputDetails(name).value`'s: an output named in
 * `secretOutputNames` reads as absent. Without that list (`isSecretOutputName` then falls back to
 * the secretness of all outputs), or with unknown outputs (`promise()` then gives undefined, as
 * `getPromisedValue` does for a value that contains an unknown), the per-name reads are used.
 * Each read of a StackReference is a new copy of the outputs (the SDK's `deserializeProperties`),
 * so each run has its own. test/sdk.test.ts pins `promise()`.
 */
export async function recordOutputs(ref: pulumi.StackReference): Promise<Record<string, unknown>> {
    const [outputs, secret] = await Promise.all([
        (ref.outputs as unknown as PromisedOutput<Record<string, unknown>>).promise(),
        (ref.secretOutputNames as unknown as PromisedOutput<string[]>).promise(),
    ]);
    if (outputs !== undefined && Array.isArray(secret)) {
        return Object.fromEntries(RECORD_OUTPUTS.filter((k) => !secret.includes(k)).map((k) => [k, outputs[k]]));
    }
    const details = await Promise.all(RECORD_OUTPUTS.map((k) => ref.getOutputDetails(k)));
    return Object.fromEntries(RECORD_OUTPUTS.map((k, i) => [k, details[i].value]));
}

/** The fully qualified name a StackReference uses for a stack of this project. */
export function stackName(cfg: Pick<QuayGeorepConfig, "project">, stack: string): string {
    return `${pulumi.getOrganization()}/${cfg.project}/${stack}`;
}

/**
 * Reads the last outputs of this stack, the shared stack, every stack of a configured or recorded
 * site (shared stack only), and any stack a record names as shared; then, for every stack that
 * was or is now the shared stack, which shared services its state holds.
 */
export async function readDeployed(cfg: QuayGeorepConfig): Promise<DeployedState> {
    const refs = new Map<string, pulumi.StackReference>();
    const records: Record<string, StackRecord | undefined> = {};
    const read = async (stacks: Iterable<string>) => {
        const todo = [...new Set(stacks)].filter((s) => !refs.has(s));
        await Promise.all(
            todo.map(async (stack) => {
                const ref = new pulumi.StackReference(`${cfg.project}-${stack}-stack`, { name: stackName(cfg, stack) });
                refs.set(stack, ref);
                records[stack] = recordFromOutputs(await recordOutputs(ref));
            }),
        );
    };
    const me = cfg.stack.name;
    await read([me, cfg.sharedStack]);
    if (cfg.stack.isShared) {
        const recorded = records[me]?.sites ?? [];
        await read([...cfg.sites.map((s) => s.stack), ...recorded.map((s) => s.stack)]);
    }
    // Stacks named as shared by what is deployed: the old shared stack after `sharedStack` changed.
    await read(Object.values(records).flatMap((r) => (r?.sharedStack ? [r.sharedStack] : [])));

    // Who else holds the shared services: a stack whose outputs say it was the shared stack. Its
    // state, not its outputs, decides: after `pulumi state move` the outputs still say "shared".
    const candidates = Object.entries(records)
        .filter(([stack, r]) => stack !== cfg.sharedStack && (r?.role ?? "").split("+").includes("shared"))
        .map(([stack]) => stack);
    const holders: Record<string, readonly string[]> = {};
    const unreadable: Record<string, string> = {};
    await Promise.all(
        candidates.map(async (stack) => {
            try {
                // The engine's builtin invoke (pkg/resource/deploy/builtins.go, readStackResourceOutputs):
                // every resource of the stack's latest checkpoint, keyed by URN.
                const result = (await pulumi.runtime.invoke("pulumi:pulumi:readStackResourceOutputs", {
                    stackName: stackName(cfg, stack),
                })) as { outputs?: Record<string, unknown> };
                holders[stack] = sharedServiceUrns(Object.keys(result?.outputs ?? {}));
            } catch (err) {
                unreadable[stack] = (err as Error).message.split("\n")[0];
            }
        }),
    );
    const { [me]: self, ...stacks } = records;
    let ownServices: string[] | undefined;
    if (cfg.stack.isShared && changedServiceModes(cfg, self).length > 0) {
        try {
            // The same builtin on this stack: its latest checkpoint, i.e. what its last update left.
            const result = (await pulumi.runtime.invoke("pulumi:pulumi:readStackResourceOutputs", {
                stackName: stackName(cfg, me),
            })) as { outputs?: Record<string, unknown> };
            ownServices = sharedServiceUrns(Object.keys(result?.outputs ?? {}));
        } catch (err) {
            unreadable[me] = (err as Error).message.split("\n")[0];
        }
    }
    const lastServiceKeyPem = cfg.stack.isShared ? await lastBundleKey(refs.get(me)) : undefined;
    return {
        self,
        stacks,
        holders,
        unreadable,
        refs,
        ...(ownServices ? { ownServices } : {}),
        ...(lastServiceKeyPem ? { lastServiceKeyPem } : {}),
    };
}

/** Modes a shared stack's last run created its servers in. */
const CREATED_MODES: readonly string[] = ["aws", "azure"];

/**
 * The services (database, Redis) whose mode in config differs from the created one the shared
 * stack's last run deployed: dropping such a server would leave the registry on another one.
 */
export function changedServiceModes(
    cfg: Pick<QuayGeorepConfig, "database" | "redis">,
    self: StackRecord | undefined,
): { service: "database" | "redis"; was: string; now: string }[] {
    return (["database", "redis"] as const).flatMap((service) => {
        const was = self?.serviceModes?.[service];
        const now = cfg[service].mode;
        return was !== undefined && CREATED_MODES.includes(was) && was !== now ? [{ service, was, now }] : [];
    });
}

/** The read-only service key's PEM in a stack's last `bundle` output (a secret), if it has one. */
async function lastBundleKey(ref: pulumi.StackReference | undefined): Promise<SecretValue | undefined> {
    if (ref === undefined) return undefined;
    const details = await ref.getOutputDetails("bundle");
    const bundle = (details.secretValue ?? details.value) as Record<string, unknown> | undefined;
    const pem = bundle?.[SERVICE_KEY_FILES.pem];
    return typeof pem === "string" && pem.includes("PRIVATE KEY") ? new SecretValue(pem) : undefined;
}
