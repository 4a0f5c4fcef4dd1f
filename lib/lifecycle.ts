/**
 * Pure logic of the region lifecycle: which Jobs the shared stack runs for a topology, whether the
 * other stacks are ready for them, and the Jobs' containers and scripts.
 *
 * Why the ordering checks (docs/facts §4; quay/quay workers/storagereplication.py): a replication
 * worker copies a blob only to the locations of *its own* config, then drops the queue item. So a
 * backfill run while some cluster still has the old config can silently skip the new location;
 * and `util.removelocation` run while some cluster still lists the location is undone when that
 * cluster's pods boot (they re-insert the location row). Both Jobs therefore wait until every
 * other stack that runs Quay has deployed the current topology.
 */
import { createHash } from "node:crypto";
import type { Site } from "../stacks/sites";

/** What a site stack reports about the bundle it deployed (its stack outputs). */
export interface DeployedStack {
    /** `role` output: `site`, `shared+site`, `retired`; undefined when never deployed. */
    readonly role?: string;
    /** `deployedTopology` output: the topology key of the bundle it deployed. */
    readonly deployedTopology?: string;
}

/** A Job that waits for other stacks, or may run now. */
export interface PendingJob {
    /** Stable part of the Job's resource name. */
    readonly key: string;
    /** Stacks that must run `pulumi up` first; empty when the Job may run. */
    readonly waitingFor: readonly string[];
}

/** The lifecycle Jobs a shared stack deploys for one topology. */
export interface LifecyclePlan {
    /** Topology key: every configured site with its state, in config order. */
    readonly topology: string;
    /** Locations that must hold every blob (the active sites). */
    readonly required: readonly string[];
    /** A backfill for this topology (when it has more than one active site). */
    readonly backfill?: PendingJob;
    /** Per retired site: the gate that must pass before the bundle drops it. */
    readonly gates: readonly { readonly site: string; readonly key: string }[];
    /** Per retired site: `util.removelocation`, once every cluster forgot the location. */
    readonly removals: readonly (PendingJob & { readonly site: string })[];
}

/**
 * The topology key the bundle is rendered for: `name:state` of each site, in config order.
 * Readable in a preview, and equal across stacks exactly when they deployed the same topology.
 */
export function topologyKey(sites: readonly Site[]): string {
    return sites.map((s) => `${s.name}:${s.state}`).join(",");
}

/** A short, stable digest for resource names (Kubernetes names are limited to 63 characters). */
export function shortHash(text: string): string {
    return createHash("sha256").update(text).digest("hex").slice(0, 10);
}

/**
 * Decides the lifecycle Jobs of the shared stack.
 *
 * @param sites every site, in config order
 * @param sharedStack the shared stack's name (it deploys the Jobs; its own state is current)
 * @param deployed what each other stack reports, by stack name
 * @param sharedDeploysSite whether the shared stack runs a QuayRegistry itself (Jobs then wait for it)
 * @param backfillRun bumped by the user to run the backfill again for the same topology
 */
export function planLifecycle(
    sites: readonly Site[],
    sharedStack: string,
    deployed: Readonly<Record<string, DeployedStack | undefined>>,
    sharedDeploysSite: boolean,
    backfillRun = 0,
): LifecyclePlan {
    const topology = topologyKey(sites);
    const required = sites.filter((s) => s.state === "active").map((s) => s.name);
    // Stacks that run (or ran) Quay with some bundle: every non-retired site's stack but ours.
    const running = [
        ...new Set(sites.filter((s) => s.state !== "retired" && s.stack !== sharedStack).map((s) => s.stack)),
    ];
    const stale = running.filter((stack) => {
        const d = deployed[stack];
        // A stack never deployed runs no Quay, so it cannot hold a stale config.
        return d?.role !== undefined && d.deployedTopology !== topology;
    });
    // The Jobs need Quay's schema in the shared database: some cluster must have run its migration.
    const anyQuay = sharedDeploysSite || running.some((stack) => deployed[stack]?.role !== undefined);
    const blocked = anyQuay ? stale : running;
    const retired = sites.filter((s) => s.state === "retired");
    const configured = sites.length - retired.length;
    return {
        topology,
        required,
        // With one location there is nothing to copy; otherwise each new topology gets one run.
        backfill:
            configured > 1
                ? { key: shortHash(backfillRun === 0 ? topology : `${topology}#${backfillRun}`), waitingFor: blocked }
                : undefined,
        gates: retired.map((s) => ({ site: s.name, key: s.name })),
        removals: retired.map((s) => {
            const own = s.stack === sharedStack ? undefined : deployed[s.stack];
            // The retired site's own cluster still runs the old config until its stack is emptied.
            const ownPending = own?.role !== undefined && own.role !== "retired" ? [s.stack] : [];
            return { site: s.name, key: s.name, waitingFor: [...blocked, ...ownPending] };
        }),
    };
}
