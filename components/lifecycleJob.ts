/**
 * What every lifecycle Job shares (the retirement gates, the replication Jobs, the rollout check):
 * labels, a restricted security context, bounded resources, and the `psql` and Quay containers
 * with what they mount. Pure builders of Kubernetes input objects; no resources here.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { QUAY_CONFIG_MOUNTS, SQL_MOUNT } from "../lib/jobScripts";
import { DATABASE_CA } from "../lib/quayConfig";

/** Labels shared by every lifecycle object, so `kubectl get jobs -l …` finds them. */
export const LIFECYCLE_LABELS = {
    "app.kubernetes.io/managed-by": "pulumi",
    "app.kubernetes.io/part-of": "quay-georep",
};

/** The label saying which lifecycle Job an object is (`retirement-gate`, `backfill`, …). */
export const JOB_LABEL = "quay-georep.io/job";

/**
 * The security context of every lifecycle container: no privilege escalation, no capabilities. No
 * fixed UID: OpenShift's restricted SCC assigns one from the namespace's range.
 */
export const RESTRICTED_SECURITY_CONTEXT = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };

/**
 * Requests and limits of a `psql` container: a client that sends one query and prints a one-line
 * verdict. Every lifecycle container is bounded, so a Job never starves Quay's pods on its node and
 * is admitted where a namespace quota covers limits (the policy pack requires it).
 */
export const PSQL_RESOURCES = { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } };

/**
 * Requests and limits of a Quay utility (`python -m util.…`): one Python process with Quay's code
 * and config loaded, about a CPU at most.
 */
export const QUAY_UTILITY_RESOURCES = {
    requests: { cpu: "250m", memory: "512Mi" },
    limits: { cpu: "1", memory: "1Gi" },
};

/** One entry of a container's `env` with a value. */
export interface EnvValue {
    readonly name: string;
    readonly value: pulumi.Input<string>;
}

/** Pulumi's wait for a Job: its deadline and five minutes more, so the Job reports why first. */
export function timeouts(minutes: number): pulumi.CustomTimeouts {
    return { create: `${minutes + 5}m`, update: `${minutes + 5}m` };
}

/** A Job spec running one `psql` container once (no retry: a failure must stop `pulumi up`), SQL mounted. */
export function psqlJobSpec(
    container: k8s.types.input.core.v1.Container,
    sqlConfigMap: pulumi.Input<string>,
    databaseSecret: pulumi.Input<string>,
): k8s.types.input.batch.v1.JobSpec {
    return {
        backoffLimit: 0,
        template: {
            metadata: { labels: LIFECYCLE_LABELS },
            spec: {
                restartPolicy: "Never",
                containers: [container],
                volumes: psqlVolumes(sqlConfigMap, databaseSecret),
            },
        },
    };
}

/** The volumes every `psql` container mounts: the SQL, and the database Secret (for the server's CA). */
export function psqlVolumes(
    sqlConfigMap: pulumi.Input<string>,
    databaseSecret: pulumi.Input<string>,
): k8s.types.input.core.v1.Volume[] {
    return [
        { name: "sql", configMap: { name: sqlConfigMap } },
        { name: "database", secret: { secretName: databaseSecret } },
    ];
}

/** A `psql` container running a script, with `DATABASE_URL` from the Secret and the SQL mounted. */
export function psqlContainer(
    name: string,
    image: pulumi.Input<string>,
    script: string,
    databaseSecret: pulumi.Input<string>,
    env: readonly EnvValue[],
    extraMounts: readonly k8s.types.input.core.v1.VolumeMount[] = [],
): k8s.types.input.core.v1.Container {
    return {
        name,
        image,
        command: ["/bin/sh", "-c", script],
        env: [
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: databaseSecret, key: "DATABASE_URL" } } },
            ...env,
        ],
        volumeMounts: [
            { name: "sql", mountPath: SQL_MOUNT, readOnly: true },
            // The directory DATABASE_URL's sslrootcert names (the bundle's path for Quay's pods).
            { name: "database", mountPath: path.posix.dirname(DATABASE_CA.quayPath), readOnly: true },
            ...extraMounts,
        ],
        terminationMessagePolicy: "FallbackToLogsOnError",
        securityContext: RESTRICTED_SECURITY_CONTEXT,
        resources: PSQL_RESOURCES,
    };
}

/** A Quay container with a bundle Secret (volume `bundle`) mounted where the image reads its config. */
export function quayContainer(
    name: string,
    image: pulumi.Input<string>,
    script: string,
    env: readonly EnvValue[],
    extraMounts: readonly k8s.types.input.core.v1.VolumeMount[] = [],
): k8s.types.input.core.v1.Container {
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
