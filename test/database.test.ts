/**
 * The shared PostgreSQL per mode: what the program asks AWS, Azure and the server itself for, that
 * nothing is open to the world and every credential stays secret, that the bundle carries the
 * created endpoint and generated passwords, and the exact message of each validation rule.
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { RdsPostgres } from "../components/database/aws";
import { FlexiblePostgres } from "../components/database/azure";
import { QuayDatabases } from "../components/database/logins";
import { isSecretInput, plain, RecordedResource, RunResult } from "../offline/runtime";
import type { AwsDatabase, AzureDatabase } from "../config/services";
import { flexibleArgs, rdsArgs } from "../stacks/serviceArgs";
import { bundleSecret, inputsOf, one, ofType } from "./mocks";
import {
    AZURE_SERVICES,
    bundleOf,
    created,
    CREATED,
    descendants,
    EXISTING,
    EXISTING_SECRETS,
    parseStack,
    plainSecrets,
    problemsOf,
    runComponent,
    runOnce,
    shared,
    urnDiff,
} from "./support/infra";

const T = {
    rds: "aws:rds/instance:Instance",
    params: "aws:rds/parameterGroup:ParameterGroup",
    subnets: "aws:rds/subnetGroup:SubnetGroup",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    awsProvider: "pulumi:providers:aws",
    pgProvider: "pulumi:providers:postgresql",
    role: "postgresql:index/role:Role",
    database: "postgresql:index/database:Database",
    extension: "postgresql:index/extension:Extension",
    flexible: "azure-native:dbforpostgresql:Server",
    configuration: "azure-native:dbforpostgresql:Configuration",
    firewall: "azure-native:dbforpostgresql:FirewallRule",
    group: "azure-native:resources:ResourceGroup",
} as const;

const database = (changes: Record<string, unknown>) => created("database", changes);

const AZURE = AZURE_SERVICES.database;

/** The RDS component's inputs, from a `database` block as the shared stack maps it. */
function rdsConfig(changes: Record<string, unknown>): AwsDatabase {
    return parseStack(shared({ database: database(changes) })).database as AwsDatabase;
}

/** The RDS component alone, from a `database` block (for variants that need no bundle). */
function rdsOnly(changes: Record<string, unknown>): Promise<RunResult> {
    const db = rdsConfig(changes);
    return runComponent((p) => ({
        host: new RdsPostgres("quay-georep-database", rdsArgs(db), { providers: [p.aws(db.region), p.random()] }).host,
    }));
}

/**
 * URNs of the resources an Output depends on: what the SDK tells the engine a resource that takes
 * it as an input must wait for (its property dependencies).
 */
function dependenciesOf(value: pulumi.Output<unknown>): pulumi.Output<string[]> {
    const urns = pulumi.getAllResources(value).then((resources) => [...resources].map((r) => r.urn));
    return pulumi.output(urns).apply((list) => [...list].sort());
}

/** The logins' resources, by name suffix. */
function logins(r: RunResult) {
    const component = one(r, "quay-georep:database:QuayDatabases");
    const below = descendants(r, component);
    const find = (suffix: string) => {
        const found = below.find((x) => x.name === `${component.name}-${suffix}`);
        assert.ok(found, `no ${suffix} under ${component.name}`);
        return found;
    };
    return { component, below, find };
}

describe("shared PostgreSQL: mode aws (RDS)", () => {
    let r: RunResult;
    before(async () => {
        r = await runOnce(shared());
    });

    it("creates an encrypted, backed-up, deletion-protected instance with a final snapshot, and protects it", () => {
        const instance = one(r, T.rds);
        const i = inputsOf(instance);
        assert.deepEqual(
            {
                engine: i.engine,
                engineVersion: i.engineVersion,
                storageEncrypted: i.storageEncrypted,
                storageType: i.storageType,
                allocatedStorage: i.allocatedStorage,
                maxAllocatedStorage: i.maxAllocatedStorage,
                backupRetentionPeriod: i.backupRetentionPeriod,
                deletionProtection: i.deletionProtection,
                skipFinalSnapshot: i.skipFinalSnapshot,
                finalSnapshotIdentifier: i.finalSnapshotIdentifier,
                multiAz: i.multiAz,
                publiclyAccessible: i.publiclyAccessible,
                username: i.username,
                port: i.port,
            },
            {
                engine: "postgres",
                engineVersion: "17",
                storageEncrypted: true,
                storageType: "gp3",
                allocatedStorage: 100,
                maxAllocatedStorage: 500,
                backupRetentionPeriod: 14,
                deletionProtection: true,
                skipFinalSnapshot: false,
                finalSnapshotIdentifier: "quay-georep-database-final",
                multiAz: true,
                publiclyAccessible: false,
                username: "quayadmin",
                port: 5432,
            },
        );
        assert.equal(instance.protect, true);
        assert.ok(isSecretInput(instance.inputs.password), "the admin password must be secret");
    });

    it("forces TLS with rds.force_ssl in its own parameter group", () => {
        const params = one(r, T.params);
        assert.equal(inputsOf(params).family, "postgres17");
        assert.deepEqual(inputsOf(params).parameters, [
            { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
        ]);
        assert.equal(
            inputsOf(one(r, T.rds)).parameterGroupName,
            "(known after apply: quay-georep-database-params.name)",
        );
    });

    it("admits the port only from the configured CIDRs, in the configured VPC and subnets", () => {
        const group = one(r, T.sg, "quay-georep-database-sg");
        assert.equal(inputsOf(group).vpcId, "vpc-0123456789abcdef0");
        assert.equal(inputsOf(group).ingress, undefined, "no inline rules");
        const rules = ofType(r, T.ingress).filter((x) => x.name.startsWith("quay-georep-database-"));
        assert.deepEqual(
            rules
                .map((x) => inputsOf(x))
                .map((i) => [i.securityGroupId, i.cidrIpv4, i.ipProtocol, i.fromPort, i.toPort]),
            [
                ["quay-georep-database-sg-id", "10.0.0.0/16", "tcp", 5432, 5432],
                ["quay-georep-database-sg-id", "10.1.0.0/16", "tcp", 5432, 5432],
            ],
        );
        assert.deepEqual(inputsOf(one(r, T.rds)).vpcSecurityGroupIds, ["quay-georep-database-sg-id"]);
        assert.deepEqual(inputsOf(one(r, T.subnets)).subnetIds, [
            "subnet-0123456789abcdef0",
            "subnet-0fedcba9876543210",
        ]);
    });

    it("creates everything through the stack's provider for the configured region, and makes none", () => {
        const component = one(r, "quay-georep:database:RdsPostgres");
        const provider = one(r, T.awsProvider, "quay-georep-aws-us-east-1");
        assert.deepEqual(inputsOf(provider).region, "us-east-1");
        const below = descendants(r, component);
        assert.deepEqual(
            below.filter((x) => x.type.startsWith("pulumi:providers:")),
            [],
        );
        for (const x of below.filter((c) => c.custom)) {
            const expected = x.type.startsWith("random:") ? "quay-georep-random" : provider.name;
            assert.ok(x.provider?.endsWith(`::${expected}`), `${x.name} uses ${x.provider}`);
        }
    });

    it("creates quay and clair roles, databases and extensions through a postgresql provider on the instance", () => {
        const { find, below } = logins(r);
        const provider = find("postgresql");
        const p = provider.inputs;
        assert.equal(p.host, "(known after apply: quay-georep-database-instance.address)");
        assert.equal(p.username, "quayadmin");
        assert.ok(isSecretInput(p.password), "the provider's password must be secret");
        // Provider configuration travels as strings.
        assert.deepEqual([p.sslmode, p.superuser, p.database, p.port], ["require", "false", "postgres", "5432"]);
        for (const who of ["quay", "clair"]) {
            const role = find(`${who}-role`);
            assert.deepEqual([inputsOf(role).name, inputsOf(role).login], [who, true]);
            assert.ok(isSecretInput(role.inputs.password), `${who}'s password must be secret`);
            const db = find(`${who}-database`);
            assert.deepEqual(inputsOf(db), { name: who, owner: who });
            assert.equal(db.protect, true);
        }
        // The extension is created in the database that needs it, not in the provider's `postgres`.
        assert.deepEqual(inputsOf(find("quay-pg_trgm")), { name: "pg_trgm", database: "quay" });
        assert.deepEqual(inputsOf(find("clair-uuid-ossp")), { name: "uuid-ossp", database: "clair" });
        for (const x of below.filter((c) => c.type.startsWith("postgresql:"))) {
            assert.equal(x.provider, provider.urn, `${x.name} must use the server's provider`);
        }
    });

    it("connects only after the instance and its ingress rules exist: the provider's host waits for them", async () => {
        // The logins take no dependsOn across the component boundary: they wait through data.
        const { below } = logins(r);
        for (const x of below) assert.deepEqual(x.dependsOn, [], x.name);
        let host: pulumi.Output<unknown> | undefined;
        const run = await runComponent((p) => {
            // What the logins' PostgreSQL provider is given as its host.
            pulumi.runtime.registerStackTransformation((t) => {
                if (t.type === T.pgProvider) host = t.props.host as pulumi.Output<unknown>;
                return undefined;
            });
            const db = rdsConfig({});
            const server = new RdsPostgres("quay-georep-database", rdsArgs(db), {
                providers: [p.aws(db.region), p.random()],
            });
            new QuayDatabases(
                "quay-georep-database-logins",
                { server, quay: db.quay, clair: db.clair },
                { providers: [p.random()] },
            );
            if (host === undefined) throw new Error("no PostgreSQL provider");
            return { waitsFor: dependenciesOf(host) };
        });
        const needed = [one(run, T.rds), ...ofType(run, T.ingress)].map((x) => x.urn).sort();
        assert.equal(needed.length, 3);
        assert.deepEqual(run.outputs.waitsFor, needed);
    });

    it("puts the created endpoint and generated passwords into DB_URI and clair-config.yaml", () => {
        const { config, clair } = bundleOf(r);
        const host = "(known after apply: quay-georep-database-instance.address)";
        assert.equal(config.DB_URI, `postgresql://quay:__secret__@${host}:5432/quay?sslmode=require`);
        const conn = `postgresql://clair:__secret__@${host}:5432/clair?sslmode=require&pool_max_conns=33`;
        for (const part of ["indexer", "matcher", "notifier"]) {
            assert.equal((clair[part] as { connstring: string }).connstring, conn);
        }
    });

    it("keeps every credential secret and needs no database password from the user", () => {
        assert.deepEqual(plainSecrets(r), []);
        const cfg = parseStack(shared());
        assert.deepEqual(
            [cfg.secrets?.databasePassword, cfg.secrets?.clairDatabasePassword, cfg.secrets?.databaseAdminPassword],
            [undefined, undefined, undefined],
        );
    });

    it("warns about a database password left over from mode existing", () => {
        const cfg = parseStack(shared({ databasePassword: "old" }, ["databasePassword"]));
        assert.deepEqual(cfg.warnings, [
            "databasePassword is set but not used (database.mode aws creates the roles with generated passwords); remove it: pulumi config rm quay-georep:databasePassword",
        ]);
    });

    it("adding an allowed CIDR adds only its rule", async () => {
        const before = await rdsOnly({});
        const after = await rdsOnly({ allowedCidrs: [...CREATED.database.allowedCidrs, "192.0.2.0/28"] });
        assert.deepEqual(urnDiff(before, after), {
            added: [one(after, T.ingress, "quay-georep-database-allow-192-0-2-0-28").urn],
            removed: [],
        });
    });

    it("opens to the internet only when allowInternet says so", async () => {
        const after = await rdsOnly({ allowedCidrs: ["0.0.0.0/0"], allowInternet: true, publiclyAccessible: true });
        assert.deepEqual(
            ofType(after, T.ingress).map((x) => inputsOf(x).cidrIpv4),
            ["0.0.0.0/0"],
        );
        assert.equal(inputsOf(one(after, T.rds)).publiclyAccessible, true);
    });
});

describe("shared PostgreSQL: mode azure (flexible server)", () => {
    let r: RunResult;
    before(async () => {
        r = await runOnce(shared(AZURE_SERVICES));
    });

    it("creates a protected flexible server with TLS-only password auth, backups and HA as configured", () => {
        const server = one(r, T.flexible);
        const i = inputsOf(server);
        assert.deepEqual(
            [i.version, i.sku, i.storage, i.backup, i.network, i.administratorLogin],
            [
                "17",
                { name: "Standard_D2ds_v5", tier: "GeneralPurpose" },
                { storageSizeGB: 256, autoGrow: "Enabled" },
                { backupRetentionDays: 14, geoRedundantBackup: "Enabled" },
                { publicNetworkAccess: "Enabled" },
                "quayadmin",
            ],
        );
        // The SDK fills the other fields of these two with defaults.
        assert.equal((i.highAvailability as { mode: string }).mode, "ZoneRedundant");
        assert.deepEqual(
            [
                (i.authConfig as Record<string, string>).passwordAuth,
                (i.authConfig as Record<string, string>).activeDirectoryAuth,
            ],
            ["Enabled", "Disabled"],
        );
        assert.equal(i.location, "westeurope");
        assert.ok(isSecretInput(server.inputs.administratorLoginPassword), "the admin password must be secret");
        assert.equal(server.protect, true);
        assert.equal(one(r, T.group, "quay-georep-database-rg").protect, true);
        assert.equal(ofType(r, T.rds).length, 0);
    });

    it("allow-lists pg_trgm and uuid-ossp and requires TLS through server parameters", () => {
        assert.deepEqual(
            ofType(r, T.configuration).map((c) => [
                inputsOf(c).configurationName,
                inputsOf(c).value,
                inputsOf(c).source,
            ]),
            [
                ["azure.extensions", "PG_TRGM,UUID-OSSP", "user-override"],
                ["require_secure_transport", "on", "user-override"],
            ],
        );
    });

    it("gives firewall rules to the configured CIDRs only, as address ranges", () => {
        assert.deepEqual(
            ofType(r, T.firewall)
                .map((f) => inputsOf(f))
                .map((i) => [i.firewallRuleName, i.startIpAddress, i.endIpAddress]),
            [
                ["allow-198-51-100-0-24", "198.51.100.0", "198.51.100.255"],
                ["allow-203-0-113-7-32", "203.0.113.7", "203.0.113.7"],
            ],
        );
    });

    it("changes the server one thing at a time (it refuses concurrent changes)", () => {
        const byName = (n: string) => r.resources.find((x) => x.name === `quay-georep-database-${n}`);
        const chain = ["server", "extensions", "require-tls", "allow-198-51-100-0-24", "allow-203-0-113-7-32"];
        for (let k = 1; k < chain.length; k++) {
            assert.deepEqual(
                byName(chain[k])?.dependsOn,
                [byName(chain[k - 1])?.urn],
                `${chain[k]} after ${chain[k - 1]}`,
            );
        }
    });

    it("connects only once the parameters and firewall rules exist, with the server's FQDN in the bundle", async () => {
        const { find } = logins(r);
        const waitsFor = await runComponent((p) => {
            const db = parseStack(shared(AZURE_SERVICES)).database as AzureDatabase;
            const server = new FlexiblePostgres("quay-georep-database", flexibleArgs(db), {
                providers: [p.azure(), p.random()],
            });
            return { waitsFor: dependenciesOf(server.host) };
        });
        // The extensions are created only after azure.extensions allow-lists them.
        const ready = [T.flexible, T.configuration, T.firewall].flatMap((t) => ofType(waitsFor, t)).map((x) => x.urn);
        assert.equal(ready.length, 5);
        assert.deepEqual(waitsFor.outputs.waitsFor, ready.sort());
        assert.equal(
            find("postgresql").inputs.host,
            "(known after apply: quay-georep-database-server.fullyQualifiedDomainName)",
        );
        assert.match(
            String(bundleOf(r).config.DB_URI),
            /@\(known after apply: quay-georep-database-server\.fullyQualifiedDomainName\):5432\/quay\?sslmode=require$/,
        );
        assert.deepEqual(plainSecrets(r), []);
    });
});

describe("shared PostgreSQL: mode existing", () => {
    it("without admin: creates nothing and uses the configured role passwords (issue 2's contract)", async () => {
        const r = await runOnce(shared(EXISTING, EXISTING_SECRETS));
        assert.equal(
            r.resources.filter((x) => /^(postgresql|aws:rds|azure-native:dbforpostgresql)/.test(x.type)).length,
            0,
        );
        assert.equal(bundleOf(r).config.DB_URI, "postgresql://quay:quay-pw@db.example.com:5432/quay?sslmode=require");
        assert.equal(
            (bundleOf(r).clair.indexer as { connstring: string }).connstring,
            "postgresql://clair:clair-pw@db.example.com:5432/clair?sslmode=require&pool_max_conns=33",
        );
    });

    it("with admin: creates the roles, databases and extensions on that server with generated passwords", async () => {
        const database = { ...EXISTING.database, admin: { user: "dbadmin" } };
        const cfg = shared({ ...EXISTING, database, databaseAdminPassword: "admin-pw" }, [
            ...EXISTING_SECRETS,
            "databaseAdminPassword",
        ]);
        const r = await runOnce(cfg);
        const { find } = logins(r);
        assert.deepEqual(inputsOf(find("postgresql")), {
            host: "db.example.com",
            port: "5432",
            username: "dbadmin",
            password: "admin-pw",
            database: "postgres",
            superuser: "false",
            sslmode: "require",
            connectTimeout: "30",
        });
        assert.ok(isSecretInput(find("postgresql").inputs.password));
        assert.equal(
            bundleOf(r).config.DB_URI,
            "postgresql://quay:__secret__@db.example.com:5432/quay?sslmode=require",
        );
        assert.deepEqual(plainSecrets(r), []);
        // The role passwords of issue 2 are now generated; the leftovers only warn.
        assert.deepEqual(
            parseStack(cfg).warnings.map((w) => w.split(" ")[0]),
            ["databasePassword", "clairDatabasePassword"],
        );
    });

    it("with admin: requires the admin's password", () => {
        const database = { ...EXISTING.database, admin: { user: "dbadmin" } };
        assert.deepEqual(problemsOf(shared({ ...EXISTING, database }, EXISTING_SECRETS)), [
            'databaseAdminPassword: (missing) is required on the shared stack (password of the PostgreSQL admin "dbadmin" (database.admin)); run: pulumi config set --secret quay-georep:databaseAdminPassword <value>',
        ]);
    });
});

describe("shared PostgreSQL: config validation", () => {
    const problems = (changes: Record<string, unknown>) => problemsOf(shared({ database: database(changes) }));

    it("requires a non-empty allow-list", () => {
        const fix =
            'list the CIDRs that may reach PostgreSQL: every cluster\'s egress and the machine running pulumi (it creates the roles), e.g. ["203.0.113.0/24"]';
        assert.deepEqual(problems({ allowedCidrs: undefined }), [
            `database.allowedCidrs: (missing) is required; ${fix}`,
        ]);
        assert.deepEqual(problems({ allowedCidrs: [] }), [`database.allowedCidrs: [] is empty; ${fix}`]);
    });

    it("checks CIDR syntax, canonical form and duplicates", () => {
        assert.deepEqual(problems({ allowedCidrs: ["10.0.0.300/8", "10.0.0.5/16", "10.1.0.0/16", "10.1.0.0/16"] }), [
            'database.allowedCidrs[0]: "10.0.0.300/8" is not an IPv4 CIDR; use e.g. "203.0.113.0/24" (a single address: "/32")',
            'database.allowedCidrs[1]: "10.0.0.5/16" has host bits set; use "10.0.0.0/16"',
            'database.allowedCidrs[3]: "10.1.0.0/16" is listed twice; list each CIDR once',
        ]);
    });

    it("refuses 0.0.0.0/0 unless allowInternet is true", () => {
        assert.deepEqual(problems({ allowedCidrs: ["0.0.0.0/0"] }), [
            'database.allowedCidrs[0]: "0.0.0.0/0" opens PostgreSQL to the whole internet; list the clusters\' egress CIDRs instead, or set database.allowInternet: true to accept that',
        ]);
        assert.equal(
            parseStack(shared({ database: database({ allowedCidrs: ["0.0.0.0/0"], allowInternet: true }) })).database
                .mode,
            "aws",
        );
    });

    it("checks instance class, storage, version, VPC and subnets", () => {
        assert.deepEqual(
            problems({
                instanceClass: "t3.micro",
                version: "9.6",
                maxStorageGb: 80,
                vpcId: "vpc-1",
                subnetIds: ["subnet-0123456789abcdef0"],
                region: "us-east-9",
            }),
            [
                'database.region: "us-east-9" is not an AWS region; use e.g. "eu-west-1"',
                'database.version: "9.6" is not a supported PostgreSQL major version; use one of: 13, 14, 15, 16, 17',
                'database.instanceClass: "t3.micro" is not an RDS instance class; use e.g. "db.t4g.medium"',
                "database.maxStorageGb: 80 is not larger than database.storageGb (100); raise it, or remove it to turn storage autoscaling off",
                'database.vpcId: "vpc-1" is not a VPC ID; use e.g. "vpc-0123456789abcdef0"',
                'database.subnetIds: ["subnet-0123456789abcdef0"] has fewer than two subnets (an RDS subnet group needs two AZs); list subnets in two or more availability zones, e.g. ["subnet-0123456789abcdef0", "subnet-…"]',
            ],
        );
    });

    it("checks Azure sizes, storage and high availability on the Burstable tier", () => {
        const azure = (changes: Record<string, unknown>) => problemsOf(shared({ database: { ...AZURE, ...changes } }));
        assert.deepEqual(azure({ skuName: "GP_Gen5_2", storageGb: 100 }), [
            'database.skuName: "GP_Gen5_2" is not an Azure Database for PostgreSQL compute size (Standard_B*, Standard_D* or Standard_E*); use e.g. "Standard_D2ds_v5"',
            "database.storageGb: 100 is not a size Azure offers; use one of 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767",
        ]);
        assert.deepEqual(azure({ skuName: "Standard_B2s" }), [
            'database.highAvailability: true is not available on the Burstable tier (database.skuName "Standard_B2s"); use a Standard_D or Standard_E size, or set highAvailability: false',
        ]);
    });

    it("names keys that belong to another mode", () => {
        const existing = { ...EXISTING, database: { ...EXISTING.database, subnetIds: ["subnet-0123456789abcdef0"] } };
        assert.deepEqual(problemsOf(shared(existing, EXISTING_SECRETS)), [
            'database.subnetIds: ["subnet-0123456789abcdef0"] is not used in mode existing; remove it, or set database.mode to aws',
        ]);
        assert.deepEqual(problemsOf(shared({ database: { ...AZURE, port: 6432 } })), [
            "database.port: 6432 is not used in mode azure; remove it, or set database.mode to existing or aws",
        ]);
    });

    it("requires distinct, plain, non-administrative roles when it creates them", () => {
        assert.deepEqual(problems({ quay: { user: "postgres" }, clair: { name: "quay", user: "postgres" } }), [
            'database.quay.user: "postgres" is a reserved or administrative role name; use a role of its own, e.g. "quay"',
            'database.clair.user: "postgres" is a reserved or administrative role name; use a role of its own, e.g. "clair"',
            'database.clair.user: "postgres" is also Quay\'s role; give Clair a role of its own',
            'database.clair.name: "quay" is also Quay\'s database; give Clair a database of its own',
        ]);
        assert.deepEqual(problems({ quay: { name: "Quay-DB" } }), [
            "database.quay.name: \"Quay-DB\" is not a plain PostgreSQL identifier; use lower-case letters, digits and '_', starting with a letter (at most 63)",
        ]);
    });

    // Issue 10, item 2: allow-lists are judged by the public addresses their union covers.
    const wide = (covered: string) =>
        `${covered} (more than the 65,536 of a /16); list only the networks that must connect (private ranges, ` +
        "or public ones of at most a /16 in all), or set database.allowInternet: true to accept that";
    /** The allow-list the parser keeps for an RDS database (it throws on a refused one). */
    const accepted = (changes: Record<string, unknown>) => {
        const parsed = parseStack(shared({ database: database(changes) })).database;
        assert.ok(parsed.mode === "aws");
        return parsed.allowedCidrs;
    };

    it("refuses 0.0.0.0/32, Azure's rule for every Azure service, and backups kept under 7 days", () => {
        assert.deepEqual(problems({ allowedCidrs: ["10.0.0.0/16", "0.0.0.0/32"] }), [
            "database.allowedCidrs[1]: \"0.0.0.0/32\" is no client's address (on an Azure PostgreSQL firewall it means every Azure service, any customer's); remove it and list the clusters' egress CIDRs",
        ]);
        assert.match(problems({ backupRetentionDays: 3 }).join("\n"), /^database\.backupRetentionDays: 3 /);
    });

    it("refuses the internet split in two halves, or into 256 /8s, unless allowInternet is true", () => {
        assert.deepEqual(problems({ allowedCidrs: ["0.0.0.0/1", "128.0.0.0/1"] }), [
            `database.allowedCidrs: ["0.0.0.0/1","128.0.0.0/1"] together cover ${wide("3,987,471,616 public IPv4 addresses")}`,
        ]);
        const eights = Array.from({ length: 256 }, (_, i) => `${i}.0.0.0/8`);
        assert.deepEqual(problems({ allowedCidrs: eights }), [
            `database.allowedCidrs: ["0.0.0.0/8","1.0.0.0/8","2.0.0.0/8","3.0.0.0/8","4.0.0.0... together cover ${wide("3,987,471,616 public IPv4 addresses")}`,
        ]);
        const open = { allowedCidrs: ["0.0.0.0/1", "128.0.0.0/1"], allowInternet: true };
        assert.deepEqual(accepted(open), open.allowedCidrs);
    });

    it("refuses more than a /16 of public IPv4 in all, on the Azure flexible server too", () => {
        assert.deepEqual(problems({ allowedCidrs: ["20.0.0.0/15"] }), [
            `database.allowedCidrs: ["20.0.0.0/15"] covers ${wide("131,072 public IPv4 addresses")}`,
        ]);
        assert.deepEqual(problemsOf(shared({ database: { ...AZURE, allowedCidrs: ["20.0.0.0/16", "20.1.0.0/32"] } })), [
            `database.allowedCidrs: ["20.0.0.0/16","20.1.0.0/32"] together cover ${wide("65,537 public IPv4 addresses")}`,
        ]);
        assert.deepEqual(accepted({ allowedCidrs: ["20.0.0.0/16", "10.0.0.0/16"] }), ["20.0.0.0/16", "10.0.0.0/16"]);
    });

    it("counts neither private and reserved ranges nor overlaps and duplicates", () => {
        const private_ = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"];
        const documentation = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15"];
        const reserved = [...private_, ...documentation, "127.0.0.0/8", "224.0.0.0/4"];
        assert.deepEqual(accepted({ allowedCidrs: reserved }), reserved);
        // 20.0.0.0/16 once: the /17 and /32 inside it add nothing.
        assert.equal(accepted({ allowedCidrs: ["20.0.0.0/16", "20.0.128.0/17", "20.0.0.7/32"] }).length, 3);
        assert.deepEqual(problems({ allowedCidrs: ["20.0.0.0/16", "20.0.0.0/16"] }), [
            'database.allowedCidrs[1]: "20.0.0.0/16" is listed twice; list each CIDR once',
        ]);
    });
});

describe("shared PostgreSQL: TLS verification and Clair's pools", () => {
    const CA = "-----BEGIN CERTIFICATE-----\nMIIBrds\n-----END CERTIFICATE-----";

    it("verifies the server against database.caCertificate in Quay's and Clair's settings", async () => {
        const r = await runOnce(shared({ database: database({ caCertificate: CA }) }));
        const { config, clair } = bundleOf(r);
        const host = "(known after apply: quay-georep-database-instance.address)";
        assert.deepEqual(config.DB_CONNECTION_ARGS, {
            autorollback: true,
            sslmode: "verify-full",
            sslrootcert: "/conf/stack/database.pem",
            threadlocals: true,
        });
        assert.equal(
            config.DB_URI,
            `postgresql://quay:__secret__@${host}:5432/quay?sslmode=verify-full&sslrootcert=/conf/stack/database.pem`,
        );
        const conn = `postgresql://clair:__secret__@${host}:5432/clair?sslmode=verify-full&sslrootcert=/var/run/certs/database.pem&pool_max_conns=33`;
        for (const part of ["indexer", "matcher", "notifier"]) {
            assert.equal((clair[part] as { connstring: string }).connstring, conn);
        }
        const data = bundleSecret(r).inputs.stringData as { secret: Record<string, string> };
        assert.equal(data.secret["database.pem"], `${CA}\n`);
        assert.equal(data.secret["extra_ca_cert_database.pem"], `${CA}\n`);
    });

    it("gives the lifecycle Jobs' psql the CA at the path DATABASE_URL's sslrootcert names", async () => {
        const r = await runOnce(shared({ database: database({ caCertificate: CA }) }));
        const db = r.resources.find((x) => x.name === "quay-georep-retirement-gate-database") as RecordedResource;
        const data = plain(db.inputs.stringData) as Record<string, string>;
        assert.match(data.DATABASE_URL, /sslrootcert=\/conf\/stack\/database\.pem$/);
        assert.equal(data["database.pem"], `${CA}\n`);
        const cron = r.resources.find((x) => x.type === "kubernetes:batch/v1:CronJob") as RecordedResource;
        const pod = (
            plain(cron.inputs) as {
                spec: {
                    jobTemplate: {
                        spec: {
                            template: {
                                spec: {
                                    containers: { volumeMounts: { name: string; mountPath: string }[] }[];
                                    volumes: { name: string; secret?: { secretName: string } }[];
                                };
                            };
                        };
                    };
                };
            }
        ).spec.jobTemplate.spec.template.spec;
        assert.ok(pod.containers[0].volumeMounts.some((m) => m.name === "database" && m.mountPath === "/conf/stack"));
        assert.ok(pod.volumes.some((v) => v.name === "database" && v.secret?.secretName !== undefined));
    });

    it("requires TLS without a CA, in DB_CONNECTION_ARGS too", async () => {
        const { config } = bundleOf(await runOnce(shared()));
        assert.deepEqual(config.DB_CONNECTION_ARGS, { autorollback: true, sslmode: "require", threadlocals: true });
    });

    it("sizes Clair's pools from database.clair.poolMaxConns", async () => {
        const r = await runOnce(shared({ database: database({ clair: { poolMaxConns: 12 } }) }));
        const matcher = bundleOf(r).clair.matcher as Record<string, unknown>;
        assert.deepEqual(matcher, {
            connstring:
                "postgresql://clair:__secret__@(known after apply: quay-georep-database-instance.address):5432/clair?sslmode=require&pool_max_conns=12",
            migrations: true,
        });
        assert.equal(parseStack(shared()).database.clairPoolMaxConns, 33);
    });

    it("refuses a CA that is not PEM certificates, a private key, and a pool size out of range", () => {
        assert.deepEqual(
            problemsOf(shared({ database: database({ caCertificate: "MIIB", clair: { poolMaxConns: 0 } }) })),
            [
                "database.clair.poolMaxConns: 0 is not a valid number; use a whole number from 1 to 1000",
                `database.caCertificate: "MIIB" is not a PEM certificate; give the CA certificate(s) the server's certificate chains to, as PEM (-----BEGIN CERTIFICATE----- …), e.g. your cloud's regional CA bundle`,
            ],
        );
        const key = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----";
        assert.deepEqual(problemsOf(shared({ database: database({ caCertificate: `${CA}\n${key}` }) })), [
            `database.caCertificate: "<PEM>" contains a private key; remove it; give the CA certificate(s) the server's certificate chains to, as PEM (-----BEGIN CERTIFICATE----- …), e.g. your cloud's regional CA bundle`,
        ]);
        // A bundle of several certificates (e.g. a cloud's regional CAs) is one value.
        assert.equal(
            parseStack(shared({ database: database({ caCertificate: `${CA}\n\n${CA}\n` }) })).database.caCertificate,
            `${CA}\n\n${CA}`,
        );
    });
});

describe("shared PostgreSQL: Quay's keys for an existing database", () => {
    const BUNDLE_KEYS = ["quay-georep-bundle-secret-key", "quay-georep-bundle-database-secret-key"];
    const passwords = (r: RunResult) =>
        ofType(r, "random:index/randomPassword:RandomPassword")
            .map((x) => x.name)
            .filter((n) => n.startsWith("quay-georep-bundle-"));

    it("puts the given keys in the bundle and generates neither", async () => {
        const r = await runOnce(shared(EXISTING, EXISTING_SECRETS));
        const { config } = bundleOf(r);
        assert.deepEqual(
            [config.SECRET_KEY, config.DATABASE_SECRET_KEY],
            ["running-quay-secret-key", "running-quay-database-secret-key"],
        );
        assert.deepEqual(passwords(r), []);
        // Nothing generates anything, so the stack makes no random provider.
        assert.equal(ofType(r, "pulumi:providers:random").length, 0);
        assert.deepEqual(plainSecrets(r), []);
    });

    it("generates a key not given under the name and URN it always had", async () => {
        const example = await runOnce(shared());
        // Any mode takes given keys; here RDS (the example's) with only the database key given.
        const r = await runOnce(shared({ databaseSecretKey: "kept-database-key" }, ["databaseSecretKey"]));
        assert.deepEqual(passwords(r), ["quay-georep-bundle-secret-key"]);
        const urn = (x: RunResult) => one(x, "random:index/randomPassword:RandomPassword", BUNDLE_KEYS[0]).urn;
        assert.equal(urn(r), urn(example));
        assert.equal(bundleOf(r).config.DATABASE_SECRET_KEY, "kept-database-key");
        assert.deepEqual(passwords(example), [...BUNDLE_KEYS].sort());
    });

    it("generates both for an existing server whose database is new (database.new: true)", async () => {
        const cfg = shared(
            {
                ...EXISTING,
                database: { ...EXISTING.database, new: true },
                secretKey: undefined,
                databaseSecretKey: undefined,
            },
            EXISTING_SECRETS,
        );
        const r = await runOnce(cfg);
        assert.deepEqual(passwords(r), [...BUNDLE_KEYS].sort());
        assert.equal(one(r, "random:index/randomPassword:RandomPassword", BUNDLE_KEYS[1]).protect, true);
    });

    it("refuses to generate keys for an existing database's data, and database.new in another mode", () => {
        const fix = (key: string) =>
            `copy it from the running Quay's config bundle (docs/services.md, "Adopting a running Quay") and run: pulumi config set --secret quay-georep:${key} <value>, or set database.new: true if the database holds no Quay data yet`;
        assert.deepEqual(
            problemsOf(shared({ ...EXISTING, secretKey: undefined, databaseSecretKey: undefined }, EXISTING_SECRETS)),
            [
                `secretKey: (missing) is required with database.mode existing (the SECRET_KEY its users' encrypted CLI passwords and sessions were made with); ${fix("secretKey")}`,
                `databaseSecretKey: (missing) is required with database.mode existing (the DATABASE_SECRET_KEY its encrypted fields were written with; another one makes them unreadable); ${fix("databaseSecretKey")}`,
            ],
        );
        assert.deepEqual(problemsOf(shared({ database: database({ new: true }) })), [
            "database.new: true is not used in mode aws; remove it, or set database.mode to existing",
        ]);
    });
});
