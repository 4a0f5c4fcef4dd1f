/**
 * A mode change of a service the shared stack created (`database.mode`, `redis.mode`) is judged
 * against what is deployed: refused while the stack's state still holds the created server (the
 * edit would repoint every cluster, then fail on the protected server), allowed once the user took
 * it out of the state on purpose.
 */
import { strict as assert } from "node:assert";
import { checkRun } from "../offline/policy";
import { RunResult } from "../offline/runtime";
import { formatViolation } from "../policy/rules";
import { changedServiceModes } from "../stacks/deployed";
import { fq, World } from "./support/world";

const errors = (r: RunResult) => r.errors.map((e) => e.message);
const types = (r: RunResult) => new Set(r.resources.map((x) => x.type));

/** Existing servers in place of the example's created ones, each with its standby (as the example has). */
const EXISTING_DB = {
    database: {
        mode: "existing",
        host: "db.example.com",
        admin: { user: "dbadmin" },
        new: true,
        standby: { host: "db-eu.example.com" },
    },
};
const EXISTING_REDIS = {
    redis: { mode: "existing", host: "redis.example.com", standby: { host: "redis-eu.example.com" } },
};

const DB_URN = "urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres::quay-georep-database";

async function deployed(): Promise<World> {
    const w = new World();
    await w.upClean("us");
    await w.upClean("eu");
    return w;
}

describe("changing a created service's mode", function () {
    this.timeout(120000);

    it("changedServiceModes: only a created mode (aws, azure) that config no longer names", () => {
        const cfg = (database: string, redis: string) =>
            ({ database: { mode: database }, redis: { mode: redis } }) as Parameters<typeof changedServiceModes>[0];
        const self = { role: "shared+site", serviceModes: { database: "aws", redis: "aws" } };
        assert.deepEqual(changedServiceModes(cfg("aws", "aws"), self), []);
        assert.deepEqual(changedServiceModes(cfg("existing", "azure"), self), [
            { service: "database", was: "aws", now: "existing" },
            { service: "redis", was: "aws", now: "azure" },
        ]);
        // From existing, nothing was created: any mode may follow. Nothing deployed: nothing to judge.
        const existing = { role: "shared+site", serviceModes: { database: "existing", redis: "existing" } };
        assert.deepEqual(changedServiceModes(cfg("aws", "aws"), existing), []);
        assert.deepEqual(changedServiceModes(cfg("aws", "aws"), undefined), []);
    });

    it("records the deployed modes in the shared stack's record", async () => {
        const w = await deployed();
        const services = w.outputs[fq("us")].services as { database: { mode: string }; redis: { mode: string } };
        assert.equal(services.database.mode, "aws");
        assert.equal(services.redis.mode, "aws");
    });

    it("refuses database.mode aws -> existing while the state holds the RDS server, naming the way out", async () => {
        const w = await deployed();
        assert.ok(w.resources[fq("us")].some((r) => r.urn === DB_URN));
        w.project = EXISTING_DB;
        w.stackChanges.us = { databaseAdminPassword: "admin-pw" };
        const r = await w.up("us");
        assert.deepEqual(errors(r), [
            `quay-georep configuration for stack "us" has 1 problem:\n` +
                `  - database.mode: "existing" would drop the RDS PostgreSQL server this stack created (database.mode "aws"), which holds the registry's data, and point every cluster at another database; its servers are protected, so pulumi up would fail only after the bundle had changed; ` +
                `keep database.mode "aws"; to move deliberately, copy the data to the new server first, then take its servers out of the state (they stay in the cloud): pulumi state delete --target-dependents --force -y '${DB_URN}' '${DB_URN}-standby'; then run again (docs/services.md, "Changing a service's mode")`,
        ]);
        // Refused before anything is registered.
        assert.deepEqual(
            [...types(r)].filter((t) => !t.startsWith("pulumi:")),
            [],
        );
    });

    it("refuses redis.mode aws -> existing too, and collects both problems at once", async () => {
        const w = await deployed();
        w.project = { ...EXISTING_DB, ...EXISTING_REDIS };
        w.stackChanges.us = { databaseAdminPassword: "admin-pw", redisPassword: "redis-pw" };
        const r = await w.up("us");
        assert.equal(r.errors.length, 1);
        const message = errors(r)[0];
        assert.match(message, /has 2 problems:/);
        assert.match(message, /- database\.mode: "existing" would drop the RDS PostgreSQL server/);
        assert.match(
            message,
            /- redis\.mode: "existing" would drop the Redis EC2 VM this stack created \(redis\.mode "aws"\) and point every cluster at another Redis; .*pulumi state delete --target-dependents --force -y 'urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2::quay-georep-redis'/,
        );
    });

    it("allows the change once the server is out of the state (pulumi state delete), and declares no RDS", async () => {
        const w = await deployed();
        // What `pulumi state delete --target-dependents` leaves: the component and everything under it gone.
        w.resources[fq("us")] = w.resources[fq("us")].filter(
            (r) => !r.urn.includes("quay-georep:database:RdsPostgres::"),
        );
        w.project = EXISTING_DB;
        w.stackChanges.us = { databaseAdminPassword: "admin-pw" };
        const r = await w.up("us");
        assert.deepEqual(errors(r), []);
        assert.ok(!types(r).has("aws:rds/instance:Instance"));
    });
});

describe("moving a deployed Redis VM", function () {
    this.timeout(120000);
    const example = JSON.parse(new World().config("us").config["quay-georep:redis"]) as Record<string, unknown>;
    const database = JSON.parse(new World().config("us").config["quay-georep:database"]) as Record<string, unknown>;
    const standbyIn = (region: string) => ({
        database: { ...database, standby: { ...(database.standby as object), region } },
        redis: { ...example, standby: { ...(example.standby as object), region } },
    });

    it("records where each VM runs", async () => {
        const w = await deployed();
        const services = w.outputs[fq("us")].services as { redis: { placement: unknown } };
        assert.deepEqual(services.redis.placement, { home: "us-east-1", standby: "eu-west-1" });
    });

    it("refuses the standby's region change (with the replica's), naming the way to move it", async () => {
        const w = await deployed();
        w.project = standbyIn("eu-central-1");
        const r = await w.up("us");
        assert.deepEqual(errors(r), [
            `quay-georep configuration for stack "us" has 1 problem:\n` +
                `  - redis.standby.region: "eu-central-1" would move the standby Redis VM deployed in eu-west-1: Pulumi would replace a protected VM, and stop at it part way through the run (steps already under way are applied); ` +
                `keep "eu-west-1"; to move the standby, remove database.standby and redis.standby first (docs/standby.md, "Removing the standby"), then add them in the new region`,
        ]);
        assert.deepEqual(
            [...types(r)].filter((t) => !t.startsWith("pulumi:")),
            [],
        );
    });

    it("refuses the home VM's region change", async () => {
        const w = await deployed();
        w.project = { redis: { ...example, region: "us-west-2" } };
        const r = await w.up("us");
        assert.equal(r.errors.length, 1);
        assert.match(
            errors(r)[0],
            /- redis\.region: "us-west-2" would move the Redis VM deployed in us-east-1: .*; keep "us-east-1"; a Redis VM does not move between regions/,
        );
    });

    it("the same placement again is no move", async () => {
        const w = await deployed();
        w.project = standbyIn("eu-west-1");
        assert.deepEqual(errors(await w.up("us")), []);
    });
});

describe("removing the standby Redis VM", function () {
    this.timeout(120000);
    const example = (key: string) =>
        JSON.parse(new World().config("us").config[`quay-georep:${key}`]) as Record<string, unknown>;
    const withoutStandby = (key: string) =>
        Object.fromEntries(Object.entries(example(key)).filter(([k]) => k !== "standby"));
    const NO_STANDBY = { database: withoutStandby("database"), redis: withoutStandby("redis") };
    const STANDBY_VM = "quay-georep-redis-standby-vm";
    const vm = (r: RunResult) => r.resources.find((x) => x.name === STANDBY_VM);
    const pending = (r: RunResult) => r.outputs.lifecyclePending as string[];

    it("releases it first (declared as deployed, frozen, unprotected), then deletes it; the policy pack agrees", async () => {
        const w = await deployed();
        const before = vm(await w.upClean("us"));
        assert.equal(before?.protect, true);
        assert.deepEqual(before?.ignoreChanges, ["ami"]);

        w.project = NO_STANDBY;
        const r1 = await w.upClean("us");
        const released = vm(r1);
        assert.ok(released, "still declared in the run that drops it from config");
        assert.equal(released.protect, false);
        assert.equal(released.retainOnDelete, false, "deleted, not kept: Redis holds nothing to keep");
        assert.deepEqual(released.ignoreChanges, ["*"]);
        // As deployed: same region (provider), same inputs.
        assert.equal(released.provider, before?.provider);
        // Only the AMI differs: a frozen VM looks none up (ignoreChanges ["*"] keeps the one it runs).
        const { ami, ...inputs } = released.inputs;
        assert.equal(ami, "(frozen: the AMI it was built from)");
        assert.deepEqual(inputs, Object.fromEntries(Object.entries(before?.inputs ?? {}).filter(([k]) => k !== "ami")));
        assert.deepEqual(checkRun(r1).map(formatViolation), []);
        assert.ok(
            pending(r1).includes(
                "redis.standby was removed: the standby Redis VM in eu-west-1 is unprotected in this run and deleted by the next one (run pulumi up again; Redis keeps only transient data)",
            ),
            JSON.stringify(pending(r1)),
        );

        const r2 = await w.upClean("us");
        assert.equal(vm(r2), undefined);
        assert.ok(
            pending(r2).includes(
                "the released standby Redis VM in eu-west-1 is deleted in this run (Redis keeps only transient data)",
            ),
        );
        const r3 = await w.upClean("us");
        assert.equal(vm(r3), undefined);
        assert.ok(!pending(r3).some((n) => n.includes("Redis VM")), JSON.stringify(pending(r3)));
    });

    it("a released VM is not declared protected elsewhere: the pack still refuses an unprotected live one", async () => {
        const w = await deployed();
        const r = await w.upClean("us");
        const live = r.resources.map((x) => (x.name === STANDBY_VM ? { ...x, protect: false } : x));
        assert.deepEqual(
            checkRun({ ...r, resources: live })
                .map(formatViolation)
                .filter((v) => v.includes(STANDBY_VM)).length,
            1,
        );
    });

    it("refuses adding it back in the run that deletes the released one", async () => {
        const w = await deployed();
        w.project = NO_STANDBY;
        await w.upClean("us");
        w.project = {};
        const r = await w.up("us");
        assert.deepEqual(errors(r), [
            `quay-georep configuration for stack "us" has 1 problem:\n` +
                `  - redis.standby: "<set>" is back while the last run released the standby Redis VM in eu-west-1, which this run deletes; run pulumi up once without database.standby and redis.standby, then add them again`,
        ]);
    });
});

describe("upgrading PostgreSQL with a standby", function () {
    this.timeout(120000);
    const database = () =>
        JSON.parse(new World().config("us").config["quay-georep:database"]) as Record<string, unknown>;

    it("records the version and refuses a change while the standby exists", async () => {
        const w = new World({ database: { ...database(), version: "16" } });
        await w.upClean("us");
        await w.upClean("eu");
        const services = w.outputs[fq("us")].services as { database: { version: string } };
        assert.equal(services.database.version, "16");
        w.project = { database: { ...database(), version: "17" } };
        const r = await w.up("us");
        assert.deepEqual(errors(r), [
            `quay-georep configuration for stack "us" has 1 problem:\n` +
                `  - database.version: "17" upgrades PostgreSQL from 16 while the database has a standby: a replica is upgraded only with its source, and its parameter group would follow the new version while its engine does not; ` +
                `keep "16"; to upgrade, remove database.standby and redis.standby first (docs/standby.md, "Removing the standby"), upgrade, then add them again`,
        ]);
    });
});
