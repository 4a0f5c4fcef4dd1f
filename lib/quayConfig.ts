/**
 * Pure rendering of the config bundle: Quay's `config.yaml`, Clair's `clair-config.yaml`, and the
 * TLS pair. No Pulumi here: values in, bytes out, so the bundle is rendered once, deterministically
 * (sorted keys, fixed YAML options), and the same inputs always give the same bytes.
 *
 * Key names follow Quay's config schema (quay/quay `util/config/schema.py`) and the storage driver
 * parameters Quay reads (`storage/cloud.py`, `storage/azurestorage.py`); see docs/facts §2.
 */
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import type { QuaySettings, Site } from "./domain";
import { SERVICE_KEY_CONFIG, SERVICE_KEY_FILES } from "./serviceKey";

/** A storage driver entry of `DISTRIBUTED_STORAGE_CONFIG`: `[DriverName, {params}]`. */
export type StorageEntry = readonly [string, Readonly<Record<string, string | number | boolean>>];

/** Where and how one site's bucket is reached, with its credentials resolved. */
export type ResolvedBucket =
    | {
          readonly cloud: "aws";
          readonly bucket: string;
          readonly storagePath: string;
          readonly region?: string;
          readonly endpointUrl?: string;
          readonly accessKey?: string;
          readonly secretKey?: string;
      }
    | {
          readonly cloud: "azure";
          readonly container: string;
          readonly accountName: string;
          readonly storagePath: string;
          readonly endpointUrl?: string;
          readonly accountKey?: string;
      };

/** A login to the shared PostgreSQL, resolved. */
export interface ResolvedLogin {
    readonly name: string;
    readonly user: string;
    readonly password: string;
}

/** Everything the bundle is rendered from, every value already known. */
export interface BundleInput {
    readonly hostname: string;
    readonly sites: readonly Site[];
    readonly database: {
        readonly host: string;
        readonly port: number;
        readonly quay: ResolvedLogin;
        readonly clair: ResolvedLogin;
        /** PEM CA certificate(s) the server's certificate chains to: clients then verify it (`verify-full`). */
        readonly caCertificate?: string;
        /** `pool_max_conns` of each of Clair's three connection pools (indexer, matcher, notifier). */
        readonly clairPoolMaxConns: number;
    };
    readonly redis: { readonly host: string; readonly port: number; readonly password: string; readonly tls: boolean };
    /** Bucket per site name; retired sites need none. */
    readonly buckets: Readonly<Record<string, ResolvedBucket>>;
    readonly secretKey: string;
    readonly databaseSecretKey: string;
    readonly quay: QuaySettings;
    readonly tlsCertificate: string;
    readonly tlsKey: string;
    /**
     * Read-only mode (a database switchover in progress): `REGISTRY_STATE: readonly` and the
     * pre-shared service key a read-only pod boots with (quay/quay boot.py
     * `setup_instance_service_key`: in read-only mode it cannot insert its own, and refuses to start
     * unless the key named by `INSTANCE_SERVICE_KEY_KID_LOCATION` is in the database and the PEM at
     * `INSTANCE_SERVICE_KEY_LOCATION` exists). The operator mounts every bundle file at /conf/stack
     * (quay-operator pkg/kustomize/kustomize.go `Inflate`). Absent: normal mode.
     */
    readonly readonly?: { readonly kid: string; readonly privateKeyPem: string };
}

/** The bundle Secret's data: file name → content. */
export type Bundle = Readonly<Record<string, string>>;

/** Bundle file names, as the operator reads them from the Secret (plus `DATABASE_CA`'s two with a CA). */
export const BUNDLE_FILES = ["clair-config.yaml", "config.yaml", "ssl.cert", "ssl.key"] as const;

/**
 * YAML output options: sorted keys, no line folding and no anchors/aliases (the two Redis blocks
 * are the same object), so output is plain and stable byte for byte.
 */
function toYaml(value: unknown): string {
    return stringify(value, { sortMapEntries: true, lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false });
}

/** Sites whose storage is still configured: every site that is not retired. */
export function configuredSites<S extends Pick<Site, "state">>(sites: readonly S[]): S[] {
    return sites.filter((s) => s.state !== "retired");
}

/** Sites that take new blobs and get replicas: the active ones, in config order. */
export function activeSites(sites: readonly Site[]): Site[] {
    return sites.filter((s) => s.state === "active");
}

/** The `DISTRIBUTED_STORAGE_CONFIG` entry for one bucket, with exactly the parameter names Quay reads. */
export function storageEntry(bucket: ResolvedBucket): StorageEntry {
    if (bucket.cloud === "aws") {
        const params: Record<string, string> = { s3_bucket: bucket.bucket, storage_path: bucket.storagePath };
        // Setting s3_region forces AWS's endpoint; S3-compatible storage uses endpoint_url instead.
        if (bucket.endpointUrl !== undefined) params.endpoint_url = bucket.endpointUrl;
        else if (bucket.region !== undefined) params.s3_region = bucket.region;
        // Without keys, Quay uses the AWS default credential chain (e.g. a pod identity).
        if (bucket.accessKey !== undefined && bucket.secretKey !== undefined) {
            params.s3_access_key = bucket.accessKey;
            params.s3_secret_key = bucket.secretKey;
        }
        return ["S3Storage", params];
    }
    // Quay's AzureStorage authenticates with the account key only (storage/azurestorage.py,
    // AzureStorage.__init__: BlobServiceClient(credential=azure_account_key)); a SAS token is never used.
    if (bucket.accountKey === undefined) {
        throw new Error(`the Azure container ${bucket.container} has no account key (config validation requires one)`);
    }
    const params: Record<string, string> = {
        azure_account_name: bucket.accountName,
        azure_container: bucket.container,
        storage_path: bucket.storagePath,
        azure_account_key: bucket.accountKey,
    };
    if (bucket.endpointUrl !== undefined) params.endpoint_url = bucket.endpointUrl;
    return ["AzureStorage", params];
}

/**
 * Where the server's CA certificate is, when `database.caCertificate` is given. The bundle carries it
 * twice, once where each consumer's pods find it (quay/quay-operator, verified at 328d886):
 *
 * - `database.pem`: the operator copies every bundle key into the `quay-config-secret` it mounts at
 *   `/conf/stack` in quay-app, quay-mirror and the upgrade (migration) Job (pkg/kustomize/kustomize.go
 *   `Inflate` → `generate`; kustomize/base/quay.deployment.yaml), removing only `ssl.*`, `clair-ssl.*`
 *   and `extra_ca_cert_*` (pkg/middleware/middleware.go `Process`). It is Quay's own name for it
 *   (quay/quay config-tool/pkg/lib/shared/validators.go `ValidateDatabaseConnection`: "the value of
 *   sslrootcert should be conf/stack/database.pem"), and this program's lifecycle Jobs, which mount
 *   the bundle itself at `/conf/stack`, find it at the same path.
 * - `extra_ca_cert_database.pem`: the operator moves `extra_ca_cert_*` keys into its `extra-ca-certs`
 *   Secret (pkg/kustomize/kustomize.go `KustomizationFor`), which Clair mounts at `/var/run/certs`
 *   (kustomize/components/clair/clair.deployment.yaml, volume `certificates`); Clair never sees
 *   `/conf/stack`. Quay also installs it into its trust store (conf/init/certs_install.sh), harmless.
 *
 * A file path, not `sslrootcert=system`: that needs libpq 16 or later, and the Quay image builds
 * psycopg2 against UBI 9's `libpq-devel` (quay/quay Dockerfile), whose version is not pinned there.
 * A `psql` pod using `DB_URI` must mount the bundle's `database.pem` at `quayPath` too.
 */
export const DATABASE_CA = {
    /** Bundle key for Quay (and the lifecycle Jobs), mounted at `quayPath`. */
    quayKey: "database.pem",
    quayPath: "/conf/stack/database.pem",
    /** Bundle key for Clair, mounted at `clairPath`. */
    clairKey: "extra_ca_cert_database.pem",
    clairPath: "/var/run/certs/database.pem",
} as const;

/** libpq's TLS parameters (`sslmode`, and `sslrootcert` when verifying); a type, so it is a query too. */
export type PostgresTls = {
    readonly sslmode: "require" | "verify-full";
    readonly sslrootcert?: string;
};

/**
 * `verify-full` against the CA file at `caPath` when a CA is given, else `require` (encrypted but
 * unverified: libpq's default `prefer` would even fall back to plain text).
 */
export function postgresTls(caCertificate: string | undefined, caPath: string): PostgresTls {
    return caCertificate === undefined ? { sslmode: "require" } : { sslmode: "verify-full", sslrootcert: caPath };
}

/**
 * A PostgreSQL URL with every part percent-encoded and the given query parameters (default
 * `sslmode=require`). libpq, SQLAlchemy (Quay's migrations) and pgx (Clair) all read `sslmode` and
 * `sslrootcert` from the query; a path's `/` stays readable (it is valid in a query).
 */
export function postgresUrl(
    host: string,
    port: number,
    login: ResolvedLogin,
    params: Readonly<Record<string, string | number | undefined>> = { sslmode: "require" },
): string {
    // Only an IPv6 literal takes brackets (not, say, an offline placeholder with a colon in it).
    const h = /^[0-9a-f:.]+$/i.test(host) && host.includes(":") ? `[${host}]` : host;
    const e = encodeURIComponent;
    const query = Object.entries(params)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${e(k)}=${e(String(v)).replace(/%2F/g, "/")}`)
        .join("&");
    return `postgresql://${e(login.user)}:${e(login.password)}@${h}:${port}/${e(login.name)}?${query}`;
}

/** Quay's `DB_URI`: read by Alembic migrations and `psql`, whose drivers honour its query. */
export function quayDatabaseUrl(input: BundleInput): string {
    const db = input.database;
    return postgresUrl(db.host, db.port, db.quay, postgresTls(db.caCertificate, DATABASE_CA.quayPath));
}

/**
 * Quay's `DB_CONNECTION_ARGS`. The app's own connections ignore the URL's query: `_db_from_url`
 * (quay/quay data/database.py) takes only host, port, user, password and database from `DB_URI`
 * and passes `DB_CONNECTION_ARGS` as keyword arguments to peewee's `PostgresqlDatabase`, which hands
 * them to `psycopg2.connect`. Without `sslmode` here libpq's default `prefer` applies.
 */
export function dbConnectionArgs(input: BundleInput): Record<string, unknown> {
    return {
        autorollback: true,
        threadlocals: true,
        ...postgresTls(input.database.caCertificate, DATABASE_CA.quayPath),
    };
}

/** Quay's `config.yaml` as a plain object (every key from the facts table, docs §2). */
export function quayConfig(input: BundleInput): Record<string, unknown> {
    const configured = configuredSites(input.sites);
    const active = activeSites(input.sites).map((s) => s.name);
    const storage: Record<string, StorageEntry> = {};
    for (const site of configured) {
        const bucket = input.buckets[site.name];
        if (bucket === undefined) throw new Error(`no bucket resolved for site ${site.name}`);
        storage[site.name] = storageEntry(bucket);
    }
    const redis = {
        host: input.redis.host,
        port: input.redis.port,
        password: input.redis.password,
        ...(input.redis.tls ? { ssl: true } : {}),
    };
    // Quay's defaults for these point at "local_us", which does not exist in a geo-replicated setup.
    const home = active[0];
    return {
        ACTION_LOG_ARCHIVE_LOCATION: home,
        AUTHENTICATION_TYPE: input.quay.authenticationType,
        BUILDLOGS_REDIS: redis,
        DATABASE_SECRET_KEY: input.databaseSecretKey,
        DB_CONNECTION_ARGS: dbConnectionArgs(input),
        DB_URI: quayDatabaseUrl(input),
        DEFAULT_TAG_EXPIRATION: input.quay.defaultTagExpiration,
        DISTRIBUTED_STORAGE_CONFIG: storage,
        DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: active,
        DISTRIBUTED_STORAGE_PREFERENCE: active,
        FEATURE_STORAGE_REPLICATION: true,
        LOG_ARCHIVE_LOCATION: home,
        PREFERRED_URL_SCHEME: "https",
        SECRET_KEY: input.secretKey,
        SERVER_HOSTNAME: input.hostname,
        ...(input.quay.superUsers.length > 0 ? { SUPER_USERS: input.quay.superUsers } : {}),
        TAG_EXPIRATION_OPTIONS: input.quay.tagExpirationOptions,
        USERFILES_LOCATION: home,
        USER_EVENTS_REDIS: redis,
        ...(input.readonly !== undefined ? { REGISTRY_STATE: "readonly", ...SERVICE_KEY_CONFIG } : {}),
    };
}

/**
 * Clair's connection string: a libpq URL that pgx parses (`pgxpool.ParseConfig`, via claircore
 * datastore/postgres `Connect`), honouring `sslmode`, `sslrootcert` and `pool_max_conns`. Without
 * `pool_max_conns` each pool opens up to max(4, the node's CPUs) connections. The operator writes
 * `pool_max_conns` itself only when it renders Clair's database config (quay-operator
 * pkg/kustomize/secrets.go `clairConfigFor`: 33 with the HPA managed, 10 without); ours replaces it.
 */
export function clairConnString(input: BundleInput): string {
    const db = input.database;
    return postgresUrl(db.host, db.port, db.clair, {
        ...postgresTls(db.caCertificate, DATABASE_CA.clairPath),
        pool_max_conns: db.clairPoolMaxConns,
    });
}

/**
 * Clair's config for an unmanaged `clairpostgres`: the operator merges it into Clair's own. No
 * `max_conn_pool`: the matcher never reads it (quay/clair config/matcher.go marks it deprecated;
 * initialize/services.go connects with the connection string alone).
 */
export function clairConfig(input: BundleInput): Record<string, unknown> {
    const conn = clairConnString(input);
    return {
        indexer: { connstring: conn, layer_scan_concurrency: 5, migrations: true, scanlock_retry: 10 },
        matcher: { connstring: conn, migrations: true },
        notifier: { connstring: conn, delivery_interval: "1m", migrations: true, poll_interval: "5m" },
    };
}

/** Ensures a PEM file ends with exactly one newline (editors and `pulumi config set` disagree). */
export function pem(text: string): string {
    return `${text.trim()}\n`;
}

/**
 * Renders the whole bundle: the Secret's data, identical wherever it is deployed.
 * `disablePushes` renders the maintenance variant that only `util.removelocation`'s pod mounts
 * (since Quay 3.17 it refuses to run unless its config has `DISABLE_PUSHES: true`).
 */
export function renderBundle(input: BundleInput, opts: { disablePushes?: boolean } = {}): Bundle {
    const config = quayConfig(input);
    const ca = input.database.caCertificate;
    return {
        "clair-config.yaml": toYaml(clairConfig(input)),
        "config.yaml": toYaml(opts.disablePushes ? { ...config, DISABLE_PUSHES: true } : config),
        ...(ca !== undefined ? { [DATABASE_CA.quayKey]: pem(ca), [DATABASE_CA.clairKey]: pem(ca) } : {}),
        "ssl.cert": pem(input.tlsCertificate),
        "ssl.key": pem(input.tlsKey),
        ...(input.readonly !== undefined
            ? {
                  // The kid as Quay writes it itself (no newline: boot.py reads the file whole).
                  [SERVICE_KEY_FILES.kid]: input.readonly.kid,
                  [SERVICE_KEY_FILES.pem]: pem(input.readonly.privateKeyPem),
              }
            : {}),
    };
}

/**
 * SHA-256 of a bundle: over its files sorted by name, each as `name NUL content NUL`.
 * Stacks export it so a reviewer (or the policy pack) can see every cluster got the same bytes.
 */
export function bundleSha256(bundle: Bundle): string {
    const hash = createHash("sha256");
    for (const name of Object.keys(bundle).sort()) {
        hash.update(name).update("\0").update(bundle[name]).update("\0");
    }
    return hash.digest("hex");
}
