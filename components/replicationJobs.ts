/**
 * ReplicationJobs: the in-cluster Jobs of the region lifecycle, run by the shared stack: a
 * CronJob reporting the replication status of the required locations, the backfill for a new
 * topology, and `util.removelocation` for a retired site once no cluster lists it any more.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    BACKFILL_SCRIPT,
    REMOVAL_PRECHECK_SCRIPT,
    REMOVE_LOCATION_SCRIPT,
    STATUS_SCRIPT,
    VERIFY_REMOVAL_SCRIPT,
} from "../lib/jobScripts";
import type { LifecyclePlan } from "../lib/lifecycle";
import { kubeName } from "../lib/names";
import type { Bundle } from "../lib/quayConfig";
import {
    JOB_LABEL,
    LIFECYCLE_LABELS,
    psqlContainer,
    psqlJobSpec,
    psqlVolumes,
    quayContainer,
    timeouts,
} from "./lifecycleJob";

const TYPE = "quay-georep:lifecycle:ReplicationJobs";

/** A CronJob's name: the controller appends 11 characters to name its Jobs (63 in all). */
const CRONJOB_NAME_MAX = 52;

/** Where the removal's containers pass on whether the location row was still there. */
const WORK_MOUNT = "/work";

/**
 * Inputs of the lifecycle Jobs; the cluster's Kubernetes provider comes from `opts.provider`. A
 * Job starts only once every input it takes has resolved, so what must come first is passed as
 * data: a `bundle` that resolves after the retirement gates, a `quayImage` that resolves once the
 * cluster's rollout check proved the operator runs it.
 */
export interface ReplicationJobsArgs {
    /** Namespace the Jobs run in. */
    readonly namespace: pulumi.Input<string>;
    /** What to run, from `planLifecycle`; plain: it decides which Jobs exist. */
    readonly plan: LifecyclePlan;
    /** The bundle (a secret), mounted by the backfill. */
    readonly bundle: pulumi.Input<Bundle>;
    /** The bundle with pushes disabled (a secret), mounted by `util.removelocation` (Quay ≥ 3.17 requires it). */
    readonly maintenanceBundle: pulumi.Input<Bundle>;
    /** Name of the ConfigMap with the SQL files (`RetirementGate.sqlConfigMap`). */
    readonly sqlConfigMap: pulumi.Input<string>;
    /** Name of the Secret with `DATABASE_URL` (`RetirementGate.databaseSecret`). */
    readonly databaseSecret: pulumi.Input<string>;
    /** Quay image of the backfill and the removal: the one the operator runs (`RolloutCheck.verifiedImage`). */
    readonly quayImage: pulumi.Input<string>;
    /** Image with `psql`. */
    readonly psqlImage: pulumi.Input<string>;
    /** Deadlines, in minutes; plain: they set Pulumi's own wait (`customTimeouts`). */
    readonly timeouts: { readonly backfill: number; readonly removal: number };
    /** Uploads younger than this (minutes) may be in progress: they stop a removal. */
    readonly uploadGraceMinutes: pulumi.Input<number>;
    /** Name of the status CronJob (default `<name>-status`, as `kubeName` makes it, at most 52 characters). */
    readonly statusName?: pulumi.Input<string>;
    /** Prefix of the backfill Job's name, followed by the plan's key (default `quay-georep-backfill`). */
    readonly backfillPrefix?: pulumi.Input<string>;
    /** Prefix of each removal Job's name, followed by the site (default `quay-georep-removelocation`). */
    readonly removalPrefix?: pulumi.Input<string>;
}

/** Defaults of `ReplicationJobsArgs`: the name prefixes of the first release (the runbook uses them). */
export const REPLICATION_DEFAULTS = {
    backfillPrefix: "quay-georep-backfill",
    removalPrefix: "quay-georep-removelocation",
} as const;

/** One Job of this component: never restarted in place, the SQL volume mounted, other volumes as given. */
interface JobSpecArgs {
    /** Kubernetes name. */
    readonly objectName: pulumi.Input<string>;
    /** Its `quay-georep.io/job` label. */
    readonly kind: "backfill" | "removelocation";
    /** Deadline, in minutes. */
    readonly minutes: number;
    /** The pod, without `restartPolicy`; its volumes come after the SQL's. */
    readonly pod: Omit<k8s.types.input.core.v1.PodSpec, "restartPolicy" | "volumes"> & {
        readonly volumes: k8s.types.input.core.v1.Volume[];
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

    /** Children inherit the cluster's Kubernetes provider from `opts.provider`. */
    constructor(name: string, args: ReplicationJobsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const plan = args.plan;
        const locations = plan.required.join(",");
        const job = (resourceName: string, j: JobSpecArgs) =>
            new k8s.batch.v1.Job(
                resourceName,
                {
                    metadata: {
                        name: j.objectName,
                        namespace: args.namespace,
                        labels: { ...LIFECYCLE_LABELS, [JOB_LABEL]: j.kind },
                        // A Job that failed earlier is replaced and run afresh on the next `pulumi up`.
                        annotations: { "pulumi.com/replaceUnready": "true" },
                    },
                    spec: {
                        backoffLimit: j.kind === "backfill" ? 2 : 0,
                        activeDeadlineSeconds: j.minutes * 60,
                        template: {
                            metadata: { labels: LIFECYCLE_LABELS },
                            spec: {
                                restartPolicy: "Never",
                                ...j.pod,
                                volumes: [...psqlVolumes(args.sqlConfigMap, args.databaseSecret), ...j.pod.volumes],
                            },
                        },
                    },
                },
                { parent: this, customTimeouts: timeouts(j.minutes) },
            );
        const bundleSecret = (suffix: string, bundle: pulumi.Input<Bundle>) =>
            new k8s.core.v1.Secret(
                `${name}-${suffix}`,
                {
                    metadata: { namespace: args.namespace, labels: LIFECYCLE_LABELS },
                    type: "Opaque",
                    stringData: pulumi.secret(pulumi.output(bundle)),
                },
                { parent: this },
            );
        const bundleVolume = (secret: k8s.core.v1.Secret) => ({
            name: "bundle",
            secret: { secretName: secret.metadata.name },
        });

        // The replication status of the required locations, every 15 minutes (and on demand).
        const status = new k8s.batch.v1.CronJob(
            `${name}-status`,
            {
                metadata: {
                    // A stable name, so operators can run it: kubectl create job --from=cronjob/<name>.
                    name: args.statusName ?? kubeName([name, "status"], CRONJOB_NAME_MAX),
                    namespace: args.namespace,
                    labels: { ...LIFECYCLE_LABELS, [JOB_LABEL]: "replication-status" },
                },
                spec: {
                    schedule: "*/15 * * * *",
                    concurrencyPolicy: "Forbid",
                    successfulJobsHistoryLimit: 3,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: {
                        spec: psqlJobSpec(
                            psqlContainer("status", args.psqlImage, STATUS_SCRIPT, args.databaseSecret, [
                                { name: "LOCATIONS", value: locations },
                            ]),
                            args.sqlConfigMap,
                            args.databaseSecret,
                        ),
                    },
                },
            },
            { parent: this },
        );
        this.statusCronJob = pulumi.interpolate`${status.metadata.namespace}/${status.metadata.name}`;

        if (plan.backfill && plan.backfill.waitingFor.length === 0) {
            const key = plan.backfill.key;
            const bundle = bundleSecret("bundle", args.bundle);
            // One per topology (and backfillRun): an unchanged topology never runs it again.
            const backfill = job(`${name}-backfill-${key}`, {
                objectName: prefixed(args.backfillPrefix ?? REPLICATION_DEFAULTS.backfillPrefix, key),
                kind: "backfill",
                minutes: args.timeouts.backfill,
                pod: {
                    containers: [quayContainer("backfill", args.quayImage, BACKFILL_SCRIPT, [])],
                    volumes: [bundleVolume(bundle)],
                },
            });
            this.backfilled = backfill.id.apply(() => plan.topology);
        }

        const removals = plan.removals.filter((r) => r.waitingFor.length === 0);
        const removed: Record<string, pulumi.Output<boolean>> = {};
        if (removals.length > 0) {
            // Its own config has pushes disabled, as util.removelocation requires since Quay 3.17.
            const maintenance = bundleSecret("maintenance-bundle", args.maintenanceBundle);
            const work = { name: "work", mountPath: WORK_MOUNT };
            const state = { name: "STATE_FILE", value: `${WORK_MOUNT}/location-state` };
            const grace = pulumi.output(args.uploadGraceMinutes).apply(String);
            for (const r of removals) {
                const location = { name: "LOCATION", value: r.site };
                const removal = job(`${name}-removelocation-${r.key}`, {
                    objectName: prefixed(args.removalPrefix ?? REPLICATION_DEFAULTS.removalPrefix, r.site),
                    kind: "removelocation",
                    minutes: args.timeouts.removal,
                    pod: {
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
                                    { name: "LOCATIONS", value: locations },
                                    { name: "UPLOAD_GRACE_MINUTES", value: grace },
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
                        volumes: [bundleVolume(maintenance), { name: "work", emptyDir: {} }],
                    },
                });
                removed[r.site] = removal.id.apply(() => true);
            }
        }
        this.removed = removed;
        this.registerOutputs({ statusCronJob: this.statusCronJob, backfilled: this.backfilled, removed });
    }
}

/** `<prefix>-<key>` as a Kubernetes name (shortened with a digest when needed). */
function prefixed(prefix: pulumi.Input<string>, key: string): pulumi.Output<string> {
    return pulumi.output(prefix).apply((p) => kubeName([p, key]));
}
