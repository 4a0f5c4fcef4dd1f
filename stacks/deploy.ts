/**
 * The composition: what a stack deploys follows from its role in the topology and from what is
 * deployed already.
 * 1. read the last outputs of this stack and the stacks it depends on (`readDeployed`);
 * 2. judge the config against them (`resolveDeployment`): refused edits end the program here,
 *    before any other resource is registered;
 * 3. the shared stack owns shared infrastructure (database, Redis, buckets, entry point), renders
 *    the bundle for the sites this run deploys, and runs the region-lifecycle Jobs in its cluster;
 * 4. a stack whose site the bundle serves deploys that site's cluster and waits until its pods run
 *    the bundle; a stack whose site is retired (or gone) deploys nothing, so `pulumi up` empties it.
 */
import * as pulumi from "@pulumi/pulumi";
import type { SiteRecord, TopologyPlan } from "../lib/topology";
import { topologyKey } from "../lib/topology";
import { pinProviders } from "./providers";
import type { QuayGeorepConfig } from "../config/config";
import { DeployedState, readDeployed } from "./deployed";
import { deployEntryPoint, EntryPointOutputs } from "./entryPoint";
import { deployGates, deployReplicationJobs, LifecycleOutputs, LifecycleResult, planForStack } from "./lifecycle";
import { Resolution, resolveDeployment } from "./resolve";
import { deployShared, ServiceEndpoints } from "./shared";
import { bundleFromSharedStack, Cluster, clusterNamespace, clusterProvider, deploySite, SharedBundle } from "./site";
import { ConfigError } from "../config/validate";

/** The stack outputs, named as they appear in `pulumi stack output`. */
export interface StackOutputs extends Partial<EntryPointOutputs>, Partial<LifecycleOutputs> {
    /** `shared`, `site`, or both joined with `+`, or `retired`. */
    readonly role: string;
    /** The global URL of the registry. */
    readonly registryUrl: string;
    /** The shared stack this stack was deployed with (a later `sharedStack` edit is judged against it). */
    readonly sharedStack: string;
    readonly bundle?: pulumi.Output<Record<string, string>>;
    readonly bundleSha256?: pulumi.Output<string>;
    readonly locations?: readonly string[];
    readonly activeLocations?: readonly string[];
    /** The topology key the bundle was rendered for (site stacks re-export it as `deployedTopology`). */
    readonly topology?: string;
    /** Every site the bundle serves or that is still being removed: what later runs are judged against. */
    readonly sites?: pulumi.Output<SiteRecord[]>;
    readonly services?: pulumi.Output<ServiceEndpoints>;
    readonly site?: string;
    readonly storagePreference?: readonly string[];
    readonly deployedBundleSha256?: pulumi.Output<string>;
    readonly deployedTopology?: pulumi.Output<string>;
}

/** Judges the config against what is deployed; a refusal is a `RunError` (no stack trace). */
function resolve(cfg: QuayGeorepConfig, deployed: DeployedState): Resolution {
    try {
        return resolveDeployment(cfg, deployed);
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

/** The shared stack's record of its sites, each `removed` once its removal was verified. */
function siteRecords(topology: TopologyPlan, lifecycle: LifecycleResult | undefined): pulumi.Output<SiteRecord[]> {
    return pulumi.all(
        topology.sites.map((s) => {
            const record: SiteRecord = {
                name: s.name,
                stack: s.stack,
                cloud: s.cloud,
                region: s.region,
                state: s.state,
                endpoint: s.endpoint,
                storage: s.storage,
            };
            const removedNow = lifecycle?.removedNow[s.name];
            if (s.removed) return pulumi.output({ ...record, removed: true });
            return removedNow ? removedNow.apply((removed) => ({ ...record, removed })) : pulumi.output(record);
        }),
    );
}

/** The `backfilledTopology` output, left out until some backfill ran (an undefined output warns). */
function backfilled(topology: pulumi.Input<string> | undefined): { backfilledTopology?: pulumi.Input<string> } {
    return topology === undefined ? {} : { backfilledTopology: topology };
}

/**
 * Deploys whatever this stack's role calls for and returns its outputs. Async because what is
 * deployed decides which resources exist (read at program time, never inside an `apply`).
 */
export async function deploy(cfg: QuayGeorepConfig): Promise<StackOutputs> {
    const s = cfg.stack;
    // Before any provider exists: every AWS and Azure provider is pinned to the configured accounts.
    pinProviders(cfg.accounts);
    const deployed = await readDeployed(cfg);
    const plan = resolve(cfg, deployed);
    const site = plan.site;
    const provider = site || (s.isShared && s.lifecycleJobs) ? clusterProvider(cfg) : undefined;
    const cluster: Cluster | undefined = provider
        ? { provider, namespace: clusterNamespace(cfg, provider) }
        : undefined;

    let shared: SharedBundle | undefined;
    let sharedOutputs: Omit<ReturnType<typeof deployShared>, "internal"> | undefined;
    let entryPoint: EntryPointOutputs | undefined;
    let finishLifecycle: ((after: pulumi.Resource[]) => LifecycleResult) | undefined;
    let gates: pulumi.Resource[] = [];
    let topology: string | undefined;

    if (s.isShared && plan.topology) {
        const sites = plan.topology.sites;
        const { internal, ...rendered } = deployShared(cfg, sites);
        // The entry point is shared infrastructure: one per deployment, owned by the shared stack.
        entryPoint = deployEntryPoint(cfg);
        topology = topologyKey(sites);
        let bundle = rendered.bundle;
        if (cluster && s.lifecycleJobs) {
            const lifecycle = planForStack(cfg, plan.topology, deployed.stacks, site !== undefined);
            const gate = deployGates(cfg, lifecycle, { ...cluster, databaseUrl: internal.databaseUrl });
            gates = gate.gates;
            // Before every gate passed, neither this cluster's Secret nor the exported bundle changes.
            const passed = pulumi.all(gate.gates.map((g) => g.id));
            bundle = pulumi.secret(pulumi.all([rendered.bundle, passed]).apply(([b]) => b));
            const jobInputs = { ...cluster, ...internal, bundle };
            const topologyPlan = plan.topology;
            finishLifecycle = (after) =>
                deployReplicationJobs(cfg, lifecycle, topologyPlan, deployed.self, gate, { ...jobInputs, after });
        } else {
            // log.info hands the note to the engine (the program stays alive until it is sent) and never rejects.
            for (const note of plan.notes) void pulumi.log.info(note);
        }
        sharedOutputs = { ...rendered, bundle };
        shared = { bundle, topology };
    }

    const siteOutputs =
        site && cluster
            ? deploySite(
                  cfg,
                  {
                      site,
                      storagePreference: plan.storagePreference,
                      shared:
                          shared ??
                          bundleFromSharedStack(cfg, deployed.refs.get(cfg.sharedStack), plan.sharedTopology ?? ""),
                      bundleDependsOn: gates,
                      // The lifecycle Jobs run this image here: the check proves the operator runs it too.
                      expectQuayImage: s.isShared && s.lifecycleJobs ? cfg.lifecycle.quayImage : undefined,
                  },
                  cluster,
              )
            : undefined;
    const lifecycle = finishLifecycle?.(siteOutputs ? [siteOutputs.rollout] : []);
    const roles = [s.isShared ? "shared" : undefined, site ? "site" : undefined].filter(Boolean);
    return {
        role: roles.length > 0 ? roles.join("+") : "retired",
        registryUrl: `https://${cfg.hostname}`,
        sharedStack: cfg.sharedStack,
        ...(sharedOutputs ?? {}),
        ...(topology !== undefined && plan.topology
            ? {
                  topology,
                  sites: siteRecords(plan.topology, lifecycle),
                  lifecyclePending: lifecycle?.lifecyclePending ?? plan.notes,
                  ...backfilled(lifecycle?.backfilledTopology ?? deployed.self?.backfilledTopology),
              }
            : {}),
        ...(entryPoint ?? {}),
        ...(lifecycle?.replicationStatus ? { replicationStatus: lifecycle.replicationStatus } : {}),
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
