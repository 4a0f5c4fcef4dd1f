/**
 * Parsing of how the shared services are provided: `quay-georep:database`, `:redis`, `:storage`.
 *
 * Each is a union keyed by `mode`. Mode `existing` points at services the team already runs; the
 * modes that create them on a cloud (`aws`, `azure` for database and redis, `create` for storage)
 * slot into the same unions without renaming any key.
 */
import { Site } from "./sites";
import { isDnsName, isIpAddress, ObjectReader, Problems } from "./validate";

/** A database and the role Quay or Clair logs in as. */
export interface DatabaseLogin {
    /** Database name. */
    readonly name: string;
    /** Role (user) name. */
    readonly user: string;
}

/**
 * An existing PostgreSQL server that already holds both databases, `pg_trgm` installed in Quay's.
 * Connections always use TLS (`sslmode=require`).
 */
export interface ExistingDatabase {
    readonly mode: "existing";
    readonly host: string;
    /** Default 5432. */
    readonly port: number;
    /** Quay's database and role (default `quay`/`quay`). */
    readonly quay: DatabaseLogin;
    /** Clair's database and role (default `clair`/`clair`). */
    readonly clair: DatabaseLogin;
}
export type DatabaseConfig = ExistingDatabase;

/** An existing Redis that every cluster can reach. */
export interface ExistingRedis {
    readonly mode: "existing";
    readonly host: string;
    /** Default 6379. */
    readonly port: number;
    /** Connect with TLS (`ssl: true` in Quay's config; default false). */
    readonly tls: boolean;
}
export type RedisConfig = ExistingRedis;

/** An existing S3 bucket (or S3-compatible endpoint) of an `aws` site. */
export interface ExistingS3Bucket {
    readonly cloud: "aws";
    readonly bucket: string;
    /** Prefix inside the bucket (default `/datastorage/registry`). */
    readonly storagePath: string;
    /** For S3-compatible storage only; when set, `s3_region` is omitted (it would force AWS's endpoint). */
    readonly endpointUrl?: string;
}

/** An existing Azure Blob container of an `azure` site. */
export interface ExistingAzureContainer {
    readonly cloud: "azure";
    readonly container: string;
    readonly accountName: string;
    /** Prefix inside the container (default `/datastorage/registry`). */
    readonly storagePath: string;
    /** Non-public Azure clouds only. */
    readonly endpointUrl?: string;
}
export type BucketConfig = ExistingS3Bucket | ExistingAzureContainer;

/** Buckets the team already has, one per site, keyed by site name. */
export interface ExistingStorage {
    readonly mode: "existing";
    readonly buckets: Readonly<Record<string, BucketConfig>>;
}
export type StorageConfig = ExistingStorage;

const DEFAULT_STORAGE_PATH = "/datastorage/registry";

/** Parses the three service objects; problems are recorded, never thrown. */
export function parseServices(
    top: ObjectReader,
    problems: Problems,
    sites: readonly Site[],
): { database: DatabaseConfig; redis: RedisConfig; storage: StorageConfig } {
    return {
        database: parseDatabase(top, problems),
        redis: parseRedis(top, problems),
        storage: parseStorage(top, problems, sites),
    };
}

function checkHost(problems: Problems, path: string, host: string | undefined): void {
    if (host !== undefined && !isDnsName(host) && !isIpAddress(host)) {
        problems.add(path, host, "is neither a hostname nor an IP address", 'use e.g. "db.example.com" or "10.0.0.5"');
    }
}

function parseDatabase(top: ObjectReader, problems: Problems): DatabaseConfig {
    const db = top.object("database", ["mode", "host", "port", "quay", "clair"], {
        required: true,
        fix: "set quay-georep:database in Pulumi.yaml (mode: existing, host, port; see README)",
    });
    const mode = db?.oneOf("mode", ["existing"] as const);
    const host = db?.string("host", { required: mode === "existing", fix: "set the PostgreSQL server's hostname" });
    checkHost(problems, "database.host", host);
    const login = (key: "quay" | "clair"): DatabaseLogin => {
        const r = db?.object(key, ["name", "user"]);
        const result = { name: r?.string("name") ?? key, user: r?.string("user") ?? key };
        r?.done();
        return result;
    };
    const result: ExistingDatabase = {
        mode: "existing",
        host: host ?? "",
        port: db?.integer("port", 5432, 1, 65535) ?? 5432,
        quay: login("quay"),
        clair: login("clair"),
    };
    db?.done();
    return result;
}

function parseRedis(top: ObjectReader, problems: Problems): RedisConfig {
    const r = top.object("redis", ["mode", "host", "port", "tls"], {
        required: true,
        fix: "set quay-georep:redis in Pulumi.yaml (mode: existing, host, port; see README)",
    });
    r?.oneOf("mode", ["existing"] as const);
    const host = r?.string("host", { required: r !== undefined, fix: "set the Redis server's hostname or IP" });
    checkHost(problems, "redis.host", host);
    const result: ExistingRedis = {
        mode: "existing",
        host: host ?? "",
        port: r?.integer("port", 6379, 1, 65535) ?? 6379,
        tls: r?.boolean("tls", false) ?? false,
    };
    r?.done();
    return result;
}

function parseStorage(top: ObjectReader, problems: Problems, sites: readonly Site[]): StorageConfig {
    const s = top.object("storage", ["mode", "buckets"], {
        required: true,
        fix: "set quay-georep:storage in Pulumi.yaml (mode: existing, buckets per site; see README)",
    });
    s?.oneOf("mode", ["existing"] as const);
    const buckets: Record<string, BucketConfig> = {};
    const all = s?.object(
        "buckets",
        sites.map((x) => x.name),
        {
            required: s !== undefined,
            fix: "give every site a bucket under storage.buckets.<site name>",
        },
    );
    for (const site of sites) {
        const path = `storage.buckets.${site.name}`;
        if (!all?.has(site.name)) {
            if (all !== undefined && site.state !== "retired") {
                problems.add(
                    path,
                    undefined,
                    "is required",
                    `name ${site.name}'s existing ${site.cloud === "aws" ? "S3 bucket" : "Azure container"} there`,
                );
            }
            continue;
        }
        if (site.cloud === "aws") {
            const b = all.object(site.name, ["bucket", "storagePath", "endpointUrl"]);
            const bucket = b?.string("bucket", { required: true, fix: "name the existing S3 bucket" });
            if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
                problems.add(
                    `${path}.bucket`,
                    bucket,
                    "is not an S3 bucket name",
                    "use 3-63 lower-case letters, digits, '.' or '-'",
                );
            }
            const endpointUrl = b?.string("endpointUrl");
            buckets[site.name] = {
                cloud: "aws",
                bucket: bucket ?? "",
                storagePath: b?.string("storagePath") ?? DEFAULT_STORAGE_PATH,
                ...(endpointUrl ? { endpointUrl } : {}),
            };
            b?.done();
        } else {
            const b = all.object(site.name, ["container", "accountName", "storagePath", "endpointUrl"]);
            const container = b?.string("container", { required: true, fix: "name the existing blob container" });
            if (container !== undefined && !/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(container)) {
                problems.add(
                    `${path}.container`,
                    container,
                    "is not an Azure container name",
                    "use 3-63 lower-case letters, digits or single '-'",
                );
            }
            const accountName = b?.string("accountName", {
                required: true,
                fix: "name the storage account that holds the container",
            });
            if (accountName !== undefined && !/^[a-z0-9]{3,24}$/.test(accountName)) {
                problems.add(
                    `${path}.accountName`,
                    accountName,
                    "is not a storage account name",
                    "use 3-24 lower-case letters and digits",
                );
            }
            const endpointUrl = b?.string("endpointUrl");
            buckets[site.name] = {
                cloud: "azure",
                container: container ?? "",
                accountName: accountName ?? "",
                storagePath: b?.string("storagePath") ?? DEFAULT_STORAGE_PATH,
                ...(endpointUrl ? { endpointUrl } : {}),
            };
            b?.done();
        }
    }
    all?.done();
    s?.done();
    return { mode: "existing", buckets };
}
