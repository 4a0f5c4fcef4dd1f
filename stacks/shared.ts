/**
 * The shared stack's role: resolve the shared services and render the one config bundle.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigBundle } from "../components/configBundle";
import { configuredSites, ResolvedBucket } from "../lib/quayConfig";
import type { QuayGeorepConfig, SharedSecrets } from "./config";
import type { SecretValue } from "./validate";

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
}

/** A config secret as a Pulumi secret Output. */
function secret(value: SecretValue | undefined): pulumi.Output<string> {
    if (value === undefined) throw new Error("a required secret was not validated");
    return pulumi.secret(value.reveal());
}

/** The bucket entry for each configured site, from `storage` and the stack's credentials. */
function resolveBuckets(cfg: QuayGeorepConfig, secrets: SharedSecrets): Record<string, pulumi.Input<ResolvedBucket>> {
    const buckets: Record<string, pulumi.Input<ResolvedBucket>> = {};
    for (const site of configuredSites(cfg.sites)) {
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
                      sasToken: reveal("sasToken"),
                  });
    }
    return buckets;
}

/** Creates the shared stack's resources and returns what site stacks consume. */
export function deployShared(cfg: QuayGeorepConfig): SharedOutputs {
    const secrets = cfg.secrets;
    if (secrets === undefined) throw new Error("the shared stack's secrets were not validated");
    const db = cfg.database;
    const bundle = new ConfigBundle(`${cfg.project}-bundle`, {
        hostname: cfg.hostname,
        sites: cfg.sites,
        quay: cfg.quay,
        database: {
            host: db.host,
            port: db.port,
            quay: { ...db.quay, password: secret(secrets.databasePassword) },
            clair: { ...db.clair, password: secret(secrets.clairDatabasePassword) },
        },
        redis: {
            host: cfg.redis.host,
            port: cfg.redis.port,
            tls: cfg.redis.tls,
            password: secret(secrets.redisPassword),
        },
        buckets: resolveBuckets(cfg, secrets),
        tlsCertificate: secret(secrets.tlsCertificate),
        tlsKey: secret(secrets.tlsKey),
    });
    return {
        bundle: bundle.bundle,
        bundleSha256: bundle.sha256,
        locations: configuredSites(cfg.sites).map((s) => s.name),
        activeLocations: cfg.sites.filter((s) => s.state === "active").map((s) => s.name),
    };
}
