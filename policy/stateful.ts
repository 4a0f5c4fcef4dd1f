/**
 * What holds data, and the rule that keeps it: stateful resources are protected, so deleting one
 * takes a deliberate `protect: false` first.
 *
 * `STATEFUL_RESOURCES`, `normalizeType`, `statefulRule` and the retired tag live here, in the pack
 * (which `pulumi policy publish` uploads alone, so it imports nothing from outside `policy/`), and
 * the preview guard (`scripts/preview-guard.ts`) imports them from here: both agree on what holds
 * data, on the retired tag and on how a versioned azure-native token reads.
 */
import type { ResourceRule } from "./resource";

/** A resource type (optionally narrowed by name) whose deletion or replacement loses data. */
export interface StatefulResource {
    /** Full Pulumi type token, e.g. `aws:rds/instance:Instance` (unversioned: see `normalizeType`). */
    readonly type: string;
    /** Only resources whose name contains this string (default: every resource of the type). */
    readonly nameIncludes?: string;
    /** What is lost, shown in the failure message. */
    readonly loses: string;
}

/**
 * Every stateful resource this program can create, in one place for the pack and the preview
 * guard: what holds data, and what deletes data with it (a resource group deletes every resource
 * in it). Tokens checked against the installed providers (`__pulumiType` in node_modules/@pulumi/*).
 * Kubernetes Secrets are deliberately absent: the bundle Secret is re-rendered from config.
 */
export const STATEFUL_RESOURCES: readonly StatefulResource[] = [
    { type: "aws:rds/instance:Instance", loses: "the shared PostgreSQL database (RDS)" },
    {
        type: "aws:kms/key:Key",
        loses: "the key of an encrypted RDS replica: the instance and its snapshots become unreadable",
    },
    { type: "azure-native:dbforpostgresql:Server", loses: "the shared PostgreSQL flexible server" },
    { type: "azure-native:dbforpostgresql:SingleServer", loses: "a PostgreSQL single server" },
    { type: "postgresql:index/database:Database", loses: "a database and every table in it" },
    { type: "aws:ec2/instance:Instance", loses: "the Redis VM and its data" },
    { type: "aws:ebs/volume:Volume", loses: "a VM data disk" },
    { type: "azure-native:compute:VirtualMachine", loses: "the Redis VM and its data" },
    { type: "azure-native:compute:Disk", loses: "a VM data disk" },
    // @pulumi/aws 7: `s3.Bucket` is the bucket (BucketV2 is its deprecated alias); DirectoryBucket
    // is S3 Express One Zone.
    { type: "aws:s3/bucket:Bucket", loses: "an S3 bucket and every blob in it" },
    { type: "aws:s3/bucketV2:BucketV2", loses: "an S3 bucket and every blob in it" },
    { type: "aws:s3/directoryBucket:DirectoryBucket", loses: "an S3 directory bucket and every blob in it" },
    { type: "azure-native:storage:StorageAccount", loses: "an Azure storage account and every blob in it" },
    { type: "azure-native:storage:BlobContainer", loses: "an Azure blob container and every blob in it" },
    {
        type: "azure-native:resources:ResourceGroup",
        loses: "an Azure resource group and everything in it (a PostgreSQL server, the Redis VM or a storage account)",
    },
    {
        type: "random:index/randomPassword:RandomPassword",
        nameIncludes: "database-secret-key",
        loses: "DATABASE_SECRET_KEY: every encrypted field in the database becomes unreadable",
    },
];

/**
 * An azure-native token with an API version in its module (`azure-native:storage/v20230101:StorageAccount`,
 * `…/v20240101preview:…`, v1's `…/latest:…`): the same resource as the module's default version.
 */
const VERSIONED_AZURE_TOKEN = /^azure-native:([^:/]+)\/(?:v\d{8}[a-z]*|latest):([^:]+)$/;

/** The type token without an azure-native API version, so every version of a stateful type is one. */
export function normalizeType(type: string): string {
    const m = VERSIONED_AZURE_TOKEN.exec(type);
    return m ? `azure-native:${m[1]}:${m[2]}` : type;
}

/** The rule that makes a resource stateful, if any (any API version of its type). */
export function statefulRule(type: string, name: string): StatefulResource | undefined {
    const normalized = normalizeType(type);
    return STATEFUL_RESOURCES.find(
        (r) => r.type === normalized && (r.nameIncludes === undefined || name.includes(r.nameIncludes)),
    );
}

/** The tag (on a blob container: metadata) the program gives a site's storage, and its value once retired. */
export const STATE_TAG = "quay-georep-state";
export const RETIRED = "retired";

/** True when properties (inputs or outputs) carry `quay-georep-state: retired` in `tags` or `metadata`. */
export function taggedRetired(props: unknown): boolean {
    if (props === null || typeof props !== "object") return false;
    const { tags, metadata } = props as { tags?: unknown; metadata?: unknown };
    return [tags, metadata].some(
        (t) => t !== null && typeof t === "object" && (t as Record<string, unknown>)[STATE_TAG] === RETIRED,
    );
}

/**
 * What a retired site's storage consists of (`components/storage/*`): the only types the retired
 * tag leaves unprotected. The resource group is the one the site's storage account lives in; a
 * server or VM in a group wrongly tagged retired stays protected itself, and Pulumi deletes a
 * group's resources before the group.
 */
export const RETIRED_STORAGE_TYPES: readonly string[] = [
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobContainer",
    "azure-native:resources:ResourceGroup",
];

/** Types a released database server consists of (components/database/*: its data, key and group). */
export const RELEASED_SERVER_TYPES: readonly string[] = [
    "aws:rds/instance:Instance",
    "aws:kms/key:Key",
    "azure-native:dbforpostgresql:Server",
    "azure-native:resources:ResourceGroup",
];

/**
 * The resources of a database server component (components/database/*: `<project>-database`,
 * `-database-standby`, with `-g<n>` for later generations) that a release leaves in the cloud.
 */
const SERVER_RESOURCE_NAME = /-database(-standby)?(-g\d+)?-(instance|key|server|rg)$/;

/** True for a resource a database server release may leave unprotected: its instance, key or group. */
export function isServerResource(type: string, name: string): boolean {
    return RELEASED_SERVER_TYPES.includes(normalizeType(type)) && SERVER_RESOURCE_NAME.test(name);
}

/** A released server's resource: unprotected and frozen (every input kept: `ignoreChanges: ["*"]`). */
function released(r: { type: string; name: string; protect?: boolean; ignoreChanges?: readonly string[] }): boolean {
    return isServerResource(r.type, r.name) && r.protect === false && (r.ignoreChanges ?? []).includes("*");
}

/**
 * The resources of a released standby Redis VM (stacks/database.ts `planRedisStandby`: config no
 * longer has `redis.standby`): its instance or VM and resource group, named `<project>-redis-standby-…`.
 */
const RELEASED_REDIS_NAME = /-redis-standby-(vm|rg)$/;
const RELEASED_REDIS_TYPES: readonly string[] = [
    "aws:ec2/instance:Instance",
    "azure-native:compute:VirtualMachine",
    "azure-native:resources:ResourceGroup",
];

/**
 * A released standby Redis VM: unprotected and frozen, and not retained: the next run deletes it,
 * which loses nothing (Redis keeps only build logs and user events).
 */
function releasedRedis(r: {
    type: string;
    name: string;
    protect?: boolean;
    ignoreChanges?: readonly string[];
}): boolean {
    return (
        RELEASED_REDIS_TYPES.includes(normalizeType(r.type)) &&
        RELEASED_REDIS_NAME.test(r.name) &&
        r.protect === false &&
        (r.ignoreChanges ?? []).includes("*")
    );
}

/** Every stateful resource (database, Redis VM, bucket, resource group, the database field key) has `protect: true`. */
export const statefulResourcesProtected: ResourceRule = {
    name: "stateful-resources-protected",
    description:
        "Databases, the Redis VM, buckets and storage accounts, resource groups and DATABASE_SECRET_KEY are created with protect: true; only a retired site's storage may be unprotected.",
    types: [...new Set(STATEFUL_RESOURCES.map((s) => s.type))],
    check(r) {
        const rule = statefulRule(r.type, r.name);
        if (rule === undefined || r.protect !== false) return [];
        const retired = taggedRetired(r.props);
        // A retired site's storage is unprotected on purpose and retained on delete (which the pack
        // cannot see; offline it can), so removing the site from config only forgets it.
        if (retired && RETIRED_STORAGE_TYPES.includes(r.type) && r.retainOnDelete !== false) return [];
        // A released database server (lib/standby.ts: the old primary after a switchover) is
        // unprotected so the next run can forget it, retained on delete so the cloud keeps it, and
        // frozen (`ignoreChanges: ["*"]`, which the pack sees; `retainOnDelete` it is not told).
        if (released(r) && r.retainOnDelete !== false) return [];
        if (releasedRedis(r)) return [];
        const why = retired ? " (the retired tag exempts only a retired site's storage, retained on delete)" : "";
        return [`is not protected; deleting it loses ${rule.loses}; create it with { protect: true }${why}`];
    },
};
