/**
 * The shared stack's role: create (or point at) the shared PostgreSQL, Redis and one bucket per
 * site, and render the one config bundle from what they really are. No value is copied by hand:
 * hosts, generated passwords, bucket names and keys flow from the resources into the bundle.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigBundle, LoginInput } from "../components/configBundle";
import { RdsPostgres } from "../components/database/aws";
import { FlexiblePostgres } from "../components/database/azure";
import { QuayDatabases } from "../components/database/logins";
import type { PostgresServer } from "../components/database/server";
import { RedisEc2 } from "../components/redis/aws";
import { RedisAzureVm } from "../components/redis/azure";
import { S3SiteBucket } from "../components/storage/aws";
import { S3Access } from "../components/storage/awsAccess";
import { AzureSiteContainer } from "../components/storage/azure";
import { siteStorageName } from "../lib/names";
import { configuredSites, ResolvedBucket } from "../lib/quayConfig";
import type { EffectiveSite } from "../lib/topology";
import type { QuayGeorepConfig, SharedSecrets, Site } from "../config/config";
import type { CreatedStorage } from "../config/services";
import type { SecretValue } from "../config/validate";
import type { StackProviders } from "./providers";
import { flexibleArgs, rdsArgs, redisAzureArgs, redisEc2Args } from "./serviceArgs";

/** Where the shared services are: no secrets, for people and tools (`pulumi stack output services`). */
export interface ServiceEndpoints {
    /** Where the database is; created servers add how to find them (`identifier`, `arn`; `resourceGroup`, `server`). */
    readonly database: {
        readonly mode: string;
        readonly host: string;
        readonly port: number;
        readonly ids?: Record<string, string>;
    };
    /** Where Redis is; a created VM adds how to reach it (`instanceId`; `resourceGroup`, `vm`). */
    readonly redis: {
        readonly mode: string;
        readonly host: string;
        readonly port: number;
        readonly ids?: Record<string, string>;
    };
    /** Per configured site: the bucket (S3) or account, container and resource group (Azure). */
    readonly buckets: Readonly<Record<string, Readonly<Record<string, string>>>>;
    /** The role Quay assumes for S3 (`storage.aws.credentials: role`). */
    readonly s3RoleArn?: string;
}

/** What the shared stack hands to every site stack (through its outputs). */
export interface SharedOutputs {
    /** The bundle (a secret). */
    readonly bundle: pulumi.Output<Record<string, string>>;
    /** Its SHA-256. */
    readonly bundleSha256: pulumi.Output<string>;
    /** Location IDs present in the bundle's `DISTRIBUTED_STORAGE_CONFIG`. */
    readonly locations: readonly string[];
    /** Location IDs that take new blobs. */
    readonly activeLocations: readonly string[];
    /** Where the shared services are. */
    readonly services: pulumi.Output<ServiceEndpoints>;
}

/** What the shared stack's lifecycle Jobs need from the bundle; not stack outputs. */
export interface SharedInternals {
    /** The bundle with pushes disabled, for `util.removelocation` (a secret). */
    readonly maintenanceBundle: pulumi.Output<Record<string, string>>;
    /** Quay's `DB_URI` (a secret), for `psql`. */
    readonly databaseUrl: pulumi.Output<string>;
}

/** The `ids` of a created server, for the `services` output; nothing for an existing one. */
function ids(server: { ids?: pulumi.Output<Record<string, string>> }): { ids?: pulumi.Output<Record<string, string>> } {
    return server.ids === undefined ? {} : { ids: server.ids };
}

/** A config secret as a Pulumi secret Output. */
function secret(value: SecretValue | undefined): pulumi.Output<string> {
    if (value === undefined) throw new Error("a required secret was not validated");
    return pulumi.secret(value.reveal());
}

/** The shared PostgreSQL and the two logins on it. */
function sharedDatabase(cfg: QuayGeorepConfig, secrets: SharedSecrets, providers: StackProviders) {
    const db = cfg.database;
    const name = `${cfg.project}-database`;
    let server: PostgresServer & { ids?: pulumi.Output<Record<string, string>> };
    switch (db.mode) {
        case "aws":
            server = new RdsPostgres(name, rdsArgs(db), { providers: [providers.aws(db.region), providers.random()] });
            break;
        case "azure":
            server = new FlexiblePostgres(name, flexibleArgs(db), {
                providers: [providers.azure(), providers.random()],
            });
            break;
        case "existing":
            if (db.admin === undefined) {
                // Roles made by the team: their passwords are config secrets (issue 2's contract).
                const login = (l: typeof db.quay, password: SecretValue | undefined): LoginInput => ({
                    ...l,
                    password: secret(password),
                });
                return {
                    host: pulumi.output(db.host),
                    port: pulumi.output(db.port),
                    quay: login(db.quay, secrets.databasePassword),
                    clair: login(db.clair, secrets.clairDatabasePassword),
                };
            }
            server = {
                host: pulumi.output(db.host),
                port: pulumi.output(db.port),
                adminUser: pulumi.output(db.admin.user),
                adminPassword: secret(secrets.databaseAdminPassword),
                adminDatabase: db.admin.database,
                superuser: db.admin.superuser,
            };
            break;
        default: {
            const unknown: never = db;
            throw new Error(`unknown database mode in ${JSON.stringify(unknown)}`);
        }
    }
    const logins = new QuayDatabases(
        `${cfg.project}-database-logins`,
        { server, quay: db.quay, clair: db.clair },
        { providers: [providers.random()] },
    );
    return { host: server.host, port: server.port, quay: logins.quay, clair: logins.clair, ids: server.ids };
}

/** The shared Redis. */
function sharedRedis(cfg: QuayGeorepConfig, secrets: SharedSecrets, providers: StackProviders) {
    const redis = cfg.redis;
    switch (redis.mode) {
        case "existing":
            return {
                host: pulumi.output(redis.host),
                port: pulumi.output(redis.port),
                tls: redis.tls,
                password: secret(secrets.redisPassword),
            };
        case "aws":
        case "azure": {
            const name = `${cfg.project}-redis`;
            const vm =
                redis.mode === "aws"
                    ? new RedisEc2(name, redisEc2Args(redis), {
                          providers: [providers.aws(redis.region), providers.random()],
                      })
                    : new RedisAzureVm(name, redisAzureArgs(redis), {
                          providers: [providers.azure(), providers.random()],
                      });
            return { host: vm.host, port: vm.port, tls: redis.tls, password: vm.password, ids: vm.ids };
        }
        default: {
            const unknown: never = redis;
            throw new Error(`unknown redis mode in ${JSON.stringify(unknown)}`);
        }
    }
}

/** The bucket entry for each configured site, from `storage` and the stack's credentials. */
function existingBuckets(
    cfg: QuayGeorepConfig,
    secrets: SharedSecrets,
    sites: readonly Site[],
): Record<string, pulumi.Input<ResolvedBucket>> {
    if (cfg.storage.mode !== "existing") throw new Error("not existing storage");
    const buckets: Record<string, pulumi.Input<ResolvedBucket>> = {};
    for (const site of configuredSites(sites)) {
        const bucket = cfg.storage.buckets[site.name];
        const creds = secrets.storageCredentials[site.name] ?? {};
        const reveal = (key: string) => (creds[key] ? pulumi.secret(creds[key].reveal()) : undefined);
        buckets[site.name] =
            bucket.cloud === "aws"
                ? pulumi.output({
                      ...bucket,
                      region: site.region,
                      accessKey: reveal("accessKey"),
                      secretKey: reveal("secretKey"),
                  })
                : pulumi.output({
                      ...bucket,
                      accountKey: reveal("accountKey"),
                  });
    }
    return buckets;
}

/**
 * One bucket per site, created in the site's cloud and region. Every site keeps its bucket
 * declared, retired ones too (unprotected, still retained), so retiring never deletes data and a
 * later removal from config only forgets it. The bundle lists configured sites only.
 */
function createdBuckets(
    cfg: QuayGeorepConfig,
    storage: CreatedStorage,
    sites: readonly EffectiveSite[],
    providers: StackProviders,
) {
    const s3: Record<string, S3SiteBucket> = {};
    const azure: Record<string, AzureSiteContainer> = {};
    for (const site of sites) {
        // A site no longer configured keeps the bucket it was deployed with (its record).
        const name = siteStorageName(cfg.project, site.name);
        const common = {
            site: site.name,
            state: site.state,
            protect: site.state !== "retired",
            versioning: storage.versioning,
        };
        if (site.cloud === "aws") {
            s3[site.name] = new S3SiteBucket(name, common, { providers: [providers.aws(site.region)] });
        } else {
            azure[site.name] = new AzureSiteContainer(
                name,
                {
                    ...common,
                    location: site.region,
                    sku: storage.azure.sku,
                    container: site.storage.container ?? storage.azure.container,
                    accountPrefix: `qg${site.name.replace(/[^a-z0-9]/g, "")}`,
                },
                { providers: [providers.azure(), providers.random()] },
            );
        }
    }
    const configured = configuredSites(sites);
    const s3Configured = configured.filter((s) => s3[s.name] !== undefined);
    const access =
        s3Configured.length > 0
            ? new S3Access(
                  `${cfg.project}-s3-access`,
                  {
                      credentials: storage.aws.credentials,
                      trustedPrincipals: storage.aws.trustedPrincipals,
                      bucketArns: Object.fromEntries(s3Configured.map((s) => [s.name, s3[s.name].arn])),
                  },
                  // IAM is global; `storage.aws.iamRegion` names the region its API calls go to.
                  { providers: [providers.aws(storage.aws.iamRegion)] },
              )
            : undefined;
    const buckets: Record<string, pulumi.Input<ResolvedBucket>> = {};
    const endpoints: Record<string, pulumi.Input<Record<string, string>>> = {};
    for (const site of configured) {
        const storagePath = site.storage.storagePath;
        if (s3[site.name]) {
            const bucket = s3[site.name].bucket;
            buckets[site.name] = pulumi.output({
                cloud: "aws" as const,
                bucket,
                storagePath,
                region: site.region,
                accessKey: access?.accessKeyId,
                secretKey: access?.secretAccessKey,
            });
            endpoints[site.name] = pulumi.output({ cloud: "aws", region: site.region, bucket });
        } else {
            const c = azure[site.name];
            buckets[site.name] = pulumi.output({
                cloud: "azure" as const,
                container: c.container,
                accountName: c.accountName,
                storagePath,
                accountKey: c.accountKey,
            });
            endpoints[site.name] = pulumi.output({
                cloud: "azure",
                region: site.region,
                accountName: c.accountName,
                container: c.container,
                resourceGroup: c.resourceGroup,
            });
        }
    }
    return { buckets, endpoints, roleArn: access?.roleArn };
}

/**
 * Creates the shared stack's resources for the sites this run deploys (`resolveTopology`: the
 * configured ones, plus deployed ones still being retired) and returns what site stacks consume.
 */
export function deployShared(
    cfg: QuayGeorepConfig,
    sites: readonly EffectiveSite[],
    providers: StackProviders,
): SharedOutputs & { readonly internal: SharedInternals } {
    const secrets = cfg.secrets;
    if (secrets === undefined) throw new Error("the shared stack's secrets were not validated");
    const database = sharedDatabase(cfg, secrets, providers);
    const redis = sharedRedis(cfg, secrets, providers);
    const storage =
        cfg.storage.mode === "create"
            ? createdBuckets(cfg, cfg.storage, sites, providers)
            : { buckets: existingBuckets(cfg, secrets, sites), endpoints: undefined, roleArn: undefined };
    // The bundle generates the keys not given, with the random provider (needed only then).
    const generatesKeys = secrets.secretKey === undefined || secrets.databaseSecretKey === undefined;
    const bundle = new ConfigBundle(
        `${cfg.project}-bundle`,
        {
            hostname: cfg.hostname,
            sites: sites.map(siteOf),
            quay: cfg.quay,
            database: {
                ...database,
                ...(cfg.database.caCertificate !== undefined ? { caCertificate: cfg.database.caCertificate } : {}),
                clairPoolMaxConns: cfg.database.clairPoolMaxConns,
            },
            redis,
            buckets: storage.buckets,
            tlsCertificate: secret(secrets.tlsCertificate),
            tlsKey: secret(secrets.tlsKey),
            // Given (an existing database's keys) or, when absent, generated once by the bundle.
            ...(secrets.secretKey !== undefined ? { secretKey: secret(secrets.secretKey) } : {}),
            ...(secrets.databaseSecretKey !== undefined
                ? { databaseSecretKey: secret(secrets.databaseSecretKey) }
                : {}),
        },
        { providers: generatesKeys ? [providers.random()] : [] },
    );
    const services = pulumi.output({
        // Where to find each in its cloud (instance IDs, resource groups) for the runbook's manual steps.
        database: { mode: cfg.database.mode, host: database.host, port: database.port, ...ids(database) },
        redis: { mode: cfg.redis.mode, host: redis.host, port: redis.port, ...ids(redis) },
        buckets: storage.endpoints ?? existingEndpoints(cfg, sites),
        ...(storage.roleArn ? { s3RoleArn: storage.roleArn } : {}),
    });
    return {
        bundle: bundle.bundle,
        bundleSha256: bundle.sha256,
        locations: configuredSites(sites).map((s) => s.name),
        activeLocations: sites.filter((s) => s.state === "active").map((s) => s.name),
        services,
        internal: { maintenanceBundle: bundle.maintenanceBundle, databaseUrl: bundle.databaseUrl },
    };
}

/** A plain site (the bundle's view of an effective site). */
function siteOf(s: EffectiveSite): Site {
    return { name: s.name, stack: s.stack, cloud: s.cloud, region: s.region, state: s.state, endpoint: s.endpoint };
}

/** The endpoints of existing buckets, from config. */
function existingEndpoints(cfg: QuayGeorepConfig, sites: readonly Site[]): Record<string, Record<string, string>> {
    if (cfg.storage.mode !== "existing") return {};
    const result: Record<string, Record<string, string>> = {};
    for (const site of configuredSites(sites)) {
        const b = cfg.storage.buckets[site.name];
        result[site.name] =
            b.cloud === "aws"
                ? { cloud: "aws", region: site.region, bucket: b.bucket }
                : { cloud: "azure", region: site.region, accountName: b.accountName, container: b.container };
    }
    return result;
}
