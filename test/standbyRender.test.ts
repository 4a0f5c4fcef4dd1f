/**
 * The database switchover as a reviewer sees it: the example project (RDS in us-east-1 with a
 * standby in eu-west-1, an EC2 Redis with a standby there too) rendered with
 * `npm run render -- --deployed <the render before>` once per round of `pulumi up` (one render runs
 * every stack in deploy order, the shared stack first), in-process through the renderer's `main`.
 * Each rendered step must show exactly what that round does: read-only, then lag gate + promotion +
 * the bundle on the standby, then read-only ends and the old primary is released and rebuilt, then
 * it leaves the state. The same for a failover. Every step passes the policy pack.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, parseDocument } from "yaml";
import { checkRun } from "../offline/policy";
import { main, RenderedStack } from "../offline/render";
import { RenderedResource } from "../offline/renderedFolder";
import { plain, RunResult } from "../offline/runtime";
import { formatViolation } from "../policy/rules";
import { PROJECT_DIR, runMemoized } from "./mocks";
import { scratchDir } from "./support/scratch";

/** What one stack's folder of a render holds. */
interface StackFiles {
    /** config.yaml, parsed. */
    readonly config: Record<string, unknown>;
    readonly configText: string;
    readonly resources: readonly RenderedResource[];
    readonly outputs: Record<string, unknown>;
}

/** One render: one round of `pulumi up` of every stack. */
interface Step {
    /** The render's folder: the next render's `--deployed`. */
    readonly out: string;
    readonly us: StackFiles;
    readonly eu: StackFiles;
    /** What the renderer printed (the preview-like tree). */
    readonly stdout: string;
    /** The same render's program runs (what the policy pack is checked on; `ignoreChanges` is only here). */
    readonly runs: { readonly us: RunResult; readonly eu: RunResult };
}

const T = {
    rds: "aws:rds/instance:Instance",
    rdsComponent: "quay-georep:database:RdsPostgres",
    key: "aws:kms/key:Key",
    ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    job: "kubernetes:batch/v1:Job",
    lagGate: "quay-georep:standby:LagGate",
    primaryCheck: "quay-georep:standby:PrimaryCheck",
    readonlyKey: "quay-georep:standby:ReadonlyServiceKey",
    record: "aws:route53/record:Record",
    healthCheck: "aws:route53/healthCheck:HealthCheck",
    awsProvider: "pulumi:providers:aws",
} as const;

// What the mock runtime makes up for values only the cloud knows (offline/runtime.ts).
const known = (name: string, property: string) => `(known after apply: ${name}.${property})`;
const HOME = "quay-georep-database";
const STANDBY = "quay-georep-database-standby";
const HOME_G1 = "quay-georep-database-g1";
const HOME_ARN = known(`${HOME}-instance`, "arn");
const STANDBY_ARN = known(`${STANDBY}-instance`, "arn");
const dbUri = (server: string) =>
    `postgresql://quay:<secret>@${known(`${server}-instance`, "address")}:5432/quay?sslmode=require`;
const redisHost = (vm: string) => known(`${vm}-vm`, "privateIp");
const READONLY_KEYS = {
    INSTANCE_SERVICE_KEY_KID_LOCATION: "/conf/stack/quay-readonly.kid",
    INSTANCE_SERVICE_KEY_LOCATION: "/conf/stack/quay-readonly.pem",
    REGISTRY_STATE: "readonly",
};

/** The servers as the standby record names them (`servers`, `released`, `left`). */
const homeGen0 = {
    location: "home",
    generation: 0,
    role: "primary",
    region: "us-east-1",
    id: HOME_ARN,
    host: known(`${HOME}-instance`, "address"),
};
const standbyGen0 = (role: "replica" | "promoted") => ({
    location: "standby",
    generation: 0,
    role,
    region: "eu-west-1",
    id: STANDBY_ARN,
    host: known(`${STANDBY}-instance`, "address"),
    sourceId: HOME_ARN,
    // How it was promoted stays recorded (Azure keeps it as the server's input).
    ...(role === "promoted" ? { promoteOption: "Planned" } : {}),
});
const homeGen1 = {
    location: "home",
    generation: 1,
    role: "replica",
    region: "us-east-1",
    id: known(`${HOME_G1}-instance`, "arn"),
    host: known(`${HOME_G1}-instance`, "address"),
    sourceId: STANDBY_ARN,
};

const NOTES = {
    step1: "switchover to database.standby, step 1 of 3: the registry goes read-only (pulls work, pushes and every other write are refused); deploy every site stack, then pulumi up -s us again (lag gate, promotion)",
    step2: "switchover to database.standby, step 2 of 3: the lag gate runs, then the replica in database.standby is promoted and verified, and the bundle points at it (still read-only); deploy every site stack, then pulumi up -s us again",
    step3: "switchover to database.standby, step 3 of 3: read-only mode ends; the old primary in database is fenced and released, and a new replica of the new primary is created there",
    forget: `the former primary of database (us-east-1, ${HOME_ARN}) leaves Pulumi's state in this run and stays in the cloud, fenced (no ingress) and with deletion protection: delete it by hand once you no longer need it (docs/standby.md, "Old servers")`,
};

/** A copy of the project's Pulumi*.yaml in a temp dir. */
function tempProject(): string {
    const dir = scratchDir("standby-render");
    for (const f of fs.readdirSync(PROJECT_DIR).filter((n) => /^Pulumi(\..+)?\.yaml$/.test(n)))
        fs.copyFileSync(path.join(PROJECT_DIR, f), path.join(dir, f));
    return dir;
}

/** Sets `quay-georep:standby` in the copy's Pulumi.yaml (comments and everything else kept). */
function setStandby(dir: string, value: { active: boolean; failover: boolean }): void {
    const file = path.join(dir, "Pulumi.yaml");
    const doc = parseDocument(fs.readFileSync(file, "utf8"));
    assert.ok(doc.hasIn(["config", "standby", "value"]), "the example sets quay-georep:standby in Pulumi.yaml");
    doc.setIn(["config", "standby", "value", "active"], value.active);
    doc.setIn(["config", "standby", "value", "failover"], value.failover);
    fs.writeFileSync(file, doc.toString());
}

function readStack(out: string, stack: string): StackFiles {
    const read = (f: string) => fs.readFileSync(path.join(out, stack, f), "utf8");
    const configText = read("config.yaml");
    return {
        config: parse(configText) as Record<string, unknown>,
        configText,
        resources: JSON.parse(read("resources.json")) as RenderedResource[],
        outputs: JSON.parse(read("outputs.json")) as Record<string, unknown>,
    };
}

/**
 * `npm run render -- --dir <dir> --out <dir>/<name> [--deployed <previous>]`, in this process, with
 * the program runs its files were made from (`RenderIo.rendered`), which must register the very
 * resources the files list.
 */
async function render(dir: string, name: string, deployed?: Step): Promise<Step> {
    const out = path.join(dir, name);
    let stdout = "";
    let stderr = "";
    let rendered: readonly RenderedStack[] = [];
    const args = ["--dir", dir, "--out", out, ...(deployed ? ["--deployed", deployed.out] : [])];
    const code = await main(args, {
        stdout: (t) => void (stdout += t),
        stderr: (t) => void (stderr += t),
        rendered: (stacks) => void (rendered = stacks),
        run: runMemoized,
    });
    assert.equal(code, 0, `render ${name} failed:\n${stderr}`);
    assert.doesNotMatch(stderr, /not rendered/);
    const runOf = (stack: string) => {
        const r = rendered.find((x) => x.stack === stack);
        assert.ok(r, `no ${stack} in the render`);
        return r.result;
    };
    const step: Step = {
        out,
        us: readStack(out, "us"),
        eu: readStack(out, "eu"),
        stdout,
        runs: { us: runOf("us"), eu: runOf("eu") },
    };
    for (const stack of ["us", "eu"] as const) {
        assert.deepEqual(
            step.runs[stack].resources.map((r) => r.urn),
            step[stack].resources.map((r) => r.urn),
            `the program run of ${stack} is the rendered one`,
        );
    }
    return step;
}

let baseline: Promise<Step> | undefined;
/** r0: the example as it is (standby.active false), rendered with nothing deployed; shared by both scenarios. */
function renderBaseline(): Promise<Step> {
    baseline ??= (async () => {
        return render(tempProject(), "r0");
    })();
    return baseline;
}

/** Exactly one rendered resource with this name (and type). */
function named(files: StackFiles, name: string, type?: string): RenderedResource {
    const found = files.resources.filter((r) => r.name === name && (type === undefined || r.type === type));
    assert.equal(found.length, 1, `expected one ${type ?? "resource"} named ${name}, found ${found.length}`);
    return found[0];
}
const has = (files: StackFiles, name: string) => files.resources.some((r) => r.name === name);
const ofType = (files: StackFiles, type: string) => files.resources.filter((r) => r.type === type);
/** The Kubernetes names of the Jobs a stack renders. */
const jobNames = (files: StackFiles) =>
    ofType(files, T.job)
        .map((j) => (j.inputs.metadata as { name: string }).name)
        .sort();
/** The shared stack's standby record. */
const standbyOf = (step: Step) => step.us.outputs.standby as Record<string, unknown>;
/** The ignoreChanges option of a resource of the step's program run (resources.json does not list it). */
function ignoreChangesOf(step: Step, name: string): readonly string[] | undefined {
    const found = step.runs.us.resources.filter((r) => r.name === name);
    assert.equal(found.length, 1, `one ${name}`);
    return found[0].ignoreChanges;
}
/** Names of the children of a component, by its name. */
function childrenOf(files: StackFiles, component: string): RenderedResource[] {
    const parent = files.resources.filter((r) => r.name === component && r.type === T.rdsComponent);
    assert.equal(parent.length, 1, `one RdsPostgres ${component}`);
    return files.resources.filter((r) => r.parent === parent[0].urn);
}
/** The URNs two renders of one stack differ by. */
function urnDiff(before: StackFiles, after: StackFiles): { added: string[]; removed: string[] } {
    const a = new Set(before.resources.map((r) => r.urn));
    const b = new Set(after.resources.map((r) => r.urn));
    const short = (u: string) => u.split("::").slice(2).join("::");
    return {
        added: [...b]
            .filter((u) => !a.has(u))
            .map(short)
            .sort(),
        removed: [...a]
            .filter((u) => !b.has(u))
            .map(short)
            .sort(),
    };
}
/** Config keys whose values differ between two config.yaml files (added, removed or changed). */
function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort();
}
const redisHosts = (config: Record<string, unknown>) => [
    (config.BUILDLOGS_REDIS as { host: string }).host,
    (config.USER_EVENTS_REDIS as { host: string }).host,
];

/** The policy pack on both stacks of a render: eu judged against the shared stack's bundle hash. */
function assertPolicyClean(step: Step): void {
    const sha = plain(step.runs.us.outputs.bundleSha256);
    const found = [
        ...checkRun(step.runs.us),
        ...checkRun(step.runs.eu, { "bundle-secret-identical-across-stacks": { bundleSha256: sha } }),
    ];
    assert.deepEqual(found.map(formatViolation), []);
}

/** Each step's bundle reaches eu in the same render: its site stack reports the shared stack's hash and epoch. */
function assertEuDeployed(step: Step, epoch: number): void {
    assert.equal(step.eu.outputs.deployedBundleSha256, step.us.outputs.bundleSha256);
    assert.equal(step.eu.outputs.deployedEpoch, epoch);
    assert.equal(step.us.outputs.deployedEpoch, epoch);
    assert.equal(step.eu.configText, step.us.configText, "one bundle: the same config.yaml for every stack");
}

describe("standby: a switchover driven through npm run render -- --deployed shows each step in order", function () {
    this.timeout(120000);
    let dir: string;
    let r0: Step;
    let r1: Step;
    let r2: Step;
    let r3: Step;
    let r4: Step;

    before(async () => {
        r0 = await renderBaseline();
        dir = tempProject();
        setStandby(dir, { active: true, failover: false });
        r1 = await render(dir, "r1", r0);
        r2 = await render(dir, "r2", r1);
        r3 = await render(dir, "r3", r2);
        r4 = await render(dir, "r4", r3);
    });

    it("r0 (nothing deployed, standby.active false): the primary at home serves, a replica of it waits in eu-west-1", () => {
        assert.deepEqual(standbyOf(r0), {
            serving: "home",
            phase: "steady",
            epoch: 0,
            servers: { home: homeGen0, standby: standbyGen0("replica") },
            released: [],
            left: [],
        });
        assert.equal(r0.us.config.DB_URI, dbUri(HOME));
        assert.deepEqual(redisHosts(r0.us.config), [redisHost("quay-georep-redis"), redisHost("quay-georep-redis")]);
        for (const key of Object.keys(READONLY_KEYS)) assert.equal(r0.us.config[key], undefined, key);
        const replica = named(r0.us, `${STANDBY}-instance`, T.rds);
        assert.equal(replica.inputs.replicateSourceDb, HOME_ARN);
        assert.equal(replica.protect, true);
        assert.deepEqual(r0.us.outputs.lifecyclePending, []);
        assertEuDeployed(r0, 0);
    });

    it("goes through the phases in order, one step per render: steady, readonly, promoted, steady, steady", () => {
        const steps = [r0, r1, r2, r3, r4].map((s) => {
            const record = standbyOf(s);
            return `${record.serving as string}/${record.phase as string}/e${record.epoch as number}`;
        });
        assert.deepEqual(steps, [
            "home/steady/e0",
            "home/readonly/e0",
            "standby/promoted/e1",
            "standby/steady/e1",
            "standby/steady/e1",
        ]);
    });

    describe("r1: read-only, still on the home location", () => {
        it("config.yaml is r0's plus REGISTRY_STATE: readonly and the two INSTANCE_SERVICE_KEY_* paths, nothing else", () => {
            assert.deepEqual(changedKeys(r0.us.config, r1.us.config), Object.keys(READONLY_KEYS).sort());
            for (const [key, value] of Object.entries(READONLY_KEYS)) assert.equal(r1.us.config[key], value, key);
            assert.equal(r1.us.config.DB_URI, dbUri(HOME));
            assert.deepEqual(redisHosts(r1.us.config), [
                redisHost("quay-georep-redis"),
                redisHost("quay-georep-redis"),
            ]);
        });

        it("the bundle carries the key files the two paths name, the kid without a newline", () => {
            const bundle = plain(r1.runs.us.outputs.bundle) as Record<string, string>;
            assert.match(bundle["quay-readonly.kid"], /^[A-Za-z0-9_-]{43}$/);
            assert.match(bundle["quay-readonly.pem"], /^-----BEGIN RSA PRIVATE KEY-----\n/);
            assert.equal(r1.us.outputs.bundle, "<secret>", "the bundle output stays secret");
        });

        it("registers the read-only key with a Job, and runs neither the lag gate nor the primary check", () => {
            assert.equal(ofType(r1.us, T.readonlyKey).length, 1);
            assert.equal(ofType(r1.us, T.lagGate).length, 0);
            assert.equal(ofType(r1.us, T.primaryCheck).length, 0);
            const keyJob = jobNames(r1.us).filter((n) => n.startsWith("quay-georep-readonly-key-"));
            assert.equal(keyJob.length, 1);
            assert.match(keyJob[0], /^quay-georep-readonly-key-[0-9a-f]{10}$/);
        });

        it("changes no server: the standby is still a replica of the home primary", () => {
            const replica = named(r1.us, `${STANDBY}-instance`, T.rds);
            assert.equal(replica.inputs.replicateSourceDb, HOME_ARN);
            assert.deepEqual(replica.dependsOn, []);
            assert.equal(named(r1.us, `${HOME}-instance`, T.rds).protect, true);
            assert.deepEqual(
                urnDiff(r0.us, r1.us).added.filter((u) => !u.includes("ReadonlyServiceKey")),
                [],
                "only the key's Job, Secret and component are new",
            );
            assert.deepEqual(urnDiff(r0.us, r1.us).removed, []);
        });

        it("records phase readonly with the target, and says what to run next", () => {
            assert.deepEqual(standbyOf(r1), {
                serving: "home",
                phase: "readonly",
                target: "standby",
                epoch: 0,
                servers: { home: homeGen0, standby: standbyGen0("replica") },
                released: [],
                left: [],
            });
            assert.deepEqual(r1.us.outputs.lifecyclePending, [NOTES.step1]);
        });

        it("eu deploys the read-only bundle in the same round (its deployedBundleSha256 is us's bundleSha256)", () => {
            assert.notEqual(r1.us.outputs.bundleSha256, r0.us.outputs.bundleSha256);
            assertEuDeployed(r1, 0);
        });
    });

    describe("r2: lag gate, promotion, and the bundle on the standby location (still read-only)", () => {
        it("runs the lag gate and the primary check as Jobs of this epoch, and re-registers the key", () => {
            assert.equal(ofType(r2.us, T.lagGate).length, 1);
            assert.equal(ofType(r2.us, T.primaryCheck).length, 1);
            assert.equal(ofType(r2.us, T.readonlyKey).length, 1);
            const jobs = jobNames(r2.us);
            assert.ok(jobs.includes("quay-georep-lag-gate-standby-e1"), jobs.join(", "));
            assert.ok(jobs.includes("quay-georep-verify-primary-standby-e1"), jobs.join(", "));
        });

        it("promotes the standby after the gate: no replicateSourceDb, and it depends on the LagGate", () => {
            const promoted = named(r2.us, `${STANDBY}-instance`, T.rds);
            assert.equal(promoted.inputs.replicateSourceDb, undefined);
            assert.deepEqual(promoted.dependsOn, [ofType(r2.us, T.lagGate)[0].urn]);
            assert.equal(promoted.protect, true);
            assert.equal(promoted.inputs.deletionProtection, true);
            // Everything else it was created with stays, so the provider sees a promotion and nothing else.
            const before = named(r1.us, `${STANDBY}-instance`, T.rds).inputs;
            assert.deepEqual(
                promoted.inputs,
                Object.fromEntries(Object.entries(before).filter(([k]) => k !== "replicateSourceDb")),
            );
            // The old primary is not touched in this round.
            assert.deepEqual(named(r2.us, `${HOME}-instance`, T.rds), named(r1.us, `${HOME}-instance`, T.rds));
        });

        it("points DB_URI and both Redis hosts at the standby location, still read-only", () => {
            assert.deepEqual(changedKeys(r1.us.config, r2.us.config), [
                "BUILDLOGS_REDIS",
                "DB_URI",
                "USER_EVENTS_REDIS",
            ]);
            assert.equal(r2.us.config.DB_URI, dbUri(STANDBY));
            assert.deepEqual(redisHosts(r2.us.config), [
                redisHost("quay-georep-redis-standby"),
                redisHost("quay-georep-redis-standby"),
            ]);
            for (const [key, value] of Object.entries(READONLY_KEYS)) assert.equal(r2.us.config[key], value, key);
        });

        it("points Clair at the standby too", () => {
            const bundle = plain(r2.runs.us.outputs.bundle) as Record<string, string>;
            const clair = parse(bundle["clair-config.yaml"]) as Record<string, { connstring: string }>;
            for (const part of ["indexer", "matcher", "notifier"]) {
                assert.ok(
                    clair[part].connstring.includes(`@${known(`${STANDBY}-instance`, "address")}:5432/`),
                    `${part}: ${clair[part].connstring}`,
                );
            }
        });

        it("records epoch 1 and the standby promoted, and eu reports deployedEpoch 1", () => {
            assert.deepEqual(standbyOf(r2), {
                serving: "standby",
                phase: "promoted",
                target: "standby",
                epoch: 1,
                servers: { home: homeGen0, standby: standbyGen0("promoted") },
                released: [],
                left: [],
            });
            assert.deepEqual(r2.us.outputs.lifecyclePending, [NOTES.step2]);
            assertEuDeployed(r2, 1);
        });

        // README: "Output is deterministic (same input, same bytes)"; docs/standby.md: every step
        // of one switchover runs the same read-only key. Offline, the last bundle is read back
        // from outputs.json, where it is "<secret>", so each render generates a new key.
        it("keeps the read-only key of r1 (the same registration Job, the same bundle files)", () => {
            assert.deepEqual(
                jobNames(r2.us).filter((n) => n.startsWith("quay-georep-readonly-key-")),
                jobNames(r1.us).filter((n) => n.startsWith("quay-georep-readonly-key-")),
            );
        });
    });

    describe("r3: read-only ends; the old primary is released (fenced) and rebuilt as a replica", () => {
        it("config.yaml is r2's without REGISTRY_STATE and the key paths: still on the standby", () => {
            assert.deepEqual(changedKeys(r2.us.config, r3.us.config), Object.keys(READONLY_KEYS).sort());
            for (const key of Object.keys(READONLY_KEYS)) assert.equal(r3.us.config[key], undefined, key);
            assert.equal(r3.us.config.DB_URI, dbUri(STANDBY));
            assert.deepEqual(redisHosts(r3.us.config), [
                redisHost("quay-georep-redis-standby"),
                redisHost("quay-georep-redis-standby"),
            ]);
            assert.equal(ofType(r3.us, T.readonlyKey).length, 0);
            assert.equal(ofType(r3.us, T.lagGate).length, 0);
            assert.equal(ofType(r3.us, T.primaryCheck).length, 0);
        });

        it("releases the home instance: unprotected, retained on delete, frozen", () => {
            const home = named(r3.us, `${HOME}-instance`, T.rds);
            assert.equal(home.protect, false);
            assert.equal(home.retainOnDelete, true);
            assert.equal(home.inputs.deletionProtection, true, "the cloud keeps refusing to delete it");
            assert.deepEqual(ignoreChangesOf(r3, `${HOME}-instance`), ["*"]);
            assert.match(
                r3.stdout,
                /\+ aws:rds\/instance:Instance {2}quay-georep-database-instance {2}\[retainOnDelete\]\n/,
            );
        });

        it("releases every child of the old primary and fences it: no ingress rule is left", () => {
            const children = childrenOf(r3.us, HOME);
            assert.deepEqual(children.map((c) => c.name).sort(), [
                `${HOME}-instance`,
                `${HOME}-params`,
                `${HOME}-sg`,
                `${HOME}-subnets`,
            ]);
            for (const c of children) {
                assert.equal(c.protect, false, c.name);
                assert.equal(c.retainOnDelete, true, c.name);
                assert.deepEqual(ignoreChangesOf(r3, c.name), ["*"], c.name);
            }
            assert.deepEqual(
                ofType(r3.us, T.ingress)
                    .map((r) => r.name)
                    .filter((n) => n.startsWith(`${HOME}-allow-`)),
                [],
            );
            // r2 still had them: this round deletes them.
            assert.deepEqual(
                ofType(r2.us, T.ingress)
                    .map((r) => r.name)
                    .filter((n) => n.startsWith(`${HOME}-allow-`))
                    .sort(),
                [`${HOME}-allow-10-0-0-0-16`, `${HOME}-allow-10-1-0-0-16`],
            );
        });

        it("creates quay-georep-database-g1 in us-east-1 as a replica of the promoted standby, encrypted with its own key", () => {
            const g1 = named(r3.us, `${HOME_G1}-instance`, T.rds);
            assert.equal(g1.inputs.replicateSourceDb, STANDBY_ARN);
            assert.equal(g1.inputs.kmsKeyId, known(`${HOME_G1}-key`, "arn"));
            assert.equal(g1.inputs.storageEncrypted, true);
            assert.equal(g1.inputs.deletionProtection, true);
            assert.equal(g1.inputs.username, undefined, "a replica inherits the master user");
            assert.equal(g1.protect, true);
            assert.equal(named(r3.us, `${HOME_G1}-key`, T.key).protect, true);
            // In the home region: the same AWS provider as the old primary.
            assert.equal(g1.provider, named(r3.us, `${HOME}-instance`, T.rds).provider);
            assert.match(g1.provider ?? "", /::pulumi:providers:aws::quay-georep-aws-us-east-1$/);
            assert.deepEqual(
                ofType(r3.us, T.ingress)
                    .map((r) => r.name)
                    .filter((n) => n.startsWith(`${HOME_G1}-allow-`))
                    .sort(),
                [`${HOME_G1}-allow-10-0-0-0-16`, `${HOME_G1}-allow-10-1-0-0-16`],
            );
            // The serving server is not touched: the same inputs, no gate to wait for any more.
            const serving = named(r3.us, `${STANDBY}-instance`, T.rds);
            assert.deepEqual(serving.inputs, named(r2.us, `${STANDBY}-instance`, T.rds).inputs);
            assert.deepEqual(serving.dependsOn, []);
            assert.equal(serving.protect, true);
        });

        it("adds exactly the new generation and removes exactly the Jobs and the fence's rules", () => {
            const diff = urnDiff(r2.us, r3.us);
            assert.deepEqual(
                diff.added.map((u) => u.split("::").pop()).sort(),
                [
                    HOME_G1,
                    `${HOME_G1}-allow-10-0-0-0-16`,
                    `${HOME_G1}-allow-10-1-0-0-16`,
                    `${HOME_G1}-instance`,
                    `${HOME_G1}-key`,
                    `${HOME_G1}-params`,
                    `${HOME_G1}-sg`,
                    `${HOME_G1}-subnets`,
                ].sort(),
            );
            assert.deepEqual(
                diff.removed.map((u) => u.split("::").pop()).sort(),
                [
                    `${HOME}-allow-10-0-0-0-16`,
                    `${HOME}-allow-10-1-0-0-16`,
                    "quay-georep-lag-gate",
                    "quay-georep-lag-gate-job",
                    "quay-georep-lag-gate-urls",
                    "quay-georep-primary-check",
                    "quay-georep-primary-check-job",
                    "quay-georep-primary-check-urls",
                    "quay-georep-readonly-key",
                    "quay-georep-readonly-key-job",
                    "quay-georep-readonly-key-urls",
                ].sort(),
            );
        });

        it("records the release of home generation 0 and the new replica, and says so", () => {
            assert.deepEqual(standbyOf(r3), {
                serving: "standby",
                phase: "steady",
                epoch: 1,
                servers: { home: homeGen1, standby: standbyGen0("promoted") },
                released: [homeGen0],
                left: [],
            });
            assert.deepEqual(r3.us.outputs.lifecyclePending, [NOTES.step3]);
            assertEuDeployed(r3, 1);
        });
    });

    describe("r4: the released primary leaves the state", () => {
        it("no longer declares the generation-0 home server, and changes nothing else", () => {
            assert.equal(has(r4.us, `${HOME}-instance`), false);
            assert.equal(ofType(r4.us, T.rdsComponent).filter((c) => c.name === HOME).length, 0);
            assert.deepEqual(urnDiff(r3.us, r4.us).added, []);
            assert.deepEqual(
                urnDiff(r3.us, r4.us)
                    .removed.map((u) => u.split("::").pop())
                    .sort(),
                [HOME, `${HOME}-instance`, `${HOME}-params`, `${HOME}-sg`, `${HOME}-subnets`],
            );
            assert.equal(r4.us.configText, r3.us.configText);
            assert.equal(r4.us.outputs.bundleSha256, r3.us.outputs.bundleSha256);
        });

        it("records it under left, and names it with how to delete it", () => {
            assert.deepEqual(standbyOf(r4), {
                serving: "standby",
                phase: "steady",
                epoch: 1,
                servers: { home: homeGen1, standby: standbyGen0("promoted") },
                released: [],
                left: [homeGen0],
            });
            assert.deepEqual(r4.us.outputs.lifecyclePending, [NOTES.forget]);
            assertEuDeployed(r4, 1);
        });
    });

    it("every step passes the policy pack (the released server included)", () => {
        for (const step of [r0, r1, r2, r3, r4]) assertPolicyClean(step);
    });

    // README: "Output is deterministic (same input, same bytes), so rendered/ can be diffed".
    it("renders the same bytes when a read-only step is rendered again", async () => {
        const again = await render(dir, "r1-again", r0);
        for (const stack of ["us", "eu"] as const) {
            assert.deepEqual(again[stack].resources, r1[stack].resources, `${stack}/resources.json`);
            assert.deepEqual(again[stack].outputs, r1[stack].outputs, `${stack}/outputs.json`);
        }
    });
});

describe("standby: a failover driven through npm run render -- --deployed", function () {
    this.timeout(120000);
    let dir: string;
    let r0: Step;
    let f1: Step;
    let f2: Step;
    let f3: Step;
    let f4: Step;

    before(async () => {
        r0 = await renderBaseline();
        dir = tempProject();
        setStandby(dir, { active: true, failover: true });
        f1 = await render(dir, "f1", r0);
        f2 = await render(dir, "f2", f1);
        setStandby(dir, { active: true, failover: false });
        f3 = await render(dir, "f3", f2);
        f4 = await render(dir, "f4", f3);
    });

    const records = (step: Step) =>
        ofType(step.us, T.record)
            .map((r) => r.name)
            .sort();
    const BOTH_RECORDS = ["quay-georep-entrypoint-eustorage-record", "quay-georep-entrypoint-usstorage-record"];

    describe("f1 (active and failover true): one render promotes at once", () => {
        it("no read-only mode, no read-only key, no lag gate; the promoted server is verified", () => {
            assert.equal(ofType(f1.us, T.readonlyKey).length, 0);
            assert.equal(ofType(f1.us, T.lagGate).length, 0);
            assert.equal(ofType(f1.us, T.primaryCheck).length, 1);
            assert.ok(jobNames(f1.us).includes("quay-georep-verify-primary-standby-e1"), jobNames(f1.us).join(", "));
            for (const key of Object.keys(READONLY_KEYS)) assert.equal(f1.us.config[key], undefined, key);
            const bundle = plain(f1.runs.us.outputs.bundle) as Record<string, string>;
            assert.equal(bundle["quay-readonly.pem"], undefined);
        });

        it("promotes the replica without waiting for anything, and points the bundle at the standby location", () => {
            const promoted = named(f1.us, `${STANDBY}-instance`, T.rds);
            assert.equal(promoted.inputs.replicateSourceDb, undefined);
            assert.deepEqual(promoted.dependsOn, []);
            assert.deepEqual(changedKeys(r0.us.config, f1.us.config), [
                "BUILDLOGS_REDIS",
                "DB_URI",
                "USER_EVENTS_REDIS",
            ]);
            assert.equal(f1.us.config.DB_URI, dbUri(STANDBY));
            assert.deepEqual(redisHosts(f1.us.config), [
                redisHost("quay-georep-redis-standby"),
                redisHost("quay-georep-redis-standby"),
            ]);
        });

        it("touches nothing of the lost primary: declared as before, protected and frozen", () => {
            const lost = named(f1.us, `${HOME}-instance`, T.rds);
            // As before but frozen: resources.json shows the ignoreChanges too.
            assert.deepEqual(lost, { ...named(r0.us, `${HOME}-instance`, T.rds), ignoreChanges: ["*"] });
            assert.equal(lost.protect, true);
            assert.equal(lost.retainOnDelete, false);
            for (const c of childrenOf(f1.us, HOME).filter((x) => x.type !== T.ingress)) {
                assert.deepEqual(ignoreChangesOf(f1, c.name), ["*"], c.name);
            }
        });

        it("starts the lost region's AWS provider with STS in the serving region", () => {
            const provider = named(f1.us, "quay-georep-aws-us-east-1", T.awsProvider);
            assert.equal(provider.inputs.stsRegion, "eu-west-1");
            assert.equal(named(r0.us, "quay-georep-aws-us-east-1", T.awsProvider).inputs.stsRegion, undefined);
        });

        it("takes every site whose stack has not deployed epoch 1 out of the entry point (health checks stay)", () => {
            assert.deepEqual(records(r0), BOTH_RECORDS);
            assert.deepEqual(records(f1), []);
            assert.equal(ofType(f1.us, T.healthCheck).length, 2);
        });

        it("records the failover: standby serves, home lost, epoch 1, and says what to run", () => {
            assert.deepEqual(standbyOf(f1), {
                serving: "standby",
                phase: "steady",
                lost: "home",
                epoch: 1,
                failoverEpoch: 1,
                servers: { home: homeGen0, standby: { ...standbyGen0("promoted"), promoteOption: "Forced" } },
                released: [],
                left: [],
            });
            const pending = f1.us.outputs.lifecyclePending as string[];
            assert.equal(pending.length, 2);
            assert.match(
                pending[0],
                /^failover: database\.standby is promoted now, without read-only mode or lag gate .*nothing in database is touched until standby\.failover is set back to false$/,
            );
            assert.equal(
                pending[1],
                "every cluster stays out of the entry point until its stack deployed the new bundle: run pulumi up -s <stack> for each site, then pulumi up -s us again",
            );
            assertEuDeployed(f1, 1);
        });
    });

    describe("f2 (failover still true): the sites that deployed epoch 1 come back", () => {
        it("puts both latency records back, as they were", () => {
            assert.equal(f1.eu.outputs.deployedEpoch, 1, "eu reported the epoch in the round before");
            assert.deepEqual(records(f2), BOTH_RECORDS);
            for (const name of BOTH_RECORDS) assert.deepEqual(named(f2.us, name), named(r0.us, name));
        });

        it("changes no server, keeps home lost, and says it is still lost", () => {
            for (const name of [`${HOME}-instance`, `${STANDBY}-instance`]) {
                assert.deepEqual(named(f2.us, name), named(f1.us, name), name);
            }
            assert.deepEqual(standbyOf(f2), standbyOf(f1));
            assert.deepEqual(f2.us.outputs.lifecyclePending, [
                "database is still marked lost (standby.failover: true): nothing there is touched; once its region is back, set standby.failover: false to fence its old server and rebuild a replica there",
            ]);
            assert.equal(f2.us.configText, f1.us.configText);
        });
    });

    describe("f3 (failover false: the region is back): the old primary is fenced, released and rebuilt", () => {
        it("releases the home instance and deletes its ingress rules", () => {
            const home = named(f3.us, `${HOME}-instance`, T.rds);
            assert.equal(home.protect, false);
            assert.equal(home.retainOnDelete, true);
            assert.deepEqual(ignoreChangesOf(f3, `${HOME}-instance`), ["*"]);
            assert.deepEqual(
                ofType(f3.us, T.ingress)
                    .map((r) => r.name)
                    .filter((n) => n.startsWith(`${HOME}-allow-`)),
                [],
            );
        });

        it("creates the g1 replica of the serving standby, and forgets nothing else", () => {
            assert.equal(named(f3.us, `${HOME_G1}-instance`, T.rds).inputs.replicateSourceDb, STANDBY_ARN);
            assert.deepEqual(standbyOf(f3), {
                serving: "standby",
                phase: "steady",
                epoch: 1,
                failoverEpoch: 1,
                servers: { home: homeGen1, standby: { ...standbyGen0("promoted"), promoteOption: "Forced" } },
                released: [homeGen0],
                left: [],
            });
            assert.deepEqual(f3.us.outputs.lifecyclePending, [
                "database is back: its stale server is fenced and released, and a new replica of the serving database is created there",
            ]);
            assert.equal(named(f3.us, "quay-georep-aws-us-east-1", T.awsProvider).inputs.stsRegion, undefined);
            assert.deepEqual(records(f3), BOTH_RECORDS);
            assert.equal(f3.us.configText, f2.us.configText, "the bundle does not move");
        });

        it("f4 forgets the released server and records it as left", () => {
            assert.equal(has(f4.us, `${HOME}-instance`), false);
            assert.deepEqual((standbyOf(f4).left as unknown[]).length, 1);
            assert.deepEqual(standbyOf(f4).left, [homeGen0]);
            assert.deepEqual(standbyOf(f4).released, []);
            assert.deepEqual(f4.us.outputs.lifecyclePending, [NOTES.forget]);
        });
    });

    it("every step passes the policy pack", () => {
        for (const step of [f1, f2, f3, f4]) assertPolicyClean(step);
    });
});
