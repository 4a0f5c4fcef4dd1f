/**
 * The shared stack's lifecycle components on their own (RetirementGate, ReplicationJobs), wired as
 * stacks/lifecycle.ts wires them: the Kubernetes names their args default to, the provider they
 * take from their options, that nothing runs before the gates passed and the shared cluster's
 * rollout check verified the Quay image, and the outputs they register.
 */
import { strict as assert } from "node:assert";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ReplicationJobs, ReplicationJobsArgs } from "../components/replicationJobs";
import { RetirementGate, RetirementGateArgs } from "../components/retirementGate";
import { RolloutCheck } from "../components/rolloutCheck";
import type { LifecyclePlan } from "../lib/lifecycle";
import { afterGates } from "../stacks/lifecycle";
import type { RecordedResource } from "../offline/runtime";
import { inputsOf, one, TYPES } from "./mocks";
import {
    componentDependencies,
    DependencyRun,
    inputsWaitFor,
    publicOutputs,
    waitsFor,
    withRegisteredOutputs,
} from "./support/dependencies";

/** A plan with a gate, a backfill and a removal that may all run now (rare, but each must wait). */
const PLAN: LifecyclePlan = {
    topology: "usstorage:active,eustorage:retired,apstorage:retired",
    required: ["usstorage"],
    backfill: { key: "0123456789", waitingFor: [] },
    gates: [{ site: "apstorage", key: "apstorage", required: ["usstorage"] }],
    removals: [{ site: "eustorage", key: "eustorage", waitingFor: [] }],
};

const BUNDLE = { "config.yaml": "SERVER_HOSTNAME: quay.example.com\n" };
const QUAY_IMAGE = "registry.example.com/quay:v3.18.0";

/** Overrides of the two components' args. */
interface LifecycleArgs {
    readonly gate?: Partial<RetirementGateArgs>;
    readonly jobs?: Partial<ReplicationJobsArgs>;
}

/** The gates, the shared cluster's rollout check and the Jobs, wired as the shared stack wires them. */
async function lifecycle(args: LifecycleArgs = {}) {
    return withRegisteredOutputs(() =>
        componentDependencies(() => {
            const provider = new k8s.Provider("test-cluster", {});
            const gate = new RetirementGate(
                "test-gate",
                {
                    namespace: "quay-enterprise",
                    databaseUrl: pulumi.secret("postgresql://quay@db/quay"),
                    sql: { "replication-status.sql": "select 1;" },
                    psqlImage: "postgres:17",
                    retiring: PLAN.gates,
                    timeoutMinutes: 5,
                    ...args.gate,
                },
                { provider },
            );
            const check = new RolloutCheck(
                "test-rollout",
                {
                    namespace: "quay-enterprise",
                    bundleSha256: "0".repeat(64),
                    image: QUAY_IMAGE,
                    timeoutMinutes: 10,
                    expectImage: QUAY_IMAGE,
                },
                { provider },
            );
            if (check.verifiedImage === undefined) throw new Error("no verified image with expectImage");
            const jobs = new ReplicationJobs(
                "test-replication",
                {
                    namespace: "quay-enterprise",
                    plan: PLAN,
                    bundle: afterGates(gate, pulumi.secret(BUNDLE)),
                    maintenanceBundle: afterGates(gate, pulumi.secret(BUNDLE)),
                    sqlConfigMap: gate.sqlConfigMap,
                    databaseSecret: gate.databaseSecret,
                    quayImage: check.verifiedImage,
                    psqlImage: "postgres:17",
                    timeouts: { backfill: 60, removal: 30 },
                    uploadGraceMinutes: 2880,
                    ...args.jobs,
                },
                { provider },
            );
            return { passed: gate.passed, backfilled: jobs.backfilled, removed: jobs.removed };
        }),
    );
}

/** The `quay-georep.io/job` label of a Job or CronJob. */
const kind = (r: RecordedResource) =>
    (inputsOf(r).metadata as { labels: Record<string, string> }).labels["quay-georep.io/job"];

/** The Jobs and CronJobs of one kind. */
const ofKind = (d: DependencyRun, k: string) =>
    d.run.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:batch/") && kind(r) === k);

/** Lifecycle objects' names by their label (or type, for the unlabelled ones). */
function names(d: DependencyRun): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const r of d.run.resources.filter((x) => x.custom && x.type.startsWith("kubernetes:batch/"))) {
        out[kind(r)] = (inputsOf(r).metadata as { name: unknown }).name;
    }
    out.ConfigMap = (inputsOf(one(d.run, "kubernetes:core/v1:ConfigMap")).metadata as { name: unknown }).name;
    out.Secret = (inputsOf(one(d.run, TYPES.secret, "test-gate-database")).metadata as { name: unknown }).name;
    return out;
}

describe("RetirementGate and ReplicationJobs components", () => {
    it("name their Kubernetes objects with the defaults the runbook uses", async () => {
        const { result: d } = await lifecycle();
        assert.deepEqual(names(d), {
            "retirement-gate": "quay-georep-gate-apstorage",
            "rollout-check": "quay-georep-rollout-quay",
            "replication-status": "test-replication-status",
            backfill: "quay-georep-backfill-0123456789",
            removelocation: "quay-georep-removelocation-eustorage",
            ConfigMap: "quay-georep-replication-sql",
            Secret: "quay-georep-lifecycle-database",
        });
    });

    it("derive every name from their args", async () => {
        const { result: d } = await lifecycle({
            gate: { sqlConfigMapName: "sql", databaseSecretName: "db", jobPrefix: "gate" },
            jobs: { statusName: "status", backfillPrefix: "backfill", removalPrefix: "remove" },
        });
        assert.deepEqual(names(d), {
            "retirement-gate": "gate-apstorage",
            "rollout-check": "quay-georep-rollout-quay",
            "replication-status": "status",
            backfill: "backfill-0123456789",
            removelocation: "remove-eustorage",
            ConfigMap: "sql",
            Secret: "db",
        });
        // The Jobs mount what the gate named.
        const [backfill] = ofKind(d, "backfill");
        const volumes = (inputsOf(backfill).spec as { template: { spec: { volumes: unknown[] } } }).template.spec
            .volumes;
        assert.deepEqual(volumes.slice(0, 2), [
            { name: "sql", configMap: { name: "sql" } },
            { name: "database", secret: { secretName: "db" } },
        ]);
    });

    it("create every child through the cluster's provider given in their options", async () => {
        const { result: d } = await lifecycle();
        const provider = one(d.run, TYPES.k8sProvider).urn;
        const children = d.run.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
        assert.ok(children.length >= 10, children.map((c) => c.name).join(", "));
        for (const r of children) assert.equal(r.provider, provider, r.name);
    });

    it("start no backfill or removal before every gate passed and the rollout check verified the image", async () => {
        const { result: d } = await lifecycle();
        const byKind = (k: string) => ofKind(d, k);
        const [gate] = byKind("retirement-gate");
        const [check] = byKind("rollout-check");
        for (const job of [...byKind("backfill"), ...byKind("removelocation")]) {
            const waits = waitsFor(d, job.urn);
            assert.ok(waits.has(gate.urn), `${job.name} waits for the gate`);
            assert.ok(inputsWaitFor(d, job.urn).includes(check.urn), `${job.name} runs the image the check verified`);
            // Carried as data, across component boundaries, not as dependsOn.
            assert.deepEqual(job.dependsOn, []);
        }
        // The status report waits for neither: it is what an operator watches while a gate holds.
        const [status] = byKind("replication-status");
        assert.ok(!waitsFor(d, status.urn).has(gate.urn));
        assert.ok(!waitsFor(d, status.urn).has(check.urn));
        // The bundles stay secret through the wait.
        for (const name of ["test-replication-bundle", "test-replication-maintenance-bundle"]) {
            assert.ok("secret" in (one(d.run, TYPES.secret, name).inputs.stringData as object), name);
        }
        assert.deepEqual(d.run.outputs.passed, ["apstorage"]);
        assert.deepEqual(d.run.outputs.removed, { eustorage: true });
        assert.equal(d.run.outputs.backfilled, PLAN.topology);
    });

    it("register every public output", async () => {
        const { registered } = await lifecycle();
        const components = [...registered.keys()].filter((c) => !(c instanceof RolloutCheck));
        assert.deepEqual(components.map((c) => c.constructor.name).sort(), ["ReplicationJobs", "RetirementGate"]);
        for (const c of components) {
            assert.deepEqual([...(registered.get(c) ?? [])].sort(), publicOutputs(c), c.constructor.name);
        }
    });
});
