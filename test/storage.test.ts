/**
 * One bucket per site: S3 or Azure Blob in the site's cloud and region, locked down, protected
 * while the site serves and never deleted; one IAM identity covering exactly the deployment's S3
 * buckets; the bundle's storage entries with exactly the parameter names Quay reads; and the
 * example stacks rendered with created services.
 */
import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { renderFiles } from "../offline/render";
import { isSecretInput, plain, RecordedResource, RunResult } from "../offline/runtime";
import { exampleConfig, exampleSites, inputsOf, one, ofType } from "./mocks";
import {
    AP_SITE,
    bundleOf,
    descendants,
    EXISTING,
    EXISTING_SECRETS,
    parseStack,
    plainSecrets,
    problemsOf,
    runOnce,
    shared,
    urnDiff,
    withSites,
} from "./support/infra";

const T = {
    bucket: "aws:s3/bucket:Bucket",
    policy: "aws:s3/bucketPolicy:BucketPolicy",
    publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    user: "aws:iam/user:User",
    userPolicy: "aws:iam/userPolicy:UserPolicy",
    key: "aws:iam/accessKey:AccessKey",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    group: "azure-native:resources:ResourceGroup",
    account: "azure-native:storage:StorageAccount",
    container: "azure-native:storage:BlobContainer",
    blobService: "azure-native:storage:BlobServiceProperties",
} as const;

/** The site bucket component of a site, and everything below it. */
function site(r: RunResult, name: string): { component: RecordedResource; below: RecordedResource[] } {
    const component = r.resources.find(
        (x) => x.name === `quay-georep-storage-${name}` && x.type.startsWith("quay-georep:storage:"),
    );
    assert.ok(component, `no bucket component for ${name}`);
    return { component, below: descendants(r, component) };
}

/** The custom resources of a site bucket that hold or configure data (not providers or random names). */
const stateful = (below: RecordedResource[]) =>
    below.filter((x) => x.custom && !x.type.startsWith("pulumi:providers:") && !x.type.startsWith("random:"));

/** `DISTRIBUTED_STORAGE_CONFIG` of the run's bundle. */
const storageConfig = (r: RunResult) =>
    bundleOf(r).config.DISTRIBUTED_STORAGE_CONFIG as Record<string, [string, Record<string, unknown>]>;

describe("storage: mode create", () => {
    let r: RunResult;
    before(async () => {
        r = await runOnce(shared());
    });

    it("creates the S3 bucket through the stack's provider for the site's region, locked down", () => {
        const { below } = site(r, "usstorage");
        assert.deepEqual(
            below.filter((x) => x.type.startsWith("pulumi:providers:")),
            [],
            "no provider of its own",
        );
        const provider = one(r, "pulumi:providers:aws", "quay-georep-aws-us-east-1");
        assert.equal(inputsOf(provider).region, "us-east-1");
        for (const x of stateful(below))
            assert.equal(x.provider, provider.urn, `${x.name} must use the site's region's provider`);
        assert.deepEqual(inputsOf(one(r, T.ownership)).rule, { objectOwnership: "BucketOwnerEnforced" });
        const block = inputsOf(one(r, T.publicAccess));
        assert.deepEqual(
            [block.blockPublicAcls, block.blockPublicPolicy, block.ignorePublicAcls, block.restrictPublicBuckets],
            [true, true, true, true],
        );
        assert.deepEqual(inputsOf(one(r, T.encryption)).rules, [
            { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
        ]);
        assert.deepEqual(inputsOf(one(r, T.lifecycle)).rules, [
            {
                id: "abort-incomplete-multipart-uploads",
                status: "Enabled",
                filter: { prefix: "" },
                abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
            },
        ]);
        assert.equal(ofType(r, T.versioning).length, 0, "versioning is off unless asked for");
        assert.equal(inputsOf(one(r, T.bucket)).forceDestroy, false);
    });

    it("denies every S3 request not made over TLS, after the public access block is in place", () => {
        const policy = one(r, T.policy);
        const doc = JSON.parse(String(inputsOf(policy).policy)) as { Statement: Record<string, unknown>[] };
        const arn = "(known after apply: quay-georep-storage-usstorage-bucket.arn)";
        assert.deepEqual(doc.Statement, [
            {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:*",
                Resource: [arn, `${arn}/*`],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
        ]);
        assert.deepEqual(policy.dependsOn, [one(r, T.publicAccess).urn]);
    });

    it("creates the Azure container in its own account and group in the site's location, locked down", () => {
        const { below } = site(r, "eustorage");
        assert.deepEqual(
            below.filter((x) => x.type.startsWith("pulumi:providers:")),
            [],
            "no provider of its own",
        );
        const provider = one(r, "pulumi:providers:azure-native", "quay-georep-azure");
        for (const x of stateful(below))
            assert.equal(x.provider, provider.urn, `${x.name} must use the stack's azure-native provider`);
        assert.equal(
            one(r, "random:index/randomString:RandomString", "quay-georep-storage-eustorage-suffix").provider,
            one(r, "pulumi:providers:random", "quay-georep-random").urn,
        );
        assert.equal(inputsOf(one(r, T.group, "quay-georep-storage-eustorage-rg")).location, "westeurope");
        const a = inputsOf(one(r, T.account));
        assert.deepEqual(
            [a.kind, a.sku, a.location, a.enableHttpsTrafficOnly, a.minimumTlsVersion, a.allowBlobPublicAccess],
            ["StorageV2", { name: "Standard_LRS" }, "westeurope", true, "TLS1_2", false],
        );
        assert.deepEqual([a.allowCrossTenantReplication, a.allowSharedKeyAccess], [false, true]);
        assert.equal(a.accountName, "qgeustorage(known after apply: quay-georep-storage-eustorage-suffix.result)");
        assert.deepEqual(inputsOf(one(r, T.container)), {
            accountName: "(known after apply: quay-georep-storage-eustorage-account.name)",
            resourceGroupName: "(known after apply: quay-georep-storage-eustorage-rg.name)",
            containerName: "quay",
            publicAccess: "None",
            metadata: { "quay-georep-site": "eustorage", "quay-georep-state": "active" },
        });
    });

    it("protects every bucket and setting of a serving site, and never deletes any (retainOnDelete)", () => {
        for (const name of ["usstorage", "eustorage"]) {
            for (const x of stateful(site(r, name).below)) {
                assert.deepEqual([x.name, x.protect, x.retainOnDelete], [x.name, true, true]);
            }
        }
    });

    it("manages IAM through the stack's AWS provider of storage.aws.iamRegion", async () => {
        const access = (x: RunResult) => [T.user, T.userPolicy, T.key].map((t) => one(x, t).provider);
        const usEast1 = one(r, "pulumi:providers:aws", "quay-georep-aws-us-east-1").urn;
        assert.deepEqual(access(r), [usEast1, usEast1, usEast1]);
        const moved = await runOnce(shared({ storage: { mode: "create", aws: { iamRegion: "eu-west-1" } } }));
        const euWest1 = one(moved, "pulumi:providers:aws", "quay-georep-aws-eu-west-1");
        assert.equal(inputsOf(euWest1).region, "eu-west-1");
        assert.deepEqual(access(moved), [euWest1.urn, euWest1.urn, euWest1.urn]);
        // Moving IAM's API region renames nothing: providers are not part of a resource's URN.
        assert.deepEqual(urnDiff(r, moved), {
            added: [euWest1.urn],
            removed: [],
        });
    });

    it("gives Quay one IAM user whose policy covers exactly this deployment's S3 buckets", () => {
        const doc = JSON.parse(String(inputsOf(one(r, T.userPolicy)).policy)) as {
            Statement: { Action: string[]; Resource: string[] }[];
        };
        const arn = "(known after apply: quay-georep-storage-usstorage-bucket.arn)";
        assert.deepEqual(
            doc.Statement.map((s) => s.Resource),
            [[arn], [`${arn}/*`]],
        );
        assert.deepEqual(doc.Statement[1].Action, [
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
        ]);
        assert.equal(inputsOf(one(r, T.key)).user, "(known after apply: quay-georep-s3-access-user.name)");
        assert.equal(ofType(r, T.role).filter((x) => x.name.startsWith("quay-georep-s3-access")).length, 0);
    });

    it("writes S3Storage and AzureStorage entries with exactly the parameter names Quay reads", () => {
        const entries = storageConfig(r);
        assert.deepEqual(entries.usstorage, [
            "S3Storage",
            {
                s3_bucket: "(known after apply: quay-georep-storage-usstorage-bucket.bucket)",
                storage_path: "/datastorage/registry",
                s3_region: "us-east-1",
                s3_access_key: "quay-georep-s3-access-key-id",
                s3_secret_key: "__secret__",
            },
        ]);
        assert.deepEqual(entries.eustorage, [
            "AzureStorage",
            {
                azure_account_name: "(known after apply: quay-georep-storage-eustorage-account.name)",
                azure_container: "quay",
                storage_path: "/datastorage/registry",
                azure_account_key: "__secret__",
            },
        ]);
    });

    it("keeps the access key and the account key secret, and needs no storage credentials from the user", () => {
        assert.deepEqual(plainSecrets(r), []);
        assert.deepEqual(parseStack(shared()).secrets?.storageCredentials, {});
        assert.deepEqual(
            parseStack(shared({ storageCredentials: { usstorage: { accessKey: "x" } } }, ["storageCredentials"]))
                .warnings,
            [
                "storageCredentials is set but not used (storage.mode create creates the credentials); remove it: pulumi config rm quay-georep:storageCredentials",
            ],
        );
    });

    it("exports where the buckets are, with the Azure resource group the runbook's delete needs (no secrets)", () => {
        assert.deepEqual(plain((r.outputs.services as Record<string, unknown>).buckets), {
            usstorage: {
                cloud: "aws",
                region: "us-east-1",
                bucket: "(known after apply: quay-georep-storage-usstorage-bucket.bucket)",
            },
            eustorage: {
                cloud: "azure",
                region: "westeurope",
                accountName: "(known after apply: quay-georep-storage-eustorage-account.name)",
                container: "quay",
                resourceGroup: "(known after apply: quay-georep-storage-eustorage-rg.name)",
            },
        });
    });

    it("exports how to find the database and the Redis VM in their cloud (for SSM, Run Command, the console)", () => {
        const services = plain(r.outputs.services) as Record<string, { ids?: Record<string, string> }>;
        assert.deepEqual(services.database.ids, {
            identifier: "(known after apply: quay-georep-database-instance.identifier)",
            arn: "(known after apply: quay-georep-database-instance.arn)",
        });
        assert.deepEqual(services.redis.ids, { instanceId: "quay-georep-redis-vm-id" });
    });
});

describe("storage: options and site lifecycle", () => {
    const principal = "arn:aws:iam::123456789012:role/quay-pods";
    let r: RunResult;
    before(async () => {
        // One run for several variants: versioning, role credentials, a draining and a retired site.
        const sites = [
            ...exampleSites().map((x) => (x.name === "eustorage" ? { ...x, state: "draining" } : x)),
            { ...AP_SITE, state: "retired" },
        ];
        const aws = { credentials: "role", trustedPrincipals: [principal] };
        r = await runOnce(withSites(sites, { storage: { mode: "create", versioning: true, aws } }));
    });

    it("versioning: true turns on S3 versioning and Azure blob versioning, both kept like the bucket", () => {
        const s3 = one(r, T.versioning, "quay-georep-storage-usstorage-versioning");
        assert.deepEqual(inputsOf(s3).versioningConfiguration, { status: "Enabled" });
        const azure = one(r, T.blobService);
        assert.deepEqual([inputsOf(azure).blobServicesName, inputsOf(azure).isVersioningEnabled], ["default", true]);
        for (const x of [s3, azure]) assert.deepEqual([x.protect, x.retainOnDelete], [true, true]);
    });

    it("credentials: role creates a role the listed principals assume, and the bundle carries no keys", () => {
        const role = one(r, T.role, "quay-georep-s3-access-role");
        assert.deepEqual((JSON.parse(String(inputsOf(role).assumeRolePolicy)) as { Statement: unknown }).Statement, [
            { Effect: "Allow", Principal: { AWS: [principal] }, Action: "sts:AssumeRole" },
        ]);
        assert.equal(inputsOf(one(r, T.rolePolicy)).role, "quay-georep-s3-access-role-id");
        assert.equal(ofType(r, T.user).length + ofType(r, T.key).length, 0);
        assert.deepEqual(Object.keys(storageConfig(r).usstorage[1]).sort(), ["s3_bucket", "s3_region", "storage_path"]);
        assert.equal(
            (plain(r.outputs.services) as { s3RoleArn: string }).s3RoleArn,
            "(known after apply: quay-georep-s3-access-role.arn)",
        );
    });

    it("keeps a draining site's bucket protected", () => {
        for (const x of stateful(site(r, "eustorage").below))
            assert.deepEqual([x.protect, x.retainOnDelete], [true, true]);
        assert.ok(Object.keys(storageConfig(r)).includes("eustorage"), "a draining site still serves reads");
    });

    it("keeps a retired site's bucket declared, unprotected and retained, out of the bundle and the IAM policy", () => {
        const retired = stateful(site(r, "apstorage").below);
        assert.ok(retired.some((x) => x.type === T.bucket));
        for (const x of retired) assert.deepEqual([x.name, x.protect, x.retainOnDelete], [x.name, false, true]);
        assert.deepEqual(Object.keys(storageConfig(r)).sort(), ["eustorage", "usstorage"]);
        const doc = JSON.parse(String(inputsOf(one(r, T.rolePolicy)).policy)) as {
            Statement: { Resource: string[] }[];
        };
        assert.deepEqual(doc.Statement[0].Resource, ["(known after apply: quay-georep-storage-usstorage-bucket.arn)"]);
    });
});

describe("storage: adding and removing a site", () => {
    it("adding a site adds only that site's resources; removing it removes only them", async () => {
        const two = await runOnce(shared());
        const three = await runOnce(withSites([...exampleSites(), AP_SITE]));
        const added = urnDiff(two, three);
        assert.deepEqual(added.removed, []);
        // The site's resources, the shared stack's reference to the site's stack (`ap`), and the
        // AWS provider of the site's region (no other resource is in ap-southeast-2).
        const ofSite = (u: string) =>
            u.includes("apstorage") ||
            u.endsWith("::quay-georep-ap-stack") ||
            u.endsWith(`::pulumi:providers:aws::quay-georep-aws-${AP_SITE.region}`);
        assert.ok(added.added.length > 0 && added.added.every(ofSite), added.added.join("\n"));
        assert.ok(added.added.some((u) => u.endsWith("aws:s3/bucket:Bucket::quay-georep-storage-apstorage-bucket")));
        const removed = urnDiff(three, two);
        assert.deepEqual(removed, { added: [], removed: added.added });
    });
});

describe("storage: mode existing", () => {
    it("creates no bucket and uses the configured buckets and credentials", async () => {
        const r = await runOnce(shared(EXISTING, EXISTING_SECRETS));
        assert.equal(r.resources.filter((x) => x.type.startsWith("quay-georep:storage:")).length, 0);
        assert.deepEqual(storageConfig(r).usstorage, [
            "S3Storage",
            {
                s3_bucket: "quay-us",
                storage_path: "/datastorage/registry",
                s3_region: "us-east-1",
                s3_access_key: "AKIA",
                s3_secret_key: "s3-secret",
            },
        ]);
    });
});

describe("storage: config validation", () => {
    const problems = (storage: Record<string, unknown>) =>
        problemsOf(shared({ storage: { mode: "create", ...storage } }));

    it("names keys of mode existing", () => {
        assert.deepEqual(problems({ buckets: { usstorage: { bucket: "quay-us" } } }), [
            'storage.buckets: {"usstorage":{"bucket":"quay-us"}} is not used in mode create; remove it, or set storage.mode to existing',
        ]);
    });

    it("requires trusted principals for role credentials, as IAM ARNs", () => {
        assert.deepEqual(problems({ aws: { credentials: "role" } }), [
            "storage.aws.trustedPrincipals: (missing) is empty, but storage.aws.credentials is role; list the IAM principals (e.g. the clusters' workload roles) that may assume the bucket role",
        ]);
        assert.deepEqual(problems({ aws: { credentials: "role", trustedPrincipals: ["quay-pods"] } }), [
            'storage.aws.trustedPrincipals[0]: "quay-pods" is not an IAM principal ARN; use e.g. "arn:aws:iam::123456789012:role/quay"',
        ]);
    });

    it("checks the storage path, IAM region and Azure account settings", () => {
        assert.deepEqual(
            problems({
                storagePath: "datastorage",
                aws: { iamRegion: "global" },
                azure: { sku: "Premium_LRS", container: "Quay_Blobs" },
            }),
            [
                'storage.storagePath: "datastorage" is not an absolute path; use e.g. "/datastorage/registry"',
                'storage.aws.iamRegion: "global" is not an AWS region; use e.g. "eu-west-1"',
                'storage.azure.sku: "Premium_LRS" is not allowed; use one of: Standard_LRS, Standard_ZRS, Standard_GRS, Standard_GZRS, Standard_RAGRS, Standard_RAGZRS',
                "storage.azure.container: \"Quay_Blobs\" is not an Azure container name; use 3-63 lower-case letters, digits or single '-'",
            ],
        );
    });
});

describe("example stacks: created services", () => {
    it("render with RDS, the Redis VM, both buckets, and a config.yaml pointing at them, secrets redacted", async () => {
        // `npm run render` is runProgram + renderFiles per stack; this is its us stack (the shared one).
        const us = await runOnce(exampleConfig("us"));
        const types = new Set(us.resources.map((x) => x.type));
        for (const t of ["aws:rds/instance:Instance", "aws:ec2/instance:Instance", T.bucket, T.container]) {
            assert.ok(types.has(t), `the example creates no ${t}`);
        }
        const text = renderFiles(us)["config.yaml"];
        assert.ok(!text.includes("__secret__"), "secrets are redacted");
        const config = parse(text) as Record<string, unknown>;
        assert.equal(
            config.DB_URI,
            "postgresql://quay:<secret>@(known after apply: quay-georep-database-instance.address):5432/quay?sslmode=require",
        );
        assert.deepEqual(config.BUILDLOGS_REDIS, {
            host: "(known after apply: quay-georep-redis-vm.privateIp)",
            password: "<secret>",
            port: 6379,
        });
        const storage = config.DISTRIBUTED_STORAGE_CONFIG as Record<string, [string, Record<string, string>]>;
        assert.equal(
            storage.usstorage[1].s3_bucket,
            "(known after apply: quay-georep-storage-usstorage-bucket.bucket)",
        );
        assert.equal(storage.usstorage[1].s3_secret_key, "<secret>");
        assert.equal(
            storage.eustorage[1].azure_account_name,
            "(known after apply: quay-georep-storage-eustorage-account.name)",
        );
        assert.equal(storage.eustorage[1].azure_account_key, "<secret>");
        assert.ok(isSecretInput(us.outputs.bundle));
    });
});
