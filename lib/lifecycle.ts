/**
 * Pure logic of the region lifecycle: which Jobs the shared stack runs for the topology it
 * deploys (lib/topology.ts decides that topology), and whether the other stacks are ready for them.
 *
 * Why the ordering checks (docs/facts §4; quay/quay workers/storagereplication.py): a replication
 * worker copies a blob only to the locations of *its own* config, then drops the queue item. So a
 * backfill run while some cluster still has the old config can silently skip the new location;
 * and `util.removelocation` run while some cluster still lists the location is undone when that
 * cluster's pods boot (they re-insert the location row). Both Jobs therefore wait until every
 * other stack that runs Quay has deployed the current topology, which a site stack reports only
 * once its pods run it (components/rolloutCheck.ts).
 */
import { hexDigest } from "./names";
import { EffectiveSite, runningStacks, StackRecord, staleStacks, topologyKey, TopologyPlan } from "./topology";

/** A Job that waits for other stacks, or may run now. */
export interface PendingJob {
    /** Stable part of the Job's resource name. */
    readonly key: string;
    /** Stacks that must run `pulumi up` first; empty when the Job may run. */
    readonly waitingFor: readonly string[];
}

/** The lifecycle Jobs a shared stack deploys for one topology. */
export interface LifecyclePlan {
    /** Topology key of the sites deployed: every site with its state, in order. */
    readonly topology: string;
    /** Locations that must hold every blob (the active sites). */
    readonly required: readonly string[];
    /** A backfill for this topology (when it has more than one configured site). */
    readonly backfill?: PendingJob;
    /** Per retiring site: the gate that must pass before the bundle drops it. */
    readonly gates: readonly { readonly site: string; readonly key: string; readonly required: readonly string[] }[];
    /** Per retired site not yet removed: `util.removelocation`, once every cluster forgot the location. */
    readonly removals: readonly (PendingJob & { readonly site: string })[];
}

/** A short, stable digest for resource names (Kubernetes names are limited to 63 characters). */
export function shortHash(text: string): string {
    return hexDigest(text, 10);
}

/**
 * Decides the lifecycle Jobs of the shared stack.
 *
 * @param topology what the shared stack deploys this run (`resolveTopology`)
 * @param sharedStack the shared stack's name (it deploys the Jobs; its own state is current)
 * @param deployed what each other stack reports, by stack name
 * @param sharedDeploysSite whether the shared stack runs a QuayRegistry itself (Jobs then wait for it)
 * @param backfillRun bumped by the user to run the backfill again for the same topology
 */
export function planLifecycle(
    topology: Pick<TopologyPlan, "sites" | "gates">,
    sharedStack: string,
    deployed: Readonly<Record<string, StackRecord | undefined>>,
    sharedDeploysSite: boolean,
    backfillRun = 0,
): LifecyclePlan {
    const sites: readonly EffectiveSite[] = topology.sites;
    const key = topologyKey(sites);
    const required = sites.filter((s) => s.state === "active").map((s) => s.name);
    const running = runningStacks(sites, sharedStack);
    const stale = staleStacks(running, key, deployed);
    // The Jobs need Quay's schema in the shared database: some cluster must have run its migration.
    const anyQuay = sharedDeploysSite || running.some((stack) => deployed[stack]?.role !== undefined);
    const blocked = anyQuay ? stale : running;
    const configured = sites.filter((s) => s.state !== "retired").length;
    return {
        topology: key,
        required,
        // With one location there is nothing to copy; otherwise each new topology gets one run.
        backfill:
            configured > 1
                ? { key: shortHash(backfillRun === 0 ? key : `${key}#${backfillRun}`), waitingFor: blocked }
                : undefined,
        gates: topology.gates.map((g) => ({ site: g.site, key: g.site, required: g.required })),
        removals: sites
            .filter((s) => s.state === "retired" && !s.removed)
            .map((s) => {
                const own = s.stack === sharedStack ? undefined : deployed[s.stack];
                // The retired site's own cluster still runs the old config until its stack is emptied.
                const ownPending = own?.role !== undefined && own.role !== "retired" ? [s.stack] : [];
                return { site: s.name, key: s.name, waitingFor: [...new Set([...blocked, ...ownPending])] };
            }),
    };
}
