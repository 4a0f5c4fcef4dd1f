/**
 * The policy pack's rules (policy/rules.ts): each passes the valid fixture stack and fails, with an
 * exact message, when one thing changes; and the example stacks, run under the mock runtime, meet
 * every rule offline.
 */
import { strict as assert } from "node:assert";
import { COMPONENT_KINDS as LIB_KINDS, PREFERENCE_ENV as LIB_ENV, UNMANAGED_KINDS } from "../lib/quayRegistry";
import { checkRun, fromRecorded } from "../offline/policy";
import { COMPONENT_KINDS, PREFERENCE_ENV, UNMANAGED } from "../policy/quay";
import {
    checkResources,
    formatViolation,
    PolicyConfig,
    PolicyResource,
    RESOURCE_RULES,
    STACK_RULES,
    UNKNOWN,
} from "../policy/rules";
import { PUBLIC_IP_TAG as PROGRAM_PUBLIC_IP_TAG } from "../components/redis/server";
import { PUBLIC_IP_TAG } from "../policy/compute";
import { STATEFUL_RESOURCES, statefulResourcesProtected } from "../policy/stateful";
import { TLS_ONLY_STATEMENT } from "../policy/storage";
import {
    add,
    BUNDLE,
    BUNDLE_SHA256,
    change,
    components,
    EC2_HARDENED,
    jobContainer,
    named,
    resource,
    T,
    tlsOnlyStatement,
    validStack,
    without,
    withOptions,
} from "./fixtures/policy/stack";
import { assertClean, exampleConfig, runPair, runStack, withConfig } from "./mocks";

/** Every violation as `policy | resource name | message` (`(stack)` for the stack as a whole). */
function violations(stack: readonly PolicyResource[], config: PolicyConfig = {}): string[] {
    return checkResources(stack, config).map(
        (v) => `${v.policy} | ${v.urn ? (v.urn.split("::").pop() ?? v.urn) : "(stack)"} | ${v.message}`,
    );
}

const FIX = "admit only the Quay clusters' CIDRs";

/**
 * The example's `database` without its standby, for runs that replace `redis` with one that has
 * none (config/standby.ts requires `redis.standby` with `database.standby` for a Redis VM).
 */
function oneLocation(): { database: Record<string, unknown> } {
    const raw = JSON.parse(exampleConfig("us").config["quay-georep:database"]) as Record<string, unknown>;
    const { standby: _standby, ...database } = raw;
    return { database };
}

describe("policy pack and program agree", () => {
    it("on the tag that says redis.publicIp asked for a public address", () => {
        assert.equal(PUBLIC_IP_TAG, PROGRAM_PUBLIC_IP_TAG);
    });
});

describe("policy rules", () => {
    it("pass the valid fixture stack", () => {
        assert.deepEqual(violations(validStack()), []);
    });

    it("have unique names", () => {
        const names = [...RESOURCE_RULES, ...STACK_RULES].map((r) => r.name);
        assert.deepEqual([...new Set(names)], names);
    });

    describe("no-internet-ingress-to-postgres-or-redis", () => {
        const P = "no-internet-ingress-to-postgres-or-redis";
        // A group in front of nothing this program owns: only the port rule applies to it.
        const loose = (stack: PolicyResource[], ...extra: PolicyResource[]) =>
            add(stack, resource(T.sg, "other-sg", {}), ...extra);

        it("rejects a vpc ingress rule from ::/0 whose range covers 6379", () => {
            const rule = resource(
                T.ingressRule,
                "other-open",
                { ipProtocol: "tcp", fromPort: 6000, toPort: 7000, cidrIpv6: "::/0" },
                { securityGroupId: [[T.sg, "other-sg"]] },
            );
            assert.deepEqual(violations(loose(validStack(), rule)), [
                `${P} | other-open | admits ::/0 on port 6379 (Redis); ${FIX}`,
            ]);
        });

        it("rejects inline ingress from 0.0.0.0/0 on 5432, naming the block", () => {
            const stack = add(
                validStack(),
                resource(T.sg, "other-sg", {
                    ingress: [
                        { protocol: "tcp", fromPort: 5432, toPort: 5432, cidrBlocks: ["10.0.0.0/8", "0.0.0.0/0"] },
                    ],
                }),
            );
            assert.deepEqual(violations(stack), [
                `${P} | other-sg | ingress[0] admits 0.0.0.0/0 on port 5432 (PostgreSQL); ${FIX}`,
            ]);
        });

        it("rejects an all-protocol ec2 SecurityGroupRule from 0.0.0.0/0 (both ports)", () => {
            const rule = resource(T.sgRule, "other-all", {
                type: "ingress",
                protocol: "-1",
                fromPort: 0,
                toPort: 0,
                cidrBlocks: ["0.0.0.0/0"],
                securityGroupId: "sg-other",
            });
            assert.deepEqual(violations(loose(validStack(), rule)), [
                `${P} | other-all | admits 0.0.0.0/0 on port 5432 (PostgreSQL); ${FIX}`,
                `${P} | other-all | admits 0.0.0.0/0 on port 6379 (Redis); ${FIX}`,
            ]);
        });

        it("accepts egress to 0.0.0.0/0 and internet ingress on other ports", () => {
            const egress = resource(T.sgRule, "other-egress", {
                type: "egress",
                protocol: "-1",
                fromPort: 0,
                toPort: 0,
                cidrBlocks: ["0.0.0.0/0"],
            });
            const https = resource(T.ingressRule, "other-https", {
                ipProtocol: "tcp",
                fromPort: 443,
                toPort: 443,
                cidrIpv4: "0.0.0.0/0",
            });
            assert.deepEqual(violations(loose(validStack(), egress, https)), []);
        });

        it("rejects an NSG rule from * on every port, and a SecurityRule from Internet on 6379", () => {
            const nsg = resource(T.nsg, "other-nsg", {
                securityRules: [
                    {
                        name: "open",
                        direction: "Inbound",
                        access: "Allow",
                        protocol: "*",
                        sourceAddressPrefix: "*",
                        destinationPortRange: "*",
                    },
                ],
            });
            const rule = resource(T.nsgRule, "other-redis", {
                direction: "Inbound",
                access: "Allow",
                protocol: "Tcp",
                sourceAddressPrefix: "Internet",
                destinationPortRanges: ["443", "6379"],
            });
            assert.deepEqual(violations(add(validStack(), nsg, rule)), [
                `${P} | other-nsg | securityRules[0] "open" admits * on port 5432 (PostgreSQL); ${FIX}`,
                `${P} | other-nsg | securityRules[0] "open" admits * on port 6379 (Redis); ${FIX}`,
                `${P} | other-redis | admits Internet on port 6379 (Redis); ${FIX}`,
            ]);
        });

        it("accepts Deny and Outbound NSG rules from *", () => {
            const base = { protocol: "*", sourceAddressPrefix: "*", destinationPortRange: "*" };
            const nsg = resource(T.nsg, "other-nsg", {
                securityRules: [
                    { ...base, name: "deny", direction: "Inbound", access: "Deny" },
                    { ...base, name: "out", direction: "Outbound", access: "Allow" },
                ],
            });
            assert.deepEqual(violations(add(validStack(), nsg)), []);
        });

        it("rejects a PostgreSQL firewall rule for every address", () => {
            const stack = change(validStack(), "pg-allow", {
                startIpAddress: "0.0.0.0",
                endIpAddress: "255.255.255.255",
            });
            assert.deepEqual(violations(stack), [
                `${P} | pg-allow | admits every IPv4 address (0.0.0.0-255.255.255.255) to PostgreSQL; ${FIX}`,
            ]);
        });

        it("rejects Azure's allow-Azure-services firewall rule (0.0.0.0-0.0.0.0)", () => {
            const stack = change(validStack(), "pg-allow", { startIpAddress: "0.0.0.0", endIpAddress: "0.0.0.0" });
            assert.deepEqual(violations(stack), [
                `${P} | pg-allow | admits every Azure-hosted address, other tenants' included (0.0.0.0-0.0.0.0 is ` +
                    `Azure's "allow Azure services" rule) to PostgreSQL; ${FIX}`,
            ]);
        });

        it("skips a source not known during preview", () => {
            assert.deepEqual(violations(change(validStack(), "db-allow", { cidrIpv4: UNKNOWN })), []);
        });
    });

    describe("no-internet-ingress-to-shared-services", () => {
        const P = "no-internet-ingress-to-shared-services";

        it("rejects internet ingress on any port to the Redis VM's security group", () => {
            const ssh = resource(
                T.ingressRule,
                "redis-ssh",
                { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "0.0.0.0/0" },
                { securityGroupId: [[T.sg, "redis-sg"]] },
            );
            assert.deepEqual(violations(add(validStack(), ssh)), [
                `${P} | redis-ssh | admits 0.0.0.0/0 to aws:ec2/instance:Instance "redis-vm"; ${FIX}`,
            ]);
        });

        it("rejects inline internet ingress on the database's security group (both rules fire)", () => {
            const stack = change(validStack(), "db-sg", {
                ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
            });
            assert.deepEqual(violations(stack), [
                `no-internet-ingress-to-postgres-or-redis | db-sg | ingress[0] admits 0.0.0.0/0 on port 5432 (PostgreSQL); ${FIX}`,
                `no-internet-ingress-to-postgres-or-redis | db-sg | ingress[0] admits 0.0.0.0/0 on port 6379 (Redis); ${FIX}`,
                `${P} | db-sg | ingress[0] admits 0.0.0.0/0 to aws:rds/instance:Instance "db"; ${FIX}`,
            ]);
        });

        it("rejects internet ingress in the NSG of the Azure VM's network interface", () => {
            const rules = named(validStack(), "redis-nsg").props.securityRules as unknown[];
            const ssh = {
                name: "ssh",
                direction: "Inbound",
                access: "Allow",
                protocol: "Tcp",
                sourceAddressPrefix: "Internet",
                destinationPortRange: "22",
            };
            const stack = change(validStack(), "redis-nsg", { securityRules: [...rules, ssh] });
            assert.deepEqual(violations(stack), [
                `${P} | redis-nsg | securityRules[1] "ssh" admits Internet to azure-native:compute:VirtualMachine "redis-azure-vm"; ${FIX}`,
            ]);
        });

        it("links a group to its instance by ID when the engine recorded no dependency", () => {
            const stack = add(
                validStack(),
                resource(T.ec2, "vm2", { ...EC2_HARDENED, vpcSecurityGroupIds: ["sg-0abc"] }),
                resource(T.sg, "vm2-sg", { id: "sg-0abc" }),
                resource(T.ingressRule, "vm2-rdp", {
                    ipProtocol: "tcp",
                    fromPort: 3389,
                    toPort: 3389,
                    cidrIpv4: "0.0.0.0/0",
                    securityGroupId: "sg-0abc",
                }),
            );
            assert.deepEqual(violations(stack), [
                `${P} | vm2-rdp | admits 0.0.0.0/0 to aws:ec2/instance:Instance "vm2"; ${FIX}`,
            ]);
        });
    });

    describe("s3-buckets-private-and-encrypted", () => {
        const P = "s3-buckets-private-and-encrypted";

        it("rejects a public access block with a flag off", () => {
            const stack = change(validStack(), "bucket-public-access", {
                blockPublicPolicy: false,
                ignorePublicAcls: undefined,
            });
            assert.deepEqual(violations(stack), [
                `${P} | bucket-public-access | leaves blockPublicPolicy, ignorePublicAcls of aws:s3/bucket:Bucket "bucket" off; set all four to true`,
            ]);
        });

        it("rejects a bucket without a public access block", () => {
            assert.deepEqual(violations(without(validStack(), "bucket-public-access")), [
                `${P} | bucket | has no aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock; add one with ` +
                    "blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true",
            ]);
        });

        it("rejects a bucket without a server-side encryption configuration", () => {
            assert.deepEqual(violations(without(validStack(), "bucket-encryption")), [
                `${P} | bucket | has no aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration; ` +
                    "add one with sseAlgorithm AES256, aws:kms, aws:kms:dsse",
            ]);
        });

        it("rejects an encryption configuration without a default algorithm", () => {
            const stack = change(validStack(), "bucket-encryption", { rules: [{ bucketKeyEnabled: true }] });
            assert.deepEqual(violations(stack), [
                `${P} | bucket-encryption | sets no default encryption for aws:s3/bucket:Bucket "bucket"; ` +
                    "set rules[].applyServerSideEncryptionByDefault.sseAlgorithm to one of AES256, aws:kms, aws:kms:dsse",
            ]);
        });

        it("does not count another bucket's settings", () => {
            const stack = add(validStack(), resource(T.bucket, "logs", {}));
            assert.deepEqual(violations(stack), [
                `${P} | logs | has no aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock; add one with ` +
                    "blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true",
                `${P} | logs | has no aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration; ` +
                    "add one with sseAlgorithm AES256, aws:kms, aws:kms:dsse",
                `s3-buckets-tls-only | logs | has no aws:s3/bucketPolicy:BucketPolicy; add one with the statement ${TLS_ONLY_STATEMENT}`,
            ]);
        });

        it("links settings to a bucket by name when the engine recorded no dependency", () => {
            const stack = validStack().map((r) =>
                r.name === "bucket"
                    ? { ...r, props: { ...r.props, bucket: "bucket-id" } }
                    : r.name.startsWith("bucket-")
                      ? { ...r, propertyDependencies: {} }
                      : r,
            );
            assert.deepEqual(violations(stack), []);
        });
    });

    describe("azure-storage-private-and-encrypted", () => {
        const P = "azure-storage-private-and-encrypted";

        for (const [key, value, message] of [
            [
                "allowBlobPublicAccess",
                true,
                "allowBlobPublicAccess is true; set it to false (no anonymous reads of blobs)",
            ],
            [
                "allowBlobPublicAccess",
                undefined,
                "allowBlobPublicAccess is not set; set it to false (no anonymous reads of blobs)",
            ],
            ["enableHttpsTrafficOnly", false, "enableHttpsTrafficOnly is false; set it to true"],
            ["minimumTlsVersion", "TLS1_0", 'minimumTlsVersion is "TLS1_0"; set it to "TLS1_2"'],
        ] as const) {
            it(`rejects a storage account whose ${key} is ${String(value)}`, () => {
                assert.deepEqual(violations(change(validStack(), "account", { [key]: value })), [
                    `${P} | account | ${message}`,
                ]);
            });
        }

        it("rejects a storage account that does not declare blob encryption", () => {
            assert.deepEqual(violations(change(validStack(), "account", { encryption: undefined })), [
                `${P} | account | encryption does not declare blob encryption; set encryption: ` +
                    '{ keySource: "Microsoft.Storage", services: { blob: { enabled: true } } } (what Azure does anyway)',
            ]);
        });

        it("accepts TLS 1.3 and customer-managed keys", () => {
            const encryption = { keySource: "Microsoft.Keyvault", services: { blob: { enabled: true } } };
            assert.deepEqual(
                violations(change(validStack(), "account", { minimumTlsVersion: "TLS1_3", encryption })),
                [],
            );
        });

        it("rejects a public blob container", () => {
            assert.deepEqual(violations(change(validStack(), "container", { publicAccess: "Blob" })), [
                `${P} | container | publicAccess is "Blob"; set it to "None"`,
            ]);
        });
    });

    describe("database-encrypted-tls-only-private", () => {
        const P = "database-encrypted-tls-only-private";

        it("rejects an RDS instance without storage encryption", () => {
            assert.deepEqual(violations(change(validStack(), "db", { storageEncrypted: undefined })), [
                `${P} | db | storageEncrypted is not set; set it to true`,
            ]);
        });

        it("rejects a publicly accessible RDS instance", () => {
            assert.deepEqual(violations(change(validStack(), "db", { publiclyAccessible: true })), [
                `${P} | db | publiclyAccessible is true; set it to false (clusters reach the database privately)`,
            ]);
        });

        it("accepts an RDS instance that does not set publiclyAccessible", () => {
            assert.deepEqual(violations(change(validStack(), "db", { publiclyAccessible: undefined })), []);
        });

        it("rejects an RDS instance on the default parameter group", () => {
            assert.deepEqual(violations(change(validStack(), "db", { parameterGroupName: undefined })), [
                `${P} | db | has no parameterGroupName; give it a parameter group of this stack with rds.force_ssl = 1`,
            ]);
        });

        it("rejects a parameter group that does not force TLS", () => {
            const stack = change(validStack(), "db-params", { parameters: [{ name: "rds.force_ssl", value: "0" }] });
            assert.deepEqual(violations(stack), [
                `${P} | db | uses aws:rds/parameterGroup:ParameterGroup "db-params", which does not set rds.force_ssl = 1; ` +
                    'add { name: "rds.force_ssl", value: "1" } to its parameters',
            ]);
        });

        it("rejects a parameter group it cannot see", () => {
            const stack = validStack().map((r) =>
                r.name === "db"
                    ? {
                          ...r,
                          props: { ...r.props, parameterGroupName: "default.postgres17" },
                          propertyDependencies: {},
                      }
                    : r,
            );
            assert.deepEqual(violations(stack), [
                `${P} | db | uses parameter group "default.postgres17", which is not in this stack, so rds.force_ssl ` +
                    "cannot be checked; create the group in this stack with rds.force_ssl = 1",
            ]);
        });

        it("rejects a flexible server without require_secure_transport", () => {
            assert.deepEqual(violations(without(validStack(), "pg-require-tls")), [
                `${P} | pg | has no require_secure_transport configuration; add a ` +
                    'azure-native:dbforpostgresql:Configuration setting require_secure_transport to "on"',
            ]);
        });

        it("rejects require_secure_transport off", () => {
            assert.deepEqual(violations(change(validStack(), "pg-require-tls", { value: "OFF" })), [
                `${P} | pg-require-tls | sets require_secure_transport of azure-native:dbforpostgresql:Server "pg" to "OFF"; set it to "on"`,
            ]);
        });

        it('accepts "ON", and the configuration name from the outputs', () => {
            const stack = change(validStack(), "pg-require-tls", {
                configurationName: undefined,
                name: "require_secure_transport",
                value: "ON",
            });
            assert.deepEqual(violations(stack), []);
        });
    });

    describe("stateful-resources-protected", () => {
        const P = "stateful-resources-protected";

        it("covers every type of the preview guard's STATEFUL_RESOURCES", () => {
            assert.deepEqual(
                [...statefulResourcesProtected.types].sort(),
                [...new Set(STATEFUL_RESOURCES.map((s) => s.type))].sort(),
            );
        });

        for (const [name, loses] of [
            ["db", "the shared PostgreSQL database (RDS)"],
            ["pg", "the shared PostgreSQL flexible server"],
            ["redis-vm", "the Redis VM and its data"],
            ["redis-azure-vm", "the Redis VM and its data"],
            ["bucket", "an S3 bucket and every blob in it"],
            ["account", "an Azure storage account and every blob in it"],
            ["container", "an Azure blob container and every blob in it"],
            [
                "rg",
                "an Azure resource group and everything in it (a PostgreSQL server, the Redis VM or a storage account)",
            ],
            ["quay-database", "a database and every table in it"],
            [
                "bundle-database-secret-key",
                "DATABASE_SECRET_KEY: every encrypted field in the database becomes unreadable",
            ],
        ]) {
            it(`rejects ${name} without protect`, () => {
                assert.deepEqual(violations(withOptions(validStack(), name, { protect: false })), [
                    `${P} | ${name} | is not protected; deleting it loses ${loses}; create it with { protect: true }`,
                ]);
            });
        }

        it("accepts an unprotected password that is not DATABASE_SECRET_KEY", () => {
            const stack = add(validStack(), resource(T.password, "bundle-secret-key", { length: 64 }, {}, false));
            assert.deepEqual(violations(stack), []);
        });

        /** The stack with one resource unprotected and tagged as a retired site's storage is. */
        const retired = (name: string, key = "tags") =>
            withOptions(change(validStack(), name, { [key]: { "quay-georep-state": "retired" } }), name, {
                protect: false,
            });

        for (const [name, key] of [
            ["bucket", "tags"],
            ["account", "tags"],
            ["container", "metadata"],
            ["rg", "tags"],
        ]) {
            it(`accepts a retired site's unprotected ${name} (tagged quay-georep-state: retired)`, () => {
                assert.deepEqual(violations(retired(name, key)), []);
            });
        }

        for (const [name, loses] of [
            ["db", "the shared PostgreSQL database (RDS)"],
            ["redis-vm", "the Redis VM and its data"],
            ["quay-database", "a database and every table in it"],
        ]) {
            it(`rejects an unprotected ${name} tagged retired (the tag exempts only storage)`, () => {
                assert.deepEqual(violations(retired(name)), [
                    `${P} | ${name} | is not protected; deleting it loses ${loses}; create it with { protect: true } ` +
                        "(the retired tag exempts only a retired site's storage, retained on delete)",
                ]);
            });
        }

        /** The stack with a released database server's instance (lib/standby.ts): unprotected and frozen. */
        const released = (name: string, options: Parameters<typeof withOptions>[2]) => {
            const db = named(validStack(), "db");
            return withOptions(
                add(validStack(), { ...db, name, urn: db.urn.replace(/::db$/, `::${name}`) }),
                name,
                options,
            );
        };

        it("accepts a released database server: unprotected, frozen (ignoreChanges *) and retained", () => {
            const frozen = { protect: false, ignoreChanges: ["*"], retainOnDelete: true };
            assert.deepEqual(violations(released("quay-georep-database-instance", frozen)), []);
            assert.deepEqual(violations(released("quay-georep-database-standby-g2-instance", frozen)), []);
        });

        it("rejects a server that is only unprotected, not retained, or not a server component's", () => {
            const loses = "the shared PostgreSQL database (RDS)";
            const message = (name: string) =>
                `${P} | ${name} | is not protected; deleting it loses ${loses}; create it with { protect: true }`;
            const name = "quay-georep-database-instance";
            assert.deepEqual(violations(released(name, { protect: false })), [message(name)]);
            assert.deepEqual(
                violations(released(name, { protect: false, ignoreChanges: ["*"], retainOnDelete: false })),
                [message(name)],
            );
            assert.deepEqual(violations(released("other-instance", { protect: false, ignoreChanges: ["*"] })), [
                message("other-instance"),
            ]);
        });

        it("rejects a retired bucket known not to be retained on delete (offline)", () => {
            assert.deepEqual(violations(withOptions(retired("bucket"), "bucket", { retainOnDelete: false })), [
                `${P} | bucket | is not protected; deleting it loses an S3 bucket and every blob in it; ` +
                    "create it with { protect: true } (the retired tag exempts only a retired site's storage, retained on delete)",
            ]);
        });
    });

    describe("rds-backups-and-deletion-protection", () => {
        const P = "rds-backups-and-deletion-protection";
        const backups = "(days of automated backups and point-in-time recovery)";

        it("rejects fewer than 7 days of backups", () => {
            assert.deepEqual(violations(change(validStack(), "db", { backupRetentionPeriod: 1 })), [
                `${P} | db | backupRetentionPeriod is 1; set it to at least 7 ${backups}`,
            ]);
        });

        it("rejects an instance that does not set its backup retention", () => {
            assert.deepEqual(violations(change(validStack(), "db", { backupRetentionPeriod: undefined })), [
                `${P} | db | backupRetentionPeriod is not set; set it to at least 7 ${backups}`,
            ]);
        });

        it("rejects deletion protection off", () => {
            assert.deepEqual(violations(change(validStack(), "db", { deletionProtection: false })), [
                `${P} | db | deletionProtection is false; set it to true (RDS then refuses to delete the instance, ` +
                    "whatever the Pulumi state says)",
            ]);
        });

        it("rejects skipping the final snapshot", () => {
            assert.deepEqual(violations(change(validStack(), "db", { skipFinalSnapshot: true })), [
                `${P} | db | skipFinalSnapshot is true; set it to false with a finalSnapshotIdentifier ` +
                    "(deleting the instance then leaves a snapshot)",
            ]);
        });

        it("skips values not known during preview", () => {
            const stack = change(validStack(), "db", { backupRetentionPeriod: UNKNOWN, deletionProtection: UNKNOWN });
            assert.deepEqual(violations(stack), []);
        });
    });

    describe("vm-volumes-encrypted", () => {
        const P = "vm-volumes-encrypted";

        it("rejects a root volume that does not say encrypted", () => {
            assert.deepEqual(violations(change(validStack(), "redis-vm", { rootBlockDevice: { volumeSize: 30 } })), [
                `${P} | redis-vm | rootBlockDevice.encrypted is not set; set it to true (unset, the account's EBS ` +
                    "default decides; the Redis VM keeps its data on its root volume)",
            ]);
        });

        it("rejects an unencrypted EBS block device", () => {
            const ebsBlockDevices = [{ deviceName: "/dev/sdf", volumeSize: 100, encrypted: false }];
            assert.deepEqual(violations(change(validStack(), "redis-vm", { ebsBlockDevices })), [
                `${P} | redis-vm | ebsBlockDevices[0] "/dev/sdf" has encrypted false; set it to true`,
            ]);
        });

        it("rejects an unencrypted EBS volume", () => {
            const stack = add(validStack(), resource(T.ebsVolume, "data", { size: 100, encrypted: false }));
            assert.deepEqual(violations(stack), [`${P} | data | encrypted is false; set it to true`]);
        });
    });

    describe("ec2-imdsv2-required", () => {
        const P = "ec2-imdsv2-required";
        const imds =
            'set it to "required" (IMDSv2: a request forged through the VM cannot read its role\'s credentials)';

        it("rejects optional session tokens (IMDSv1)", () => {
            const stack = change(validStack(), "redis-vm", { metadataOptions: { httpTokens: "optional" } });
            assert.deepEqual(violations(stack), [
                `${P} | redis-vm | metadataOptions.httpTokens is "optional"; ${imds}`,
            ]);
        });

        it("rejects an instance without metadataOptions (the AMI's default)", () => {
            assert.deepEqual(violations(change(validStack(), "redis-vm", { metadataOptions: undefined })), [
                `${P} | redis-vm | metadataOptions.httpTokens is not set; ${imds}`,
            ]);
        });

        it("accepts the metadata endpoint turned off", () => {
            const stack = change(validStack(), "redis-vm", { metadataOptions: { httpEndpoint: "disabled" } });
            assert.deepEqual(violations(stack), []);
        });
    });

    describe("vm-no-public-ip-unless-configured", () => {
        const P = "vm-no-public-ip-unless-configured";
        const configure = `or set redis.publicIp: true (the program then tags the VM ${PUBLIC_IP_TAG}: "true")`;
        const tagged = (stack: PolicyResource[], name: string) =>
            change(stack, name, { tags: { [PUBLIC_IP_TAG]: "true" } });
        const eip = resource(
            T.eip,
            "redis-ip",
            { domain: "vpc", instance: "redis-vm-id" },
            { instance: [[T.ec2, "redis-vm"]] },
        );
        const publicNic = (stack: PolicyResource[]) =>
            change(stack, "redis-nic", {
                ipConfigurations: [{ name: "redis", publicIPAddress: { id: "ip-id" } }],
            });

        it("rejects an instance that asks for a public IP", () => {
            assert.deepEqual(violations(change(validStack(), "redis-vm", { associatePublicIpAddress: true })), [
                `${P} | redis-vm | associatePublicIpAddress is true; set it to false (unset, the subnet decides), ${configure}`,
            ]);
        });

        it("rejects an instance that leaves it to the subnet", () => {
            assert.deepEqual(violations(change(validStack(), "redis-vm", { associatePublicIpAddress: undefined })), [
                `${P} | redis-vm | associatePublicIpAddress is not set; set it to false (unset, the subnet decides), ${configure}`,
            ]);
        });

        it("rejects an Elastic IP on the instance", () => {
            assert.deepEqual(violations(add(validStack(), eip)), [
                `${P} | redis-ip | gives aws:ec2/instance:Instance "redis-vm" a public IP, but the instance is not ` +
                    `tagged ${PUBLIC_IP_TAG}: "true"; remove it, ${configure}`,
            ]);
        });

        it("accepts an Elastic IP on an instance tagged as configured", () => {
            assert.deepEqual(violations(add(tagged(validStack(), "redis-vm"), eip)), []);
        });

        it("rejects a public IP on the Azure VM's network interface", () => {
            assert.deepEqual(violations(publicNic(validStack())), [
                `${P} | redis-nic | ipConfigurations[0].publicIPAddress gives azure-native:compute:VirtualMachine ` +
                    `"redis-azure-vm" a public IP, but the VM is not tagged ${PUBLIC_IP_TAG}: "true"; remove it, ${configure}`,
            ]);
        });

        it("accepts it on an Azure VM tagged as configured", () => {
            assert.deepEqual(violations(publicNic(tagged(validStack(), "redis-azure-vm"))), []);
        });

        it("rejects a public IP configuration the Azure VM declares inline", () => {
            const networkProfile = {
                networkInterfaceConfigurations: [
                    { name: "nic", ipConfigurations: [{ name: "ip", publicIPAddressConfiguration: { name: "pip" } }] },
                ],
            };
            assert.deepEqual(violations(change(validStack(), "redis-azure-vm", { networkProfile })), [
                `${P} | redis-azure-vm | networkProfile.networkInterfaceConfigurations[0].ipConfigurations[0]` +
                    `.publicIPAddressConfiguration gives the VM a public IP; remove it, ${configure}`,
            ]);
        });
    });

    describe("s3-buckets-tls-only", () => {
        const P = "s3-buckets-tls-only";
        const withStatement = (statement: Record<string, unknown>) =>
            change(validStack(), "bucket-tls-only", {
                policy: JSON.stringify({ Version: "2012-10-17", Statement: [statement] }),
            });
        const notDenied = `${P} | bucket-tls-only | does not deny requests to aws:s3/bucket:Bucket "bucket" made without TLS; add the statement ${TLS_ONLY_STATEMENT}`;

        it("rejects a bucket without a bucket policy", () => {
            assert.deepEqual(violations(without(validStack(), "bucket-tls-only")), [
                `${P} | bucket | has no aws:s3/bucketPolicy:BucketPolicy; add one with the statement ${TLS_ONLY_STATEMENT}`,
            ]);
        });

        it("rejects a policy that allows instead of denying", () => {
            assert.deepEqual(violations(withStatement({ ...tlsOnlyStatement(), Effect: "Allow" })), [notDenied]);
        });

        it("rejects a deny that leaves the objects out", () => {
            const statement = { ...tlsOnlyStatement(), Resource: "arn:aws:s3:::bucket-id" };
            assert.deepEqual(violations(withStatement(statement)), [notDenied]);
        });

        it("rejects a deny of requests made with TLS (the condition inverted)", () => {
            const statement = { ...tlsOnlyStatement(), Condition: { Bool: { "aws:SecureTransport": "true" } } };
            assert.deepEqual(violations(withStatement(statement)), [notDenied]);
        });

        it('accepts Principal { AWS: "*" }, Action "*", a boolean condition and a policy object', () => {
            const statement = {
                ...tlsOnlyStatement(),
                Principal: { AWS: "*" },
                Action: "*",
                Condition: { Bool: { "aws:securetransport": false } },
            };
            const stack = change(validStack(), "bucket-tls-only", { policy: { Statement: statement } });
            assert.deepEqual(violations(stack), []);
        });

        it("skips a policy not known during preview", () => {
            assert.deepEqual(violations(change(validStack(), "bucket-tls-only", { policy: UNKNOWN })), []);
        });
    });

    describe("lifecycle-jobs-restricted-and-limited", () => {
        const P = "lifecycle-jobs-restricted-and-limited";
        const limits =
            "set cpu and memory requests and limits (unbounded, a Job can starve Quay's pods on its node, and a " +
            "namespace quota on limits refuses it)";
        /** The fixture Job with its one container changed. */
        const gate = (c: Record<string, unknown>) =>
            change(validStack(), "gate", {
                spec: { template: { spec: { containers: [{ ...jobContainer("gate"), ...c }] } } },
            });

        it("rejects a container without a securityContext", () => {
            assert.deepEqual(violations(gate({ securityContext: undefined })), [
                `${P} | gate | container "gate": securityContext is not set; set allowPrivilegeEscalation: false and ` +
                    'capabilities: { drop: ["ALL"] }',
            ]);
        });

        it("rejects privilege escalation allowed", () => {
            const securityContext = { allowPrivilegeEscalation: true, capabilities: { drop: ["ALL"] } };
            assert.deepEqual(violations(gate({ securityContext })), [
                `${P} | gate | container "gate": securityContext.allowPrivilegeEscalation is true; set it to false`,
            ]);
        });

        it("rejects capabilities not all dropped, one added, and privileged", () => {
            const securityContext = {
                allowPrivilegeEscalation: false,
                privileged: true,
                capabilities: { drop: ["NET_RAW"], add: ["NET_ADMIN"] },
            };
            assert.deepEqual(violations(gate({ securityContext })), [
                `${P} | gate | container "gate": securityContext.capabilities.drop is ["NET_RAW"]; set it to ["ALL"]`,
                `${P} | gate | container "gate": securityContext.capabilities.add is ["NET_ADMIN"]; remove it (the Jobs need no capabilities)`,
                `${P} | gate | container "gate": securityContext.privileged is true; remove it`,
            ]);
        });

        it("rejects a container without resources", () => {
            assert.deepEqual(violations(gate({ resources: undefined })), [
                `${P} | gate | container "gate": resources.requests.cpu, resources.requests.memory, ` +
                    `resources.limits.cpu, resources.limits.memory are not set; ${limits}`,
            ]);
        });

        it("rejects a CronJob's container without a memory limit", () => {
            const container = {
                ...jobContainer("status"),
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m" } },
            };
            const stack = change(validStack(), "status", {
                spec: {
                    schedule: "*/15 * * * *",
                    jobTemplate: { spec: { template: { spec: { containers: [container] } } } },
                },
            });
            assert.deepEqual(violations(stack), [
                `${P} | status | container "status": resources.limits.memory is not set; ${limits}`,
            ]);
        });

        it("checks init containers too", () => {
            const init = { ...jobContainer("precheck"), securityContext: { capabilities: { drop: ["ALL"] } } };
            const stack = change(validStack(), "gate", {
                spec: { template: { spec: { initContainers: [init], containers: [jobContainer("gate")] } } },
            });
            assert.deepEqual(violations(stack), [
                `${P} | gate | init container "precheck": securityContext.allowPrivilegeEscalation is not set; set it to false`,
            ]);
        });

        it("skips values not known during preview", () => {
            assert.deepEqual(
                violations(gate({ securityContext: UNKNOWN, resources: { requests: UNKNOWN, limits: UNKNOWN } })),
                [],
            );
        });
    });

    describe("quay-registry-geo-replication", () => {
        const P = "quay-registry-geo-replication";
        const withComponents = (list: unknown) =>
            change(validStack(), "registry", {
                spec: { configBundleSecret: "georep-config-bundle", components: list },
            });
        const edit = (kind: string, c: Record<string, unknown> | undefined) =>
            withComponents(components().flatMap((x) => (x.kind === kind ? (c ? [c] : []) : [x])));

        it("restates the renderer's kinds, unmanaged kinds and env name", () => {
            assert.deepEqual(COMPONENT_KINDS, [...LIB_KINDS]);
            assert.deepEqual(Object.keys(UNMANAGED).sort(), [...UNMANAGED_KINDS].sort());
            assert.equal(PREFERENCE_ENV, LIB_ENV);
        });

        it("rejects a registry that does not list every kind", () => {
            assert.deepEqual(violations(edit("monitoring", undefined)), [
                `${P} | registry | spec.components does not list "monitoring"; list all 11 kinds ` +
                    "(the operator writes missing ones back into spec, a permanent diff)",
            ]);
        });

        it("rejects a kind listed twice, and an unknown kind", () => {
            assert.deepEqual(
                violations(withComponents([...components(), { kind: "clair", managed: false }, { kind: "builder" }])),
                [
                    `${P} | registry | spec.components lists unknown kind "builder"; use only ${COMPONENT_KINDS.join(", ")}`,
                    `${P} | registry | spec.components lists "clair" 2 times; list each kind once`,
                ],
            );
        });

        it("rejects a managed redis, and a tls component without managed", () => {
            const list = components().map((c) =>
                c.kind === "redis" ? { ...c, managed: true } : c.kind === "tls" ? { kind: "tls" } : c,
            );
            assert.deepEqual(violations(withComponents(list)), [
                `${P} | registry | component "redis" has managed: true; set managed: false (it uses the shared Redis)`,
                `${P} | registry | component "tls" has managed: not set; set managed: false (it uses the certificate in the bundle)`,
            ]);
        });

        it("rejects quay without the preference env, and mirror with an empty one", () => {
            const list = components().map((c) =>
                c.kind === "quay"
                    ? { kind: "quay", managed: true, overrides: { replicas: 2 } }
                    : c.kind === "mirror"
                      ? { ...c, overrides: { env: [{ name: PREFERENCE_ENV, value: " " }] } }
                      : c,
            );
            const fix = "set it to this cluster's location IDs, nearest first";
            assert.deepEqual(violations(withComponents(list)), [
                `${P} | registry | component "quay" has no QUAY_DISTRIBUTED_STORAGE_PREFERENCE env override; ${fix}`,
                `${P} | registry | component "mirror" sets QUAY_DISTRIBUTED_STORAGE_PREFERENCE to " "; ${fix}`,
            ]);
        });

        it("rejects a registry without a component list", () => {
            assert.deepEqual(violations(withComponents(undefined)), [
                `${P} | registry | spec.components is not set; list all 11 component kinds`,
            ]);
        });
    });

    describe("bundle-secret-identical-across-stacks", () => {
        const P = "bundle-secret-identical-across-stacks";
        const config = (bundleSha256: unknown): PolicyConfig => ({ [P]: { bundleSha256 } });
        const annotate = (annotations: Record<string, unknown>) =>
            change(validStack(), "bundle", {
                metadata: { name: "georep-config-bundle", namespace: "quay-enterprise", annotations },
            });
        const other = "0".repeat(64);

        it("accepts the shared stack's hash as policy config", () => {
            assert.deepEqual(violations(validStack(), config(BUNDLE_SHA256)), []);
        });

        it("rejects a Secret holding another bundle than the shared stack's", () => {
            assert.deepEqual(violations(validStack(), config(other)), [
                `${P} | bundle | holds bundle ${BUNDLE_SHA256}, but the shared stack's bundleSha256 is ${other}, so the ` +
                    "clusters would run different config; run pulumi up on the shared stack, then on this stack",
            ]);
        });

        it("rejects policy config that is not a SHA-256", () => {
            assert.deepEqual(violations(validStack(), config("abc")), [
                `${P} | (stack) | policy config bundleSha256 is "abc", not a SHA-256; pass the shared stack's output: ` +
                    "pulumi stack output -s <shared stack> bundleSha256",
            ]);
        });

        it("rejects a Secret without the hash annotation, or with a malformed one", () => {
            assert.deepEqual(violations(annotate({})), [
                `${P} | bundle | carries no quay-georep.io/bundle-sha256 annotation; annotate it with the SHA-256 of the bundle it holds`,
            ]);
            assert.deepEqual(violations(annotate({ "quay-georep.io/bundle-sha256": "sha256:abc" })), [
                `${P} | bundle | annotation quay-georep.io/bundle-sha256 is "sha256:abc", not a SHA-256 (64 lower-case hex digits)`,
            ]);
        });

        it("rejects an annotation that does not match the Secret's data", () => {
            const stack = change(validStack(), "bundle", { stringData: { ...BUNDLE, "config.yaml": "changed\n" } });
            const changed = checkResources(stack).map((v) => v.message);
            assert.equal(changed.length, 1);
            assert.match(
                changed[0],
                new RegExp(
                    `^annotation quay-georep.io/bundle-sha256 says ${BUNDLE_SHA256}, but the Secret's data hashes to ` +
                        "[0-9a-f]{64}; annotate it with the hash of what it holds$",
                ),
            );
        });

        it("hashes base64 data as the program hashes the files (outputs carry data, not stringData)", () => {
            const data = Object.fromEntries(
                Object.entries(BUNDLE).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
            );
            assert.deepEqual(
                violations(change(validStack(), "bundle", { stringData: undefined, data }), config(BUNDLE_SHA256)),
                [],
            );
        });

        it("skips hashes not known during preview", () => {
            assert.equal(violations(change(validStack(), "bundle", { stringData: UNKNOWN }), config(other)).length, 1);
            assert.deepEqual(violations(annotate({ "quay-georep.io/bundle-sha256": UNKNOWN }), config(other)), []);
        });

        it("rejects a registry whose bundle Secret the stack does not deploy", () => {
            const stack = change(validStack(), "bundle", {
                metadata: {
                    name: "georep-config-bundle",
                    namespace: "default",
                    annotations: { "quay-georep.io/bundle-sha256": BUNDLE_SHA256 },
                },
            });
            assert.deepEqual(violations(stack), [
                `${P} | registry | spec.configBundleSecret names Secret "georep-config-bundle" in namespace ` +
                    `"quay-enterprise", which this stack does not deploy; deploy the shared bundle as that Secret`,
            ]);
        });

        it("rejects a registry without configBundleSecret", () => {
            const stack = change(validStack(), "registry", { spec: { components: components() } });
            assert.deepEqual(violations(stack), [
                `${P} | registry | spec.configBundleSecret is not set; point it at the shared bundle Secret ` +
                    "(without it the operator makes a bundle of its own)",
            ]);
        });
    });
});

describe("policy rules offline: the example stacks", () => {
    // When the rules first ran on the example stacks, us broke two (the Azure account declared no
    // encryption; the Redis VM was unprotected). The components were fixed, not the rules.
    const KNOWN: Record<string, string[]> = { us: [], eu: [] };
    let run: Awaited<ReturnType<typeof runPair>>;
    before(async function () {
        this.timeout(120000);
        run = await runPair(exampleConfig("us"), exampleConfig("eu"));
        assertClean(run.shared);
        assertClean(run.other);
    });
    const asLines = (found: ReturnType<typeof checkRun>) =>
        found.map((v) => `${v.policy} | ${v.urn?.split("::").pop() ?? "(stack)"} | ${v.message}`);

    it("us (shared stack) meets every rule", () => {
        assert.deepEqual(asLines(checkRun(run.shared)), KNOWN.us);
    });

    it("eu meets every rule, given the shared stack's bundleSha256 as policy config", () => {
        const config = { "bundle-secret-identical-across-stacks": { bundleSha256: run.shared.outputs.bundleSha256 } };
        assert.deepEqual(asLines(checkRun(run.other, config)), KNOWN.eu);
    });

    it("eu fails the bundle rule against another shared hash", () => {
        const other = "f".repeat(64);
        const found = checkRun(run.other, { "bundle-secret-identical-across-stacks": { bundleSha256: other } });
        assert.equal(found.length, 1, found.map(formatViolation).join("\n"));
        assert.equal(found[0].policy, "bundle-secret-identical-across-stacks");
        assert.match(found[0].urn ?? "", /\$kubernetes:core\/v1:Secret::/);
        assert.ok(
            found[0].message.includes(`but the shared stack's bundleSha256 is ${other}`),
            formatViolation(found[0]),
        );
    });

    it("the Azure modes (flexible server, Azure VM) meet every rule", async () => {
        const azure = withConfig(exampleConfig("us"), {
            database: { mode: "azure", location: "westeurope", allowedCidrs: ["10.0.0.0/16"] },
            redis: { mode: "azure", location: "westeurope", allowedCidrs: ["10.0.0.0/16"] },
        });
        assert.deepEqual(asLines(checkRun(assertClean(await runStack(azure)))), KNOWN.us);
    });

    // Needs the program to tag a VM with a public IP as configured (components/redis/aws.ts, azure.ts).
    for (const [mode, where] of [
        ["aws", { region: "us-east-1", vpcId: "vpc-0123456789abcdef0", subnetId: "subnet-0123456789abcdef0" }],
        ["azure", { location: "westeurope" }],
    ] as const) {
        it(`accepts the public IP redis.publicIp: true asks for (${mode}), and only that`, async () => {
            const redis = { mode, ...where, allowedCidrs: ["10.0.0.0/16"] };
            const configured = withConfig(exampleConfig("us"), {
                ...oneLocation(),
                redis: { ...redis, publicIp: true },
            });
            assert.deepEqual(asLines(checkRun(assertClean(await runStack(configured)))), KNOWN.us);
            const run = assertClean(await runStack(withConfig(exampleConfig("us"), { ...oneLocation(), redis })));
            const vm = fromRecorded(run.resources).find((r) => r.name === "quay-georep-redis-vm");
            assert.equal((vm?.props.tags as Record<string, string> | undefined)?.[PUBLIC_IP_TAG], undefined);
        });
    }

    it("refuses what allowInternet lets the program create", async () => {
        const open = withConfig(exampleConfig("us"), {
            database: { mode: "azure", location: "westeurope", allowedCidrs: ["0.0.0.0/0"], allowInternet: true },
            redis: { mode: "azure", location: "westeurope", allowedCidrs: ["0.0.0.0/0"], allowInternet: true },
        });
        const network = asLines(checkRun(assertClean(await runStack(open)))).filter((l) => l.includes("internet"));
        assert.deepEqual(network, [
            "no-internet-ingress-to-postgres-or-redis | quay-georep-database-allow-0-0-0-0-0 | admits every IPv4 " +
                `address (0.0.0.0-255.255.255.255) to PostgreSQL; ${FIX}`,
            'no-internet-ingress-to-postgres-or-redis | quay-georep-redis-nsg | securityRules[0] "allow-redis" ' +
                `admits 0.0.0.0/0 on port 6379 (Redis); ${FIX}`,
            'no-internet-ingress-to-shared-services | quay-georep-redis-nsg | securityRules[0] "allow-redis" ' +
                `admits 0.0.0.0/0 to azure-native:compute:VirtualMachine "quay-georep-redis-vm"; ${FIX}`,
        ]);
    });

    it("links recorded resources as the engine would (IDs and known-after-apply values)", () => {
        const resources = fromRecorded(run.shared.resources);
        const byName = (name: string) => {
            const found = resources.find((r) => r.name === name);
            assert.ok(found, `no resource ${name}`);
            return found;
        };
        const instance = byName("quay-georep-database-instance");
        assert.deepEqual(instance.propertyDependencies?.parameterGroupName, [
            byName("quay-georep-database-params").urn,
        ]);
        assert.deepEqual(instance.propertyDependencies?.vpcSecurityGroupIds, [byName("quay-georep-database-sg").urn]);
        assert.deepEqual(byName("quay-georep-storage-usstorage-public-access").propertyDependencies?.bucket, [
            byName("quay-georep-storage-usstorage-bucket").urn,
        ]);
        assert.equal(byName("quay-georep-database-instance").protect, true);
    });
});

describe("policy network rules: allow-lists judged by what they cover", () => {
    const P1 = "no-internet-ingress-to-postgres-or-redis";
    const P2 = "no-internet-ingress-to-shared-services";
    /** The network rules' violations only (other rules are judged elsewhere). */
    const network = (stack: readonly PolicyResource[]) =>
        violations(stack).filter((l) => l.startsWith(`${P1} |`) || l.startsWith(`${P2} |`));
    const v4 = (n: string) => `${n} public IPv4 addresses (more than the 65,536 of a /16)`;
    const ALL_V4 = v4("3,987,471,616");
    const ALL_V6 =
        "335,962,051,336,855,665,935,446,113,736,292,564,990 public IPv6 addresses " +
        "(more than the 1,208,925,819,614,629,174,706,176 of a /48)";
    const EIGHTS = Array.from({ length: 256 }, (_, i) => `${i}.0.0.0/8`);
    const tcp = (from: number, to = from) => ({ protocol: "tcp", fromPort: from, toPort: to });
    const nsgRule = (name: string, props: Record<string, unknown>) =>
        resource(T.nsgRule, name, { direction: "Inbound", access: "Allow", protocol: "Tcp", ...props });
    const firewall = (name: string, startIpAddress: string, endIpAddress: string, server = "pg") =>
        resource(
            T.firewallRule,
            name,
            { serverName: `${server}-server`, startIpAddress, endIpAddress },
            { serverName: [[T.server, server]] },
        );

    it("refuses security group sources that split the internet, in one entry or across several", () => {
        const half = resource(T.ingressRule, "other-half", {
            ipProtocol: "tcp",
            fromPort: 5432,
            toPort: 5432,
            cidrIpv4: "0.0.0.0/1",
        });
        const sg = resource(T.sg, "other-sg", {
            ingress: [
                { ...tcp(5432), cidrBlocks: ["0.0.0.0/1"] },
                { ...tcp(5432, 6379), cidrBlocks: ["128.0.0.0/1"] },
                { ...tcp(6379), ipv6CidrBlocks: ["::/1", "8000::/1"] },
            ],
        });
        assert.deepEqual(network(add(validStack(), sg, half)), [
            `${P1} | other-sg | ingress[0], ingress[1] together admit 0.0.0.0/1, 128.0.0.0/1 on port 5432 (PostgreSQL): ${ALL_V4}; ${FIX}`,
            `${P1} | other-sg | ingress[1], ingress[2] together admit 128.0.0.0/1, ::/1, 8000::/1 on port 6379 (Redis): ` +
                `${v4("1,877,736,704")} and ${ALL_V6}; ${FIX}`,
            `${P1} | other-half | admits 0.0.0.0/1 on port 5432 (PostgreSQL): ${v4("2,109,734,912")}; ${FIX}`,
        ]);
    });

    it("adds up the rule resources of a group in front of a server (the program makes one per CIDR)", () => {
        const rule = (name: string, cidr: string, port: number, sg = "db-sg") =>
            resource(
                T.ingressRule,
                name,
                { ipProtocol: "tcp", fromPort: port, toPort: port, cidrIpv4: cidr },
                { securityGroupId: [[T.sg, sg]] },
            );
        const split = add(validStack(), rule("db-a", "20.0.0.0/16", 5432), rule("db-b", "20.1.0.0/16", 5432));
        assert.deepEqual(network(split), [
            `${P2} | db-sg | its rules together admit 20.0.0.0/16, 20.1.0.0/16 to aws:rds/instance:Instance "db": ` +
                `${v4("131,072")}; ${FIX}`,
        ]);
        // Overlaps count once; a private range (the fixture's 10.0.0.0/16) counts for nothing.
        assert.deepEqual(
            network(add(validStack(), rule("db-a", "20.0.0.0/16", 5432), rule("db-b", "20.0.128.0/17", 22))),
            [],
        );
        // One rule over the bound on another port: reported alone, not again as a sum.
        assert.deepEqual(network(add(validStack(), rule("redis-ssh", "20.0.0.0/8", 22, "redis-sg"))), [
            `${P2} | redis-ssh | admits 20.0.0.0/8 to aws:ec2/instance:Instance "redis-vm": ${v4("16,777,216")}; ${FIX}`,
        ]);
    });

    it("refuses an NSG rule listing the internet as 256 /8s, or as ::/1 and 8000::/1", () => {
        const rules = named(validStack(), "redis-nsg").props.securityRules as Record<string, unknown>[];
        const stack = change(validStack(), "redis-nsg", {
            securityRules: [{ ...rules[0], sourceAddressPrefixes: EIGHTS }],
        });
        const eights = '"allow-redis" admits 0.0.0.0/8, 1.0.0.0/8, 2.0.0.0/8 and 235 more';
        assert.deepEqual(network(stack), [
            `${P1} | redis-nsg | securityRules[0] ${eights} on port 6379 (Redis): ${ALL_V4}; ${FIX}`,
            `${P2} | redis-nsg | securityRules[0] ${eights} to azure-native:compute:VirtualMachine "redis-azure-vm": ` +
                `${ALL_V4}; ${FIX}`,
        ]);
        const v6 = nsgRule("other-v6", { sourceAddressPrefixes: ["::/1", "8000::/1"], destinationPortRange: "6379" });
        assert.deepEqual(network(add(validStack(), v6)), [
            `${P1} | other-v6 | admits ::/1, 8000::/1 on port 6379 (Redis): ${ALL_V6}; ${FIX}`,
        ]);
    });

    it("takes Internet, * and AzureCloud as the internet, and private prefixes and other tags as nothing", () => {
        const stack = add(
            validStack(),
            nsgRule("other-cloud", { sourceAddressPrefix: "AzureCloud", destinationPortRange: "5432" }),
            nsgRule("other-region", {
                sourceAddressPrefixes: ["10.0.0.0/8", "AzureCloud.westeurope"],
                destinationPortRanges: ["6379"],
            }),
            nsgRule("other-star", { sourceAddressPrefixes: ["*"], destinationPortRange: "5432" }),
            nsgRule("other-private", {
                sourceAddressPrefixes: ["10.0.0.0/8", "fc00::/7", "VirtualNetwork", "20.0.0.0/16", "2001:db9::/48"],
                destinationPortRange: "*",
            }),
        );
        assert.deepEqual(network(stack), [
            `${P1} | other-cloud | admits AzureCloud on port 5432 (PostgreSQL); ${FIX}`,
            `${P1} | other-region | admits AzureCloud.westeurope on port 6379 (Redis); ${FIX}`,
            `${P1} | other-star | admits * on port 5432 (PostgreSQL); ${FIX}`,
        ]);
    });

    it("counts a PostgreSQL firewall rule's range as it is, not as CIDRs", () => {
        const range = (start: string, end: string) =>
            network(change(validStack(), "pg-allow", { startIpAddress: start, endIpAddress: end }));
        assert.deepEqual(range("0.0.0.0", "127.255.255.255"), [
            `${P1} | pg-allow | admits 0.0.0.0-127.255.255.255 to PostgreSQL: ${v4("2,109,734,912")}; ${FIX}`,
        ]);
        assert.deepEqual(range("20.0.0.0", "20.1.0.0"), [
            `${P1} | pg-allow | admits 20.0.0.0-20.1.0.0 to PostgreSQL: ${v4("65,537")}; ${FIX}`,
        ]);
        assert.deepEqual([...range("20.0.0.0", "20.0.255.255"), ...range("10.0.0.0", "10.255.255.255")], []);
    });

    it("adds up a server's firewall rules, duplicates once, in the stack or not", () => {
        const split = add(
            validStack(),
            firewall("pg-a", "20.0.0.0", "20.0.255.255"),
            firewall("pg-b", "20.1.0.0", "20.1.0.0"),
        );
        assert.deepEqual(network(split), [
            `${P2} | pg | its firewall rules together admit 20.0.0.0-20.0.255.255, 20.1.0.0-20.1.0.0 to PostgreSQL: ` +
                `${v4("65,537")}; ${FIX}`,
        ]);
        const twice = add(
            validStack(),
            firewall("pg-a", "20.0.0.0", "20.0.255.255"),
            firewall("pg-b", "20.0.0.0", "20.0.255.255"),
        );
        assert.deepEqual(network(twice), []);
        const legacy = (name: string, start: string, end: string) =>
            resource(T.firewallRule, name, {
                resourceGroupName: "rg",
                serverName: "legacy",
                startIpAddress: start,
                endIpAddress: end,
            });
        const outside = add(
            validStack(),
            legacy("legacy-a", "20.0.0.0", "20.0.255.255"),
            legacy("legacy-b", "21.0.0.0", "21.0.0.255"),
        );
        assert.deepEqual(network(outside), [
            `${P2} | legacy-a | the firewall rules of server "legacy" together admit 20.0.0.0-20.0.255.255, ` +
                `21.0.0.0-21.0.0.255 to PostgreSQL: ${v4("65,792")}; ${FIX}`,
        ]);
    });

    it("refuses the split internet that allowInternet lets the program create, on Azure and AWS", async () => {
        const halves = ["0.0.0.0/1", "128.0.0.0/1"];
        const azure = withConfig(exampleConfig("us"), {
            database: { mode: "azure", location: "westeurope", allowedCidrs: halves, allowInternet: true },
            redis: { mode: "azure", location: "westeurope", allowedCidrs: halves, allowInternet: true },
        });
        const lines = (run: Awaited<ReturnType<typeof runStack>>) =>
            network(fromRecorded(assertClean(run).resources)).map((l) => l.replace(/ \| quay-georep-/, " | "));
        assert.deepEqual(lines(await runStack(azure)), [
            `${P1} | database-allow-0-0-0-0-1 | admits 0.0.0.0-127.255.255.255 to PostgreSQL: ${v4("2,109,734,912")}; ${FIX}`,
            `${P1} | database-allow-128-0-0-0-1 | admits 128.0.0.0-255.255.255.255 to PostgreSQL: ` +
                `${v4("1,877,736,704")}; ${FIX}`,
            `${P1} | redis-nsg | securityRules[0] "allow-redis" admits 0.0.0.0/1, 128.0.0.0/1 on port 6379 (Redis): ` +
                `${ALL_V4}; ${FIX}`,
            `${P2} | redis-nsg | securityRules[0] "allow-redis" admits 0.0.0.0/1, 128.0.0.0/1 to ` +
                `azure-native:compute:VirtualMachine "quay-georep-redis-vm": ${ALL_V4}; ${FIX}`,
        ]);
        const aws = withConfig(exampleConfig("us"), {
            ...oneLocation(),
            redis: {
                mode: "aws",
                region: "us-east-1",
                vpcId: "vpc-0123456789abcdef0",
                subnetId: "subnet-0123456789abcdef0",
                allowedCidrs: ["10.0.0.0/16", "20.0.0.0/16", "20.1.0.0/16"],
                allowInternet: true,
            },
        });
        assert.deepEqual(lines(await runStack(aws)), [
            `${P2} | redis-sg | its rules together admit 20.0.0.0/16, 20.1.0.0/16 to aws:ec2/instance:Instance ` +
                `"quay-georep-redis-vm": ${v4("131,072")}; ${FIX}`,
        ]);
    });
});
