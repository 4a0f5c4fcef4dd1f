/**
 * The checks of a database switchover, as Jobs in the shared stack's cluster (psql only):
 * - `ReadonlyServiceKey`: registers the pre-shared service key of read-only mode in the serving
 *   database before a read-only bundle is written (sql/readonly-service-key.sql);
 * - `LagGate`: before the promotion, proves the standby replayed everything the primary wrote
 *   before the gate started (lib/standbyScripts.ts `LAG_GATE_SCRIPT`);
 * - `PrimaryCheck`: after the promotion, proves the new primary accepts writes before the bundle
 *   points at it (`VERIFY_PRIMARY_SCRIPT`).
 * Each resolves its `done` output only once its Job completed (pulumi-kubernetes waits for a Job
 * and fails the update when it fails), so whatever is built from it waits.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubeName } from "../lib/names";
import { DATABASE_CA } from "../lib/quayConfig";
import { LAG_GATE_SCRIPT, VERIFY_PRIMARY_SCRIPT } from "../lib/standbyScripts";
import { JOB_LABEL, LIFECYCLE_LABELS, psqlContainer, timeouts } from "./lifecycleJob";

/** The Kubernetes side every switchover Job shares. */
export interface SwitchoverJobArgs {
    /** Namespace of the Job and its Secret. */
    readonly namespace: pulumi.Input<string>;
    /** Image with `psql` (pinned). */
    readonly psqlImage: pulumi.Input<string>;
    /** The database server's CA (PEM) when the URLs verify it (`sslrootcert`) (default: none). */
    readonly databaseCa?: pulumi.Input<string>;
    /** Deadline in minutes; plain: it sets Pulumi's own wait. */
    readonly timeoutMinutes: number;
    /** The Kubernetes name of the Job (stable per step, so a later run does not repeat it). */
    readonly jobName: string;
}

/**
 * A Secret with the URLs a switchover Job reads (and the CA their `sslrootcert` names), and one
 * psql Job running `script` with them as its environment. A Job that failed is replaced and run
 * afresh on the next `pulumi up` (`pulumi.com/replaceUnready`).
 */
abstract class SwitchoverJob extends pulumi.ComponentResource {
    /** The Job's name, resolved once it completed. */
    public readonly done: pulumi.Output<string>;

    protected constructor(
        type: string,
        name: string,
        args: SwitchoverJobArgs,
        kind: string,
        script: string,
        urls: Readonly<Record<string, pulumi.Input<string>>>,
        env: Readonly<Record<string, pulumi.Input<string>>>,
        opts?: pulumi.ComponentResourceOptions,
        sql: Readonly<Record<string, string>> = {},
    ) {
        super(type, name, {}, opts);
        const secret = new k8s.core.v1.Secret(
            `${name}-urls`,
            {
                metadata: { namespace: args.namespace, labels: LIFECYCLE_LABELS },
                type: "Opaque",
                stringData: {
                    // psqlContainer reads DATABASE_URL from this Secret; the other URLs come from it too.
                    DATABASE_URL: pulumi.secret(urls.DATABASE_URL ?? Object.values(urls)[0]),
                    ...Object.fromEntries(Object.entries(urls).map(([k, v]) => [k, pulumi.secret(v)])),
                    ...(args.databaseCa !== undefined ? { [DATABASE_CA.quayKey]: args.databaseCa } : {}),
                    // The SQL the script runs (mounted at /sql): the Job needs no other object to exist.
                    ...sql,
                },
            },
            { parent: this },
        );
        const fromSecret = Object.keys(urls)
            .filter((k) => k !== "DATABASE_URL")
            .map((k) => ({ name: k, valueFrom: { secretKeyRef: { name: secret.metadata.name, key: k } } }));
        const container = psqlContainer(
            kind,
            args.psqlImage,
            script,
            secret.metadata.name,
            Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
        );
        const job = new k8s.batch.v1.Job(
            `${name}-job`,
            {
                metadata: {
                    name: kubeName([args.jobName]),
                    namespace: args.namespace,
                    labels: { ...LIFECYCLE_LABELS, [JOB_LABEL]: kind },
                    annotations: { "pulumi.com/replaceUnready": "true" },
                },
                spec: {
                    backoffLimit: 0,
                    activeDeadlineSeconds: args.timeoutMinutes * 60,
                    template: {
                        metadata: { labels: LIFECYCLE_LABELS },
                        spec: {
                            restartPolicy: "Never",
                            containers: [
                                {
                                    ...container,
                                    env: [...(container.env as k8s.types.input.core.v1.EnvVar[]), ...fromSecret],
                                },
                            ],
                            // psqlContainer mounts "sql" at /sql and "database" where sslrootcert points: both from the Secret.
                            volumes: [
                                { name: "sql", secret: { secretName: secret.metadata.name } },
                                { name: "database", secret: { secretName: secret.metadata.name } },
                            ],
                        },
                    },
                },
            },
            { parent: this, customTimeouts: timeouts(args.timeoutMinutes) },
        );
        // A Job's ID is known only once pulumi-kubernetes' await saw it complete.
        this.done = job.id.apply(() => args.jobName);
        this.registerOutputs({ done: this.done });
    }
}

/** Inputs of the lag gate. */
export interface LagGateArgs extends SwitchoverJobArgs {
    /** The serving primary (a libpq URL, a secret). */
    readonly primaryUrl: pulumi.Input<string>;
    /** Its replica about to be promoted (a libpq URL, a secret). */
    readonly standbyUrl: pulumi.Input<string>;
    /** Seconds the standby may take to catch up (default: the script's 60). */
    readonly waitSeconds?: number;
}

/** Before a planned promotion: the standby has replayed every write the primary made before the gate. */
export class LagGate extends SwitchoverJob {
    constructor(name: string, args: LagGateArgs, opts?: pulumi.ComponentResourceOptions) {
        super(
            "quay-georep:standby:LagGate",
            name,
            args,
            "lag-gate",
            LAG_GATE_SCRIPT,
            { PRIMARY_URL: args.primaryUrl, STANDBY_URL: args.standbyUrl },
            {
                MAX_LAG_BYTES: "0",
                ...(args.waitSeconds !== undefined ? { WAIT_SECONDS: String(args.waitSeconds) } : {}),
            },
            opts,
        );
    }
}

/** Inputs of the check of a new primary. */
export interface PrimaryCheckArgs extends SwitchoverJobArgs {
    /** The promoted server (a libpq URL, a secret). */
    readonly databaseUrl: pulumi.Input<string>;
}

/** After a promotion: the server is out of recovery and accepts writes. */
export class PrimaryCheck extends SwitchoverJob {
    constructor(name: string, args: PrimaryCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super(
            "quay-georep:standby:PrimaryCheck",
            name,
            args,
            "verify-primary",
            VERIFY_PRIMARY_SCRIPT,
            { DATABASE_URL: args.databaseUrl },
            {},
            opts,
        );
    }
}

/** Inputs of the read-only service key's registration. */
export interface ReadonlyServiceKeyArgs extends SwitchoverJobArgs {
    /** The serving database (Quay's `DB_URI`, a secret). */
    readonly databaseUrl: pulumi.Input<string>;
    /** psql variables of sql/readonly-service-key.sql (lib/serviceKey.ts `serviceKeyPsqlVariables`). */
    readonly variables: Readonly<{ kid: string; jwk: string; name: string; expires_days: string }>;
    /** The text of sql/readonly-service-key.sql. */
    readonly sql: string;
}

/** The script: run the shipped SQL with the key's variables (values passed through the environment). */
const REGISTER_KEY_SCRIPT = `set -eu
psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -v kid="$KID" -v jwk="$JWK" -v name="$KEY_NAME" -v expires_days="$EXPIRES_DAYS" -f /sql/readonly-service-key.sql`;

/** Registers the read-only service key, approved, in the serving database. */
export class ReadonlyServiceKey extends SwitchoverJob {
    constructor(name: string, args: ReadonlyServiceKeyArgs, opts?: pulumi.ComponentResourceOptions) {
        super(
            "quay-georep:standby:ReadonlyServiceKey",
            name,
            args,
            "readonly-service-key",
            REGISTER_KEY_SCRIPT,
            { DATABASE_URL: args.databaseUrl },
            {
                KID: args.variables.kid,
                JWK: args.variables.jwk,
                KEY_NAME: args.variables.name,
                EXPIRES_DAYS: args.variables.expires_days,
            },
            opts,
            { "readonly-service-key.sql": args.sql },
        );
    }
}
