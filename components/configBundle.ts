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

/** The shared PostgreSQL as the bundle names it. */
export interface BundleDatabase {
    /** Hostname Quay and Clair connect to. */
    readonly host: pulumi.Input<string>;
    /** Port they connect to. */
    readonly port: pulumi.Input<number>;
    /** Quay's login (`DB_URI`). */
    readonly quay: LoginInput;
    /** Clair's login (`clair-config.yaml`). */
    readonly clair: LoginInput;
    /** PEM CA certificate of the server (default: none); set: clients verify it (`verify-full`), unset: `require`. */
    readonly caCertificate?: pulumi.Input<string>;
    /** `pool_max_conns` of each of Clair's three connection pools. */
    readonly clairPoolMaxConns: pulumi.Input<number>;
}

/** The shared Redis as the bundle names it. */
export interface BundleRedis {
    /** Hostname or IP Quay connects to. */
    readonly host: pulumi.Input<string>;
    /** Port it connects to. */
    readonly port: pulumi.Input<number>;
    /** `requirepass` (a secret). */
    readonly password: pulumi.Input<string>;
    /** Connect with TLS (`ssl`). */
    readonly tls: pulumi.Input<boolean>;
}

/** Inputs of the bundle; only whether the two keys are given is plain (it decides what is generated). */
export interface ConfigBundleArgs {
    /** `SERVER_HOSTNAME`. */
    readonly hostname: pulumi.Input<string>;
    /** Every site, in config order. */
    readonly sites: pulumi.Input<readonly Site[]>;
    /** Quay settings shared by every cluster. */
    readonly quay: pulumi.Input<QuaySettings>;
    /** The shared PostgreSQL and the two logins on it. */
    readonly database: BundleDatabase;
    /** The shared Redis. */
    readonly redis: BundleRedis;
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
    /**
     * Read-only mode: `REGISTRY_STATE: readonly` and the pre-shared service key read-only pods boot
     * with (its private key a secret); unset: normal mode. See `BundleInput.readonly`.
     */
    readonly readonly?: pulumi.Input<{ readonly kid: string; readonly privateKeyPem: string }>;
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

    /**
     * A key not given is generated with the `random` provider of `opts.providers` (needed only
     * then). Generated keys keep their names whether or not the other one is given (no URN moves).
     */
    constructor(name: string, args: ConfigBundleArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);

        const secretKey =
            args.secretKey ??
            new random.RandomPassword(`${name}-secret-key`, { length: 64, special: false }, { parent: this }).result;
        // Replacing this key makes every encrypted field in the shared database unreadable.
        const databaseSecretKey =
            args.databaseSecretKey ??
            new random.RandomPassword(
                `${name}-database-secret-key`,
                { length: 64, special: false },
                { parent: this, protect: true },
            ).result;

        const input = pulumi
            .output({
                hostname: args.hostname,
                sites: args.sites,
                quay: args.quay,
                database: args.database,
                redis: args.redis,
                buckets: args.buckets,
                secretKey: pulumi.secret(secretKey),
                databaseSecretKey: pulumi.secret(databaseSecretKey),
                tlsCertificate: args.tlsCertificate,
                tlsKey: args.tlsKey,
                ...(args.readonly !== undefined ? { readonly: pulumi.secret(args.readonly) } : {}),
            })
            .apply((v): BundleInput => v);
        this.bundle = pulumi.secret(input.apply((i) => renderBundle(i)));
        this.maintenanceBundle = pulumi.secret(input.apply((i) => renderBundle(i, { disablePushes: true })));
        this.databaseUrl = pulumi.secret(input.apply(quayDatabaseUrl));
        // A digest of high-entropy secrets reveals nothing; keeping it plain lets stacks compare it.
        this.sha256 = pulumi.unsecret(this.bundle.apply(bundleSha256));

        this.registerOutputs({
            bundle: this.bundle,
            maintenanceBundle: this.maintenanceBundle,
            databaseUrl: this.databaseUrl,
            sha256: this.sha256,
        });
    }
}
