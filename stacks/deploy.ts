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
import { StackProviders, stackProviders } from "./providers";
import type { QuayGeorepConfig } from "../config/config";
import { DeployedState, readDeployed } from "./deployed";
import { deployEntryPoint, EntryPointOutputs } from "./entryPoint";
import type { RetirementGate } from "../components/retirementGate";
import type { LifecyclePlan } from "../lib/lifecycle";
import {
    afterGates,
    deployGates,
    deployReplicationJobs,
    LifecycleInputs,
    LifecycleOutputs,
    LifecycleResult,
    planForStack,
} from "./lifecycle";
import { Resolution, resolveDeployment } from "./resolve";
import { deployShared, ServiceEndpoints, SharedOutputs } from "./shared";
import { databaseAccess, redisStandbyNotes, RedisStandbyStep } from "./database";
import { deployLagGate, deploySwitchoverChecks, readonlyKey } from "./switchover";
import type { StandbyPlan, StandbyRecord } from "../lib/standby";
import {
    bundleFromSharedStack,
    Cluster,
    clusterNamespace,
    clusterProvider,
    deploySite,
    SharedBundle,
    SiteResult,
} from "./site";
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
    /** The standby epoch of the bundle this stack's pods run (the entry point fences older ones after a failover). */
    readonly deployedEpoch?: pulumi.Output<number>;
    /** Shared stack: the database standby's record (lib/standby.ts). */
    readonly standby?: pulumi.Output<StandbyRecord>;
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

/** The shared role's part of a run: its outputs, and the lifecycle Jobs still to create once its site rolled out. */
interface SharedRole {
    readonly outputs: SharedOutputs;
    readonly entryPoint: EntryPointOutputs;
    /** The topology key of the sites the bundle was rendered for. */
    readonly topology: string;
    /** The bundle, for this stack's own site. */
    readonly bundle: SharedBundle;
    /** What the lifecycle Jobs need; absent when this stack runs none (`lifecycleJobs: false`). */
    readonly jobs?: {
        readonly plan: LifecyclePlan;
        readonly topology: TopologyPlan;
        readonly gate: RetirementGate;
        readonly inputs: Omit<LifecycleInputs, "quayImage">;
    };
}

/**
 * The shared role: shared services and the bundle for the sites this run deploys, the entry point,
 * and the retirement gates. Nothing built from the bundle changes before every gate passed.
 */
function deploySharedRole(
    cfg: QuayGeorepConfig,
    topologyPlan: TopologyPlan,
    standby: StandbyPlan,
    providers: StackProviders,
    cluster: Cluster | undefined,
    deployed: DeployedState,
    sharedDeploysSite: boolean,
    redisStandby?: RedisStandbyStep,
): SharedRole {
    if (cfg.secrets === undefined) throw new Error("the shared stack's secrets were not validated");
    // The switchover's lag gate comes before the servers: a promotion in this run depends on it.
    const access = databaseAccess(cfg, cfg.secrets, providers);
    const lagGate = deployLagGate(cfg, standby, cluster, access);
    const serviceKey = readonlyKey(standby, deployed);
    const shared = deployShared(cfg, topologyPlan.sites, providers, {
        plan: standby,
        access,
        promoteAfter: lagGate ? [lagGate] : [],
        ...(serviceKey ? { serviceKey } : {}),
        ...(redisStandby ? { redisStandby } : {}),
    });
    const { internal } = shared;
    // Nothing is built from the bundle before the read-only key is registered and a promoted server verified.
    const checks = deploySwitchoverChecks(
        cfg,
        standby,
        cluster,
        access,
        internal.database,
        internal.databaseUrl,
        serviceKey,
    );
    const outputs: SharedOutputs = { ...withoutInternal(shared), bundle: checks.apply(() => shared.bundle) };
    const entryPoint = deployEntryPoint(cfg, providers, fencedSites(cfg, standby, deployed));
    const topology = topologyKey(topologyPlan.sites);
    if (!cluster || !cfg.stack.lifecycleJobs) {
        // log.info hands the note to the engine (the program stays alive until it is sent) and never rejects.
        for (const note of [...topologyPlan.notes, ...standby.notes]) void pulumi.log.info(note);
        return { outputs, entryPoint, topology, bundle: { bundle: outputs.bundle, topology } };
    }
    for (const note of standby.notes) void pulumi.log.info(note);
    const plan = planForStack(cfg, topologyPlan, deployed.stacks, sharedDeploysSite);
    const gate = deployGates(cfg, plan, { ...cluster, databaseUrl: internal.databaseUrl });
    const bundle = afterGates(gate, outputs.bundle);
    return {
        outputs: { ...outputs, bundle },
        entryPoint,
        topology,
        bundle: { bundle, topology },
        jobs: {
            plan,
            topology: topologyPlan,
            gate,
            inputs: {
                ...cluster,
                databaseUrl: internal.databaseUrl,
                bundle,
                maintenanceBundle: afterGates(gate, internal.maintenanceBundle),
            },
        },
    };
}

/**
 * After a failover from a lost AWS region: that region's STS calls go to the serving location's
 * region, so its provider starts while the region is down (docs/standby.md).
 */
function lostRegionSts(cfg: QuayGeorepConfig, standby: StandbyPlan | undefined): Record<string, string> {
    const lost = standby?.record.lost;
    if (lost === undefined) return {};
    const regionOf = (where: "home" | "standby") => {
        const db = where === "home" ? cfg.database : cfg.database.standby;
        const redis = where === "home" ? cfg.redis : cfg.redis.standby;
        return [db?.mode === "aws" ? db.region : undefined, redis?.mode === "aws" ? redis.region : undefined];
    };
    const serving = regionOf(lost === "home" ? "standby" : "home").find((r) => r !== undefined);
    if (serving === undefined) return {};
    const recorded = cfg.database.mode === "aws" ? standby?.record.servers[lost]?.region : undefined;
    const lostRegions = [...regionOf(lost), recorded];
    return Object.fromEntries(
        lostRegions.filter((r): r is string => r !== undefined && r !== serving).map((r) => [r, serving]),
    );
}

/** The shared stack's outputs without what only its own Jobs use. */
function withoutInternal(shared: ReturnType<typeof deployShared>): SharedOutputs {
    const { internal: _internal, ...outputs } = shared;
    return outputs;
}

/**
 * Sites kept out of the entry point after a failover: those whose stack has deployed a site but
 * not the bundle of the failover's epoch since (their clusters may still name the lost database).
 */
function fencedSites(cfg: QuayGeorepConfig, standby: StandbyPlan, deployed: DeployedState): string[] {
    const epoch = standby.fenceEpoch;
    if (epoch === undefined) return [];
    return cfg.sites
        .filter((site) => {
            const record = site.stack === cfg.stack.name ? deployed.self : deployed.stacks[site.stack];
            return record?.role !== undefined && record.role !== "retired" && (record.deployedEpoch ?? 0) < epoch;
        })
        .map((site) => site.name);
}

/** The stack's outputs: what each role produced, and what later runs are judged against. */
function stackOutputs(
    cfg: QuayGeorepConfig,
    plan: Resolution,
    deployed: DeployedState,
    shared: SharedRole | undefined,
    site: SiteResult | undefined,
    lifecycle: LifecycleResult | undefined,
): StackOutputs {
    const roles = [shared ? "shared" : undefined, site ? "site" : undefined].filter(Boolean);
    const common = {
        role: roles.length > 0 ? roles.join("+") : "retired",
        registryUrl: `https://${cfg.hostname}`,
        sharedStack: cfg.sharedStack,
    };
    const sharedPart =
        shared && plan.topology
            ? {
                  ...shared.outputs,
                  ...shared.entryPoint,
                  topology: shared.topology,
                  sites: siteRecords(plan.topology, lifecycle),
                  lifecyclePending: [
                      ...(lifecycle?.lifecyclePending ?? plan.topology.notes),
                      ...(plan.standby?.notes ?? []),
                      ...redisStandbyNotes(plan.redisStandby),
                  ],
                  ...backfilled(lifecycle?.backfilledTopology ?? deployed.self?.backfilledTopology),
                  ...(lifecycle?.replicationStatus ? { replicationStatus: lifecycle.replicationStatus } : {}),
              }
            : {};
    const sitePart = site
        ? {
              site: plan.site?.name,
              deployedBundleSha256: site.deployedBundleSha256,
              storagePreference: site.storagePreference,
              deployedTopology: site.deployedTopology,
              deployedEpoch: site.deployedEpoch,
          }
        : {};
    return { ...common, ...sharedPart, ...sitePart };
}

/**
 * Deploys whatever this stack's role calls for and returns its outputs. Async because what is
 * deployed decides which resources exist (read at program time, never inside an `apply`).
 */
export async function deploy(cfg: QuayGeorepConfig): Promise<StackOutputs> {
    const s = cfg.stack;
    // 1. What is deployed, and the config judged against it (refusals end the program here).
    const deployed = await readDeployed(cfg);
    const plan = resolve(cfg, deployed);
    // 2. The stack's cloud and random providers, made when first needed and pinned to `accounts`.
    const providers = stackProviders(cfg.project, cfg.accounts, { stsRegions: lostRegionSts(cfg, plan.standby) });
    // 3. The cluster, when this stack deploys a site or runs the lifecycle Jobs.
    const provider = plan.site || (s.isShared && s.lifecycleJobs) ? clusterProvider(cfg) : undefined;
    const cluster: Cluster | undefined = provider
        ? { provider, namespace: clusterNamespace(cfg, provider) }
        : undefined;
    // 4. The shared role: services, bundle, entry point, gates.
    const shared =
        s.isShared && plan.topology && plan.standby
            ? deploySharedRole(
                  cfg,
                  plan.topology,
                  plan.standby,
                  providers,
                  cluster,
                  deployed,
                  plan.site !== undefined,
                  plan.redisStandby,
              )
            : undefined;
    // 5. The site role: this cluster's registry, rolled out with the bundle.
    const site =
        plan.site && cluster
            ? deploySite(
                  cfg,
                  {
                      site: plan.site,
                      storagePreference: plan.storagePreference,
                      shared:
                          shared?.bundle ??
                          bundleFromSharedStack(cfg, deployed.refs.get(cfg.sharedStack), plan.sharedTopology ?? ""),
                      // The lifecycle Jobs run this image here: the check proves the operator runs it too.
                      expectQuayImage: shared?.jobs ? cfg.lifecycle.quayImage : undefined,
                      epoch: plan.standby?.record.epoch ?? plan.sharedEpoch,
                  },
                  cluster,
              )
            : undefined;
    // 6. The lifecycle Jobs, after the gates and (with a site here) after its rollout check: they
    //    run the image that check verified.
    const jobs = shared?.jobs;
    const lifecycle = jobs
        ? deployReplicationJobs(cfg, jobs.plan, jobs.topology, deployed.self, jobs.gate, {
              ...jobs.inputs,
              quayImage: site?.verifiedQuayImage ?? cfg.lifecycle.quayImage,
          })
        : undefined;
    return stackOutputs(cfg, plan, deployed, shared, site, lifecycle);
}
