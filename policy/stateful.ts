/**
 * Stateful resources are protected: deleting one takes a deliberate `protect: false` first. The
 * list is the preview guard's (`scripts/preview-guard.ts`), so both agree on what holds data, on
 * the retired tag and on how a versioned azure-native token reads.
 */
import { normalizeType, STATEFUL_RESOURCES, statefulRule, taggedRetired } from "../scripts/preview-guard";
import type { ResourceRule } from "./resource";

export { normalizeType };

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
        const why = retired ? " (the retired tag exempts only a retired site's storage, retained on delete)" : "";
        return [`is not protected; deleting it loses ${rule.loses}; create it with { protect: true }${why}`];
    },
};
