/**
 * ReplicationJobs: the in-cluster Jobs of the region lifecycle, run by the shared stack: a
 * CronJob reporting the replication status of the required locations, the backfill for a new
 * topology, and `util.removelocation` for a retired site once no cluster lists it any more.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    BACKFILL_SCRIPT,
    QUAY_CONFIG_MOUNTS,
    REMOVAL_PRECHECK_SCRIPT,
    REMOVE_LOCATION_SCRIPT,
    STATUS_SCRIPT,
    VERIFY_REMOVAL_SCRIPT,
} from "../lib/jobScripts";
import type { LifecyclePlan } from "../lib/lifecycle";
import { kubeName } from "../lib/names";
import type { Bundle } from "../lib/quayConfig";
import {
    LIFECYCLE_LABELS,
    psqlContainer,
    psqlJobSpec,
    psqlVolumes,
    RESTRICTED_SECURITY_CONTEXT,
    timeouts,
} from "./retirementGate";

const TYPE = "quay-georep:lifecycle:ReplicationJobs";

/** Where the removal's containers pass on whether the location row was still there. */
const WORK_MOUNT = "/work";

/** Inputs of the lifecycle Jobs. */
export interface ReplicationJobsArgs {
    /** The shared stack's cluster provider. */
    readonly provider: k8s.Provider;
    /** Namespace the Jobs run in. */
    readonly namespace: pulumi.Input<string>;
    /** What to run, from `planLifecycle`. */
    readonly plan: LifecyclePlan;
    /** The bundle (a secret), mounted by the backfill. */
    readonly bundle: pulumi.Input<Bundle>;
    /** The bundle with pushes disabled (a secret), mounted by `util.removelocation` (Quay ≥ 3.17 requires it). */
    readonly maintenanceBundle: pulumi.Input<Bundle>;
    /** ConfigMap with the SQL files and Secret with `DATABASE_URL` (from `RetirementGate`). */
    readonly sqlConfigMap: pulumi.Input<string>;
    readonly databaseSecret: pulumi.Input<string>;
    /** Quay image the operator runs (checked by the shared cluster's rollout check). */
    readonly quayImage: string;
    /** Image with `psql`. */
    readonly psqlImage: string;
    /** Deadlines, in minutes. */
    readonly timeouts: { readonly backfill: number; readonly removal: number };
    /** Uploads younger than this (minutes) may be in progress: they stop a removal. */
    readonly uploadGraceMinutes: number;
    /** What every Job waits for: the retirement gates, and the shared cluster's rollout check. */
    readonly after?: readonly pulumi.Resource[];
}

/** A Job's pod: never restarted in place, the SQL volume mounted, other volumes as given. */
function job(
    name: string,
    objectName: string,
    parent: pulumi.Resource,
    args: ReplicationJobsArgs,
    kind: string,
    minutes: number,
    pod: Omit<k8s.types.input.core.v1.PodSpec, "restartPolicy">,
): k8s.batch.v1.Job {
    return new k8s.batch.v1.Job(
        name,
        {
            metadata: {
                name: objectName,
                namespace: args.namespace,
                labels: { ...LIFECYCLE_LABELS, "quay-georep.io/job": kind },
                // A Job that failed earlier is replaced and run afresh on the next `pulumi up`.
                annotations: { "pulumi.com/replaceUnready": "true" },
            },
            spec: {
                backoffLimit: kind === "backfill" ? 2 : 0,
                activeDeadlineSeconds: minutes * 60,
                template: {
                    metadata: { labels: LIFECYCLE_LABELS },
                    spec: {
                        restartPolicy: "Never",
                        ...pod,
                        volumes: [
                            ...psqlVolumes(args.sqlConfigMap, args.databaseSecret),
                            ...(pod.volumes as k8s.types.input.core.v1.Volume[]),
                        ],
                    },
                },
            },
        },
        {
            parent,
            provider: args.provider,
            dependsOn: [...(args.after ?? [])],
            customTimeouts: timeouts(minutes),
        },
    );
}

/**
 * Requests and limits of a Quay utility (`python -m util.…`): one Python process with Quay's code
 * and config loaded, about a CPU at most.
 */
export const QUAY_UTILITY_RESOURCES = {
    requests: { cpu: "250m", memory: "512Mi" },
    limits: { cpu: "1", memory: "1Gi" },
};

/** A Quay container with a bundle Secret mounted where the image reads its config. */
function quayContainer(
    name: string,
    image: string,
    script: string,
    env: { name: string; value: string }[],
    extraMounts: k8s.types.input.core.v1.VolumeMount[] = [],
) {
    return {
        name,
        image,
        command: ["/bin/sh", "-c", script],
        env: [{ name: "QUAYCONF", value: "/quay-registry/conf" }, ...env],
        volumeMounts: [
            ...QUAY_CONFIG_MOUNTS.map((mountPath) => ({ name: "bundle", mountPath, readOnly: true })),
            ...extraMounts,
        ],
        terminationMessagePolicy: "FallbackToLogsOnError",
        securityContext: RESTRICTED_SECURITY_CONTEXT,
        resources: QUAY_UTILITY_RESOURCES,
    };
}

/**
 * Creates the status CronJob (always), the backfill Job (when the plan has one that waits for no
 * stack) and one removal Job per retired site that waits for no stack.
 */
export class ReplicationJobs extends pulumi.ComponentResource {
    /**
     * `<namespace>/<name>` of the status CronJob. Each run logs the one-line JSON verdict;
     * `kubectl create job --from=cronjob/<name> now` runs it on demand.
     */
    public readonly statusCronJob: pulumi.Output<string>;
    /** The topology key, once this run's backfill completed; undefined when none runs now. */
    public readonly backfilled?: pulumi.Output<string>;
    /** Per site removed in this run: true once the removal was verified. */
    public readonly removed: Readonly<Record<string, pulumi.Output<boolean>>>;

    constructor(name: string, args: ReplicationJobsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = args.provider;
        const plan = args.plan;
        const secretVolume = (volume: string, secretName: pulumi.Input<string>) => ({
            name: volume,
            secret: { secretName },
        });

        // The replication status of the required locations, every 15 minutes (and on demand).
        const status = new k8s.batch.v1.CronJob(
            `${name}-status`,
            {
                metadata: {
                    // A fixed name, so operators can run it: kubectl create job --from=cronjob/<name>.
                    name: "quay-georep-replication-status",
                    namespace: args.namespace,
                    labels: { ...LIFECYCLE_LABELS, "quay-georep.io/job": "replication-status" },
                },
                spec: {
                    schedule: "*/15 * * * *",
                    concurrencyPolicy: "Forbid",
                    successfulJobsHistoryLimit: 3,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: {
                        spec: psqlJobSpec(
                            psqlContainer("status", args.psqlImage, STATUS_SCRIPT, args.databaseSecret, [
                                { name: "LOCATIONS", value: plan.required.join(",") },
                            ]),
                            args.sqlConfigMap,
                            args.databaseSecret,
                        ),
                    },
                },
            },
            { parent: this, provider },
        );
        this.statusCronJob = pulumi.interpolate`${status.metadata.namespace}/${status.metadata.name}`;

        if (plan.backfill && plan.backfill.waitingFor.length === 0) {
            const bundle = new k8s.core.v1.Secret(
                `${name}-bundle`,
                {
                    metadata: { namespace: args.namespace, labels: LIFECYCLE_LABELS },
                    type: "Opaque",
                    stringData: pulumi.secret(pulumi.output(args.bundle)),
                },
                { parent: this, provider },
            );
            // One per topology (and backfillRun): an unchanged topology never runs it again.
            const backfill = job(
                `${name}-backfill-${plan.backfill.key}`,
                kubeName(["quay-georep-backfill", plan.backfill.key]),
                this,
                args,
                "backfill",
                args.timeouts.backfill,
                {
                    containers: [quayContainer("backfill", args.quayImage, BACKFILL_SCRIPT, [])],
                    volumes: [secretVolume("bundle", bundle.metadata.name)],
                },
            );
            this.backfilled = backfill.id.apply(() => plan.topology);
        }

        const removals = plan.removals.filter((r) => r.waitingFor.length === 0);
        const removed: Record<string, pulumi.Output<boolean>> = {};
        if (removals.length > 0) {
            // Its own config has pushes disabled, as util.removelocation requires since Quay 3.17.
            const maintenance = new k8s.core.v1.Secret(
                `${name}-maintenance-bundle`,
                {
                    metadata: { namespace: args.namespace, labels: LIFECYCLE_LABELS },
                    type: "Opaque",
                    stringData: pulumi.secret(pulumi.output(args.maintenanceBundle)),
                },
                { parent: this, provider },
            );
            const work = { name: "work", mountPath: WORK_MOUNT };
            const state = { name: "STATE_FILE", value: `${WORK_MOUNT}/location-state` };
            for (const r of removals) {
                const location = { name: "LOCATION", value: r.site };
                const removal = job(
                    `${name}-removelocation-${r.key}`,
                    kubeName(["quay-georep-removelocation", r.site]),
                    this,
                    args,
                    "removelocation",
                    args.timeouts.removal,
                    {
                        // In order: re-check that nothing would be lost and no upload is in progress,
                        // right before; remove (skipped when an earlier run already did); verify.
                        initContainers: [
                            psqlContainer(
                                "precheck",
                                args.psqlImage,
                                REMOVAL_PRECHECK_SCRIPT,
                                args.databaseSecret,
                                [
                                    location,
                                    { name: "LOCATIONS", value: plan.required.join(",") },
                                    { name: "UPLOAD_GRACE_MINUTES", value: String(args.uploadGraceMinutes) },
                                    state,
                                ],
                                [work],
                            ),
                            quayContainer(
                                "removelocation",
                                args.quayImage,
                                REMOVE_LOCATION_SCRIPT,
                                [location, state],
                                [work],
                            ),
                        ],
                        containers: [
                            psqlContainer("verify", args.psqlImage, VERIFY_REMOVAL_SCRIPT, args.databaseSecret, [
                                location,
                            ]),
                        ],
                        volumes: [secretVolume("bundle", maintenance.metadata.name), { name: "work", emptyDir: {} }],
                    },
                );
                removed[r.site] = removal.id.apply(() => true);
            }
        }
        this.removed = removed;
        this.registerOutputs({ statusCronJob: this.statusCronJob, backfilled: this.backfilled });
    }
}
