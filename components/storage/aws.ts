/**
 * S3SiteBucket: one site's S3 bucket, created through the AWS provider of the site's region.
 */
import * as s3 from "@pulumi/aws/s3";
import * as pulumi from "@pulumi/pulumi";
import { s3BucketPrefix } from "../../lib/names";
import { keep, siteTags } from "./bucket";

const TYPE = "quay-georep:storage:S3SiteBucket";

/** Inputs of a site's S3 bucket; its region is the AWS provider's (`opts.providers`). */
export interface S3SiteBucketArgs {
    /** The site's name, as the tag `quay-georep-site`. */
    readonly site: pulumi.Input<string>;
    /** The site's state, as the tag `quay-georep-state` (the policy pack reads it). */
    readonly state: pulumi.Input<string>;
    /** Protect the bucket and its settings (default true; false once the site is retired); plain: a resource option. */
    readonly protect?: boolean;
    /** Keep old object versions (default false); plain: it decides the versioning resource. */
    readonly versioning?: boolean;
}

/** Days after which S3 aborts a multipart upload Quay never completed (its parts cost storage). */
export const ABORT_INCOMPLETE_UPLOADS_DAYS = 7;

/**
 * A bucket with ACLs disabled, every public access blocked, SSE-S3 encryption, a policy denying
 * any request not made over TLS, and a lifecycle rule aborting incomplete multipart uploads;
 * versioning when asked. The bucket and each setting are retained on delete, and protected while
 * the site is active or draining (see `keep`).
 */
export class S3SiteBucket extends pulumi.ComponentResource {
    /** The bucket's name (`s3_bucket`). */
    public readonly bucket: pulumi.Output<string>;
    /** The bucket's ARN, for the IAM policy that covers it. */
    public readonly arn: pulumi.Output<string>;

    /** Children inherit the `aws` provider (its region is the bucket's) from `opts.providers`. */
    constructor(name: string, args: S3SiteBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const versioning = args.versioning ?? false;
        const kept = keep(this, args.protect ?? true);
        // Autonamed from the logical name, unless that would not be a valid bucket name (an `_`).
        const bucketPrefix = s3BucketPrefix(`${name}-bucket`);
        const bucket = new s3.Bucket(
            `${name}-bucket`,
            { forceDestroy: false, ...(bucketPrefix ? { bucketPrefix } : {}), tags: { Name: name, ...siteTags(args) } },
            kept,
        );

        new s3.BucketOwnershipControls(
            `${name}-ownership`,
            { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
            kept,
        );
        const publicAccess = new s3.BucketPublicAccessBlock(
            `${name}-public-access`,
            {
                bucket: bucket.id,
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            },
            kept,
        );
        new s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
            kept,
        );
        new s3.BucketLifecycleConfiguration(
            `${name}-lifecycle`,
            {
                bucket: bucket.id,
                rules: [
                    {
                        id: "abort-incomplete-multipart-uploads",
                        status: "Enabled",
                        // Every object: an empty prefix (an empty filter warns in the TF provider,
                        // hashicorp/terraform-provider-aws#41710; terraform-aws-modules/terraform-aws-s3-bucket#318).
                        filter: { prefix: "" },
                        abortIncompleteMultipartUpload: { daysAfterInitiation: ABORT_INCOMPLETE_UPLOADS_DAYS },
                    },
                ],
            },
            kept,
        );
        if (versioning) {
            new s3.BucketVersioning(
                `${name}-versioning`,
                { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
                kept,
            );
        }
        new s3.BucketPolicy(
            `${name}-tls-only`,
            {
                bucket: bucket.id,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "DenyInsecureTransport",
                            Effect: "Deny",
                            Principal: "*",
                            Action: "s3:*",
                            Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
                            Condition: { Bool: { "aws:SecureTransport": "false" } },
                        },
                    ],
                }),
            },
            // S3 rejects concurrent changes to a bucket's policy and its public access block.
            { ...kept, dependsOn: [publicAccess] },
        );

        this.bucket = bucket.bucket;
        this.arn = bucket.arn;
        this.registerOutputs({ bucket: this.bucket, arn: this.arn });
    }
}
