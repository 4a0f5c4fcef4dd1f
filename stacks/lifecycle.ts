/**
 * The shared stack's part of the region lifecycle: read what every other stack deployed, plan the
 * Jobs (lib/lifecycle.ts), gate retirements, and run backfill and `util.removelocation` when the
 * other stacks are ready. The site stacks' part is only to report what they deployed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ReplicationJobs } from "../components/replicationJobs";
import { RetirementGate } from "../components/retirementGate";
import { DeployedStack, LifecyclePlan, planLifecycle } from "../lib/lifecycle";
import type { Bundle } from "../lib/quayConfig";
import type { QuayGeorepConfig } from "./config";
import { stackName } from "./site";

/** The status SQL the Jobs run: the same file operators run with psql. */
const STATUS_SQL = path.join(__dirname, "..", "sql", "replication-status.sql");

/** What the lifecycle adds to the shared stack's outputs. */
export interface LifecycleOutputs {
    /** The topology key the bundle was rendered for (site stacks re-export it as `deployedTopology`). */
    readonly topology: string;
    /** Jobs waiting for other stacks, with what to run first; empty when nothing waits. */
    readonly lifecyclePending: readonly string[];
    /** `<namespace>/<cronjob>` reporting the replication status of the active sites, and how to read it. */
    readonly replicationStatus?: pulumi.Output<{ cronJob: string; locations: string; read: string }>;
}

/**
 * Reads the `role` and `deployedTopology` outputs of every other stack that deploys a site.
 * Awaited at program time, because they decide which Jobs exist (never inside an `apply`).
 * A stack must exist (`pulumi stack init`) before the shared stack runs; one never deployed
 * reports nothing and runs no Quay.
 */
export async function readDeployedStacks(cfg: QuayGeorepConfig): Promise<Record<string, DeployedStack | undefined>> {
    // One reference per other stack, named after its site (live first), like every per-site child.
    const bySite = [...cfg.sites].sort((a, b) => Number(a.state === "retired") - Number(b.state === "retired"));
    const stacks = new Map<string, string>();
    for (const site of bySite)
        if (site.stack !== cfg.stack.name && !stacks.has(site.stack)) stacks.set(site.stack, site.name);
    const entries = await Promise.all(
        [...stacks].map(async ([stack, siteName]) => {
            const ref = new pulumi.StackReference(`${cfg.project}-${siteName}-stack`, { name: stackName(cfg, stack) });
            const [role, topology] = await Promise.all([
                ref.getOutputDetails("role"),
                ref.getOutputDetails("deployedTopology"),
            ]);
            const deployed: DeployedStack | undefined =
                role.value === undefined
                    ? undefined
                    : { role: String(role.value), deployedTopology: topology.value as string | undefined };
            return [stack, deployed] as const;
        }),
    );
    return Object.fromEntries(entries);
}

/** Human notes for the Jobs that wait, also logged so `pulumi preview` shows them. */
function pendingNotes(cfg: QuayGeorepConfig, plan: LifecyclePlan): string[] {
    const up = (stacks: readonly string[]) => stacks.map((s) => `pulumi up -s ${s}`).join(", then ");
    const notes: string[] = [];
    if (plan.backfill && plan.backfill.waitingFor.length > 0) {
        notes.push(
            `backfill for topology "${plan.topology}" waits for ${plan.backfill.waitingFor.join(", ")}: ` +
                `run ${up(plan.backfill.waitingFor)}, then pulumi up -s ${cfg.stack.name} again`,
        );
    }
    for (const r of plan.removals.filter((x) => x.waitingFor.length > 0)) {
        notes.push(
            `util.removelocation ${r.site} waits until no cluster lists it: run ${up(r.waitingFor)}, ` +
                `then pulumi up -s ${cfg.stack.name} again`,
        );
    }
    return notes;
}

/** What the lifecycle needs from the rest of the shared stack. */
export interface LifecycleInputs {
    readonly provider: k8s.Provider;
    readonly namespace: pulumi.Input<string>;
    readonly bundle: pulumi.Input<Bundle>;
    readonly maintenanceBundle: pulumi.Input<Bundle>;
    readonly databaseUrl: pulumi.Input<string>;
    /** The shared cluster's QuayRegistry, when there is one: Jobs run after its migration. */
    readonly registry?: pulumi.Resource;
}

/**
 * Creates the retirement gates. Whatever must not change before every gate passed (the bundle
 * Secret, the bundle output) depends on the returned component's `gates`.
 */
export function deployGates(
    cfg: QuayGeorepConfig,
    plan: LifecyclePlan,
    inputs: Omit<LifecycleInputs, "registry" | "bundle" | "maintenanceBundle">,
): RetirementGate {
    return new RetirementGate(`${cfg.project}-retirement-gate`, {
        provider: inputs.provider,
        namespace: inputs.namespace,
        databaseUrl: inputs.databaseUrl,
        sql: fs.readFileSync(STATUS_SQL, "utf8"),
        psqlImage: cfg.lifecycle.psqlImage,
        retiring: plan.gates.map((g) => g.site),
        required: plan.required,
    });
}

/** Creates the status CronJob, the backfill and the removals the plan allows now. */
export function deployReplicationJobs(
    cfg: QuayGeorepConfig,
    plan: LifecyclePlan,
    gate: RetirementGate,
    inputs: LifecycleInputs,
): LifecycleOutputs {
    const pending = pendingNotes(cfg, plan);
    for (const note of pending) pulumi.log.info(note);
    const jobs = new ReplicationJobs(`${cfg.project}-replication`, {
        provider: inputs.provider,
        namespace: inputs.namespace,
        plan,
        bundle: inputs.bundle,
        maintenanceBundle: inputs.maintenanceBundle,
        sqlConfigMap: gate.sqlConfigMap,
        databaseSecret: gate.databaseSecret,
        quayImage: cfg.lifecycle.quayImage,
        psqlImage: cfg.lifecycle.psqlImage,
        after: [...gate.gates, ...(inputs.registry ? [inputs.registry] : [])],
    });
    const locations = plan.required.join(",");
    return {
        topology: plan.topology,
        lifecyclePending: pending,
        replicationStatus: jobs.statusCronJob.apply((cronJob) => {
            const [ns, name] = cronJob.split("/");
            return {
                cronJob,
                locations,
                read: `kubectl -n ${ns} create job --from=cronjob/${name} ${name}-now && kubectl -n ${ns} logs -f job/${name}-now`,
            };
        }),
    };
}

/** Plans the lifecycle for this shared stack from what the other stacks report. */
export async function planForStack(cfg: QuayGeorepConfig): Promise<LifecyclePlan> {
    return planLifecycle(
        cfg.sites,
        cfg.stack.name,
        await readDeployedStacks(cfg),
        cfg.stack.site !== undefined,
        cfg.lifecycle.backfillRun,
    );
}
