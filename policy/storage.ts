/**
 * Storage rules: every bucket is private, encrypted and reached over TLS only. S3 buckets need a
 * public access block (all four flags), a default-encryption configuration and a bucket policy
 * denying requests without TLS, each a resource of its own that refers to the bucket; Azure
 * storage accounts must refuse anonymous blob access and plain HTTP, require TLS 1.2 and declare
 * blob encryption; their containers must be private.
 */
import {
    at,
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
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
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

/** The statement that makes S3 refuse plain HTTP, as the fix in messages shows it. */
export const TLS_ONLY_STATEMENT =
    '{ Effect: "Deny", Principal: "*", Action: "s3:*", Resource: [<bucket ARN>, "<bucket ARN>/*"], ' +
    'Condition: { Bool: { "aws:SecureTransport": "false" } } }';

/** True when a value is, or holds, a value not known yet. */
const hasUnknown = (v: unknown): boolean =>
    isUnknown(v) || (v !== null && typeof v === "object" && Object.values(v).some(hasUnknown));

/** The items of a policy field that may be one value or a list. */
const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** True for a statement denying everyone every S3 action on the bucket and its objects without TLS. */
function deniesPlainHttp(statement: unknown): boolean {
    if (statement === null || typeof statement !== "object") return false;
    const s = statement as Record<string, unknown>;
    const principal = s.Principal;
    const everyone =
        principal === "*" ||
        (principal !== null &&
            typeof principal === "object" &&
            items((principal as Record<string, unknown>).AWS).includes("*"));
    const resources = items(s.Resource).filter((r): r is string => typeof r === "string");
    // Resources of another bucket are refused by S3 itself: "*", the ARN and "ARN/*" are what is left to tell apart.
    const bucketToo = resources.some((r) => r === "*" || !r.includes("/"));
    const objectsToo = resources.some((r) => r === "*" || r.endsWith("/*"));
    const bool = (s.Condition as Record<string, unknown> | undefined)?.Bool;
    const secureTransport =
        bool !== null && typeof bool === "object"
            ? Object.entries(bool as Record<string, unknown>).find(
                  ([k]) => k.toLowerCase() === "aws:securetransport",
              )?.[1]
            : undefined;
    return (
        s.Effect === "Deny" &&
        everyone &&
        items(s.Action).some((a) => a === "s3:*" || a === "*") &&
        bucketToo &&
        objectsToo &&
        items(secureTransport).some((v) => String(v).toLowerCase() === "false")
    );
}

/** The policy document (a JSON string, or an object as some SDKs pass it); `undefined` when unreadable. */
function policyDocument(policy: unknown): unknown {
    if (typeof policy !== "string") return policy;
    try {
        return JSON.parse(policy);
    } catch {
        return undefined;
    }
}

/** Every S3 bucket has a bucket policy that denies requests made without TLS. */
export const s3BucketsTlsOnly: StackRule = {
    name: "s3-buckets-tls-only",
    description:
        'Every S3 bucket has a bucket policy denying every request made without TLS (Deny, Principal "*", s3:*, the bucket and its objects, aws:SecureTransport false).',
    check(resources) {
        return ofTypes(resources, [T.bucket, T.bucketV2]).flatMap((bucket) => {
            const policies = ofTypes(resources, [T.bucketPolicy]).filter((p) =>
                refersTo(p, "bucket", bucket, BUCKET_KEYS),
            );
            if (policies.length === 0) {
                return [
                    {
                        urn: bucket.urn,
                        message: `has no ${T.bucketPolicy}; add one with the statement ${TLS_ONLY_STATEMENT}`,
                    },
                ];
            }
            return policies
                .filter((p) => !hasUnknown(p.props.policy))
                .filter((p) => !list(at(policyDocument(p.props.policy), "Statement")).some(deniesPlainHttp))
                .map((p) => ({
                    urn: p.urn,
                    message: `does not deny requests to ${describe(bucket)} made without TLS; add the statement ${TLS_ONLY_STATEMENT}`,
                }));
        });
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
