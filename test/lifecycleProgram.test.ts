/**
 * The region lifecycle through the whole program: a new site, draining, retiring, with the other
 * stacks in each state they can be in. What the shared stack deploys (gates, backfill,
 * removelocation, status), what the site stacks deploy, and what a reviewer sees.
 */
import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { topologyKey } from "../lib/lifecycle";
import { isSecretInput, plain, RecordedResource, RunResult } from "../offline/runtime";
import { StackConfig } from "../offline/stackConfig";
import { checkRun } from "../policy/offline";
import type { Site } from "../stacks/config";
import {
    assertClean,
    bundleSecret,
    exampleConfig,
    exampleSites,
    inputsOf,
    one,
    ofType,
    runStack,
    stackRef,
    TYPES,
    urnDiff,
    withConfig,
} from "./mocks";

type SiteEntry = Record<string, unknown>;

/** The example's sites with some states changed, and a probe address for any new site (route53). */
function topology(
    states: Record<string, Site["state"]>,
    extra: SiteEntry[] = [],
): { sites: SiteEntry[]; changes: Record<string, unknown> } {
    const sites = [...exampleSites(), ...extra].map((s) => ({ ...s, state: states[s.name as string] ?? "active" }));
    const lb = JSON.parse(exampleConfig("us").config["quay-georep:loadBalancer"]) as {
        healthCheckAddresses: Record<string, string>;
    };
    const addresses = { ...lb.healthCheckAddresses };
    extra.forEach((s, i) => (addresses[s.name as string] = `192.0.2.${40 + i}`));
    return { sites, changes: { sites, loadBalancer: { ...lb, healthCheckAddresses: addresses } } };
}

const AP: SiteEntry = {
    name: "apstorage",
    stack: "ap",
    cloud: "aws",
    region: "ap-southeast-2",
    endpoint: "router.apps.ap.example.com",
};

function key(sites: SiteEntry[]): string {
    return topologyKey(sites.map((s) => ({ ...s, state: (s.state as Site["state"]) ?? "active" })) as Site[]);
}

/** Outputs a site stack reports after deploying the bundle of `sites` (or after retiring). */
function deployed(role: string, sites: SiteEntry[]): Record<string, unknown> {
    return role === "retired" ? { role } : { role, deployedTopology: key(sites) };
}

const jobs = (r: RunResult, kind: string): RecordedResource[] =>
    ofType(r, TYPES.job).filter(
        (j) => (inputsOf(j).metadata as { labels: Record<string, string> }).labels["quay-georep.io/job"] === kind,
    );

function env(job: RecordedResource, container = 0, init = false): Record<string, unknown> {
    const pod = (
        inputsOf(job).spec as { template: { spec: Record<string, { env: { name: string; value?: unknown }[] }[]> } }
    ).template.spec;
    const c = pod[init ? "initContainers" : "containers"][container];
    return Object.fromEntries(c.env.map((e) => [e.name, e.value ?? "(from secret)"]));
}

async function shared(cfg: StackConfig, others: Record<string, Record<string, unknown>>): Promise<RunResult> {
    const refs = Object.fromEntries(Object.entries(others).map(([stack, out]) => [stackRef(stack), out]));
    return assertClean(await runStack(cfg, refs));
}

describe("lifecycle: the shared stack's Jobs", () => {
    it("reports replication status from a CronJob for the active sites, with DATABASE_URL from a Secret", async () => {
        const t = topology({});
        const r = await shared(withConfig(exampleConfig("us"), t.changes), { eu: deployed("site", t.sites) });
        const cron = one(r, "kubernetes:batch/v1:CronJob");
        const spec = inputsOf(cron).spec as {
            schedule: string;
            jobTemplate: {
                spec: {
                    template: { spec: { containers: { env: { name: string; value?: string }[]; image: string }[] } };
                };
            };
        };
        assert.equal(spec.schedule, "*/15 * * * *");
        const container = spec.jobTemplate.spec.template.spec.containers[0];
        assert.equal(container.image, "docker.io/library/postgres:17.6-alpine");
        assert.deepEqual(container.env.find((e) => e.name === "LOCATIONS")?.value, "usstorage,eustorage");
        const db = one(r, TYPES.secret, "quay-georep-retirement-gate-database");
        assert.ok(isSecretInput(db.inputs.stringData), "DATABASE_URL must stay secret");
        assert.deepEqual(r.outputs.replicationStatus, {
            cronJob: "quay-enterprise/quay-georep-replication-status",
            locations: "usstorage,eustorage",
            read: "kubectl -n quay-enterprise create job --from=cronjob/quay-georep-replication-status quay-georep-replication-status-now && kubectl -n quay-enterprise logs -f job/quay-georep-replication-status-now",
        });
    });

    it("mounts the status SQL the operators run, unchanged", async () => {
        const r = await shared(exampleConfig("us"), {});
        const sql = (inputsOf(one(r, "kubernetes:core/v1:ConfigMap")).data as Record<string, string>)[
            "replication-status.sql"
        ];
        const fs = await import("node:fs");
        assert.equal(sql, fs.readFileSync("sql/replication-status.sql", "utf8"));
    });
});

describe("lifecycle: adding a site", () => {
    const before = topology({});
    const after = topology({}, [AP]);
    const cfg = () => withConfig(exampleConfig("us"), after.changes);

    it("adds the location to the one bundle, and the new site's bucket and entry-point record", async () => {
        const r = await shared(cfg(), { eu: deployed("site", before.sites) });
        const config = parse((inputsOf(bundleSecret(r)).stringData as Record<string, string>)["config.yaml"]);
        assert.deepEqual(Object.keys(config.DISTRIBUTED_STORAGE_CONFIG).sort(), [
            "apstorage",
            "eustorage",
            "usstorage",
        ]);
        assert.deepEqual(config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, ["usstorage", "eustorage", "apstorage"]);
        assert.ok(r.resources.some((x) => x.name === "quay-georep-storage-apstorage-bucket"));
        assert.ok(r.resources.some((x) => x.name === "quay-georep-entrypoint-apstorage-record"));
    });

    it("holds the backfill until every running cluster has the new bundle, and says which stack to run", async () => {
        const r = await shared(cfg(), { eu: deployed("site", before.sites) });
        assert.equal(jobs(r, "backfill").length, 0);
        assert.deepEqual(r.outputs.lifecyclePending, [
            `backfill for topology "${key(after.sites)}" waits for eu: run pulumi up -s eu, then pulumi up -s us again`,
        ]);
    });

    it("runs the backfill in the Quay image with the bundle mounted once they have", async () => {
        const r = await shared(cfg(), { eu: deployed("site", after.sites), ap: deployed("site", after.sites) });
        const [backfill] = jobs(r, "backfill");
        const pod = (
            inputsOf(backfill).spec as {
                template: {
                    spec: {
                        containers: { image: string; command: string[]; volumeMounts: { mountPath: string }[] }[];
                        volumes: { name: string; secret?: { secretName: string } }[];
                    };
                };
            }
        ).template.spec;
        assert.equal(pod.containers[0].image, "quay.io/projectquay/quay:v3.17.3");
        assert.match(pod.containers[0].command[2], /python -m util\.backfillreplication/);
        assert.deepEqual(
            pod.containers[0].volumeMounts.map((m) => m.mountPath),
            ["/quay-registry/conf/stack", "/conf/stack"],
        );
        assert.deepEqual(r.outputs.lifecyclePending, []);
        // After the migration: the backfill waits for the shared cluster's QuayRegistry to be Available.
        assert.deepEqual(backfill.dependsOn, [one(r, TYPES.quayRegistry).urn]);
        assert.equal(backfill.parent, one(r, "quay-georep:lifecycle:ReplicationJobs").urn);
    });

    it("does not wait for the new site's stack before it first runs Quay", async () => {
        const r = await shared(cfg(), { eu: deployed("site", after.sites) });
        assert.equal(jobs(r, "backfill").length, 1);
    });

    it("refuses the new site's stack until the shared stack's bundle lists it", async () => {
        const old = await shared(exampleConfig("us"), {});
        const ap = await runStack(
            { ...withConfig(exampleConfig("eu"), after.changes), stack: "ap" },
            { [stackRef("us")]: old.outputs },
        );
        assert.match(
            ap.errors.map((e) => e.message).join("\n"),
            /has no bundle for location\(s\) apstorage; .*Run "pulumi up -s us" first/,
        );
    });
});

describe("lifecycle: draining a site", () => {
    const t = topology({ eustorage: "draining" });

    it("keeps the site readable in the bundle but out of the default locations and preferences", async () => {
        const r = await shared(withConfig(exampleConfig("us"), t.changes), {});
        const config = parse((inputsOf(bundleSecret(r)).stringData as Record<string, string>)["config.yaml"]);
        assert.ok("eustorage" in config.DISTRIBUTED_STORAGE_CONFIG);
        assert.deepEqual(config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, ["usstorage"]);
        assert.deepEqual(config.DISTRIBUTED_STORAGE_PREFERENCE, ["usstorage"]);
    });

    it("switches the draining cluster's own preference to the surviving site", async () => {
        const s = await shared(withConfig(exampleConfig("us"), t.changes), {});
        const eu = assertClean(
            await runStack(withConfig(exampleConfig("eu"), t.changes), { [stackRef("us")]: s.outputs }),
        );
        const spec = inputsOf(one(eu, TYPES.quayRegistry)).spec as {
            components: { kind: string; overrides?: { env: { value: string }[] } }[];
        };
        for (const kind of ["quay", "mirror"]) {
            assert.equal(spec.components.find((c) => c.kind === kind)?.overrides?.env[0].value, "usstorage");
        }
        assert.equal(eu.outputs.deployedTopology, key(t.sites));
    });

    it("takes the site out of the entry point's rotation and keeps its bucket protected", async () => {
        const r = await shared(withConfig(exampleConfig("us"), t.changes), {});
        assert.ok(!r.resources.some((x) => x.name === "quay-georep-entrypoint-eustorage-record"));
        assert.equal(one(r, "azure-native:storage:StorageAccount").protect, true);
    });

    it("backfills the remaining sites once every cluster has the drain, and reports their status", async () => {
        const r = await shared(withConfig(exampleConfig("us"), t.changes), { eu: deployed("site", t.sites) });
        assert.equal(jobs(r, "backfill").length, 1);
        assert.deepEqual((r.outputs.replicationStatus as { locations: string }).locations, "usstorage");
    });
});

describe("lifecycle: retiring a site", () => {
    const draining = topology({ eustorage: "draining" });
    const retired = topology({ eustorage: "retired" });
    const cfg = () => withConfig(exampleConfig("us"), retired.changes);

    it("gates the retirement on the remaining sites before the bundle Secret changes", async () => {
        const r = await shared(cfg(), { eu: deployed("site", draining.sites) });
        const [gate] = jobs(r, "retirement-gate");
        assert.deepEqual(env(gate), { DATABASE_URL: "(from secret)", LOCATIONS: "usstorage", RETIRING: "eustorage" });
        const spec = inputsOf(gate).spec as { backoffLimit: number };
        assert.equal(spec.backoffLimit, 0, "a failed gate must fail at once");
        assert.ok(bundleSecret(r).dependsOn.includes(gate.urn), "the bundle Secret waits for the gate");
    });

    it("drops the location from the bundle, and keeps the bucket unprotected but retained", async () => {
        const r = await shared(cfg(), { eu: deployed("site", draining.sites) });
        const config = parse((inputsOf(bundleSecret(r)).stringData as Record<string, string>)["config.yaml"]);
        assert.deepEqual(Object.keys(config.DISTRIBUTED_STORAGE_CONFIG), ["usstorage"]);
        for (const type of ["azure-native:storage:StorageAccount", "azure-native:storage:BlobContainer"]) {
            const kept = one(r, type);
            assert.deepEqual([kept.protect, kept.retainOnDelete], [false, true], type);
        }
    });

    it("holds util.removelocation while the retired cluster still runs the old bundle", async () => {
        const r = await shared(cfg(), { eu: deployed("site", draining.sites) });
        assert.equal(jobs(r, "removelocation").length, 0);
        assert.deepEqual(r.outputs.lifecyclePending, [
            "util.removelocation eustorage waits until no cluster lists it: run pulumi up -s eu, then pulumi up -s us again",
        ]);
    });

    it("empties the retired site's stack: no Secret, no QuayRegistry", async () => {
        const s = await shared(cfg(), { eu: deployed("site", draining.sites) });
        const eu = assertClean(
            await runStack(withConfig(exampleConfig("eu"), retired.changes), { [stackRef("us")]: s.outputs }),
        );
        assert.equal(eu.outputs.role, "retired");
        assert.deepEqual(
            eu.resources.map((x) => x.type),
            ["pulumi:pulumi:Stack"],
        );
    });

    it("then runs util.removelocation with pushes disabled, answering y, and verifies the row is gone", async () => {
        const r = await shared(cfg(), { eu: deployed("retired", retired.sites) });
        const [removal] = jobs(r, "removelocation");
        assert.deepEqual(env(removal, 0, true), { QUAYCONF: "/quay-registry/conf", LOCATION: "eustorage" });
        assert.deepEqual(env(removal), { DATABASE_URL: "(from secret)", LOCATION: "eustorage" });
        const pod = inputsOf(removal).spec as {
            backoffLimit: number;
            template: {
                spec: {
                    initContainers: { command: string[] }[];
                    volumes: { name: string; secret?: { secretName: string } }[];
                };
            };
        };
        assert.equal(pod.backoffLimit, 0);
        assert.match(
            pod.template.spec.initContainers[0].command[2],
            /echo y \| python -m util\.removelocation "\$LOCATION"/,
        );
        const maintenance = one(r, TYPES.secret, "quay-georep-replication-maintenance-bundle");
        assert.ok(isSecretInput(maintenance.inputs.stringData));
        const config = parse((plain(maintenance.inputs.stringData) as Record<string, string>)["config.yaml"]);
        assert.equal(config.DISABLE_PUSHES, true);
        const normal = parse((inputsOf(bundleSecret(r)).stringData as Record<string, string>)["config.yaml"]);
        assert.equal(normal.DISABLE_PUSHES, undefined, "only the maintenance pod has pushes disabled");
        assert.deepEqual(r.outputs.lifecyclePending, []);
    });

    it("renames nothing of the surviving site's resources on the way", async () => {
        const before = await shared(withConfig(exampleConfig("us"), draining.changes), {});
        const after = await shared(cfg(), { eu: deployed("retired", retired.sites) });
        const d = urnDiff(before, after);
        assert.ok(
            d.removed.every((u) => /eustorage|replication-bundle$/.test(u)), // one location left: nothing to backfill
            d.removed.join("\n"),
        );
        assert.ok(
            d.added.every((u) => /eustorage|retirement-gate|removelocation|maintenance-bundle/.test(u)),
            d.added.join("\n"),
        );
    });

    it("meets every policy, the retired bucket's deliberate unprotection included", async () => {
        const r = await shared(cfg(), { eu: deployed("retired", retired.sites) });
        assert.deepEqual(checkRun(r), []);
    });
});

describe("lifecycle: validation", () => {
    it("refuses to retire the shared stack's own site", async () => {
        const t = topology({ usstorage: "retired" });
        const r = await runStack(withConfig(exampleConfig("us"), t.changes));
        assert.match(
            r.errors.map((e) => e.message).join("\n"),
            /sites\[0\]\.state: "retired" cannot retire the shared stack's own site "usstorage" \(its cluster runs the gate and util\.removelocation\); first make another stack the shared stack/,
        );
    });

    it("refuses a retirement when the shared stack runs no lifecycle Jobs", async () => {
        const t = topology({ eustorage: "retired" });
        const r = await runStack(withConfig(exampleConfig("us"), { ...t.changes, lifecycleJobs: "false" }));
        assert.match(
            r.errors.map((e) => e.message).join("\n"),
            /lifecycleJobs: false leaves nobody to gate the retirement of eustorage/,
        );
    });

    it("refuses an unpinned Job image", async () => {
        const r = await runStack(
            withConfig(exampleConfig("us"), { lifecycle: { quayImage: "quay.io/projectquay/quay:latest" } }),
        );
        assert.match(
            r.errors.map((e) => e.message).join("\n"),
            /lifecycle\.quayImage: "quay\.io\/projectquay\/quay:latest" is not a pinned image reference/,
        );
    });
});

describe("Quay Operator", () => {
    it("subscribes each cluster to the same channel with manual approval, and waits for the install", async () => {
        const r = await shared(exampleConfig("us"), {});
        const sub = inputsOf(one(r, TYPES.subscription));
        assert.deepEqual(sub.spec, {
            channel: "stable-3.18",
            name: "quay-operator",
            source: "redhat-operators",
            sourceNamespace: "openshift-marketplace",
            installPlanApproval: "Manual",
        });
        assert.deepEqual((sub.metadata as { annotations: Record<string, string> }).annotations, {
            "pulumi.com/waitFor": "jsonpath={.status.state}=AtLatestKnown",
        });
    });

    it("leaves the operator alone where it is managed elsewhere", async () => {
        const r = await shared(withConfig(exampleConfig("us"), { installOperator: "false" }), {});
        assert.equal(ofType(r, TYPES.subscription).length, 0);
        assert.deepEqual(one(r, TYPES.quayRegistry).dependsOn, [bundleSecret(r).urn]);
    });

    it("adds an OperatorGroup in a namespace of its own", async () => {
        const r = await shared(
            withConfig(exampleConfig("us"), {
                operator: { namespace: "quay-operator", startingCSV: "quay-operator.v3.18.0" },
            }),
            {},
        );
        assert.equal(ofType(r, "kubernetes:operators.coreos.com/v1:OperatorGroup").length, 1);
        assert.equal(
            (inputsOf(one(r, TYPES.subscription)).spec as { startingCSV: string }).startingCSV,
            "quay-operator.v3.18.0",
        );
    });
});
