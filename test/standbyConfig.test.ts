/**
 * Parsing of the standby's config: `database.standby`, `redis.standby` (each a whole config of its
 * mode: its placement from the standby block, the rest from the primary's) and `standby`, with
 * the exact message of every rule.
 */
import { strict as assert } from "node:assert";
import type { AwsDatabase, AwsRedis, AzureDatabase, AzureRedis, ExistingDatabase } from "../config/services";
import { AZURE_SERVICES, created, EXISTING, EXISTING_SECRETS, parseStack, problemsOf, shared } from "./support/infra";

const AWS_STANDBY = {
    region: "eu-west-1",
    vpcId: "vpc-0fedcba9876543210",
    subnetIds: ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
};
const REDIS_STANDBY = { region: "eu-west-1", vpcId: "vpc-0fedcba9876543210", subnetId: "subnet-0aaaaaaaaaaaaaaaa" };

/** The created services with a standby in eu-west-1 for both. */
function withStandby(db: Record<string, unknown> = {}, redis: Record<string, unknown> = {}) {
    return shared({
        database: created("database", { standby: { ...AWS_STANDBY, ...db } }),
        redis: created("redis", { standby: { ...REDIS_STANDBY, ...redis } }),
    });
}

describe("standby config", () => {
    it("an RDS standby is the primary's config with its own placement", () => {
        const cfg = parseStack(withStandby());
        const db = cfg.database as AwsDatabase;
        const standby = db.standby as AwsDatabase;
        assert.equal(standby.mode, "aws");
        assert.equal(standby.region, "eu-west-1");
        assert.deepEqual(standby.subnetIds, AWS_STANDBY.subnetIds);
        // Inherited: what a replica copies from its source, and the clients it must admit.
        assert.equal(standby.version, db.version);
        assert.equal(standby.instanceClass, db.instanceClass);
        assert.deepEqual(standby.allowedCidrs, db.allowedCidrs);
        assert.deepEqual(standby.quay, db.quay);
        assert.equal(standby.multiAz, false, "not inherited: a standby's own availability");
        assert.equal("standby" in standby, false, "no standby of the standby");
        assert.deepEqual(cfg.standby, { active: false, failover: false, serving: "home" });
    });

    it("a standby may set its own class and allow-list", () => {
        const cfg = parseStack(withStandby({ instanceClass: "db.r7g.large", allowedCidrs: ["10.9.0.0/16"] }));
        const standby = (cfg.database as AwsDatabase).standby as AwsDatabase;
        assert.equal(standby.instanceClass, "db.r7g.large");
        assert.deepEqual(standby.allowedCidrs, ["10.9.0.0/16"]);
    });

    it("the Redis standby is a second VM of the same image and disk in its own subnet", () => {
        const cfg = parseStack(withStandby({}, { instanceType: "t3.medium" }));
        const redis = cfg.redis as AwsRedis;
        const standby = redis.standby as AwsRedis;
        assert.equal(standby.region, "eu-west-1");
        assert.equal(standby.subnetId, REDIS_STANDBY.subnetId);
        assert.equal(standby.instanceType, "t3.medium");
        assert.equal(standby.image, redis.image);
        assert.deepEqual(standby.allowedCidrs, redis.allowedCidrs);
        assert.equal(standby.privateIp, undefined, "the primary's fixed IP is not the standby's");
    });

    it("refuses a standby in the primary's region, naming the alternative", () => {
        assert.deepEqual(problemsOf(withStandby({ region: "us-east-1" })), [
            'database.standby.region: "us-east-1" is the primary\'s region too (database.region), so losing it loses both; use another region; for a standby in the same region use database.multiAz',
        ]);
    });

    it("refuses keys of another mode or unknown ones, and missing placement", () => {
        const problems = problemsOf(
            shared({
                database: created("database", { standby: { region: "eu-west-1", version: "16", location: "x" } }),
                redis: created("redis", { standby: REDIS_STANDBY }),
            }),
        );
        assert.ok(
            problems.includes(
                'database.standby.vpcId: (missing) is required; set the VPC of the subnets, e.g. "vpc-0123456789abcdef0"',
            ),
            problems.join("\n"),
        );
        assert.ok(
            problems.some((p) => p.startsWith("database.standby.version: ")),
            problems.join("\n"),
        );
        assert.ok(
            problems.some((p) => p.startsWith("database.standby.location: ")),
            problems.join("\n"),
        );
    });

    it("requires redis.standby with database.standby for a Redis VM, and the reverse", () => {
        assert.deepEqual(problemsOf(shared({ database: created("database", { standby: AWS_STANDBY }) })), [
            "redis.standby: (missing) is required with database.standby (the Redis VM in us-east-1 would stop every cluster when that region is lost); add redis.standby in eu-west-1 (see docs/standby.md)",
        ]);
        assert.deepEqual(problemsOf(shared({ redis: created("redis", { standby: REDIS_STANDBY }) })), [
            'redis.standby: "<set>" is set without database.standby: the switchover moves both together; add database.standby, or remove redis.standby',
        ]);
    });

    it("standby.active and standby.failover need a standby", () => {
        assert.deepEqual(problemsOf(shared({ standby: { active: true, failover: true } })), [
            "standby.active: true asks the standby to serve, but database.standby is not set; configure database.standby (and redis.standby) and deploy it first, or set standby.active: false",
            "standby.failover: true has no standby to fail over to; remove it, or configure database.standby",
        ]);
        const cfg = parseStack(shared({ ...configOf(withStandby()), standby: { active: true } }));
        assert.equal(cfg.standby.serving, "standby");
    });

    it("an Azure standby takes its location and size; an existing one its host", () => {
        const azure = parseStack(
            shared({
                database: {
                    ...AZURE_SERVICES.database,
                    standby: { location: "northeurope", skuName: "Standard_E4ds_v5" },
                },
                redis: { ...AZURE_SERVICES.redis, standby: { location: "northeurope" } },
            }),
        );
        const standby = (azure.database as AzureDatabase).standby as AzureDatabase;
        assert.equal(standby.location, "northeurope");
        // Every cluster reaches both Redis VMs: the standby's created VNet is another range.
        const redis = azure.redis as AzureRedis;
        assert.deepEqual([redis.addressSpace, redis.privateIp], ["10.251.0.0/24", "10.251.0.4"]);
        assert.deepEqual([redis.standby?.addressSpace, redis.standby?.privateIp], ["10.252.0.0/24", "10.252.0.4"]);
        assert.deepEqual(
            problemsOf(
                shared({
                    database: { ...AZURE_SERVICES.database, standby: { location: "northeurope" } },
                    redis: {
                        ...AZURE_SERVICES.redis,
                        standby: { location: "northeurope", addressSpace: "10.251.0.0/25" },
                    },
                }),
            ),
            [
                'redis.standby.addressSpace: "10.251.0.0/25" overlaps redis.addressSpace "10.251.0.0/24": every cluster reaches both VMs, so their networks must not overlap; use a range of its own, e.g. "10.252.0.0/24"',
            ],
        );
        assert.equal(standby.tier, "MemoryOptimized");
        assert.equal(standby.storageGb, (azure.database as AzureDatabase).storageGb);

        const existing = parseStack(
            shared(
                {
                    ...EXISTING,
                    database: { ...EXISTING.database, standby: { host: "db-eu.example.com" } },
                },
                EXISTING_SECRETS,
            ),
        );
        const db = existing.database as ExistingDatabase;
        assert.equal(db.standby?.host, "db-eu.example.com");
        assert.equal(db.standby?.port, db.port);
        assert.deepEqual(
            problemsOf(
                shared(
                    { ...EXISTING, database: { ...EXISTING.database, standby: { host: "db.example.com" } } },
                    EXISTING_SECRETS,
                ),
            ),
            [
                'database.standby.host: "db.example.com" is the primary\'s server too (database.host), so losing it loses both; name the standby server in another region',
            ],
        );
    });
});

/** The project-level values of a StackConfig, as `shared()` changes take them. */
function configOf(cfg: ReturnType<typeof shared>): Record<string, unknown> {
    const parse = (key: string) => JSON.parse(cfg.config[`quay-georep:${key}`]) as unknown;
    return { database: parse("database"), redis: parse("redis") };
}
