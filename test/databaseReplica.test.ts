/**
 * The standby PostgreSQL of issue 14, per role and cloud: what a replica asks RDS and Azure for
 * (the source, its own key, network and parameters, no credentials of its own), that promoting
 * changes only what promotes, that releasing a server fences it and lets go of everything, and that
 * a primary asks for exactly what it asked for before.
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type * as kms from "@pulumi/aws/kms";
import { RdsPostgres, RdsPostgresArgs } from "../components/database/aws";
import { FlexiblePostgres, FlexiblePostgresArgs } from "../components/database/azure";
import { isSecretInput, RecordedResource, RunResult } from "../offline/runtime";
import type { AwsDatabase, AzureDatabase } from "../config/services";
import { flexibleArgs, rdsArgs } from "../stacks/serviceArgs";
import { inputsOf, one, ofType } from "./mocks";
import { AZURE_SERVICES, descendants, parseStack, runComponent, shared } from "./support/infra";

const T = {
    rdsComponent: "quay-georep:database:RdsPostgres",
    rds: "aws:rds/instance:Instance",
    key: "aws:kms/key:Key",
    params: "aws:rds/parameterGroup:ParameterGroup",
    subnets: "aws:rds/subnetGroup:SubnetGroup",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    password: "random:index/randomPassword:RandomPassword",
    flexibleComponent: "quay-georep:database:FlexiblePostgres",
    flexible: "azure-native:dbforpostgresql:Server",
    configuration: "azure-native:dbforpostgresql:Configuration",
    firewall: "azure-native:dbforpostgresql:FirewallRule",
    group: "azure-native:resources:ResourceGroup",
} as const;

const HOME = "quay-georep-database";
const STANDBY = "quay-georep-database-standby";
/** The home primary, as the replica names it: cross-region replicas name their source by ARN. */
const SOURCE_ARN = "arn:aws:rds:us-east-1:123456789012:db:quay-georep-database-instance-1a2b3c";
const SOURCE_ID =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/quay-georep-database-rg1a2b/providers/Microsoft.DBforPostgreSQL/flexibleServers/quay-georep-database-server1a2b";
/** The stack-level admin password, as the stack would hand it on (plain here: the component must mark it). */
const ADMIN_PASSWORD = "stack-admin-password";

/** The example's RDS database block (us-east-1), as the shared stack maps it. */
const RDS_DB = parseStack(shared()).database as AwsDatabase;
const AZURE_DB = parseStack(shared(AZURE_SERVICES)).database as AzureDatabase;

/** A replica in us-west-2 of the home primary, with `changes`. */
function rdsStandby(changes: Partial<RdsPostgresArgs> = {}): RdsPostgresArgs {
    return { ...rdsArgs(RDS_DB), role: "replica", replicaOf: SOURCE_ARN, adminPassword: ADMIN_PASSWORD, ...changes };
}

/** A replica in northeurope of the home primary, with `changes`. */
function flexibleStandby(changes: Partial<FlexiblePostgresArgs> = {}): FlexiblePostgresArgs {
    return {
        ...flexibleArgs(AZURE_DB),
        location: "northeurope",
        role: "replica",
        replicaOf: SOURCE_ID,
        adminPassword: ADMIN_PASSWORD,
        ...changes,
    };
}

interface RdsRun {
    readonly run: RunResult;
    /** True when the instance's kmsKeyId is the ARN of the key the component made (an Output the mocks leave unknown). */
    readonly encryptedWithOwnKey: boolean;
}

/**
 * One RdsPostgres alone, through the stack's provider for `region`. The offline runtime computes no
 * ARN for a KMS key, so the instance's kmsKeyId is checked where it is made: it must be the very
 * `arn` Output of the component's key.
 */
async function rds(name: string, args: RdsPostgresArgs, region = "us-west-2"): Promise<RdsRun> {
    let encryptedWithOwnKey = false;
    const run = await runComponent((p) => {
        let key: kms.Key | undefined;
        let kmsKeyId: unknown;
        pulumi.runtime.registerStackTransformation((t) => {
            if (t.type === T.key) key = t.resource as kms.Key;
            if (t.type === T.rds) kmsKeyId = (t.props as Record<string, unknown>).kmsKeyId;
            return undefined;
        });
        const server = new RdsPostgres(name, args, { providers: [p.aws(region), p.random()] });
        encryptedWithOwnKey = key !== undefined && kmsKeyId === key.arn;
        return {
            adminUser: server.adminUser,
            adminPassword: server.adminPassword,
            ids: server.ids,
            role: server.role,
            version: server.version,
        };
    });
    return { run, encryptedWithOwnKey };
}

/** One FlexiblePostgres alone, through the stack's azure-native provider. */
function flexible(name: string, args: FlexiblePostgresArgs): Promise<RunResult> {
    return runComponent((p) => {
        const server = new FlexiblePostgres(name, args, { providers: [p.azure(), p.random()] });
        return { adminPassword: server.adminPassword, ids: server.ids, role: server.role };
    });
}

/** Everything a component's children ask of the engine: URN, inputs, options, provider. */
function asked(r: RunResult, componentType: string): Record<string, unknown>[] {
    return descendants(r, one(r, componentType)).map((x) => ({
        urn: x.urn,
        inputs: x.inputs,
        protect: x.protect,
        retainOnDelete: x.retainOnDelete,
        dependsOn: x.dependsOn,
        provider: x.provider,
    }));
}

/** Inputs without one key. */
function without(inputs: Record<string, unknown>, key: string): Record<string, unknown> {
    return Object.fromEntries(Object.entries(inputs).filter(([k]) => k !== key));
}

/** The instance's inputs a primary sends today; a change here is a diff on every existing deployment. */
const PRIMARY_INSTANCE_INPUTS = [
    "allocatedStorage",
    "allowMajorVersionUpgrade",
    "autoMinorVersionUpgrade",
    "backupRetentionPeriod",
    "copyTagsToSnapshot",
    "dbSubnetGroupName",
    "deletionProtection",
    "engine",
    "engineVersion",
    "finalSnapshotIdentifier",
    "instanceClass",
    "maxAllocatedStorage",
    "multiAz",
    "parameterGroupName",
    "password",
    "port",
    "publiclyAccessible",
    "skipFinalSnapshot",
    "storageEncrypted",
    "storageType",
    "tags",
    "username",
    "vpcSecurityGroupIds",
];

describe("RdsPostgres roles (issue 14)", () => {
    let primary: RdsRun;
    let replica: RdsRun;
    let promoted: RdsRun;
    before(async () => {
        // One at a time: a run owns Pulumi's (global) mock runtime.
        primary = await rds(HOME, rdsArgs(RDS_DB), "us-east-1");
        replica = await rds(STANDBY, rdsStandby());
        promoted = await rds(STANDBY, rdsStandby({ role: "promoted" }));
    });

    it("asks for exactly what a primary asked for before: role primary is the default, with its own password and no key", async () => {
        const explicit = await rds(HOME, { ...rdsArgs(RDS_DB), role: "primary" }, "us-east-1");
        assert.deepEqual(asked(explicit.run, T.rdsComponent), asked(primary.run, T.rdsComponent));
        const instance = one(primary.run, T.rds);
        assert.deepEqual(Object.keys(instance.inputs).sort(), PRIMARY_INSTANCE_INPUTS);
        assert.equal(ofType(primary.run, T.key).length, 0, "a primary uses the default RDS key, as before");
        // The generated password keeps its name, so its URN (and value) stays.
        assert.equal(
            one(primary.run, T.password).urn,
            `urn:pulumi:test::quay-georep::${T.rdsComponent}$${T.password}::${HOME}-admin-password`,
        );
        assert.ok(isSecretInput(instance.inputs.password), "the generated password stays secret");
        assert.equal(primary.run.outputs.role, "primary");
    });

    it("gives a primary the admin password it is handed, as a secret, and generates none", async () => {
        const given = await rds(HOME, { ...rdsArgs(RDS_DB), adminPassword: ADMIN_PASSWORD }, "us-east-1");
        const instance = one(given.run, T.rds);
        assert.deepEqual(instance.inputs.password, { secret: ADMIN_PASSWORD });
        assert.equal(inputsOf(instance).username, "quayadmin");
        assert.equal(ofType(given.run, T.password).length, 0);
        assert.deepEqual(given.run.outputs.adminPassword, { secret: ADMIN_PASSWORD });
    });

    it("creates a replica as a cross-region read replica of the source ARN, without what it inherits from the source", () => {
        const i = inputsOf(one(replica.run, T.rds));
        assert.equal(i.replicateSourceDb, SOURCE_ARN);
        // username and dbName "Cannot be specified for a replica"; engine, version and the master
        // password are the source's: a replica sets none of them.
        for (const inherited of [
            "engine",
            "engineVersion",
            "username",
            "password",
            "dbName",
            "manageMasterUserPassword",
        ]) {
            assert.equal(i[inherited], undefined, `${inherited} is the source's`);
        }
        assert.deepEqual(
            {
                storageEncrypted: i.storageEncrypted,
                backupRetentionPeriod: i.backupRetentionPeriod,
                deletionProtection: i.deletionProtection,
                skipFinalSnapshot: i.skipFinalSnapshot,
                finalSnapshotIdentifier: i.finalSnapshotIdentifier,
                instanceClass: i.instanceClass,
                multiAz: i.multiAz,
                port: i.port,
            },
            {
                storageEncrypted: true,
                // Backups make the promoted server a possible source of the next generation.
                backupRetentionPeriod: 14,
                deletionProtection: true,
                skipFinalSnapshot: false,
                finalSnapshotIdentifier: `${STANDBY}-final`,
                instanceClass: "db.m7g.large",
                multiAz: true,
                port: 5432,
            },
        );
        assert.equal(one(replica.run, T.rds).protect, true);
        assert.ok(replica.encryptedWithOwnKey, "a cross-region replica of an encrypted source needs kmsKeyId");
    });

    it("encrypts a replica with a rotating key of its own region, protected like the instance", () => {
        const key = one(replica.run, T.key);
        assert.deepEqual(inputsOf(key), {
            description: `Storage of the PostgreSQL replica ${STANDBY}`,
            enableKeyRotation: true,
            deletionWindowInDays: 30,
        });
        // Deleting the key would make the replica's data unreadable.
        assert.equal(key.protect, true);
        assert.ok(key.provider?.endsWith("::quay-georep-aws-us-west-2"), `the key uses ${key.provider}`);
        assert.ok(one(replica.run, T.rds).provider?.endsWith("::quay-georep-aws-us-west-2"));
    });

    it("gives a replica its own subnet group, security group, per-CIDR rules and TLS-only parameters", () => {
        const i = inputsOf(one(replica.run, T.rds));
        assert.deepEqual(
            [i.dbSubnetGroupName, i.vpcSecurityGroupIds, i.parameterGroupName],
            [
                `(known after apply: ${STANDBY}-subnets.name)`,
                [`${STANDBY}-sg-id`],
                `(known after apply: ${STANDBY}-params.name)`,
            ],
        );
        assert.deepEqual(inputsOf(one(replica.run, T.params)).parameters, [
            { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
        ]);
        assert.deepEqual(
            ofType(replica.run, T.ingress).map((x) => [x.name, inputsOf(x).cidrIpv4, inputsOf(x).fromPort]),
            [
                [`${STANDBY}-allow-10-0-0-0-16`, "10.0.0.0/16", 5432],
                [`${STANDBY}-allow-10-1-0-0-16`, "10.1.0.0/16", 5432],
            ],
        );
    });

    it("promotes by dropping replicateSourceDb only: every other input and option stays as the replica's", () => {
        const before = asked(replica.run, T.rdsComponent);
        const after = asked(promoted.run, T.rdsComponent);
        assert.deepEqual(
            after.map((x) => x.urn),
            before.map((x) => x.urn),
        );
        const instanceUrn = one(promoted.run, T.rds).urn;
        for (const [k, x] of after.entries()) {
            if (x.urn !== instanceUrn) assert.deepEqual(x, before[k], `${String(x.urn)} must not change`);
        }
        const replicaInstance = one(replica.run, T.rds);
        const promotedInstance = one(promoted.run, T.rds);
        assert.equal(promotedInstance.inputs.replicateSourceDb, undefined);
        assert.deepEqual(promotedInstance.inputs, without(replicaInstance.inputs, "replicateSourceDb"));
        assert.deepEqual(
            [promotedInstance.protect, promotedInstance.retainOnDelete],
            [replicaInstance.protect, replicaInstance.retainOnDelete],
        );
        assert.ok(promoted.encryptedWithOwnKey, "the promoted server keeps the replica's key");
        assert.equal(promoted.run.outputs.role, "promoted");
    });

    it("reports the source's admin user and the handed-on password (a secret), and ids with the ARN", () => {
        const out = replica.run.outputs;
        assert.equal(out.adminUser, "quayadmin");
        assert.deepEqual(out.adminPassword, { secret: ADMIN_PASSWORD });
        assert.deepEqual(out.ids, {
            identifier: `(known after apply: ${STANDBY}-instance.identifier)`,
            arn: `(known after apply: ${STANDBY}-instance.arn)`,
        });
        assert.equal(out.role, "replica");
        assert.equal(ofType(replica.run, T.password).length, 0, "a replica generates no password");
    });

    it("releases a server by fencing it: no ingress rules, every child unprotected and retained on delete", async () => {
        for (const [name, args, region, kept] of [
            [STANDBY, rdsStandby({ role: "promoted", retain: true }), "us-west-2", promoted],
            [HOME, { ...rdsArgs(RDS_DB), retain: true }, "us-east-1", primary],
        ] as const) {
            const released = await rds(name, args, region);
            assert.equal(ofType(released.run, T.ingress).length, 0, `${name}: nothing can connect to it`);
            const below = descendants(released.run, one(released.run, T.rdsComponent));
            // Set on each child: the SDK inherits protect from the parent but not retainOnDelete.
            for (const x of below) {
                assert.deepEqual([x.protect, x.retainOnDelete], [false, true], `${x.name} must be let go`);
            }
            // Releasing deletes the rules and changes nothing else the cloud is asked for.
            const instance = one(released.run, T.rds);
            assert.deepEqual(instance.inputs, one(kept.run, T.rds).inputs);
            assert.equal(inputsOf(instance).deletionProtection, true);
            assert.deepEqual(
                below.filter((x) => x.type !== T.ingress).map((x) => x.urn),
                descendants(kept.run, one(kept.run, T.rdsComponent))
                    .filter((x) => x.type !== T.ingress)
                    .map((x) => x.urn),
            );
        }
    });

    it("refuses a replica or promoted server without its source ARN or the source's password", async () => {
        const fails = (args: RdsPostgresArgs, message: string) =>
            assert.rejects(rds(STANDBY, args), (err: Error) => {
                assert.equal(err.message, `program failed:\n${message}`);
                return true;
            });
        await fails(
            rdsStandby({ replicaOf: undefined }),
            `RdsPostgres ${STANDBY}: role "replica" needs replicaOf (the source instance's ARN)`,
        );
        await fails(
            rdsStandby({ role: "promoted", adminPassword: undefined }),
            `RdsPostgres ${STANDBY}: role "promoted" needs adminPassword (the source's master password, inherited)`,
        );
    });
});

describe("FlexiblePostgres roles (issue 14)", () => {
    let primary: RunResult;
    let replica: RunResult;
    let promoted: RunResult;
    before(async () => {
        primary = await flexible(HOME, flexibleArgs(AZURE_DB));
        replica = await flexible(STANDBY, flexibleStandby());
        promoted = await flexible(STANDBY, flexibleStandby({ role: "promoted" }));
    });

    it("asks for exactly what a primary asked for before, and adds the server's resource ID to ids", async () => {
        const explicit = await flexible(HOME, { ...flexibleArgs(AZURE_DB), role: "primary" });
        assert.deepEqual(asked(explicit, T.flexibleComponent), asked(primary, T.flexibleComponent));
        const i = inputsOf(one(primary, T.flexible));
        assert.deepEqual(
            [i.createMode, i.administratorLogin, i.sourceServerResourceId],
            ["Create", "quayadmin", undefined],
        );
        assert.ok(isSecretInput(one(primary, T.flexible).inputs.administratorLoginPassword));
        assert.deepEqual(primary.outputs.ids, {
            resourceGroup: `(known after apply: ${HOME}-rg.name)`,
            server: `(known after apply: ${HOME}-server.name)`,
            // What a replica names as its source (the mocks' ID of the server).
            id: `${HOME}-server-id`,
        });
        assert.equal(primary.outputs.role, "primary");
    });

    it("creates a replica from the source's resource ID in its own group and location, with no administrator", () => {
        const server = one(replica, T.flexible);
        const i = inputsOf(server);
        assert.deepEqual([i.createMode, i.sourceServerResourceId], ["Replica", SOURCE_ID]);
        // The administrator and its password are the source's.
        assert.deepEqual([i.administratorLogin, i.administratorLoginPassword], [undefined, undefined]);
        assert.equal(i.replica, undefined, "a replica is not promoted");
        assert.deepEqual(inputsOf(one(replica, T.group)), { location: "northeurope" });
        assert.equal(i.location, "northeurope");
        assert.equal(i.resourceGroupName, `(known after apply: ${STANDBY}-rg.name)`);
        // Sized like the primary.
        const p = inputsOf(one(primary, T.flexible));
        for (const key of ["version", "sku", "storage", "backup", "network", "authConfig"]) {
            assert.deepEqual(i[key], p[key], key);
        }
        assert.deepEqual([server.protect, one(replica, T.group).protect], [true, true]);
        assert.deepEqual(replica.outputs.adminPassword, { secret: ADMIN_PASSWORD });
        assert.equal(ofType(replica, T.password).length, 0);
        assert.equal(replica.outputs.role, "replica");
    });

    it("never asks high availability of a replica or a promoted server (Azure replicas cannot have it)", async () => {
        const zoneRedundant = { ...flexibleStandby(), highAvailability: true };
        const ha = (r: RunResult) => (inputsOf(one(r, T.flexible)).highAvailability as { mode: string }).mode;
        assert.equal(ha(await flexible(HOME, { ...flexibleArgs(AZURE_DB), highAvailability: true })), "ZoneRedundant");
        assert.equal(ha(await flexible(STANDBY, zoneRedundant)), "Disabled");
        assert.equal(ha(await flexible(STANDBY, { ...zoneRedundant, role: "promoted" })), "Disabled");
    });

    it("gives a replica the primary's parameters and firewall rules, one change at a time", () => {
        const settings = (r: RunResult) =>
            ofType(r, T.configuration).map((c) => [inputsOf(c).configurationName, inputsOf(c).value]);
        assert.deepEqual(settings(replica), [
            ["azure.extensions", "PG_TRGM,UUID-OSSP"],
            ["require_secure_transport", "on"],
        ]);
        assert.deepEqual(
            ofType(replica, T.firewall).map((f) => [inputsOf(f).startIpAddress, inputsOf(f).endIpAddress]),
            [
                ["198.51.100.0", "198.51.100.255"],
                ["203.0.113.7", "203.0.113.7"],
            ],
        );
        const byName = (n: string) => replica.resources.find((x) => x.name === `${STANDBY}-${n}`) as RecordedResource;
        const chain = ["server", "extensions", "require-tls", "allow-198-51-100-0-24", "allow-203-0-113-7-32"];
        for (let k = 1; k < chain.length; k++) {
            assert.deepEqual(
                byName(chain[k]).dependsOn,
                [byName(chain[k - 1]).urn],
                `${chain[k]} after ${chain[k - 1]}`,
            );
        }
    });

    it("promotes with the replica block and keeps the create-only inputs, changing nothing else", async () => {
        const before = asked(replica, T.flexibleComponent);
        const after = asked(promoted, T.flexibleComponent);
        const serverUrn = one(promoted, T.flexible).urn;
        assert.deepEqual(
            after.map((x) => x.urn),
            before.map((x) => x.urn),
        );
        for (const [k, x] of after.entries()) {
            if (x.urn !== serverUrn) assert.deepEqual(x, before[k], `${String(x.urn)} must not change`);
        }
        const server = inputsOf(one(promoted, T.flexible));
        assert.deepEqual(server.replica, { promoteMode: "Standalone", promoteOption: "Planned", role: "None" });
        // createMode and sourceServerResourceId stay: they are create-only.
        assert.deepEqual(without(server, "replica"), inputsOf(one(replica, T.flexible)));
        assert.equal(promoted.outputs.role, "promoted");
        const forced = await flexible(STANDBY, flexibleStandby({ role: "promoted", promoteOption: "Forced" }));
        assert.deepEqual(inputsOf(one(forced, T.flexible)).replica, {
            promoteMode: "Standalone",
            promoteOption: "Forced",
            role: "None",
        });
    });

    it("releases a server by fencing it: no firewall rules, every child unprotected and retained on delete", async () => {
        const released = await flexible(HOME, { ...flexibleArgs(AZURE_DB), retain: true });
        assert.equal(ofType(released, T.firewall).length, 0, "nothing can connect to it");
        const below = descendants(released, one(released, T.flexibleComponent));
        assert.deepEqual(
            below.map((x) => x.type).sort(),
            [T.configuration, T.configuration, T.flexible, T.password, T.group].sort(),
        );
        for (const x of below) {
            assert.deepEqual([x.protect, x.retainOnDelete], [false, true], `${x.name} must be let go`);
        }
        assert.deepEqual(one(released, T.flexible).inputs, one(primary, T.flexible).inputs);
    });

    it("refuses a replica without its source's resource ID or password", async () => {
        await assert.rejects(flexible(STANDBY, flexibleStandby({ replicaOf: undefined })), {
            message: `program failed:\nFlexiblePostgres ${STANDBY}: role "replica" needs replicaOf (the source server's resource ID)`,
        });
        await assert.rejects(flexible(STANDBY, flexibleStandby({ adminPassword: undefined })), {
            message: `program failed:\nFlexiblePostgres ${STANDBY}: role "replica" needs adminPassword (the source's master password, inherited)`,
        });
    });
});
