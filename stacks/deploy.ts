/**
 * The composition: what a stack deploys follows from its role in the topology.
 * - the shared stack owns shared infrastructure (database, Redis, buckets, entry point), renders
 *   the bundle, and runs the region-lifecycle Jobs in its cluster;
 * - a stack named by a non-retired site deploys that site's cluster, with the bundle rendered by
 *   the shared stack (its own, or read through a StackReference, never re-rendered);
 * - a stack whose site is retired deploys nothing, so `pulumi up` removes its cluster resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { topologyKey } from "../lib/lifecycle";
import type { QuayGeorepConfig } from "./config";
import { deployEntryPoint, EntryPointOutputs } from "./entryPoint";
import { deployGates, deployReplicationJobs, LifecycleOutputs, planForStack } from "./lifecycle";
import { deployShared, ServiceEndpoints } from "./shared";
import { bundleFromSharedStack, Cluster, clusterNamespace, clusterProvider, deploySite, SharedBundle } from "./site";

/** The stack outputs, named as they appear in `pulumi stack output`. */
export interface StackOutputs extends Partial<EntryPointOutputs>, Partial<LifecycleOutputs> {
    /** `shared`, `site`, or both joined with `+`, or `retired`. */
    readonly role: string;
    /** The global URL of the registry. */
    readonly registryUrl: string;
    readonly bundle?: pulumi.Output<Record<string, string>>;
    readonly bundleSha256?: pulumi.Output<string>;
    readonly locations?: readonly string[];
    readonly activeLocations?: readonly string[];
    readonly services?: pulumi.Output<ServiceEndpoints>;
    readonly site?: string;
    readonly storagePreference?: readonly string[];
    readonly deployedBundleSha256?: pulumi.Output<string>;
    readonly deployedTopology?: pulumi.Input<string>;
}

/**
 * Deploys whatever this stack's role calls for and returns its outputs. Async because the shared
 * stack reads what the other stacks deployed before it decides which lifecycle Jobs exist.
 */
export async function deploy(cfg: QuayGeorepConfig): Promise<StackOutputs> {
    const s = cfg.stack;
    const site = s.site;
    const provider = site || s.lifecycleJobs ? clusterProvider(cfg) : undefined;
    const cluster: Cluster | undefined = provider
        ? { provider, namespace: clusterNamespace(cfg, provider) }
        : undefined;

    let sharedBundle: SharedBundle | undefined;
    let sharedOutputs: Omit<ReturnType<typeof deployShared>, "internal"> | undefined;
    let entryPoint: EntryPointOutputs | undefined;
    let finishLifecycle: ((registry?: pulumi.Resource) => LifecycleOutputs) | undefined;
    let gates: pulumi.Resource[] = [];

    if (s.isShared) {
        const { internal, ...shared } = deployShared(cfg);
        // The entry point is shared infrastructure: one per deployment, owned by the shared stack.
        entryPoint = deployEntryPoint(cfg);
        const topology = topologyKey(cfg.sites);
        let bundle = shared.bundle;
        if (cluster && s.lifecycleJobs) {
            const plan = await planForStack(cfg);
            const gate = deployGates(cfg, plan, { ...cluster, databaseUrl: internal.databaseUrl });
            gates = gate.gates;
            // Before every gate passed, neither this cluster's Secret nor the exported bundle changes.
            const passed = pulumi.all(gate.gates.map((g) => g.id));
            bundle = pulumi.secret(pulumi.all([shared.bundle, passed]).apply(([b]) => b));
            finishLifecycle = (registry) =>
                deployReplicationJobs(cfg, plan, gate, { ...cluster, ...internal, bundle, registry });
        }
        sharedOutputs = { ...shared, bundle };
        sharedBundle = { bundle, topology };
    }

    const siteOutputs =
        site && cluster
            ? deploySite(cfg, site, sharedBundle ?? bundleFromSharedStack(cfg, site), cluster, gates)
            : undefined;
    const lifecycle = finishLifecycle?.(siteOutputs?.registry.registry);
    const roles = [s.isShared ? "shared" : undefined, site ? "site" : undefined].filter(Boolean);
    return {
        role: roles.length > 0 ? roles.join("+") : "retired",
        registryUrl: `https://${cfg.hostname}`,
        ...(sharedOutputs ?? {}),
        ...(s.isShared ? { topology: topologyKey(cfg.sites) } : {}),
        ...(entryPoint ?? {}),
        ...(lifecycle ?? {}),
        ...(site ? { site: site.name } : {}),
        ...(siteOutputs
            ? {
                  deployedBundleSha256: siteOutputs.deployedBundleSha256,
                  storagePreference: siteOutputs.storagePreference,
                  deployedTopology: siteOutputs.deployedTopology,
              }
            : {}),
    };
}
