/**
 * Every Kubernetes object the program sends, against its schema (offline/manifests.ts): the example
 * stacks and the region lifecycle's deployments, then one change at a time to prove each rule bites.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    AUTONAME_SUFFIX,
    loadManifestSchemas,
    manifestOf,
    ManifestSchemas,
    UPSTREAM_SCHEMAS,
    validateManifests,
} from "../offline/manifests";
import { computedPlaceholder, RecordedResource, RunResult, SECRET_PLACEHOLDER } from "../offline/runtime";
import {
    assertClean,
    exampleConfig,
    exampleSites,
    inputsOf,
    ofType,
    one,
    runStack,
    stackRef,
    TYPES,
    withConfig,
} from "./mocks";
import { referenceDir, requireSchemas, schemasRequiredMessage, schemasSkipMessage } from "./support/schemas";

type SiteEntry = Record<string, unknown>;

/** Config changes for the example's sites with some states changed and sites added (with a probe address). */
function topology(states: Record<string, string>, extra: SiteEntry[] = []): Record<string, unknown> {
    const sites = [...exampleSites(), ...extra].map((s) => ({ ...s, state: states[s.name as string] ?? "active" }));
    const lb = JSON.parse(exampleConfig("us").config["quay-georep:entryPoint"]) as {
        healthCheckAddresses: Record<string, string>;
    };
    const addresses = { ...lb.healthCheckAddresses };
    extra.forEach((s, i) => (addresses[s.name as string] = `192.0.2.${40 + i}`));
    return { sites, entryPoint: { ...lb, healthCheckAddresses: addresses } };
}

const AP: SiteEntry = {
    name: "apstorage",
    stack: "ap",
    cloud: "aws",
    region: "ap-southeast-2",
    endpoint: "router.apps.ap.example.com",
};

/** One `pulumi up`: a stack with project config changes (a new stack "ap" takes the eu stack's own config). */
interface Step {
    readonly stack: "us" | "eu" | "ap";
    readonly changes?: Record<string, unknown>;
}

/**
 * Runs the steps in order, as an operator would deploy them: each stack reads the outputs every stack
 * (itself included: its last checkpoint) exported on its last run.
 */
async function deploy(steps: readonly Step[]): Promise<RunResult[]> {
    const outputs: Record<string, Record<string, unknown>> = {};
    const runs: RunResult[] = [];
    for (const { stack, changes = {} } of steps) {
        const cfg = { ...withConfig(exampleConfig(stack === "ap" ? "eu" : stack), changes), stack };
        const refs = Object.fromEntries(Object.entries(outputs).map(([other, out]) => [stackRef(other), out]));
        const run = assertClean(await runStack(cfg, refs));
        outputs[stack] = run.outputs;
        runs.push(run);
    }
    return runs;
}

const up = (stack: Step["stack"], changes?: Record<string, unknown>): Step => ({ stack, changes });
const ACTIVE = topology({});
const ADDED = topology({}, [AP]);
const DRAINING = topology({ eustorage: "draining" });
const RETIRED = topology({ eustorage: "retired" });
const RETIRE = [up("us", DRAINING), up("eu", DRAINING), up("us", RETIRED)];
const OWN_NAMESPACE = { operator: { namespace: "quay-operator", startingCSV: "quay-operator.v3.18.0" } };
/** What every deployment of the shared stack sends at least. */
const KINDS = ["ConfigMap", "CronJob", "Job", "Namespace", "QuayRegistry", "Secret", "Subscription"];

/**
 * What the tests render, as deployment sequences, with the kinds (default {@link KINDS}) and lifecycle
 * Jobs (`quay-georep.io/job`) each sends at least, so none passes by sending less. One entry per scenario.
 */
const SCENARIOS: readonly { name: string; steps: readonly Step[]; jobs: readonly string[]; kinds?: string[] }[] = [
    { name: "the example stacks", steps: [up("us"), up("eu")], jobs: ["backfill", "replication-status"] },
    {
        name: "adding a site: the backfill waits for eu, then runs",
        steps: [up("us", ACTIVE), up("eu", ACTIVE), up("us", ADDED), up("eu", ADDED), up("ap", ADDED), up("us", ADDED)],
        jobs: ["backfill", "replication-status"],
    },
    {
        name: "draining a site",
        steps: [up("us", DRAINING), up("eu", DRAINING), up("us", DRAINING)],
        jobs: ["backfill", "replication-status"],
    },
    {
        name: "retiring a site: the retirement gate",
        steps: RETIRE,
        jobs: ["backfill", "replication-status", "retirement-gate"],
    },
    {
        name: "retiring a site: util.removelocation once the site's stack is empty",
        steps: [...RETIRE, up("eu", RETIRED), up("us", RETIRED)],
        jobs: ["backfill", "removelocation", "replication-status", "retirement-gate"],
    },
    {
        name: "the operator in a namespace of its own",
        steps: [up("us", OWN_NAMESPACE)],
        jobs: ["backfill", "replication-status"],
        kinds: [...KINDS, "OperatorGroup"],
    },
];

// Loaded in the suite's `before` hook: a CRD that is not the pinned upstream file fails the suite there, not the load.
let schemas: ManifestSchemas;

/** Skips, visibly, a test that needs a CRD the schema lookup did not find; fails it under CI=true. */
function requireCrd(ctx: Mocha.Context, key: string): void {
    if (!schemas.missing.has(key)) return;
    if (process.env.CI === "true") assert.fail(`${schemasRequiredMessage()}: no CRD for ${key}`);
    console.log(`      skipped: ${schemasSkipMessage()}`);
    ctx.skip();
}

function kindsOf(resources: readonly RecordedResource[]): string[] {
    const kinds = resources.map((r) => (manifestOf(r) as { kind?: string } | undefined)?.kind);
    return [...new Set(kinds.filter((k): k is string => k !== undefined))].sort();
}

/** The lifecycle Jobs and CronJobs among the resources, by their `quay-georep.io/job` label. */
function jobsOf(resources: readonly RecordedResource[]): string[] {
    const labels = resources
        .map((r) => manifestOf(r) as { kind?: string; metadata?: { labels?: Record<string, string> } } | undefined)
        .filter((m) => m?.kind === "Job" || m?.kind === "CronJob")
        .map((m) => m?.metadata?.labels?.["quay-georep.io/job"] ?? "(unlabelled)");
    return [...new Set(labels)].sort();
}

/** The backfill Job (autonamed): the Job fixture. */
function backfill(run: RunResult): RecordedResource {
    const [job] = ofType(run, TYPES.job).filter(
        (j) =>
            (inputsOf(j).metadata as { labels?: Record<string, string> }).labels?.["quay-georep.io/job"] === "backfill",
    );
    assert.ok(job, "the example shared stack runs a backfill Job");
    return job;
}

/** The name a resource's object gets: its own, or Pulumi's autoname. */
function shownName(r: RecordedResource): string {
    return (inputsOf(r).metadata as { name?: string }).name ?? `${r.name}-${AUTONAME_SUFFIX}`;
}

/** A resource as it would be without `metadata.name` (so Pulumi names it). */
function unnamed(r: RecordedResource): RecordedResource {
    return withInput(r, ["metadata", "name"], undefined);
}

/** A copy of a recorded resource with one input changed (`path` into its inputs, created as needed). */
function withInput(r: RecordedResource, path: readonly string[], value: unknown): RecordedResource {
    const inputs = structuredClone(r.inputs);
    let node: Record<string, unknown> = inputs;
    for (const key of path.slice(0, -1)) {
        node[key] ??= {};
        node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
    return { ...r, inputs };
}

describe("Kubernetes manifests", () => {
    before(() => {
        schemas = loadManifestSchemas();
    });

    it("has the OLM and Quay CRDs to validate against (required under CI=true)", function () {
        if (schemas.notValidated.length === 0) return;
        const missing = (indent: string) => schemas.notValidated.map((line) => `\n${indent}${line}`).join("");
        if (process.env.CI === "true") assert.fail(`${schemasRequiredMessage()}:${missing("  ")}`);
        console.log(
            `      skipped (OLM and Quay objects get ObjectMeta checks only): ${schemasSkipMessage()}:${missing("        ")}`,
        );
        this.skip();
    });

    it("refuses a CRD that is not the pinned upstream file", function () {
        requireSchemas(this);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-georep-crds-"));
        try {
            for (const { file } of UPSTREAM_SCHEMAS) {
                fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
                fs.writeFileSync(path.join(dir, file), fs.readFileSync(path.join(referenceDir() as string, file)));
            }
            const crd = path.join(dir, "olm", "operators.coreos.com_subscriptions.yaml");
            // Widening a rule in a local copy would make every Subscription check meaningless.
            fs.writeFileSync(
                crd,
                fs.readFileSync(crd, "utf8").replace("type: object", "type: object\n  x-edited: true"),
            );
            const sha256 = createHash("sha256").update(fs.readFileSync(crd)).digest("hex");
            assert.throws(() => loadManifestSchemas(dir), {
                message:
                    `${crd}: SHA-256 is ${sha256}, not the pinned ef3f881564f0a89e8a637cb417d7a4d3e9c465099d34bf27db2187f603cadd59 ` +
                    "(operator-framework/api crds/operators.coreos.com_subscriptions.yaml at 3048ccdc52d1858783800c6d40305357aff66c8c); " +
                    "refusing a modified or stale copy: delete it and run `npm run schemas`",
            });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    describe("what the program sends is valid", () => {
        for (const scenario of SCENARIOS) {
            it(scenario.name, async () => {
                const resources = (await deploy(scenario.steps)).flatMap((run) => run.resources);
                // At least these: the program may send more kinds, each validated all the same.
                const kinds = kindsOf(resources);
                assert.deepEqual(
                    (scenario.kinds ?? KINDS).filter((k) => !kinds.includes(k)),
                    [],
                    `sends ${kinds.join(", ")}`,
                );
                const jobs = jobsOf(resources);
                assert.deepEqual(
                    scenario.jobs.filter((j) => !jobs.includes(j)),
                    [],
                    `runs ${jobs.join(", ")}`,
                );
                const problems = validateManifests(resources, schemas);
                assert.deepEqual(problems, [], `invalid objects:\n  ${problems.join("\n  ")}`);
            });
        }
    });

    describe("manifestOf", () => {
        let us: RunResult;
        before(async () => {
            us = assertClean(await runStack(exampleConfig("us")));
        });

        it("takes apiVersion and kind from the type token, core group as v1", () => {
            const pick = (type: string) => manifestOf(one(us, type)) as { apiVersion: string; kind: string };
            assert.deepEqual(pick(TYPES.namespace), { ...pick(TYPES.namespace), apiVersion: "v1", kind: "Namespace" });
            assert.equal(pick(TYPES.subscription).apiVersion, "operators.coreos.com/v1alpha1");
            assert.equal(pick("kubernetes:batch/v1:CronJob").apiVersion, "batch/v1");
        });

        it("names an object without metadata.name as Pulumi does: <resource name>-<8 hex characters>", () => {
            assert.match(AUTONAME_SUFFIX, /^[0-9a-f]{8}$/);
            const job = unnamed(backfill(us));
            const metadata = (manifestOf(job) as { metadata: { name: string; annotations: Record<string, string> } })
                .metadata;
            assert.equal(metadata.name, `${job.name}-${AUTONAME_SUFFIX}`);
            assert.equal(metadata.annotations["pulumi.com/autonamed"], "true");
            assert.deepEqual(validateManifests([job], schemas), []);
        });

        it("unwraps secrets, and puts a valid stand-in where a value is known only after apply", () => {
            const db = one(us, TYPES.secret, "quay-georep-retirement-gate-database");
            assert.equal(
                typeof (manifestOf(db) as { stringData: { DATABASE_URL: unknown } }).stringData.DATABASE_URL,
                "string",
            );
            const unknown = withInput(
                withInput(db, ["metadata", "namespace"], computedPlaceholder("quay-georep-us-namespace", "metadata")),
                ["stringData"],
                { secret: SECRET_PLACEHOLDER },
            );
            const manifest = manifestOf(unknown) as { metadata: { namespace: string }; stringData: object };
            assert.deepEqual([manifest.metadata.namespace, manifest.stringData], ["placeholder", {}]);
            assert.deepEqual(validateManifests([unknown], schemas), []);
        });

        it("leaves out other providers' resources and the Kubernetes provider itself", () => {
            const left = us.resources.filter((r) => manifestOf(r) === undefined).map((r) => r.type);
            assert.deepEqual(
                left.filter((t) => t.startsWith("kubernetes:")),
                [],
            );
            for (const type of [TYPES.k8sProvider, TYPES.randomPassword, "aws:s3/bucket:Bucket"]) {
                assert.ok(left.includes(type), type);
            }
        });
    });

    describe("each rule bites", () => {
        let us: RunResult;
        before(async () => {
            us = assertClean(await runStack(exampleConfig("us")));
        });
        const problems = (r: RecordedResource) => validateManifests([r], schemas);

        it("starts from valid fixtures", () => {
            assert.deepEqual(problems(backfill(us)), []);
            for (const type of ["kubernetes:batch/v1:CronJob", TYPES.subscription, TYPES.namespace]) {
                assert.deepEqual(problems(one(us, type)), [], type);
            }
        });

        it("refuses a Job name of 64 characters (the job-name label's limit)", () => {
            const job = backfill(us);
            const name = `quay-georep-${"x".repeat(52)}`;
            assert.deepEqual(problems(withInput(job, ["metadata", "name"], name)), [
                `kubernetes:batch/v1:Job ${job.name} (Job ${name}): metadata.name must be no more than 63 characters (got 64): the Job controller puts the name in the batch.kubernetes.io/job-name label, whose values are at most 63`,
            ]);
        });

        it("counts Pulumi's autoname suffix in a Job's name", () => {
            const job = { ...unnamed(backfill(us)), name: `quay-georep-backfill-${"0".repeat(34)}` };
            assert.deepEqual(problems(job), [
                `kubernetes:batch/v1:Job ${job.name} (Job ${job.name}-${AUTONAME_SUFFIX}): metadata.name must be no more than 63 characters (got 64): the Job controller puts the name in the batch.kubernetes.io/job-name label, whose values are at most 63`,
            ]);
        });

        it("refuses a label value with a space", () => {
            const job = backfill(us);
            assert.deepEqual(problems(withInput(job, ["metadata", "labels", "quay-georep.io/job"], "back fill")), [
                `kubernetes:batch/v1:Job ${job.name} (Job ${shownName(job)}): metadata.labels[quay-georep.io/job] must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, or empty (got "back fill")`,
            ]);
        });

        it("refuses a value outside an enum of Kubernetes' schema", () => {
            const job = backfill(us);
            assert.deepEqual(problems(withInput(job, ["spec", "template", "spec", "restartPolicy"], "Sometimes")), [
                `kubernetes:batch/v1:Job ${job.name} (Job ${shownName(job)}): spec.template.spec.restartPolicy must be one of "Always", "Never", "OnFailure" (got "Sometimes")`,
            ]);
        });

        it("refuses an install plan approval OLM does not know", () => {
            const sub = one(us, TYPES.subscription);
            assert.deepEqual(problems(withInput(sub, ["spec", "installPlanApproval"], "Never")), [
                `kubernetes:operators.coreos.com/v1alpha1:Subscription ${sub.name} (Subscription quay-operator): spec.installPlanApproval must be one of "Automatic", "Manual" (got "Never"): the CRD documents only these values, though its schema does not enforce them`,
            ]);
        });

        it("refuses a field the Subscription CRD does not have", function () {
            requireCrd(this, "operators.coreos.com/v1alpha1/Subscription");
            const sub = one(us, TYPES.subscription);
            assert.deepEqual(problems(withInput(sub, ["spec", "approval"], "Manual")), [
                `kubernetes:operators.coreos.com/v1alpha1:Subscription ${sub.name} (Subscription quay-operator): spec.approval is not a field of the schema (the API server would prune or refuse it)`,
            ]);
        });

        it("refuses a CronJob name of 53 characters (the controller appends 11)", () => {
            const cron = one(us, "kubernetes:batch/v1:CronJob");
            const name = "quay-georep-replication-status".padEnd(53, "x");
            assert.deepEqual(problems(withInput(cron, ["metadata", "name"], name)), [
                `kubernetes:batch/v1:CronJob ${cron.name} (CronJob ${name}): metadata.name must be no more than 52 characters (got 53): the CronJob controller appends 11 characters to name its Jobs`,
            ]);
        });

        it("refuses a kind it has no schema for", () => {
            const ns = { ...one(us, TYPES.namespace), type: "kubernetes:example.com/v1:Widget" };
            assert.deepEqual(problems(ns), [
                `kubernetes:example.com/v1:Widget ${ns.name} (Widget quay-enterprise): no schema known for example.com/v1/Widget; name one in offline/manifests.ts`,
            ]);
        });

        it("lists CRDs it cannot find instead of failing, and still checks those objects' metadata", () => {
            const none = loadManifestSchemas("/nonexistent/reference");
            assert.deepEqual(none.notValidated, [
                "not validated: /nonexistent/reference/olm/operators.coreos.com_subscriptions.yaml missing",
                "not validated: /nonexistent/reference/olm/operators.coreos.com_operatorgroups.yaml missing",
                "not validated: /nonexistent/reference/quay-operator/quayregistries.crd.yaml missing",
            ]);
            const sub = one(us, TYPES.subscription);
            assert.deepEqual(validateManifests([sub, one(us, TYPES.quayRegistry)], none), []);
            assert.deepEqual(validateManifests([withInput(sub, ["metadata", "name"], "Quay_Operator")], none), [
                `kubernetes:operators.coreos.com/v1alpha1:Subscription ${sub.name} (Subscription Quay_Operator): metadata.name must be a lowercase RFC 1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit) (got "Quay_Operator")`,
            ]);
        });
    });
});
