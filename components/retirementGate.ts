/**
 * RetirementGate: before the bundle drops a retired site, prove from Quay's own database that
 * nothing would be lost. Also holds what every lifecycle Job reads: the status SQL and the
 * database URL.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GATE_SCRIPT, SQL_MOUNT } from "../lib/jobScripts";

const TYPE = "quay-georep:lifecycle:RetirementGate";

/** Inputs of the gate. */
export interface RetirementGateArgs {
    /** The shared stack's cluster provider (explicit; no default provider). */
    readonly provider: k8s.Provider;
    /** Namespace the Jobs run in. */
    readonly namespace: pulumi.Input<string>;
    /** Quay's database URL (a secret). */
    readonly databaseUrl: pulumi.Input<string>;
    /** Text of sql/replication-status.sql. */
    readonly sql: string;
    /** Image with `psql` (pinned). */
    readonly psqlImage: string;
    /** Sites being retired; one gate Job each. */
    readonly retiring: readonly string[];
    /** Locations that must hold every blob first (the active sites). */
    readonly required: readonly string[];
}

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
                data: { "replication-status.sql": args.sql },
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
                stringData: { DATABASE_URL: pulumi.secret(args.databaseUrl) },
            },
            { parent: this, provider },
        );
        this.sqlConfigMap = sql.metadata.name;
        this.databaseSecret = db.metadata.name;

        this.gates = args.retiring.map(
            (site) =>
                new k8s.batch.v1.Job(
                    `${name}-${site}`,
                    {
                        metadata: {
                            namespace: args.namespace,
                            labels: { ...LIFECYCLE_LABELS, "quay-georep.io/job": "retirement-gate" },
                            // A gate that failed earlier is run afresh on the next `pulumi up`.
                            annotations: { "pulumi.com/replaceUnready": "true" },
                        },
                        spec: psqlJobSpec(
                            psqlContainer("gate", args.psqlImage, GATE_SCRIPT, this.databaseSecret, [
                                { name: "LOCATIONS", value: args.required.join(",") },
                                { name: "RETIRING", value: site },
                            ]),
                            this.sqlConfigMap,
                        ),
                    },
                    { parent: this, provider, customTimeouts: { create: "15m", update: "15m" } },
                ),
        );
        this.registerOutputs({ sqlConfigMap: this.sqlConfigMap, databaseSecret: this.databaseSecret });
    }
}

/** A Job spec running one `psql` container once (no retry: a failure must stop `pulumi up`), SQL mounted. */
export function psqlJobSpec(
    container: k8s.types.input.core.v1.Container,
    sqlConfigMap: pulumi.Input<string>,
): k8s.types.input.batch.v1.JobSpec {
    return {
        backoffLimit: 0,
        template: {
            metadata: { labels: LIFECYCLE_LABELS },
            spec: {
                restartPolicy: "Never",
                containers: [container],
                volumes: [{ name: "sql", configMap: { name: sqlConfigMap } }],
            },
        },
    };
}

/** A `psql` container running a script, with `DATABASE_URL` from the Secret and the SQL mounted. */
export function psqlContainer(
    name: string,
    image: string,
    script: string,
    databaseSecret: pulumi.Input<string>,
    env: { name: string; value: string }[],
): k8s.types.input.core.v1.Container {
    return {
        name,
        image,
        command: ["/bin/sh", "-c", script],
        env: [
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: databaseSecret, key: "DATABASE_URL" } } },
            ...env,
        ],
        volumeMounts: [{ name: "sql", mountPath: SQL_MOUNT, readOnly: true }],
        terminationMessagePolicy: "FallbackToLogsOnError",
        // No fixed UID: OpenShift's restricted SCC assigns one from the namespace range.
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
    };
}
