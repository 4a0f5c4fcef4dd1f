/**
 * The shared stack's role: create (or point at) the shared PostgreSQL, Redis and one bucket per
 * site, and render the one config bundle from what they really are. No value is copied by hand:
 * hosts, generated passwords, bucket names and keys flow from the resources into the bundle.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigBundle } from "../components/configBundle";
import { S3SiteBucket } from "../components/storage/aws";
import { S3Access } from "../components/storage/awsAccess";
import { AzureSiteContainer } from "../components/storage/azure";
import { siteStorageName } from "../lib/names";
import { configuredSites, ResolvedBucket } from "../lib/quayConfig";
import type { EffectiveSite } from "../lib/topology";
import type { QuayGeorepConfig, SharedSecrets, Site } from "../config/config";
import { redisVmPlacement } from "../config/redis";
import type { CreatedStorage } from "../config/services";
import type { SecretValue } from "../config/validate";
import type { StackProviders } from "./providers";
import { DatabaseAccess, deployDatabase, deployRedis, RedisStandbyStep, SharedDatabase } from "./database";
import type { ServiceKey } from "../lib/serviceKey";
import type { StandbyPlan, StandbyRecord } from "../lib/standby";

/** Where the shared services are: no secrets, for people and tools (`pulumi stack output services`). */
export interface ServiceEndpoints {
    /** Where the database is; created servers add how to find them (`identifier`, `arn`; `resourceGroup`, `server`). */
    readonly database: {
        readonly mode: string;
        /** Created servers: the PostgreSQL major version (`database.version`). */
        readonly version?: string;
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
    /** The standby's record (lib/standby.ts), with the servers' IDs. */
    readonly standby: pulumi.Output<StandbyRecord>;
}

/** The standby's step for this run, as `deployShared` carries it out. */
export interface SharedSwitchover {
    /** The plan (lib/standby.ts). */
    readonly plan: StandbyPlan;
    /** How the switchover's checks log in (declared first: the lag gate precedes the servers). */
    readonly access: DatabaseAccess;
    /** The lag gate: a promotion in this run waits for it. */
    readonly promoteAfter: readonly pulumi.Resource[];
    /** The read-only service key, while the bundle is read-only. */
    readonly serviceKey?: ServiceKey;
    /** What this run does with the standby Redis VM (a removed one is released first). */
    readonly redisStandby?: RedisStandbyStep;
}

/** What the shared stack's lifecycle Jobs need from the bundle; not stack outputs. */
export interface SharedInternals {
    /** The database as deployed: each location's server, for the switchover's checks. */
    readonly database: SharedDatabase;
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
    switchover: SharedSwitchover,
): SharedOutputs & { readonly internal: SharedInternals } {
    const secrets = cfg.secrets;
    if (secrets === undefined) throw new Error("the shared stack's secrets were not validated");
    const plan = switchover.plan;
    const database = deployDatabase(cfg, secrets, providers, plan, switchover.access, switchover.promoteAfter);
    const redisByLocation = deployRedis(cfg, secrets, providers, plan.record.lost, switchover.redisStandby);
    // The standby VM as declared, so that a later run can release it once config drops it.
    const standbyVm =
        switchover.redisStandby?.kind === "release"
            ? { config: switchover.redisStandby.config, released: true }
            : cfg.redis.standby !== undefined && cfg.redis.standby.mode !== "existing"
              ? { config: cfg.redis.standby }
              : undefined;
    const redis = redisByLocation[plan.serving];
    if (redis === undefined) throw new Error(`no Redis in ${plan.serving}`);
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
            ...(switchover.serviceKey !== undefined
                ? {
                      readonly: pulumi.secret({
                          kid: switchover.serviceKey.kid,
                          privateKeyPem: switchover.serviceKey.privateKeyPem,
                      }),
                  }
                : {}),
        },
        { providers: generatesKeys ? [providers.random()] : [] },
    );
    const where = (
        e:
            | { host: pulumi.Input<string>; port: pulumi.Input<number>; ids?: pulumi.Output<Record<string, string>> }
            | undefined,
    ) => (e === undefined ? undefined : { host: e.host, port: e.port, ...ids(e) });
    const placement = redisVmPlacement(cfg.redis);
    const services = pulumi.output({
        // Where to find each in its cloud (instance IDs, resource groups) for the runbook's manual steps.
        database: {
            mode: cfg.database.mode,
            // The engine version the created servers run (a later run holds a standby's to it).
            ...(cfg.database.mode !== "existing" ? { version: cfg.database.version } : {}),
            serving: plan.serving,
            host: database.host,
            port: database.port,
            ...ids(database),
        },
        redis: {
            mode: cfg.redis.mode,
            serving: plan.serving,
            host: redis.host,
            port: redis.port,
            ...ids(redis),
            // Where each Redis VM runs: a later run refuses to move one (stacks/resolve.ts).
            ...(placement ? { placement } : {}),
            ...(standbyVm ? { standbyVm } : {}),
        },
        ...(cfg.database.standby !== undefined
            ? {
                  // Both locations, whichever serves: the standby runbook's manual steps name them.
                  locations: {
                      database: { home: where(database.locations.home), standby: where(database.locations.standby) },
                      redis: { home: where(redisByLocation.home), standby: where(redisByLocation.standby) },
                  },
              }
            : {}),
        buckets: storage.endpoints ?? existingEndpoints(cfg, sites),
        ...(storage.roleArn ? { s3RoleArn: storage.roleArn } : {}),
    });
    return {
        bundle: bundle.bundle,
        bundleSha256: bundle.sha256,
        locations: configuredSites(sites).map((s) => s.name),
        activeLocations: sites.filter((s) => s.state === "active").map((s) => s.name),
        services,
        standby: database.record,
        internal: {
            maintenanceBundle: bundle.maintenanceBundle,
            databaseUrl: bundle.databaseUrl,
            database,
        },
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
