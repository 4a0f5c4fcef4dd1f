/**
 * ConfigBundle: the one config bundle of the deployment, rendered once on the shared stack.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Bundle, BundleInput, bundleSha256, quayDatabaseUrl, renderBundle, ResolvedBucket } from "../lib/quayConfig";
import type { QuaySettings, Site } from "../lib/domain";

const TYPE = "quay-georep:bundle:ConfigBundle";

/** A database login whose password may come from another resource. */
export interface LoginInput {
    /** Database name. */
    readonly name: pulumi.Input<string>;
    /** Role name. */
    readonly user: pulumi.Input<string>;
    /** Role password (a secret). */
    readonly password: pulumi.Input<string>;
}

/** Inputs of the bundle. Topology is plain (it decides the content's shape); endpoints may be Outputs. */
export interface ConfigBundleArgs {
    /** `SERVER_HOSTNAME`. */
    readonly hostname: string;
    /** Every site, in config order. */
    readonly sites: readonly Site[];
    /** Quay settings shared by every cluster. */
    readonly quay: QuaySettings;
    /** The shared PostgreSQL and the two logins on it. */
    readonly database: {
        readonly host: pulumi.Input<string>;
        readonly port: pulumi.Input<number>;
        readonly quay: LoginInput;
        readonly clair: LoginInput;
        /** PEM CA certificate of the server; set: clients verify it (`verify-full`), unset: `require`. */
        readonly caCertificate?: string;
        /** `pool_max_conns` of each of Clair's connection pools. */
        readonly clairPoolMaxConns: number;
    };
    /** The shared Redis. */
    readonly redis: {
        readonly host: pulumi.Input<string>;
        readonly port: pulumi.Input<number>;
        readonly password: pulumi.Input<string>;
        readonly tls: boolean;
    };
    /** One bucket per configured (non-retired) site, keyed by site name. */
    readonly buckets: Readonly<Record<string, pulumi.Input<ResolvedBucket>>>;
    /** PEM certificate valid for `hostname`. */
    readonly tlsCertificate: pulumi.Input<string>;
    /** PEM private key of that certificate (a secret). */
    readonly tlsKey: pulumi.Input<string>;
    /** `SECRET_KEY` of a running Quay being adopted (a secret); unset: generated once here. */
    readonly secretKey?: pulumi.Input<string>;
    /** `DATABASE_SECRET_KEY` of the database's data (a secret); unset: generated once here, protected. */
    readonly databaseSecretKey?: pulumi.Input<string>;
}

/**
 * Renders `config.yaml`, `clair-config.yaml`, `ssl.cert` and `ssl.key` (and the database's CA when
 * given) once. `SECRET_KEY` and `DATABASE_SECRET_KEY` are set once for every cluster: if absent the
 * operator makes a different one per cluster, and sessions and encrypted DB fields break across
 * regions. Each is the one given (a database that already holds Quay's data needs its own keys)
 * or, when none is given, generated here.
 */
export class ConfigBundle extends pulumi.ComponentResource {
    /** The bundle Secret's data (file name → content), a secret. */
    public readonly bundle: pulumi.Output<Bundle>;
    /** The same bundle with `DISABLE_PUSHES: true`, for maintenance pods only (a secret). */
    public readonly maintenanceBundle: pulumi.Output<Bundle>;
    /**
     * Quay's `DB_URI` (a secret), for the lifecycle Jobs' `psql`. With a CA its `sslrootcert` is
     * `DATABASE_CA.quayPath`: a `psql` pod must mount the bundle's `database.pem` there.
     */
    public readonly databaseUrl: pulumi.Output<string>;
    /** SHA-256 of the bundle (see `bundleSha256`); not secret. */
    public readonly sha256: pulumi.Output<string>;

    constructor(name: string, args: ConfigBundleArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);

        // Generated keys keep their names whether or not the other one is given (no URN moves).
        const generated = args.secretKey === undefined || args.databaseSecretKey === undefined;
        // An explicit provider: stacks disable default providers (pulumi:disable-default-providers).
        const provider = generated ? new random.Provider(`${name}-random`, {}, { parent: this }) : undefined;
        const secretKey =
            args.secretKey ??
            new random.RandomPassword(`${name}-secret-key`, { length: 64, special: false }, { parent: this, provider })
                .result;
        // Replacing this key makes every encrypted field in the shared database unreadable.
        const databaseSecretKey =
            args.databaseSecretKey ??
            new random.RandomPassword(
                `${name}-database-secret-key`,
                { length: 64, special: false },
                { parent: this, provider, protect: true },
            ).result;

        const input = pulumi
            .output({
                database: args.database,
                redis: args.redis,
                buckets: args.buckets,
                secretKey: pulumi.secret(secretKey),
                databaseSecretKey: pulumi.secret(databaseSecretKey),
                tlsCertificate: args.tlsCertificate,
                tlsKey: args.tlsKey,
            })
            .apply((v): BundleInput => ({ hostname: args.hostname, sites: args.sites, quay: args.quay, ...v }));
        this.bundle = pulumi.secret(input.apply((i) => renderBundle(i)));
        this.maintenanceBundle = pulumi.secret(input.apply((i) => renderBundle(i, { disablePushes: true })));
        this.databaseUrl = pulumi.secret(input.apply(quayDatabaseUrl));
        // A digest of high-entropy secrets reveals nothing; keeping it plain lets stacks compare it.
        this.sha256 = pulumi.unsecret(this.bundle.apply(bundleSha256));

        this.registerOutputs({ bundle: this.bundle, sha256: this.sha256 });
    }
}
