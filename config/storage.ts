/**
 * `quay-georep:storage`: one bucket per site, in mode `existing` (buckets the team has) or `create`
 * (this program creates them in each site's cloud and region).
 */
import { checkRegion, openModal } from "./serviceFields";
import { Cloud, Site } from "./sites";
import { isRecord, ObjectReader, Problems } from "./validate";

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

/** A bucket this program creates for a site, in the site's cloud and region. */
export interface CreatedBucket {
    readonly cloud: Cloud;
    /** The site's region (AWS) or location (Azure). */
    readonly region: string;
    /** Prefix inside the bucket (default `/datastorage/registry`). */
    readonly storagePath: string;
    /** Keep old object versions (default false). */
    readonly versioning: boolean;
}

/** How Quay authenticates to the created S3 buckets. */
export interface S3AccessConfig {
    /** `user`: an IAM user and access key in the bundle (default); `role`: a role others assume. */
    readonly credentials: "user" | "role";
    /** Principals trusted to assume the role (`role` only). */
    readonly trustedPrincipals: readonly string[];
    /** Region of the provider that manages IAM (global) resources (default `us-east-1`). */
    readonly iamRegion: string;
}

/** Azure storage account settings shared by every created Azure bucket. */
export interface AzureAccountConfig {
    /** Replication SKU (default `Standard_LRS`). */
    readonly sku: string;
    /** Container name (default `quay`). */
    readonly container: string;
}

/** One bucket created per site (every site, so a retired site's bucket stays declared and retained). */
export interface CreatedStorage {
    readonly mode: "create";
    /** Prefix inside every created bucket (default `/datastorage/registry`). */
    readonly storagePath: string;
    /** Keep old object versions (default false). */
    readonly versioning: boolean;
    readonly buckets: Readonly<Record<string, CreatedBucket>>;
    readonly aws: S3AccessConfig;
    readonly azure: AzureAccountConfig;
}
export type StorageConfig = ExistingStorage | CreatedStorage;

const DEFAULT_STORAGE_PATH = "/datastorage/registry";
const AZURE_STORAGE_SKUS = [
    "Standard_LRS",
    "Standard_ZRS",
    "Standard_GRS",
    "Standard_GZRS",
    "Standard_RAGRS",
    "Standard_RAGZRS",
] as const;

/** Config keys of each storage mode (a key of another mode is reported as such). */
export const STORAGE_KEYS = {
    existing: ["mode", "buckets"],
    create: ["mode", "storagePath", "versioning", "aws", "azure"],
} as const;

/** Parses `storage`; problems are recorded, never thrown. */
export function parseStorage(top: ObjectReader, problems: Problems, sites: readonly Site[]): StorageConfig {
    const { r, mode } = openModal(
        top,
        "storage",
        STORAGE_KEYS,
        "set quay-georep:storage in Pulumi.yaml (mode: create, or existing with buckets per site; see docs/services.md)",
    );
    const result = mode === "create" && r ? parseCreatedStorage(r, sites) : parseExistingStorage(r, problems, sites);
    r?.done();
    return result;
}

const PRINCIPAL = /^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role\/[\w+=,.@/-]+|user\/[\w+=,.@/-]+)$/;

function parseCreatedStorage(r: ObjectReader, sites: readonly Site[]): CreatedStorage {
    const storagePath = r.string("storagePath") ?? DEFAULT_STORAGE_PATH;
    if (!storagePath.startsWith("/")) {
        r.problems.add(
            r.at("storagePath"),
            storagePath,
            "is not an absolute path",
            `use e.g. "${DEFAULT_STORAGE_PATH}"`,
        );
    }
    const versioning = r.boolean("versioning", false);
    const a = r.object("aws", ["credentials", "trustedPrincipals", "iamRegion"]);
    const credentials = a?.oneOf("credentials", ["user", "role"] as const, "user") ?? "user";
    const trustedPrincipals: string[] = [];
    const principals = a?.array("trustedPrincipals");
    principals?.forEach((p, i) => {
        if (typeof p !== "string" || !PRINCIPAL.test(p)) {
            r.problems.add(
                `${r.at("aws.trustedPrincipals")}[${i}]`,
                p,
                "is not an IAM principal ARN",
                'use e.g. "arn:aws:iam::123456789012:role/quay"',
            );
        } else {
            trustedPrincipals.push(p);
        }
    });
    if (credentials === "role" && (principals === undefined || principals.length === 0)) {
        r.problems.add(
            r.at("aws.trustedPrincipals"),
            principals,
            `is empty, but ${r.at("aws.credentials")} is role`,
            "list the IAM principals (e.g. the clusters' workload roles) that may assume the bucket role",
        );
    }
    const iamRegion = a ? checkRegionOptional(a, "iamRegion", "us-east-1") : "us-east-1";
    a?.done();
    const z = r.object("azure", ["sku", "container"]);
    const sku = z?.oneOf("sku", AZURE_STORAGE_SKUS, "Standard_LRS") ?? "Standard_LRS";
    const container = z?.string("container") ?? "quay";
    if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(container)) {
        r.problems.add(
            r.at("azure.container"),
            container,
            "is not an Azure container name",
            "use 3-63 lower-case letters, digits or single '-'",
        );
    }
    z?.done();
    const buckets: Record<string, CreatedBucket> = {};
    for (const site of sites) buckets[site.name] = { cloud: site.cloud, region: site.region, storagePath, versioning };
    return {
        mode: "create",
        storagePath,
        versioning,
        buckets,
        aws: { credentials, trustedPrincipals, iamRegion },
        azure: { sku, container },
    };
}

function checkRegionOptional(r: ObjectReader, key: string, fallback: string): string {
    return r.has(key) ? checkRegion(r, key, "aws") : fallback;
}

function parseExistingStorage(
    r: ObjectReader | undefined,
    problems: Problems,
    sites: readonly Site[],
): ExistingStorage {
    const buckets: Record<string, BucketConfig> = {};
    // Entries for sites no longer configured are kept: a removed site drains from its bucket
    // until retired (stacks/resolve.ts refuses entries that name no site, configured or deployed).
    const given = r?.peek("buckets");
    const extra = (isRecord(given) ? Object.keys(given) : []).filter((n) => !sites.some((s) => s.name === n));
    const all = r?.object("buckets", [...sites.map((x) => x.name), ...extra], {
        required: true,
        fix: "give every site a bucket under storage.buckets.<site name>",
    });
    for (const name of extra) {
        const entry = (given as Record<string, unknown>)[name];
        const cloud: Cloud = isRecord(entry) && "bucket" in entry ? "aws" : "azure";
        const path = `storage.buckets.${name}`;
        const site = { name, cloud };
        buckets[name] =
            cloud === "aws"
                ? existingS3(all as ObjectReader, site, path)
                : existingContainer(all as ObjectReader, site, path);
    }
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
        buckets[site.name] = site.cloud === "aws" ? existingS3(all, site, path) : existingContainer(all, site, path);
    }
    all?.done();
    return { mode: "existing", buckets };
}

function existingS3(all: ObjectReader, site: Pick<Site, "name">, path: string): ExistingS3Bucket {
    const b = all.object(site.name, ["bucket", "storagePath", "endpointUrl"]);
    const bucket = b?.string("bucket", { required: true, fix: "name the existing S3 bucket" });
    if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
        all.problems.add(
            `${path}.bucket`,
            bucket,
            "is not an S3 bucket name",
            "use 3-63 lower-case letters, digits, '.' or '-'",
        );
    }
    const endpointUrl = b?.string("endpointUrl");
    const result = {
        cloud: "aws" as const,
        bucket: bucket ?? "",
        storagePath: b?.string("storagePath") ?? DEFAULT_STORAGE_PATH,
        ...(endpointUrl ? { endpointUrl } : {}),
    };
    b?.done();
    return result;
}

function existingContainer(all: ObjectReader, site: Pick<Site, "name">, path: string): ExistingAzureContainer {
    const b = all.object(site.name, ["container", "accountName", "storagePath", "endpointUrl"]);
    const container = b?.string("container", { required: true, fix: "name the existing blob container" });
    if (container !== undefined && !/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(container)) {
        all.problems.add(
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
        all.problems.add(
            `${path}.accountName`,
            accountName,
            "is not a storage account name",
            "use 3-24 lower-case letters and digits",
        );
    }
    const endpointUrl = b?.string("endpointUrl");
    const result = {
        cloud: "azure" as const,
        container: container ?? "",
        accountName: accountName ?? "",
        storagePath: b?.string("storagePath") ?? DEFAULT_STORAGE_PATH,
        ...(endpointUrl ? { endpointUrl } : {}),
    };
    b?.done();
    return result;
}
