/**
 * The shared stack's part of the region lifecycle: plan the Jobs for the topology it deploys
 * (lib/lifecycle.ts), gate retirements, and run backfill and `util.removelocation` when the
 * other stacks are ready. The site stacks' part is only to report what their pods run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ReplicationJobs } from "../components/replicationJobs";
import { RetirementGate } from "../components/retirementGate";
import { LifecyclePlan, planLifecycle } from "../lib/lifecycle";
import { PROJECT_ROOT } from "../lib/projectRoot";
import { Bundle, pem } from "../lib/quayConfig";
import type { StackRecord, TopologyPlan } from "../lib/topology";
import type { QuayGeorepConfig } from "../config/config";

/**
 * The SQL the Jobs run, mounted from one ConfigMap: the status (the same file operators run with
 * psql) and the check the removal runs right before `util.removelocation`.
 */
const SQL_FILES = ["replication-status.sql", "removal-precheck.sql"].map((f) => path.join(PROJECT_ROOT, "sql", f));

/** What the lifecycle adds to the shared stack's outputs. */
export interface LifecycleOutputs {
    /** Jobs waiting for other stacks, and steps still to come, with what to run; empty when nothing waits. */
    readonly lifecyclePending: readonly string[];
    /** `<namespace>/<cronjob>` reporting the replication status of the active sites, and how to read it. */
    readonly replicationStatus?: pulumi.Output<{ cronJob: string; locations: string; read: string }>;
    /** The topology whose backfill has run (resolves once this run's backfill completed). */
    readonly backfilledTopology?: pulumi.Input<string>;
}

/** What `deployReplicationJobs` also tells the caller: the removals verified in this run. */
export interface LifecycleResult extends LifecycleOutputs {
    /** Per site whose removal Job runs now: resolves to true once it verified the removal. */
    readonly removedNow: Readonly<Record<string, pulumi.Output<boolean>>>;
}

/** Human notes for what waits, also logged so `pulumi preview` shows them. */
function pendingNotes(cfg: QuayGeorepConfig, plan: LifecyclePlan, topology: TopologyPlan): string[] {
    const up = (stacks: readonly string[]) => stacks.map((s) => `pulumi up -s ${s}`).join(", then ");
    const notes = [...topology.notes];
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
    /** The shared cluster's Kubernetes provider. */
    readonly provider: k8s.Provider;
    /** The namespace the Jobs run in. */
    readonly namespace: pulumi.Input<string>;
    /** The bundle, resolved once the retirement gates passed (the backfill mounts it). */
    readonly bundle: pulumi.Input<Bundle>;
    /** The bundle with pushes disabled, resolved once the retirement gates passed (the removal mounts it). */
    readonly maintenanceBundle: pulumi.Input<Bundle>;
    /** Quay's database URL (a secret). */
    readonly databaseUrl: pulumi.Input<string>;
    /**
     * The Quay image the backfill and removal run: the shared cluster's rollout check's verified
     * image when it runs a site (the Jobs then start only once its pods run this bundle), else
     * `lifecycle.quayImage`.
     */
    readonly quayImage: pulumi.Input<string>;
}

/**
 * Creates the retirement gates. Whatever must not change before every gate passed (the bundle
 * Secret, the bundle output, the Jobs) takes data built from the returned component's `passed`.
 */
export function deployGates(
    cfg: QuayGeorepConfig,
    plan: LifecyclePlan,
    inputs: Pick<LifecycleInputs, "provider" | "namespace" | "databaseUrl">,
): RetirementGate {
    return new RetirementGate(
        `${cfg.project}-retirement-gate`,
        {
            namespace: inputs.namespace,
            databaseUrl: inputs.databaseUrl,
            databaseCa: cfg.database.caCertificate === undefined ? undefined : pem(cfg.database.caCertificate),
            sql: Object.fromEntries(SQL_FILES.map((f) => [path.basename(f), fs.readFileSync(f, "utf8")])),
            psqlImage: cfg.lifecycle.psqlImage,
            retiring: plan.gates.map((g) => ({ site: g.site, required: g.required })),
            timeoutMinutes: cfg.lifecycle.timeouts.gate,
        },
        { provider: inputs.provider },
    );
}

/**
 * A value that resolves only once every gate passed (a secret stays secret): what is built from
 * it is neither written nor run before, and stays unknown in a preview of a run with gates.
 */
export function afterGates<T>(gate: RetirementGate, value: pulumi.Output<T>): pulumi.Output<T> {
    return gate.passed.apply(() => value);
}

/** Creates the status CronJob, the backfill and the removals the plan allows now. */
export function deployReplicationJobs(
    cfg: QuayGeorepConfig,
    plan: LifecyclePlan,
    topology: TopologyPlan,
    last: StackRecord | undefined,
    gate: RetirementGate,
    inputs: LifecycleInputs,
): LifecycleResult {
    const pending = pendingNotes(cfg, plan, topology);
    for (const note of pending) void pulumi.log.info(note);
    const jobs = new ReplicationJobs(
        `${cfg.project}-replication`,
        {
            namespace: inputs.namespace,
            plan,
            bundle: inputs.bundle,
            maintenanceBundle: inputs.maintenanceBundle,
            sqlConfigMap: gate.sqlConfigMap,
            databaseSecret: gate.databaseSecret,
            quayImage: inputs.quayImage,
            psqlImage: cfg.lifecycle.psqlImage,
            timeouts: cfg.lifecycle.timeouts,
            uploadGraceMinutes: cfg.lifecycle.uploadGraceMinutes,
        },
        { provider: inputs.provider },
    );
    const locations = plan.required.join(",");
    return {
        lifecyclePending: pending,
        replicationStatus: jobs.statusCronJob.apply((cronJob) => {
            const [ns, name] = cronJob.split("/");
            return {
                cronJob,
                locations,
                read: `kubectl -n ${ns} create job --from=cronjob/${name} ${name}-now && kubectl -n ${ns} logs -f job/${name}-now`,
            };
        }),
        // A backfill that ran (now or before, for this topology) says so; otherwise the last record stands.
        backfilledTopology: jobs.backfilled ?? last?.backfilledTopology,
        removedNow: jobs.removed,
    };
}

/** Plans the lifecycle Jobs for the topology this shared stack deploys. */
export function planForStack(
    cfg: QuayGeorepConfig,
    topology: TopologyPlan,
    deployed: Readonly<Record<string, StackRecord | undefined>>,
    sharedDeploysSite: boolean,
): LifecyclePlan {
    return planLifecycle(topology, cfg.stack.name, deployed, sharedDeploysSite, cfg.lifecycle.backfillRun);
}
