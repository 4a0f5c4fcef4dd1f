/**
 * ReplicationJobs: the in-cluster Jobs of the region lifecycle, run by the shared stack: a
 * CronJob reporting the replication status of the required locations, the backfill for a new
 * topology, and `util.removelocation` for a retired site once no cluster lists it any more.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Bundle } from "../lib/quayConfig";
import {
    BACKFILL_SCRIPT,
    QUAY_CONFIG_MOUNTS,
    REMOVE_LOCATION_SCRIPT,
    STATUS_SCRIPT,
    VERIFY_REMOVAL_SCRIPT,
} from "../lib/jobScripts";
import type { LifecyclePlan } from "../lib/lifecycle";
import { LIFECYCLE_LABELS, psqlContainer, psqlJobSpec } from "./retirementGate";

const TYPE = "quay-georep:lifecycle:ReplicationJobs";

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
    /** ConfigMap with the status SQL and Secret with `DATABASE_URL` (from `RetirementGate`). */
    readonly sqlConfigMap: pulumi.Input<string>;
    readonly databaseSecret: pulumi.Input<string>;
    /** Quay image the operator runs (same version as the clusters). */
    readonly quayImage: string;
    /** Image with `psql`. */
    readonly psqlImage: string;
    /** What every Job waits for: the retirement gates, and the shared cluster's QuayRegistry (its migration). */
    readonly after?: readonly pulumi.Resource[];
}

/** A Job's pod: never restarted in place, the SQL volume mounted, bundle volumes as given. */
function job(
    name: string,
    parent: pulumi.Resource,
    provider: k8s.Provider,
    args: ReplicationJobsArgs,
    kind: string,
    pod: Omit<k8s.types.input.core.v1.PodSpec, "restartPolicy">,
    opts: pulumi.CustomResourceOptions = {},
): k8s.batch.v1.Job {
    return new k8s.batch.v1.Job(
        name,
        {
            metadata: {
                namespace: args.namespace,
                labels: { ...LIFECYCLE_LABELS, "quay-georep.io/job": kind },
                annotations: { "pulumi.com/replaceUnready": "true" },
            },
            spec: {
                backoffLimit: kind === "backfill" ? 2 : 0,
                template: {
                    metadata: { labels: LIFECYCLE_LABELS },
                    spec: {
                        restartPolicy: "Never",
                        ...pod,
                        volumes: [
                            { name: "sql", configMap: { name: args.sqlConfigMap } },
                            ...(pod.volumes as k8s.types.input.core.v1.Volume[]),
                        ],
                    },
                },
            },
        },
        {
            parent,
            provider,
            dependsOn: [...(args.after ?? [])],
            customTimeouts: { create: "60m", update: "60m" },
            ...opts,
        },
    );
}

/** A Quay container with a bundle Secret mounted where the image reads its config. */
function quayContainer(name: string, image: string, script: string, env: { name: string; value: string }[]) {
    return {
        name,
        image,
        command: ["/bin/sh", "-c", script],
        env: [{ name: "QUAYCONF", value: "/quay-registry/conf" }, ...env],
        volumeMounts: QUAY_CONFIG_MOUNTS.map((mountPath) => ({ name: "bundle", mountPath, readOnly: true })),
        terminationMessagePolicy: "FallbackToLogsOnError",
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
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
            job(`${name}-backfill-${plan.backfill.key}`, this, provider, args, "backfill", {
                containers: [quayContainer("backfill", args.quayImage, BACKFILL_SCRIPT, [])],
                volumes: [secretVolume("bundle", bundle.metadata.name)],
            });
        }

        const removals = plan.removals.filter((r) => r.waitingFor.length === 0);
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
            for (const r of removals) {
                job(`${name}-removelocation-${r.key}`, this, provider, args, "removelocation", {
                    // The init container removes; the main container proves the row is gone.
                    initContainers: [
                        quayContainer("removelocation", args.quayImage, REMOVE_LOCATION_SCRIPT, [
                            { name: "LOCATION", value: r.site },
                        ]),
                    ],
                    containers: [
                        psqlContainer("verify", args.psqlImage, VERIFY_REMOVAL_SCRIPT, args.databaseSecret, [
                            { name: "LOCATION", value: r.site },
                        ]),
                    ],
                    volumes: [secretVolume("bundle", maintenance.metadata.name)],
                });
            }
        }
        this.registerOutputs({ statusCronJob: this.statusCronJob });
    }
}
