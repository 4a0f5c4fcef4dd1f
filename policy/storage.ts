/**
 * Storage rules: every bucket is private and encrypted. S3 buckets need a public access block
 * (all four flags) and a default-encryption configuration, each a resource of its own that refers
 * to the bucket; Azure storage accounts must refuse anonymous blob access and plain HTTP, require
 * TLS 1.2 and declare blob encryption; their containers must be private.
 */
import {
    describe,
    isUnknown,
    list,
    ofTypes,
    PolicyResource,
    refersTo,
    ResourceRule,
    shown,
    StackRule,
} from "./resource";

/** Type tokens these rules read (V2 tokens: the deprecated aliases @pulumi/aws 7 still registers). */
export const STORAGE_TYPES = {
    bucket: "aws:s3/bucket:Bucket",
    bucketV2: "aws:s3/bucketV2:BucketV2",
    publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    encryptionV2: "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    storageAccount: "azure-native:storage:StorageAccount",
    blobContainer: "azure-native:storage:BlobContainer",
} as const;
const T = STORAGE_TYPES;

/** The four settings that together keep an S3 bucket from ever being public. */
export const PUBLIC_ACCESS_FLAGS = [
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
];

/** Default encryption algorithms S3 offers (SSE-S3, SSE-KMS, DSSE-KMS). */
export const SSE_ALGORITHMS = ["AES256", "aws:kms", "aws:kms:dsse"];

/** Properties of an S3 bucket that carry its name or ID (what its settings' `bucket` holds). */
const BUCKET_KEYS = ["bucket", "id"];

/** Problems of one S3 bucket, reported on the bucket or on the setting at fault. */
function bucketProblems(bucket: PolicyResource, resources: readonly PolicyResource[]) {
    const violations: { urn: string; message: string }[] = [];
    const settings = (types: string[]) =>
        ofTypes(resources, types).filter((s) => refersTo(s, "bucket", bucket, BUCKET_KEYS));

    const blocks = settings([T.publicAccessBlock]);
    if (blocks.length === 0) {
        violations.push({
            urn: bucket.urn,
            message: `has no ${T.publicAccessBlock}; add one with ${PUBLIC_ACCESS_FLAGS.join(", ")} all true`,
        });
    }
    for (const block of blocks) {
        const off = PUBLIC_ACCESS_FLAGS.filter((f) => block.props[f] !== true && !isUnknown(block.props[f]));
        if (off.length > 0) {
            violations.push({
                urn: block.urn,
                message: `leaves ${off.join(", ")} of ${describe(bucket)} off; set all four to true`,
            });
        }
    }

    const encryptions = settings([T.encryption, T.encryptionV2]);
    if (encryptions.length === 0) {
        violations.push({
            urn: bucket.urn,
            message: `has no ${T.encryption}; add one with sseAlgorithm ${SSE_ALGORITHMS.join(", ")}`,
        });
    }
    for (const sse of encryptions) {
        const algorithms = list(sse.props.rules).map((rule) => {
            const byDefault = (rule as Record<string, unknown> | null)?.applyServerSideEncryptionByDefault;
            return (byDefault as Record<string, unknown> | undefined)?.sseAlgorithm;
        });
        if (isUnknown(sse.props.rules) || algorithms.some(isUnknown)) continue;
        if (!algorithms.some((a) => typeof a === "string" && SSE_ALGORITHMS.includes(a))) {
            violations.push({
                urn: sse.urn,
                message:
                    `sets no default encryption for ${describe(bucket)}; ` +
                    `set rules[].applyServerSideEncryptionByDefault.sseAlgorithm to one of ${SSE_ALGORITHMS.join(", ")}`,
            });
        }
    }
    return violations;
}

/** Every S3 bucket has a full public access block and a default-encryption configuration. */
export const s3BucketsPrivateAndEncrypted: StackRule = {
    name: "s3-buckets-private-and-encrypted",
    description:
        "Every S3 bucket has a public access block with all four flags true and a server-side encryption configuration.",
    check(resources) {
        return ofTypes(resources, [T.bucket, T.bucketV2]).flatMap((b) => bucketProblems(b, resources));
    },
};

/** One expected value of a storage account property. */
interface Expectation {
    readonly key: string;
    readonly ok: (value: unknown) => boolean;
    readonly fix: string;
}

const ACCOUNT_EXPECTATIONS: readonly Expectation[] = [
    {
        key: "allowBlobPublicAccess",
        ok: (v) => v === false,
        fix: "set it to false (no anonymous reads of blobs)",
    },
    { key: "enableHttpsTrafficOnly", ok: (v) => v === true, fix: "set it to true" },
    {
        key: "minimumTlsVersion",
        ok: (v) => v === "TLS1_2" || v === "TLS1_3",
        fix: 'set it to "TLS1_2"',
    },
];

/** True when the account declares blob encryption with a key source (Azure cannot turn it off; the program must say so). */
function declaresEncryption(encryption: unknown): boolean {
    const keySource = (encryption as Record<string, unknown> | undefined)?.keySource;
    const blob = ((encryption as Record<string, unknown> | undefined)?.services as Record<string, unknown> | undefined)
        ?.blob as Record<string, unknown> | undefined;
    return (
        typeof keySource === "string" &&
        ["microsoft.storage", "microsoft.keyvault"].includes(keySource.toLowerCase()) &&
        blob?.enabled === true
    );
}

/** Storage accounts refuse anonymous access and plain HTTP, need TLS 1.2 and declare encryption; containers are private. */
export const azureStoragePrivateAndEncrypted: ResourceRule = {
    name: "azure-storage-private-and-encrypted",
    description:
        "Azure storage accounts set allowBlobPublicAccess false, enableHttpsTrafficOnly true, minimumTlsVersion TLS1_2 and declare blob encryption; blob containers are not public.",
    types: [T.storageAccount, T.blobContainer],
    check(r) {
        if (r.type === T.blobContainer) {
            const access = r.props.publicAccess;
            return access === undefined || access === "None" || isUnknown(access)
                ? []
                : [`publicAccess is ${shown(access)}; set it to "None"`];
        }
        const problems = ACCOUNT_EXPECTATIONS.filter((e) => !isUnknown(r.props[e.key]) && !e.ok(r.props[e.key])).map(
            (e) => `${e.key} is ${shown(r.props[e.key])}; ${e.fix}`,
        );
        if (!isUnknown(r.props.encryption) && !declaresEncryption(r.props.encryption)) {
            problems.push(
                "encryption does not declare blob encryption; set encryption: " +
                    '{ keySource: "Microsoft.Storage", services: { blob: { enabled: true } } } (what Azure does anyway)',
            );
        }
        return problems;
    },
};
