/**
 * RetirementGate: before the bundle drops a retired site, prove from Quay's own database that
 * nothing would be lost. Also holds what every lifecycle Job reads: the status SQL and the
 * database URL.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GATE_SCRIPT } from "../lib/jobScripts";
import { kubeName } from "../lib/names";
import { DATABASE_CA } from "../lib/quayConfig";
import { JOB_LABEL, LIFECYCLE_LABELS, psqlContainer, psqlJobSpec, timeouts } from "./lifecycleJob";

const TYPE = "quay-georep:lifecycle:RetirementGate";

/** A site being retired, and the locations that must hold every blob before the bundle drops it. */
export interface RetiringSite {
    /** The retiring location ID (`RETIRING`). */
    readonly site: string;
    /** The locations that stay and must hold every blob in use (`LOCATIONS`). */
    readonly required: pulumi.Input<readonly string[]>;
}

/** Inputs of the gate; the cluster's Kubernetes provider comes from `opts.provider`. */
export interface RetirementGateArgs {
    /** Namespace the ConfigMap, the Secret and the Jobs go to. */
    readonly namespace: pulumi.Input<string>;
    /** Quay's database URL (a secret). */
    readonly databaseUrl: pulumi.Input<string>;
    /** The database server's CA (PEM), when `DATABASE_URL` verifies it (`sslrootcert`) (default: none). */
    readonly databaseCa?: pulumi.Input<string>;
    /** The SQL files every lifecycle Job may run, by file name (sql/*.sql), mounted at `/sql`. */
    readonly sql: pulumi.Input<Readonly<Record<string, pulumi.Input<string>>>>;
    /** Image with `psql` (pinned). */
    readonly psqlImage: pulumi.Input<string>;
    /** Sites being retired in this run; plain: one gate Job per site. */
    readonly retiring: readonly RetiringSite[];
    /** Deadline of a gate, in minutes; plain: it sets Pulumi's own wait (`customTimeouts`). */
    readonly timeoutMinutes: number;
    /** Name of the SQL ConfigMap (default `quay-georep-replication-sql`). */
    readonly sqlConfigMapName?: pulumi.Input<string>;
    /** Name of the Secret holding `DATABASE_URL` (default `quay-georep-lifecycle-database`). */
    readonly databaseSecretName?: pulumi.Input<string>;
    /** Prefix of each gate Job's name, followed by the site (default `quay-georep-gate`). */
    readonly jobPrefix?: pulumi.Input<string>;
}

/** Defaults of `RetirementGateArgs`: the Kubernetes names of the first release (the runbook uses them). */
export const GATE_DEFAULTS = {
    sqlConfigMapName: "quay-georep-replication-sql",
    databaseSecretName: "quay-georep-lifecycle-database",
    jobPrefix: "quay-georep-gate",
} as const;

/**
 * One Job per retiring site runs the status SQL for the remaining locations and fails unless
 * replication is complete. Pulumi waits for each Job and stops the update when one fails; `passed`
 * resolves only once every gate passed, so whatever is built from it (the bundle, and through it
 * the bundle Secrets and the Jobs that mount them) waits for the gates, in preview as unknown.
 */
export class RetirementGate extends pulumi.ComponentResource {
    /** Name of the ConfigMap holding the SQL. */
    public readonly sqlConfigMap: pulumi.Output<string>;
    /** Name of the Secret holding `DATABASE_URL`. */
    public readonly databaseSecret: pulumi.Output<string>;
    /** The sites whose gate passed in this run, resolved once every gate Job completed (`[]` when none runs). */
    public readonly passed: pulumi.Output<string[]>;

    /** Children inherit the cluster's Kubernetes provider from `opts.provider`. */
    constructor(name: string, args: RetirementGateArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const jobPrefix = pulumi.output(args.jobPrefix ?? GATE_DEFAULTS.jobPrefix);
        const sql = new k8s.core.v1.ConfigMap(
            `${name}-sql`,
            {
                metadata: {
                    name: args.sqlConfigMapName ?? GATE_DEFAULTS.sqlConfigMapName,
                    namespace: args.namespace,
                    labels: LIFECYCLE_LABELS,
                },
                data: args.sql,
            },
            { parent: this },
        );
        const db = new k8s.core.v1.Secret(
            `${name}-database`,
            {
                metadata: {
                    name: args.databaseSecretName ?? GATE_DEFAULTS.databaseSecretName,
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
            { parent: this },
        );
        this.sqlConfigMap = sql.metadata.name;
        this.databaseSecret = db.metadata.name;

        // A gate exists only in the run that drops its site from the bundle (lib/topology.ts), so a
        // later run never repeats it; one that failed is replaced and run afresh on the next `pulumi up`.
        const gates = args.retiring.map(
            ({ site, required }) =>
                new k8s.batch.v1.Job(
                    `${name}-${site}`,
                    {
                        metadata: {
                            name: jobPrefix.apply((prefix) => kubeName([prefix, site])),
                            namespace: args.namespace,
                            labels: { ...LIFECYCLE_LABELS, [JOB_LABEL]: "retirement-gate" },
                            annotations: { "pulumi.com/replaceUnready": "true" },
                        },
                        spec: {
                            ...psqlJobSpec(
                                psqlContainer("gate", args.psqlImage, GATE_SCRIPT, this.databaseSecret, [
                                    { name: "LOCATIONS", value: pulumi.output(required).apply((r) => r.join(",")) },
                                    { name: "RETIRING", value: site },
                                ]),
                                this.sqlConfigMap,
                                this.databaseSecret,
                            ),
                            activeDeadlineSeconds: args.timeoutMinutes * 60,
                        },
                    },
                    { parent: this, customTimeouts: timeouts(args.timeoutMinutes) },
                ),
        );
        // A Job's ID is known only once pulumi-kubernetes' await saw it complete.
        const sites = args.retiring.map((r) => r.site);
        this.passed = pulumi.all(gates.map((g) => g.id)).apply(() => sites);

        this.registerOutputs({
            sqlConfigMap: this.sqlConfigMap,
            databaseSecret: this.databaseSecret,
            passed: this.passed,
        });
    }
}
