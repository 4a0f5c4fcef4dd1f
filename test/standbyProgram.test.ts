/**
 * The database standby through the whole program, stack by stack (test/support/world.ts: each
 * `pulumi up` reads what every stack last deployed, its own outputs included): an Azure flexible
 * server's replica, promotion and rebuild; existing servers, where the user promotes between two
 * runs (phase `gated`); every edit refused, with its message; the read-only bundle against Quay's
 * schema; the read-only key reused from the last bundle and registered by a Job; the lag gate's
 * URLs, from the record, secret; and what a failover may ask of the lost region.
 */
import { strict as assert } from "node:assert";
import { createPrivateKey } from "node:crypto";
import * as fs from "node:fs";
import { parse } from "yaml";
import { isSecretInput, INVOKE_RESULTS, plain, RecordedResource, RunResult, runProgram } from "../offline/runtime";
import { checkRun } from "../offline/policy";
import { formatViolation } from "../policy/rules";
import { hexDigest } from "../lib/names";
import { generateServiceKey, quayJwkJson, READONLY_KEY_FILE_ENV, serviceKeyFrom } from "../lib/serviceKey";
import type { StandbyPlan } from "../lib/standby";
import { OFFLINE_READONLY_KEY } from "../offline/render";
import { SecretValue } from "../config/validate";
import type { DeployedState } from "../stacks/deployed";
import { readonlyKey } from "../stacks/switchover";
import { PROJECT_DIR, bundleSecret, exampleConfig, exampleSites, inputsOf, one, ofType, TYPES } from "./mocks";
import { plainSecrets } from "./support/infra";
import { requireSchemas, validateQuayConfig } from "./support/schemas";
import { fq, World } from "./support/world";

const T = {
    flexible: "azure-native:dbforpostgresql:Server",
    group: "azure-native:resources:ResourceGroup",
    firewall: "azure-native:dbforpostgresql:FirewallRule",
    configuration: "azure-native:dbforpostgresql:Configuration",
    rds: "aws:rds/instance:Instance",
    lagGate: "quay-georep:standby:LagGate",
    primaryCheck: "quay-georep:standby:PrimaryCheck",
    readonlyKey: "quay-georep:standby:ReadonlyServiceKey",
    pgProvider: "pulumi:providers:postgresql",
} as const;

const HOME = "quay-georep-database";
const STANDBY = "quay-georep-database-standby";
const known = (name: string, property: string) => `(known after apply: ${name}.${property})`;
const errors = (r: RunResult) => r.errors.map((e) => e.message);
const configYaml = (r: RunResult) =>
    parse((inputsOf(bundleSecret(r)).stringData as Record<string, string>)["config.yaml"]) as Record<string, unknown>;
const bundleFiles = (r: RunResult) => inputsOf(bundleSecret(r)).stringData as Record<string, string>;
const standbyOf = (r: RunResult) => plain(r.outputs.standby) as Record<string, unknown>;
const redisHosts = (config: Record<string, unknown>) => [
    (config.BUILDLOGS_REDIS as { host: string }).host,
    (config.USER_EVENTS_REDIS as { host: string }).host,
];
/** A resource of the run by name (and type). */
const named = (r: RunResult, name: string, type?: string): RecordedResource =>
    one(r, type ?? (r.resources.find((x) => x.name === name)?.type as string), name);
/** The Kubernetes names of a run's Jobs. */
const jobNames = (r: RunResult) =>
    ofType(r, TYPES.job)
        .map((j) => (inputsOf(j).metadata as { name: string }).name)
        .sort();
/** The Secret and the Job of a switchover Job component. */
function switchoverJob(r: RunResult, component: string): { secret: RecordedResource; job: RecordedResource } {
    return { secret: named(r, `${component}-urls`, TYPES.secret), job: named(r, `${component}-job`, TYPES.job) };
}
/** A Job's first container. */
function container(job: RecordedResource): {
    command: string[];
    env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
    volumeMounts: { name: string; mountPath: string }[];
} {
    const spec = inputsOf(job).spec as { template: { spec: { containers: ReturnType<typeof container>[] } } };
    return spec.template.spec.containers[0];
}
const envOf = (job: RecordedResource) =>
    Object.fromEntries(container(job).env.map((e) => [e.name, e.value ?? e.valueFrom?.secretKeyRef.key]));
/** The ConfigError the program ends with, as `pulumi up` prints it. */
const refused = (...problems: string[]) => [
    `quay-georep configuration for stack "us" has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
];

/**
 * A refused run stops before any resource but the stack and its StackReferences (what is deployed
 * is read first) is registered.
 */
function assertNothingRegistered(r: RunResult): void {
    assert.deepEqual(
        [...new Set(r.resources.map((x) => x.type))].filter(
            (t) => t !== "pulumi:pulumi:Stack" && t !== TYPES.stackReference,
        ),
        [],
    );
}

/** A copy of an object without one key. */
function without(o: Record<string, unknown>, key: string): Record<string, unknown> {
    return Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
}

/** The example's project-level values, parsed (to change one key of a block). */
const example = (key: string) =>
    JSON.parse(exampleConfig("us").config[`quay-georep:${key}`]) as Record<string, unknown>;
const ACTIVE = { standby: { active: true, failover: false } };
/** Existing servers: a primary in us and a standby in eu that the user runs, roles made with an admin. */
const EXISTING_DB = {
    database: {
        mode: "existing",
        host: "db-us.example.com",
        admin: { user: "dbadmin" },
        new: true,
        standby: { host: "db-eu.example.com" },
    },
};
const FAILOVER = { standby: { active: true, failover: true } };

/** A World with the example deployed: us, then eu. */
async function deployed(project: Record<string, unknown> = {}, stackChanges: Record<string, unknown> = {}) {
    const w = new World(project);
    w.stackChanges.us = stackChanges;
    await w.upClean("us");
    await w.upClean("eu");
    return w;
}

/** One round: the shared stack, then eu; the shared stack's run. */
async function round(w: World): Promise<RunResult> {
    const r = await w.upClean("us");
    await w.upClean("eu");
    return r;
}

describe("standby program: Azure flexible servers", function () {
    this.timeout(120000);
    const AZURE = {
        database: {
            mode: "azure",
            location: "westeurope",
            allowedCidrs: ["10.0.0.0/16", "10.1.0.0/16"],
            standby: { location: "northeurope" },
        },
        redis: {
            mode: "azure",
            location: "westeurope",
            allowedCidrs: ["10.0.0.0/16", "10.1.0.0/16"],
            standby: { location: "northeurope" },
        },
    };
    let w: World;
    let r0: RunResult;
    let r1: RunResult;
    let r2: RunResult;
    let r3: RunResult;

    before(async () => {
        w = new World(AZURE);
        r0 = await round(w);
        w.project = { ...AZURE, ...ACTIVE };
        r1 = await round(w);
        r2 = await round(w);
        r3 = await round(w);
    });

    it("creates the standby as a replica of the primary server, in a resource group of its own in its location", () => {
        const primary = named(r0, `${HOME}-server`, T.flexible);
        const replica = inputsOf(named(r0, `${STANDBY}-server`, T.flexible));
        assert.equal(replica.createMode, "Replica");
        assert.equal(replica.sourceServerResourceId, `${HOME}-server-id`, "the primary server's resource id");
        assert.equal(inputsOf(primary).createMode, "Create");
        assert.equal(replica.location, "northeurope");
        assert.equal(replica.administratorLogin, undefined, "a replica has its source's administrator");
        assert.equal(replica.administratorLoginPassword, undefined);
        assert.equal(replica.replica, undefined, "not promoted");
        const group = named(r0, `${STANDBY}-rg`, T.group);
        assert.deepEqual(inputsOf(group).location, "northeurope");
        assert.equal(replica.resourceGroupName, known(`${STANDBY}-rg`, "name"));
        assert.equal(named(r0, `${STANDBY}-server`, T.flexible).protect, true);
        assert.equal(group.protect, true);
        assert.equal(inputsOf(named(r0, "quay-georep-redis-standby-rg", T.group)).location, "northeurope");
        // Its own firewall rules and parameters, on its own server.
        const rules = ofType(r0, T.firewall).filter((x) => x.name.startsWith(`${STANDBY}-allow-`));
        assert.deepEqual(rules.map((x) => x.name).sort(), [
            `${STANDBY}-allow-10-0-0-0-16`,
            `${STANDBY}-allow-10-1-0-0-16`,
        ]);
        for (const rule of rules) assert.equal(inputsOf(rule).serverName, known(`${STANDBY}-server`, "name"));
        const settings = ofType(r0, T.configuration).filter((x) => x.name.startsWith(`${STANDBY}-`));
        assert.deepEqual(settings.map((x) => [inputsOf(x).configurationName, inputsOf(x).value]).sort(), [
            ["azure.extensions", "PG_TRGM,UUID-OSSP"],
            ["require_secure_transport", "on"],
        ]);
        assert.deepEqual(standbyOf(r0).servers, {
            home: {
                location: "home",
                generation: 0,
                role: "primary",
                region: "westeurope",
                id: `${HOME}-server-id`,
                host: known(`${HOME}-server`, "fullyQualifiedDomainName"),
            },
            standby: {
                location: "standby",
                generation: 0,
                role: "replica",
                region: "northeurope",
                id: `${STANDBY}-server-id`,
                host: known(`${STANDBY}-server`, "fullyQualifiedDomainName"),
                sourceId: `${HOME}-server-id`,
            },
        });
    });

    it("promotes in the second round: replica { Standalone, Planned, None }, after the lag gate, nothing else changed", () => {
        assert.equal(
            inputsOf(named(r1, `${STANDBY}-server`, T.flexible)).replica,
            undefined,
            "read-only round: not yet",
        );
        const promoted = named(r2, `${STANDBY}-server`, T.flexible);
        assert.deepEqual(inputsOf(promoted).replica, {
            promoteMode: "Standalone",
            promoteOption: "Planned",
            role: "None",
        });
        assert.deepEqual(promoted.dependsOn, [one(r2, T.lagGate).urn]);
        // createMode and sourceServerResourceId are create-only: kept, or Azure would be asked for another server.
        assert.deepEqual(without(inputsOf(promoted), "replica"), inputsOf(named(r1, `${STANDBY}-server`, T.flexible)));
        assert.equal(standbyOf(r2).phase, "promoted");
        assert.equal(
            configYaml(r2).DB_URI,
            `postgresql://quay:__secret__@${known(`${STANDBY}-server`, "fullyQualifiedDomainName")}:5432/quay?sslmode=require`,
        );
    });

    // docs/standby.md: a switchover moves "DB_URI and Redis" to the standby location. An Azure
    // redis.standby given only its location gets the home VM's default network (10.251.0.0/24)
    // and so the same address, 10.251.0.4: the bundle cannot tell the two Redis VMs apart.
    it("moves Redis too: the promoted bundle names the standby VM, whose address is not the home VM's", () => {
        const before = redisHosts(configYaml(r1));
        const after = redisHosts(configYaml(r2));
        assert.notDeepEqual(after, before, `Redis stays at ${before.join(", ")}`);
    });

    it("rebuilds home: the old server released with its group (no firewall rule left), a g1 replica of the promoted one", () => {
        for (const name of [`${HOME}-server`, `${HOME}-rg`]) {
            const released = named(r3, name);
            assert.equal(released.protect, false, name);
            assert.equal(released.retainOnDelete, true, name);
            assert.deepEqual(released.ignoreChanges, ["*"], name);
        }
        assert.deepEqual(
            ofType(r3, T.firewall)
                .map((x) => x.name)
                .filter((n) => n.startsWith(`${HOME}-allow-`)),
            [],
        );
        const g1 = inputsOf(named(r3, `${HOME}-g1-server`, T.flexible));
        assert.equal(g1.createMode, "Replica");
        assert.equal(g1.sourceServerResourceId, `${STANDBY}-server-id`);
        assert.equal(g1.location, "westeurope");
        assert.equal(g1.resourceGroupName, known(`${HOME}-g1-rg`, "name"));
        assert.equal(inputsOf(named(r3, `${HOME}-g1-rg`, T.group)).location, "westeurope");
        // The serving server keeps what promoted it.
        assert.deepEqual(
            inputsOf(named(r3, `${STANDBY}-server`, T.flexible)),
            inputsOf(named(r2, `${STANDBY}-server`, T.flexible)),
        );
        assert.deepEqual(checkRun(r3).map(formatViolation), []);
    });

    describe("a failover", () => {
        let f1: RunResult;
        let f2: RunResult;
        before(async () => {
            const fw = await deployed(AZURE);
            fw.project = { ...AZURE, ...FAILOVER };
            f1 = await round(fw);
            f2 = await round(fw);
        });

        it("promotes with promoteOption Forced at once, with no lag gate to wait for", () => {
            const promoted = named(f1, `${STANDBY}-server`, T.flexible);
            assert.deepEqual(inputsOf(promoted).replica, {
                promoteMode: "Standalone",
                promoteOption: "Forced",
                role: "None",
            });
            assert.deepEqual(promoted.dependsOn, []);
            assert.equal(ofType(f1, T.lagGate).length, 0);
            assert.equal(ofType(f1, T.readonlyKey).length, 0);
            assert.equal(ofType(f1, T.primaryCheck).length, 1);
            assert.equal(configYaml(f1).REGISTRY_STATE, undefined);
            // The lost primary: as it was, frozen.
            assert.deepEqual(named(f1, `${HOME}-server`, T.flexible).ignoreChanges, ["*"]);
            assert.deepEqual(named(f1, `${HOME}-rg`, T.group).ignoreChanges, ["*"]);
        });

        // A promoted server is declared "with what it was created with so that nothing else
        // changes" (components/database/server.ts); the record keeps no promoteOption, so the next
        // run declares Planned: an update of the serving server's `replica` block.
        it("keeps declaring the promoted server as promoted (Forced) in the next run: no change to the serving server", () => {
            assert.deepEqual(
                inputsOf(named(f2, `${STANDBY}-server`, T.flexible)),
                inputsOf(named(f1, `${STANDBY}-server`, T.flexible)),
            );
        });
    });
});

describe("standby program: existing servers (the user promotes, phase gated)", function () {
    this.timeout(120000);
    const EXISTING = EXISTING_DB;
    const SECRETS = { databaseAdminPassword: "admin-pw" };
    const adminUrl = (host: string) => `postgresql://dbadmin:admin-pw@${host}:5432/postgres?sslmode=require`;
    const quayUri = (host: string) => `postgresql://quay:__secret__@${host}:5432/quay?sslmode=require`;
    let r1: RunResult;
    let gated: RunResult;
    let promoted: RunResult;
    let steady: RunResult;
    let w: World;

    before(async () => {
        w = await deployed(EXISTING, SECRETS);
        w.project = { ...EXISTING, ...ACTIVE };
        r1 = await round(w);
        gated = await round(w);
        promoted = await round(w);
        steady = await round(w);
    });

    it("refuses creating servers (database.mode aws) while the standby's existing server serves", async () => {
        assert.equal(standbyOf(steady).serving, "standby");
        const before = { ...w.project };
        w.project = { ...ACTIVE }; // the example's database: mode aws
        try {
            const r = await w.up("us");
            assert.deepEqual(errors(r), [
                refused(
                    `database.mode: "aws" creates servers while the registry runs on database.standby's existing server; keep database.mode "existing" until the home location serves again in phase steady (standby.active: false, standby.failover: false), then change the mode`,
                )[0],
            ]);
            assertNothingRegistered(r);
        } finally {
            w.project = before;
        }
    });

    it("round 2 runs the lag gate only: phase gated, the bundle still on the old host", () => {
        assert.deepEqual(
            jobNames(gated).filter((n) => /lag-gate|verify-primary/.test(n)),
            ["quay-georep-lag-gate-standby-e0"],
        );
        assert.equal(ofType(gated, T.primaryCheck).length, 0);
        const { secret } = switchoverJob(gated, "quay-georep-lag-gate");
        const urls = inputsOf(secret).stringData as Record<string, string>;
        assert.equal(urls.PRIMARY_URL, adminUrl("db-us.example.com"));
        assert.equal(urls.STANDBY_URL, adminUrl("db-eu.example.com"));
        assert.equal(configYaml(gated).DB_URI, quayUri("db-us.example.com"));
        assert.equal(configYaml(gated).REGISTRY_STATE, "readonly");
        assert.equal(
            plain(gated.outputs.bundleSha256),
            plain(r1.outputs.bundleSha256),
            "nothing for the clusters to roll",
        );
        assert.deepEqual(standbyOf(gated), {
            serving: "home",
            phase: "gated",
            target: "standby",
            epoch: 0,
            servers: {},
            released: [],
            left: [],
        });
        assert.deepEqual(plain(gated.outputs.lifecyclePending), [
            'switchover to database.standby, step 2 of 3: the lag gate runs; once it passed, promote database.standby yourself (docs/standby.md, "Existing servers: the promotion you run"), then pulumi up -s us again',
        ]);
        assert.equal(ofType(gated, T.rds).length + ofType(gated, T.flexible).length, 0, "no server is declared");
    });

    it("round 3 verifies the promoted standby, then points DB_URI and the logins at it (still read-only)", () => {
        assert.equal(ofType(promoted, T.lagGate).length, 0);
        const { secret, job } = switchoverJob(promoted, "quay-georep-primary-check");
        assert.equal((inputsOf(job).metadata as { name: string }).name, "quay-georep-verify-primary-standby-e1");
        assert.equal(
            (inputsOf(secret).stringData as Record<string, string>).DATABASE_URL,
            adminUrl("db-eu.example.com"),
        );
        assert.equal(configYaml(promoted).DB_URI, quayUri("db-eu.example.com"));
        assert.equal(configYaml(promoted).REGISTRY_STATE, "readonly");
        assert.equal(inputsOf(one(promoted, T.pgProvider)).host, "db-eu.example.com");
        assert.equal(inputsOf(one(gated, T.pgProvider)).host, "db-us.example.com");
        assert.deepEqual(standbyOf(promoted), {
            serving: "standby",
            phase: "promoted",
            target: "standby",
            epoch: 1,
            servers: {},
            released: [],
            left: [],
        });
        assert.equal(w.out("eu").deployedEpoch, 1);
    });

    it("round 4 ends read-only mode and asks the user to rebuild the old primary as a standby", () => {
        assert.equal(configYaml(steady).REGISTRY_STATE, undefined);
        assert.equal(configYaml(steady).DB_URI, quayUri("db-eu.example.com"));
        assert.equal(standbyOf(steady).phase, "steady");
        assert.deepEqual(plain(steady.outputs.lifecyclePending), [
            "switchover to database.standby, step 3 of 3: read-only mode ends; make database a standby of the new primary (docs/standby.md) before switching back",
        ]);
    });
});

describe("standby program: refused edits, with their messages", function () {
    this.timeout(120000);
    const DATABASE = example("database");
    const REDIS = example("redis");
    const databaseAlone = without(DATABASE, "standby");
    const redisAlone = without(REDIS, "standby");

    it("standby.active: true without database.standby", async () => {
        const r = await new World({ database: databaseAlone, redis: redisAlone, ...ACTIVE }).up("us");
        assert.deepEqual(
            errors(r),
            refused(
                "standby.active: true asks the standby to serve, but database.standby is not set; configure database.standby (and redis.standby) and deploy it first, or set standby.active: false",
            ),
        );
        assertNothingRegistered(r);
    });

    it("standby.failover: true without database.standby", async () => {
        const r = await new World({ database: databaseAlone, redis: redisAlone, standby: { failover: true } }).up("us");
        assert.deepEqual(
            errors(r),
            refused("standby.failover: true has no standby to fail over to; remove it, or configure database.standby"),
        );
        assertNothingRegistered(r);
    });

    it("database.standby without redis.standby when Redis is a VM", async () => {
        const r = await new World({ redis: redisAlone }).up("us");
        assert.deepEqual(
            errors(r),
            refused(
                "redis.standby: (missing) is required with database.standby (the Redis VM in us-east-1 would stop every cluster when that region is lost); add redis.standby in eu-west-1 (see docs/standby.md)",
            ),
        );
        assertNothingRegistered(r);
    });

    it("a standby in the primary's region", async () => {
        const same = { ...DATABASE, standby: { ...(DATABASE.standby as object), region: "us-east-1" } };
        const r = await new World({ database: same }).up("us");
        assert.deepEqual(
            errors(r),
            refused(
                'database.standby.region: "us-east-1" is the primary\'s region too (database.region), so losing it loses both; use another region; for a standby in the same region use database.multiAz',
            ),
        );
        assertNothingRegistered(r);
    });

    it("standby.failover with nothing to fail over (home serves, nothing lost)", async () => {
        const w = await deployed();
        w.project = { standby: { active: false, failover: true } };
        const r = await w.up("us");
        assert.deepEqual(
            errors(r),
            refused(
                "standby.failover: true has nothing to fail over: database already serves and no location is lost; set standby.failover: false (it is only for switching away from a lost location)",
            ),
        );
        assertNothingRegistered(r);
    });

    it("a sites edit during a switchover", async () => {
        const w = await deployed();
        w.project = ACTIVE;
        await round(w);
        const sites = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, state: "draining" } : s));
        w.project = { ...ACTIVE, sites };
        const r = await w.up("us");
        assert.deepEqual(
            errors(r),
            refused(
                'sites: "<changed>" change while the database switches locations (both change the bundle every cluster must roll to, step by step); finish the switchover first, then change sites; or revert the sites edit',
            ),
        );
        assertNothingRegistered(r);
    });

    // With existing servers no server is declared, so nothing stops a refused plan: the edit is applied.
    it("a sites edit during a switchover with existing servers (no server to trip over)", async () => {
        const w = await deployed(EXISTING_DB, { databaseAdminPassword: "admin-pw" });
        w.project = { ...EXISTING_DB, ...ACTIVE };
        await round(w);
        const sites = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, state: "draining" } : s));
        w.project = { ...EXISTING_DB, ...ACTIVE, sites };
        const r = await w.up("us");
        assert.deepEqual(
            errors(r),
            refused(
                'sites: "<changed>" change while the database switches locations (both change the bundle every cluster must roll to, step by step); finish the switchover first, then change sites; or revert the sites edit',
            ),
        );
        assertNothingRegistered(r);
    });

    it("moving the shared stack while the switchover waits for clusters (phase readonly)", async () => {
        const w = await deployed();
        w.project = ACTIVE;
        await w.upClean("us"); // step 1 on us only: eu still runs the writable bundle
        // `pulumi state move` of the shared components from us to eu (runbook, "Moving the shared stack").
        const shared = /quay-georep:(bundle|database|redis|storage|entrypoint):/;
        const moved = w.resources[fq("us")].filter((r) => shared.test(r.urn));
        w.resources[fq("us")] = w.resources[fq("us")].filter((r) => !moved.includes(r));
        w.resources[fq("eu")] = [
            ...w.resources[fq("eu")],
            ...moved.map((r) => ({ ...r, urn: r.urn.replace("urn:pulumi:us::", "urn:pulumi:eu::") })),
        ];
        w.project = { ...ACTIVE, sharedStack: "eu" };
        w.stackChanges.eu = { tlsCertificate: "CERT", tlsKey: "KEY", lifecycleJobs: true };
        const r = await w.up("eu");
        assert.deepEqual(errors(r), [
            `quay-georep configuration for stack "eu" has 1 problem:\n` +
                `  - sharedStack: "eu" moves the shared stack from "us" while a database switchover is in progress (phase readonly): the new shared stack has not verified that every cluster runs the switchover's bundle; set sharedStack back to "us" and finish the switchover there (or call it off: standby.active back), then move the shared stack`,
        ]);
    });

    it("a switchover started while a site drains", async () => {
        const sites = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, state: "draining" } : s));
        const w = await deployed({ sites });
        assert.equal(w.out("us").topology, "usstorage:active,eustorage:draining");
        assert.equal(w.out("us").backfilledTopology, w.out("us").topology, "no backfill pending: only the drain");
        w.project = { sites, ...ACTIVE };
        const r = await w.up("us");
        assert.deepEqual(
            errors(r),
            refused(
                "standby.active: true cannot start a switchover while the region lifecycle is busy: eustorage is draining; finish that first (lifecyclePending says what to run), then switch",
            ),
        );
        assertNothingRegistered(r);
    });

    it("switching back after the promotion", async () => {
        const w = await deployed();
        w.project = ACTIVE;
        await round(w);
        await round(w);
        assert.equal(w.out("us").standby && (w.out("us").standby as { phase: string }).phase, "promoted");
        w.project = { standby: { active: false, failover: false } };
        const r = await w.up("us");
        assert.deepEqual(
            errors(r),
            refused(
                "standby.active: false asks database to serve again, but the switchover to database.standby already promoted it; set standby.active: true and finish the switchover (pulumi up -s us); then switch back as a new switchover",
            ),
        );
        assertNothingRegistered(r);
    });

    it("moving the serving database's region", async () => {
        const w = await deployed();
        w.project = { database: { ...DATABASE, region: "us-west-2" } };
        const r = await w.up("us");
        assert.deepEqual(
            errors(r),
            refused(
                'database.region: "us-west-2" would move the serving database from us-east-1; keep "us-east-1"; to move it, switch to the other location first, then change this one (its replica is rebuilt there)',
            ),
        );
        assertNothingRegistered(r);
    });
});

describe("standby program: the read-only bundle, its key, and the switchover Jobs", function () {
    this.timeout(120000);
    let w: World;
    let r1: RunResult;
    let r2: RunResult;
    /** The key planted in the shared stack's last bundle before round 2. */
    const planted = generateServiceKey();
    const RECORDED = { home: "db-home.recorded.example", standby: "db-standby.recorded.example" };

    before(async () => {
        w = await deployed();
        w.project = ACTIVE;
        r1 = await round(w);
        // What the shared stack's StackReference to itself answers in round 2: its last bundle
        // (a secret) holding the planted key, and a record whose hosts are not the servers' outputs.
        const last = w.outputs[fq("us")];
        const bundle = plain(last.bundle) as Record<string, string>;
        const record = plain(last.standby) as { servers: Record<string, Record<string, unknown>> };
        w.outputs[fq("us")] = {
            ...last,
            bundle: {
                secret: { ...bundle, "quay-readonly.kid": planted.kid, "quay-readonly.pem": planted.privateKeyPem },
            },
            standby: {
                ...record,
                servers: {
                    home: { ...record.servers.home, host: RECORDED.home },
                    standby: { ...record.servers.standby, host: RECORDED.standby },
                },
            },
        };
        r2 = await w.upClean("us");
    });

    it("the read-only config.yaml validates against Quay's config schema", function () {
        requireSchemas(this);
        for (const r of [r1, r2]) {
            const config = configYaml(r);
            assert.equal(config.REGISTRY_STATE, "readonly");
            assert.deepEqual(validateQuayConfig(config), []);
        }
    });

    it("round 1 makes a key, ships it in the bundle and registers it in the serving database", () => {
        const files = bundleFiles(r1);
        const key = serviceKeyFrom(files["quay-readonly.pem"]);
        assert.equal(files["quay-readonly.kid"], key.kid, "the kid file is the key's thumbprint, no newline");
        const { job, secret } = switchoverJob(r1, "quay-georep-readonly-key");
        assert.equal(
            (inputsOf(job).metadata as { name: string }).name,
            `quay-georep-readonly-key-${hexDigest(key.kid, 10)}`,
        );
        assert.equal(envOf(job).KID, key.kid);
        assert.equal(
            (inputsOf(secret).stringData as Record<string, string>).DATABASE_URL,
            configYaml(r1).DB_URI,
            "the serving database, as Quay reaches it",
        );
    });

    it("round 2 reuses the key of the last bundle: same files, same Job, registered with its kid", () => {
        const files = bundleFiles(r2);
        assert.equal(files["quay-readonly.kid"], planted.kid);
        assert.equal(files["quay-readonly.pem"], planted.privateKeyPem);
        const { job, secret } = switchoverJob(r2, "quay-georep-readonly-key");
        assert.equal(
            (inputsOf(job).metadata as { name: string }).name,
            `quay-georep-readonly-key-${hexDigest(planted.kid, 10)}`,
        );
        const env = envOf(job);
        assert.equal(env.KID, planted.kid);
        assert.equal(env.JWK, quayJwkJson(planted.jwk));
        assert.equal(env.KEY_NAME, "quay-readonly");
        assert.equal(env.EXPIRES_DAYS, "30");
        assert.equal(env.DATABASE_URL, "DATABASE_URL", "from the Secret");
        const c = container(job);
        assert.equal(c.command[0], "/bin/sh");
        assert.match(c.command[2], /psql "\$DATABASE_URL" .*-v kid="\$KID" .*-f \/sql\/readonly-service-key\.sql$/);
        assert.ok(c.volumeMounts.some((m) => m.name === "sql" && m.mountPath === "/sql"));
        const data = inputsOf(secret).stringData as Record<string, string>;
        assert.equal(
            data["readonly-service-key.sql"],
            fs.readFileSync(`${PROJECT_DIR}/sql/readonly-service-key.sql`, "utf8"),
        );
        // Registered where the bundle now points: the promoted standby.
        assert.equal(data.DATABASE_URL, configYaml(r2).DB_URI);
        assert.match(
            data.DATABASE_URL,
            /@\(known after apply: quay-georep-database-standby-instance\.address\):5432\//,
        );
    });

    it("the lag gate reaches both servers at their RECORDED hosts, the primary check the promoted server's output", () => {
        const admin = (host: string) => `postgresql://quayadmin:__secret__@${host}:5432/postgres?sslmode=require`;
        const gate = switchoverJob(r2, "quay-georep-lag-gate");
        const urls = inputsOf(gate.secret).stringData as Record<string, string>;
        assert.equal(urls.PRIMARY_URL, admin(RECORDED.home));
        assert.equal(urls.STANDBY_URL, admin(RECORDED.standby));
        assert.deepEqual(
            container(gate.job)
                .env.filter((e) => e.valueFrom !== undefined)
                .map((e) => [e.name, e.valueFrom?.secretKeyRef.key]),
            [
                ["DATABASE_URL", "DATABASE_URL"],
                ["PRIMARY_URL", "PRIMARY_URL"],
                ["STANDBY_URL", "STANDBY_URL"],
            ],
        );
        assert.equal(envOf(gate.job).MAX_LAG_BYTES, "0");
        const check = switchoverJob(r2, "quay-georep-primary-check");
        assert.equal(
            (inputsOf(check.secret).stringData as Record<string, string>).DATABASE_URL,
            admin(known(`${STANDBY}-instance`, "address")),
        );
        // The promotion waits for the gate; the gate waits for nothing the promotion makes.
        assert.deepEqual(named(r2, `${STANDBY}-instance`, T.rds).dependsOn, [one(r2, T.lagGate).urn]);
    });

    it("keeps every URL secret: the Jobs' Secrets hold them as secret inputs, nothing leaks in plain text", () => {
        for (const component of ["quay-georep-lag-gate", "quay-georep-primary-check", "quay-georep-readonly-key"]) {
            const { secret } = switchoverJob(r2, component);
            assert.ok(isSecretInput(secret.inputs.stringData), `${component}: stringData must be secret`);
        }
        assert.deepEqual(plainSecrets(r2), []);
        // The record is plain data: hosts and IDs, never a password.
        assert.ok(!JSON.stringify(r2.outputs.standby).includes("__secret__"));
        assert.deepEqual(checkRun(r2).map(formatViolation), []);
    });
});

describe("standby program: which read-only key a run uses (stacks/switchover.ts readonlyKey)", () => {
    // Program runs in the tests read the offline key file (test/mocks.ts); here the variable is
    // set and unset around each call, as `pulumi up` finds it.
    const withKeyFile = <T>(file: string | undefined, fn: () => T): T => {
        const before = process.env[READONLY_KEY_FILE_ENV];
        if (file === undefined) delete process.env[READONLY_KEY_FILE_ENV];
        else process.env[READONLY_KEY_FILE_ENV] = file;
        try {
            return fn();
        } finally {
            if (before === undefined) delete process.env[READONLY_KEY_FILE_ENV];
            else process.env[READONLY_KEY_FILE_ENV] = before;
        }
    };
    const plan = (readonly: boolean) => ({ readonly }) as StandbyPlan;
    const nothingDeployed = {} as DeployedState;
    const offline = serviceKeyFrom(fs.readFileSync(OFFLINE_READONLY_KEY, "utf8"));

    it("makes a new 2048-bit RSA key when the registry goes read-only with no key deployed and no key file", () => {
        const a = withKeyFile(undefined, () => readonlyKey(plan(true), nothingDeployed));
        const b = withKeyFile(undefined, () => readonlyKey(plan(true), nothingDeployed));
        assert.ok(a !== undefined && b !== undefined);
        assert.notEqual(a.kid, b.kid, "each run without a key makes its own");
        assert.notEqual(a.kid, offline.kid);
        assert.equal(createPrivateKey(a.privateKeyPem).asymmetricKeyDetails?.modulusLength, 2048);
        assert.deepEqual(serviceKeyFrom(a.privateKeyPem), a);
    });

    it("reads the key file when one is named, and the last bundle's key before either", () => {
        assert.deepEqual(
            withKeyFile(OFFLINE_READONLY_KEY, () => readonlyKey(plan(true), nothingDeployed)),
            offline,
        );
        const last = generateServiceKey();
        const deployed = { lastServiceKeyPem: new SecretValue(last.privateKeyPem) } as DeployedState;
        assert.deepEqual(
            withKeyFile(OFFLINE_READONLY_KEY, () => readonlyKey(plan(true), deployed)),
            last,
        );
    });

    it("has no key while the registry is not read-only", () => {
        assert.equal(
            withKeyFile(undefined, () => readonlyKey(plan(false), nothingDeployed)),
            undefined,
        );
    });
});

describe("standby program: a failover asks nothing of the lost region", function () {
    this.timeout(120000);

    // docs/standby.md: "Other API calls to the lost region happen only for resources whose inputs
    // changed there". The home Redis VM (us-east-1, lost) looks its AMI up on every run
    // (ec2.getAmiOutput, through the us-east-1 provider): with the region down that call fails the run.
    it("looks up no AMI for the lost region's Redis VM (only the standby's)", async () => {
        const w = await deployed();
        const stub = INVOKE_RESULTS["aws:ec2/getAmi:getAmi"];
        let calls = 0;
        INVOKE_RESULTS["aws:ec2/getAmi:getAmi"] = (inputs) => {
            calls++;
            return stub(inputs);
        };
        // Run afresh (not through runStack's memo), counting the lookups of each run.
        const counted = async (): Promise<{ r: RunResult; calls: number }> => {
            calls = 0;
            const r = await runProgram({
                ...w.config("us"),
                stackOutputs: { ...w.outputs },
                stackResources: { ...w.resources },
            });
            assert.deepEqual(errors(r), []);
            return { r, calls };
        };
        try {
            w.project = {};
            assert.equal((await counted()).calls, 2, "steady: one lookup per Redis VM, home and standby");
            w.project = FAILOVER;
            const failover = await counted();
            assert.equal(standbyOf(failover.r).lost, "home");
            assert.equal(failover.calls, 1, "AMI lookups in the failover run");
        } finally {
            INVOKE_RESULTS["aws:ec2/getAmi:getAmi"] = stub;
        }
    });

    it("every lifecyclePending note that names a docs/standby.md section names one that exists", async () => {
        const headings = fs
            .readFileSync(`${PROJECT_DIR}/docs/standby.md`, "utf8")
            .split("\n")
            .filter((l) => l.startsWith("#"))
            .map((l) => l.replace(/^#+\s*/, ""));
        const w = await deployed();
        w.project = FAILOVER;
        const failover = await w.upClean("us");
        const ex = await deployed(EXISTING_DB, { databaseAdminPassword: "admin-pw" });
        ex.project = { ...ex.project, ...ACTIVE };
        await round(ex);
        const gated = await ex.upClean("us");
        const notes = [failover, gated].flatMap((r) => plain(r.outputs.lifecyclePending) as string[]);
        const named = notes.flatMap((n) => [...n.matchAll(/docs\/standby\.md, "([^"]+)"/g)].map((m) => m[1]));
        assert.ok(named.length >= 2, notes.join("\n"));
        assert.deepEqual(
            named.filter((n) => !headings.includes(n)),
            [],
            `sections: ${headings.join(" | ")}`,
        );
    });
});

describe("standby program: a location lost in the middle of a switchover", function () {
    this.timeout(120000);
    const LOST_MID = { standby: { active: false, failover: true } };
    const awsProvider = "pulumi:providers:aws";
    /** The resources of the standby location (eu-west-1) that this run declares live (not frozen). */
    const live = (r: RunResult) =>
        r.resources
            .filter((x) => /-(database|redis)-standby(-g\d+)?-/.test(x.name))
            .filter((x) => !(x.ignoreChanges ?? []).includes("*"))
            .map((x) => x.name);

    it("before the promotion (readonly): the target is marked lost, read-only ends, nothing there is asked", async () => {
        const w = await deployed();
        w.project = ACTIVE;
        await w.upClean("us"); // step 1: read-only
        assert.equal(standbyOf(await w.upClean("us")).phase, "readonly", "still waiting for eu");
        w.project = LOST_MID;
        const r = await w.upClean("us");
        const record = standbyOf(r);
        assert.equal(record.serving, "home");
        assert.equal(record.phase, "steady");
        assert.equal(record.lost, "standby");
        assert.equal(record.target, undefined);
        assert.equal(configYaml(r).REGISTRY_STATE, undefined, "read-only mode ends");
        assert.deepEqual(live(r), []);
        assert.equal(named(r, "quay-georep-aws-eu-west-1", awsProvider).inputs.stsRegion, "us-east-1");
        assert.ok(
            (r.outputs.lifecyclePending as string[]).some((n) =>
                n.startsWith("switchover to database.standby called off with database.standby lost"),
            ),
        );
        // The region is back: the replica there is fenced, released and rebuilt.
        w.project = { standby: { active: false, failover: false } };
        const back = await w.upClean("us");
        assert.equal(standbyOf(back).lost, undefined);
        assert.deepEqual(
            ofType(back, T.rds)
                .map((x) => `${x.name}:${x.protect ? "protected" : "released"}`)
                .sort(),
            [
                "quay-georep-database-instance:protected",
                "quay-georep-database-standby-g1-instance:protected",
                "quay-georep-database-standby-instance:released",
            ],
        );
    });

    it("after the promotion: the old primary's location is marked lost, the new primary serves, read-only ends", async () => {
        const w = await deployed();
        w.project = ACTIVE;
        await round(w);
        const promoted = await round(w);
        assert.equal(standbyOf(promoted).phase, "promoted");
        assert.equal(standbyOf(promoted).serving, "standby");
        w.project = { standby: { active: true, failover: true } };
        const r = await w.upClean("us");
        const record = standbyOf(r);
        assert.equal(record.serving, "standby");
        assert.equal(record.phase, "steady");
        assert.equal(record.lost, "home");
        assert.equal(record.failoverEpoch, record.epoch, "clusters not on the promoted bundle stay out of rotation");
        assert.equal(configYaml(r).REGISTRY_STATE, undefined);
        const home = named(r, "quay-georep-database-instance", T.rds);
        assert.deepEqual(home.ignoreChanges, ["*"], "the lost old primary is frozen, not released");
        assert.equal(home.protect, true);
        assert.equal(named(r, "quay-georep-aws-us-east-1", awsProvider).inputs.stsRegion, "eu-west-1");
    });

    it("refuses a sites edit in that run", async () => {
        const w = await deployed();
        w.project = ACTIVE;
        await w.upClean("us");
        const sites = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, state: "draining" } : s));
        w.project = { ...LOST_MID, sites };
        const r = await w.up("us");
        assert.deepEqual(
            errors(r),
            refused(
                'sites: "<changed>" change while the database switches locations (both change the bundle every cluster must roll to, step by step); change sites in a later run; or revert the sites edit',
            ),
        );
    });
});

describe("standby program: existing servers are held to their hosts", function () {
    this.timeout(120000);
    const SECRETS = { databaseAdminPassword: "admin-pw" };
    const withHosts = (home: string, standby: string, standbyState = ACTIVE) => ({
        database: { ...EXISTING_DB.database, host: home, standby: { host: standby } },
        ...standbyState,
    });

    it("refuses a host change while the switchover is under way (phase gated: the gate judged db-eu)", async () => {
        const w = await deployed(EXISTING_DB, SECRETS);
        w.project = { ...EXISTING_DB, ...ACTIVE };
        await round(w);
        assert.equal(standbyOf(await round(w)).phase, "gated");
        w.project = withHosts("db-us.example.com", "db-eu2.example.com");
        const r = await w.up("us");
        assert.deepEqual(
            errors(r),
            refused(
                'database.standby.host: "db-eu2.example.com" changes while a switchover is under way (phase gated): its checks judged "db-eu.example.com"; keep "db-eu.example.com" until the switchover or failover has finished',
            ),
        );
        assertNothingRegistered(r);
    });

    it("refuses 'tidying' the hosts after a switchover: the serving host may not change", async () => {
        const w = await deployed(EXISTING_DB, SECRETS);
        w.project = { ...EXISTING_DB, ...ACTIVE };
        for (let i = 0; i < 4; i++) await round(w);
        const steady = standbyOf(await w.upClean("us"));
        assert.deepEqual([steady.serving, steady.phase], ["standby", "steady"]);
        // Swap the hosts so that "database" names the serving server again, and flip the switch.
        w.project = withHosts("db-eu.example.com", "db-us.example.com", {
            standby: { active: false, failover: false },
        });
        const r = await w.up("us");
        assert.equal(r.errors.length, 1);
        assert.match(
            errors(r)[0],
            /- database\.standby\.host: "db-us\.example\.com" would point every cluster at another server than the one serving \("db-eu\.example\.com"\), unchecked; keep "db-eu\.example\.com"; to move the registry to another server, make it the standby/,
        );
    });

    it("lets the non-serving host change in steady state, and database.host change without a standby", async () => {
        const w = await deployed(EXISTING_DB, SECRETS);
        w.project = withHosts("db-us.example.com", "db-eu2.example.com", {
            standby: { active: false, failover: false },
        });
        assert.deepEqual(errors(await w.up("us")), []);

        // Without a standby (the example's Redis without its standby too), database.host is free.
        const one = {
            database: without(EXISTING_DB.database, "standby"),
            redis: without(example("redis"), "standby"),
        };
        const single = await deployed(one, SECRETS);
        single.project = { ...one, database: { ...one.database, host: "db-new.example.com" } };
        assert.deepEqual(errors(await single.up("us")), []);
    });
});
