/**
 * S3Access: the one IAM identity Quay uses for every S3 bucket of this deployment.
 */
import * as iam from "@pulumi/aws/iam";
import * as pulumi from "@pulumi/pulumi";

const TYPE = "quay-georep:storage:S3Access";

/** Inputs of the identity; IAM is global, so any region's AWS provider (`opts.providers`) will do. */
export interface S3AccessArgs {
    /** ARNs of exactly the buckets Quay uses (every configured AWS site's), keyed by site name. */
    readonly bucketArns: Readonly<Record<string, pulumi.Input<string>>>;
    /** `user` (default): an IAM user and its access key; `role`: a role the trusted principals assume; plain: it decides which. */
    readonly credentials?: "user" | "role";
    /** Principals allowed to assume the role (`role` only; default none). */
    readonly trustedPrincipals?: pulumi.Input<readonly pulumi.Input<string>[]>;
}

/** What Quay may do: read, write, delete (garbage collection) and multipart uploads, nothing else. */
export function bucketPolicy(arns: readonly string[]): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "QuayBuckets",
                Effect: "Allow",
                Action: ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                Resource: [...arns],
            },
            {
                Sid: "QuayObjects",
                Effect: "Allow",
                Action: [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                Resource: arns.map((arn) => `${arn}/*`),
            },
        ],
    });
}

/**
 * An IAM user with an inline policy on exactly the deployment's buckets and one access key (its
 * secret marked secret), or, with `credentials: role`, a role with that policy that the trusted
 * principals assume (the bundle then carries no keys: Quay uses the AWS default credential chain).
 */
export class S3Access extends pulumi.ComponentResource {
    /** Access key ID (`s3_access_key`), `user` only. */
    public readonly accessKeyId?: pulumi.Output<string>;
    /** Secret access key (`s3_secret_key`, a secret), `user` only. */
    public readonly secretAccessKey?: pulumi.Output<string>;
    /** The role's ARN, `role` only. */
    public readonly roleArn?: pulumi.Output<string>;

    /** Children inherit the `aws` provider from `opts.providers`. */
    constructor(name: string, args: S3AccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const credentials = args.credentials ?? "user";
        const sites = Object.keys(args.bucketArns).sort();
        const policy = pulumi.all(sites.map((s) => args.bucketArns[s])).apply(bucketPolicy);
        if (credentials === "user") {
            const user = new iam.User(`${name}-user`, { path: "/quay-georep/" }, { parent: this });
            new iam.UserPolicy(`${name}-policy`, { user: user.name, policy }, { parent: this });
            const key = new iam.AccessKey(
                `${name}-key`,
                { user: user.name },
                { parent: this, additionalSecretOutputs: ["secret"] },
            );
            this.accessKeyId = key.id;
            this.secretAccessKey = pulumi.secret(key.secret);
        } else {
            const role = new iam.Role(
                `${name}-role`,
                {
                    description: "Quay's access to this deployment's buckets",
                    assumeRolePolicy: pulumi.jsonStringify({
                        Version: "2012-10-17",
                        Statement: [
                            {
                                Effect: "Allow",
                                Principal: { AWS: args.trustedPrincipals ?? [] },
                                Action: "sts:AssumeRole",
                            },
                        ],
                    }),
                },
                { parent: this },
            );
            new iam.RolePolicy(`${name}-policy`, { role: role.id, policy }, { parent: this });
            this.roleArn = role.arn;
        }
        this.registerOutputs({
            accessKeyId: this.accessKeyId,
            secretAccessKey: this.secretAccessKey,
            roleArn: this.roleArn,
        });
    }
}
