/**
 * RetirementGate: before the bundle drops a retired site, prove from Quay's own database that
 * nothing would be lost. Also holds what every lifecycle Job reads: the status SQL and the
 * database URL.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { GATE_SCRIPT, SQL_MOUNT } from "../lib/jobScripts";
import { kubeName } from "../lib/names";
import { DATABASE_CA } from "../lib/quayConfig";

const TYPE = "quay-georep:lifecycle:RetirementGate";

/** Inputs of the gate. */
export interface RetirementGateArgs {
    /** The shared stack's cluster provider (explicit; no default provider). */
    readonly provider: k8s.Provider;
    /** Namespace the Jobs run in. */
    readonly namespace: pulumi.Input<string>;
    /** Quay's database URL (a secret). */
    readonly databaseUrl: pulumi.Input<string>;
    /** The database server's CA (PEM), when `DATABASE_URL` verifies it (`sslrootcert`); absent otherwise. */
    readonly databaseCa?: string;
    /** The SQL files every lifecycle Job may run, by file name (sql/*.sql), mounted at `/sql`. */
    readonly sql: Readonly<Record<string, string>>;
    /** Image with `psql` (pinned). */
    readonly psqlImage: string;
    /** Sites being retired in this run, each with the locations that must hold every blob first. */
    readonly retiring: readonly { readonly site: string; readonly required: readonly string[] }[];
    /** Deadline of a gate, in minutes. */
    readonly timeoutMinutes: number;
}

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

/** Labels shared by every lifecycle object, so `kubectl get jobs -l …` finds them. */
export const LIFECYCLE_LABELS = {
    "app.kubernetes.io/managed-by": "pulumi",
    "app.kubernetes.io/part-of": "quay-georep",
};

/**
 * One Job per retiring site runs the status SQL for the remaining locations and fails unless
 * replication is complete. Pulumi waits for each Job and stops the update when one fails, so
 * whatever depends on `gates` (the bundle Secret, the bundle output) does not change.
 */
export class RetirementGate extends pulumi.ComponentResource {
    /** Name of the ConfigMap holding the status SQL. */
    public readonly sqlConfigMap: pulumi.Output<string>;
    /** Name of the Secret holding `DATABASE_URL`. */
    public readonly databaseSecret: pulumi.Output<string>;
    /** The gate Jobs; depend on them to change nothing until they pass. */
    public readonly gates: k8s.batch.v1.Job[];

    constructor(name: string, args: RetirementGateArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = args.provider;
        const sql = new k8s.core.v1.ConfigMap(
            `${name}-sql`,
            {
                metadata: { name: "quay-georep-replication-sql", namespace: args.namespace, labels: LIFECYCLE_LABELS },
                data: { ...args.sql },
            },
            { parent: this, provider },
        );
        const db = new k8s.core.v1.Secret(
            `${name}-database`,
            {
                metadata: {
                    name: "quay-georep-lifecycle-database",
                    namespace: args.namespace,
                    labels: LIFECYCLE_LABELS,
                },
                type: "Opaque",
                stringData: {
                    DATABASE_URL: pulumi.secret(args.databaseUrl),
                    // Where DATABASE_URL's sslrootcert points: psql containers mount this Secret there.
                    ...(args.databaseCa !== undefined ? { [DATABASE_CA.quayKey]: args.databaseCa } : {}),
                },
            },
            { parent: this, provider },
        );
        this.sqlConfigMap = sql.metadata.name;
        this.databaseSecret = db.metadata.name;

        // A gate exists only in the run that drops its site from the bundle (lib/topology.ts), so a
        // later run never repeats it; one that failed is replaced and run afresh on the next `pulumi up`.
        this.gates = args.retiring.map(
            ({ site, required }) =>
                new k8s.batch.v1.Job(
                    `${name}-${site}`,
                    {
                        metadata: {
                            name: kubeName(["quay-georep-gate", site]),
                            namespace: args.namespace,
                            labels: { ...LIFECYCLE_LABELS, "quay-georep.io/job": "retirement-gate" },
                            annotations: { "pulumi.com/replaceUnready": "true" },
                        },
                        spec: {
                            ...psqlJobSpec(
                                psqlContainer("gate", args.psqlImage, GATE_SCRIPT, this.databaseSecret, [
                                    { name: "LOCATIONS", value: required.join(",") },
                                    { name: "RETIRING", value: site },
                                ]),
                                this.sqlConfigMap,
                                this.databaseSecret,
                            ),
                            activeDeadlineSeconds: args.timeoutMinutes * 60,
                        },
                    },
                    { parent: this, provider, customTimeouts: timeouts(args.timeoutMinutes) },
                ),
        );
        this.registerOutputs({ sqlConfigMap: this.sqlConfigMap, databaseSecret: this.databaseSecret });
    }
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
    image: string,
    script: string,
    databaseSecret: pulumi.Input<string>,
    env: { name: string; value: string }[],
    extraMounts: k8s.types.input.core.v1.VolumeMount[] = [],
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
