/**
 * Physical names derived from a site's name, and whether each fits its target.
 *
 * A site name is a Quay location ID (`[a-z][a-z0-9_]*`), so it may hold `_`, which Kubernetes
 * (DNS-1123) and S3 refuse. Where this program sets a name itself (Kubernetes objects) it makes a
 * valid one, shortened with a digest when needed, so reasonable names always work; where a cloud
 * or provider derives it (autonaming), `siteNameProblems` checks the result before anything is
 * registered, so a bad name is refused at `pulumi preview`, not halfway through a retirement.
 */
import { createHash } from "node:crypto";

/** Kubernetes names of most objects (Jobs, ServiceAccounts, Roles…) as labels: DNS-1123, ≤ 63. */
export const KUBE_NAME_MAX = 63;

/** The first `length` hex digits of the SHA-256 of `text`: a short, stable digest for names. */
export function hexDigest(text: string, length: number): string {
    return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/**
 * A DNS-1123 label (≤ `max` characters) from name parts joined with `-`: lower case, every other
 * character turned into `-`. When that changed anything or the name is too long, the name is cut
 * and a digest of the original parts appended, so two different inputs never meet in one name.
 */
export function kubeName(parts: readonly string[], max = KUBE_NAME_MAX): string {
    const joined = parts.join("-");
    const clean = joined
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/-+/g, "-")
        .replace(/^-|-$/g, "");
    if (clean === joined && clean.length <= max) return clean;
    // 8 hex digits: two names collide only among tens of thousands.
    const digest = hexDigest(parts.join("\0"), 8);
    const head = clean.slice(0, max - digest.length - 1).replace(/-+$/, "");
    return head.length > 0 ? `${head}-${digest}` : `x-${digest}`;
}

/** True for a DNS-1123 label of at most `max` characters. */
export function isKubeName(name: string, max = KUBE_NAME_MAX): boolean {
    return name.length <= max && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name);
}

/**
 * Logical (Pulumi) names of a site's storage resources. They are part of every URN, so they keep
 * the site name as written; only the physical names derived from them are made to fit.
 */
export function siteStorageName(project: string, site: string): string {
    return `${project}-storage-${site}`;
}

/** S3 bucket names: 3–63 lower-case letters, digits, `.` and `-`, starting and ending alphanumeric. */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/;

/**
 * The `bucketPrefix` for a site's S3 bucket, or undefined when Pulumi's autoname is already valid.
 *
 * pulumi-aws autonames `s3.Bucket` from the logical name with `AutoNameTransform("bucket", 63,
 * strings.ToLower)` (provider/resources.go): lower-cased, cut to fit 63 with a random suffix, but
 * an `_` stays and S3 refuses the name. Such names get an explicit prefix instead (TF's
 * `bucket_prefix`: at most 37 characters, then a unique suffix). Valid names keep autonaming, so
 * no existing bucket is renamed (a new name would replace the bucket).
 */
export function s3BucketPrefix(logicalBucketName: string): string | undefined {
    const autoname = logicalBucketName.toLowerCase();
    if (S3_BUCKET.test(autoname) && !autoname.includes("..")) return undefined;
    return `${kubeName([logicalBucketName], 36)}-`;
}

/** Azure resource group names: at most 90 characters. */
const AZURE_RESOURCE_GROUP_MAX = 90;
/** azure-native autonames a resource group as its logical name plus a random suffix (≤ 9 characters). */
const AZURE_AUTONAME_SUFFIX = 9;

/**
 * Problems with the names derived from one site's name, as `[what, why]` pairs; empty when every
 * target takes them. Kubernetes names are made by `kubeName` and always fit; this checks what
 * the clouds derive.
 */
export function siteNameProblems(project: string, site: string): string[] {
    const problems: string[] = [];
    const storage = siteStorageName(project, site);
    const group = `${storage}-rg`;
    if (group.length + AZURE_AUTONAME_SUFFIX > AZURE_RESOURCE_GROUP_MAX) {
        problems.push(
            `gives the Azure resource group "${group}" plus a random suffix, over Azure's ${AZURE_RESOURCE_GROUP_MAX} characters`,
        );
    }
    const prefix = s3BucketPrefix(`${storage}-bucket`);
    if (prefix !== undefined && !S3_BUCKET.test(prefix.slice(0, -1))) {
        problems.push(`gives no valid S3 bucket name ("${prefix}…")`);
    }
    return problems;
}

/** The longest site name every derived name takes, for messages. */
export function maxSiteNameLength(project: string): number {
    return AZURE_RESOURCE_GROUP_MAX - AZURE_AUTONAME_SUFFIX - `${siteStorageName(project, "")}-rg`.length;
}
