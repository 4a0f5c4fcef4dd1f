/**
 * The region lifecycle through the whole program, deployed stack by stack (test/support/world.ts):
 * each `pulumi up` reads what every stack deployed last, its own outputs included. Adding a site,
 * draining it, retiring it and removing it from `sites`, and the edits refused on the way.
 */
import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { isKubeName } from "../lib/names";
import { isSecretInput, plain, RecordedResource, RunResult } from "../offline/runtime";
import { checkRun } from "../offline/policy";
import { bundleSecret, exampleConfig, exampleSites, inputsOf, one, ofType, TYPES } from "./mocks";
import { inputsWaitFor, runWithDependencies, waitsFor } from "./support/dependencies";
import { SiteEntry, World } from "./support/world";

/** The example's load balancer with a probe address for each extra site (and none for dropped ones). */
function entryPoint(sites: SiteEntry[]): Record<string, unknown> {
    const lb = JSON.parse(exampleConfig("us").config["quay-georep:entryPoint"]) as {
        healthCheckAddresses: Record<string, string>;
        latencyRegions: Record<string, string>;
    };
    const names = sites.map((s) => s.name as string);
    const keep = (m: Record<string, string>) =>
        Object.fromEntries(Object.entries(m).filter(([k]) => names.includes(k)));
    const addresses = keep(lb.healthCheckAddresses);
    const regions = keep(lb.latencyRegions);
    sites.forEach((s, i) => {
        addresses[s.name as string] ??= `192.0.2.${40 + i}`;
        // Route 53 latency routing needs an AWS region for a site on another cloud.
        if (s.cloud === "azure") regions[s.name as string] ??= "eu-central-1";
    });
    return { ...lb, healthCheckAddresses: addresses, latencyRegions: regions };
}

/** Project config for these sites. */
function project(sites: SiteEntry[]): Record<string, unknown> {
    return { sites, entryPoint: entryPoint(sites) };
}

const AP: SiteEntry = {
    name: "apstorage",
    stack: "ap",
    cloud: "aws",
    region: "ap-southeast-2",
    endpoint: "router.apps.ap.example.com",
};
const EXAMPLE = exampleSites();
const withState = (sites: SiteEntry[], name: string, state: string) =>
    sites.map((s) => (s.name === name ? { ...s, state } : s));

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

const configYaml = (r: RunResult) =>
    parse((inputsOf(bundleSecret(r)).stringData as Record<string, string>)["config.yaml"]) as Record<string, unknown>;
const errors = (r: RunResult) => r.errors.map((e) => e.message).join("\n");

/**
 * `pulumi up -s <stack>` as `w.upClean` runs it, and the same run's data dependencies (what each
 * resource's inputs wait for), judged against what was deployed before it.
 */
async function upWithDependencies(w: World, stack: string) {
    const deps = await runWithDependencies(w.config(stack), { ...w.outputs }, { ...w.resources });
    const r = await w.upClean(stack);
    assert.deepEqual(
        deps.run.resources.map((x) => x.urn),
        r.resources.map((x) => x.urn),
        "the same run",
    );
    return { r, deps };
}

/** The example deployed: us, then eu. */
async function deployedExample(): Promise<World> {
    const w = new World();
    await w.upClean("us");
    await w.upClean("eu");
    return w;
}

describe("lifecycle: the shared stack's Jobs", () => {
    it("reports replication status from a CronJob for the active sites, with DATABASE_URL from a Secret", async () => {
        const w = await deployedExample();
        const r = await w.upClean("us");
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

    it("mounts the SQL the operators run, unchanged", async () => {
        const r = await new World().upClean("us");
        const data = inputsOf(one(r, "kubernetes:core/v1:ConfigMap")).data as Record<string, string>;
        const fs = await import("node:fs");
        assert.equal(data["replication-status.sql"], fs.readFileSync("sql/replication-status.sql", "utf8"));
        assert.equal(data["removal-precheck.sql"], fs.readFileSync("sql/removal-precheck.sql", "utf8"));
    });

    it("records every site it deployed, with where its blobs are", async () => {
        const w = await deployedExample();
        assert.deepEqual(w.out("us").sites, [
            {
                name: "usstorage",
                stack: "us",
                cloud: "aws",
                region: "us-east-1",
                state: "active",
                endpoint: "router.apps.us.example.com",
                storage: { mode: "create", storagePath: "/datastorage/registry" },
            },
            {
                name: "eustorage",
                stack: "eu",
                cloud: "azure",
                region: "westeurope",
                state: "active",
                endpoint: "router.apps.eu.example.com",
                storage: { mode: "create", storagePath: "/datastorage/registry", container: "quay" },
            },
        ]);
        assert.equal(w.out("us").sharedStack, "us");
        assert.equal(w.out("eu").sharedStack, "us");
    });
});

describe("lifecycle: a bundle reaches every pod before anything relies on it", () => {
    it("puts the bundle's hash in each QuayRegistry's spec, on quay and mirror", async () => {
        const w = await deployedExample();
        for (const stack of ["us", "eu"]) {
            const r = await w.upClean(stack);
            const spec = inputsOf(one(r, TYPES.quayRegistry)).spec as {
                components: { kind: string; overrides?: { env: { name: string; value: string }[] } }[];
            };
            for (const kind of ["quay", "mirror"]) {
                const e = spec.components.find((c) => c.kind === kind)?.overrides?.env ?? [];
                assert.equal(
                    e.find((x) => x.name === "QUAY_GEOREP_BUNDLE_SHA256")?.value,
                    w.out("us").bundleSha256,
                    kind,
                );
            }
        }
    });

    it("waits for the rollout of both Deployments with a Job allowed only to read them", async () => {
        const w = await deployedExample();
        const { r, deps } = await upWithDependencies(w, "eu");
        const check = one(r, TYPES.job);
        assert.equal((inputsOf(check).metadata as { name: string }).name, "quay-georep-rollout-quay");
        // Its own RoleBinding by dependsOn; the QuayRegistry (another component) through the bundle
        // hash it takes, which resolves once the registry carrying it is Available.
        assert.deepEqual(check.dependsOn, [one(r, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").urn]);
        assert.ok(inputsWaitFor(deps, check.urn).includes(one(r, TYPES.quayRegistry).urn));
        const e = env(check);
        assert.equal(e.DEPLOYMENTS, "quay-quay-app,quay-quay-mirror");
        assert.equal(e.BUNDLE_SHA256, w.out("us").bundleSha256);
        assert.equal(e.NAMESPACE, "quay-enterprise");
        assert.equal(e.EXPECT_IMAGE, undefined, "only the cluster that runs the lifecycle Jobs checks the image");
        const role = inputsOf(one(r, "kubernetes:rbac.authorization.k8s.io/v1:Role"));
        assert.deepEqual(role.rules, [
            {
                apiGroups: ["apps"],
                resources: ["deployments"],
                resourceNames: ["quay-quay-app", "quay-quay-mirror"],
                verbs: ["get"],
            },
        ]);
        const pod = (inputsOf(check).spec as { template: { spec: { serviceAccountName: string } } }).template.spec;
        assert.equal(pod.serviceAccountName, "quay-georep-rollout-quay");
    });

    it("checks the lifecycle Jobs' Quay image against the operator's where they run", async () => {
        const r = await new World().upClean("us");
        assert.equal(
            env(one(r, TYPES.job, "quay-georep-usstorage-rollout-job")).EXPECT_IMAGE,
            "registry.redhat.io/quay/quay-rhel9:v3.18.0",
        );
    });

    it("makes the lifecycle Jobs wait for the shared cluster's rollout, not just its QuayRegistry", async () => {
        const w = new World(project([...EXAMPLE, AP]));
        const { r, deps } = await upWithDependencies(w, "us");
        const [backfill] = jobs(r, "backfill");
        const check = one(r, TYPES.job, "quay-georep-usstorage-rollout-job");
        // Through data: the backfill runs the Quay image the check verified the operator runs.
        assert.deepEqual(backfill.dependsOn, []);
        assert.ok(inputsWaitFor(deps, backfill.urn).includes(check.urn), inputsWaitFor(deps, backfill.urn).join(", "));
        const image = (inputsOf(backfill).spec as { template: { spec: { containers: { image: string }[] } } }).template
            .spec.containers[0].image;
        assert.equal(image, env(check).EXPECT_IMAGE);
    });

    it("orders a cluster's steps: operator, bundle Secret, QuayRegistry, rollout check", async () => {
        const w = await deployedExample();
        const { r, deps } = await upWithDependencies(w, "eu");
        const [subscription, secret, registry, check] = [
            one(r, TYPES.subscription),
            bundleSecret(r),
            one(r, TYPES.quayRegistry),
            one(r, TYPES.job),
        ];
        // Only the check's own RoleBinding is an explicit dependsOn; the rest is carried as data.
        assert.deepEqual(
            [subscription, secret, registry].map((x) => x.dependsOn),
            [[], [], []],
        );
        assert.deepEqual(
            [subscription, secret].map((x) => inputsWaitFor(deps, registry.urn).includes(x.urn)),
            [true, true],
            "the QuayRegistry's spec waits for the operator's install and names the Secret as created",
        );
        assert.ok(waitsFor(deps, check.urn).has(subscription.urn));
        assert.ok(!waitsFor(deps, secret.urn).has(subscription.urn), "the Secret need not wait for the operator");
    });
});

describe("lifecycle: adding a site", () => {
    it("adds the location to the one bundle, the bucket and the entry point, and holds the backfill for the running clusters", async () => {
        const w = await deployedExample();
        w.project = project([...EXAMPLE, AP]);
        const r = await w.upClean("us");
        const config = configYaml(r);
        assert.deepEqual(Object.keys(config.DISTRIBUTED_STORAGE_CONFIG as object).sort(), [
            "apstorage",
            "eustorage",
            "usstorage",
        ]);
        assert.deepEqual(config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, ["usstorage", "eustorage", "apstorage"]);
        assert.ok(r.resources.some((x) => x.name === "quay-georep-storage-apstorage-bucket"));
        assert.ok(r.resources.some((x) => x.name === "quay-georep-entrypoint-apstorage-record"));
        assert.equal(jobs(r, "backfill").length, 0);
        const topology = "usstorage:active,eustorage:active,apstorage:active";
        assert.deepEqual(r.outputs.lifecyclePending, [
            `backfill for topology "${topology}" waits for eu: run pulumi up -s eu, then pulumi up -s us again`,
        ]);
    });

    it("refuses the new site's stack until the shared stack's bundle lists it", async () => {
        const w = await deployedExample();
        w.project = project([...EXAMPLE, AP]);
        const ap = await w.up("ap");
        assert.equal(
            errors(ap),
            'quay-georep configuration for stack "ap" has 1 problem:\n  - sites: "apstorage" is not in the shared stack "us"\'s bundle yet (it lists usstorage, eustorage); run "pulumi up -s us" first, then this stack',
        );
        assert.equal(ofType(ap, TYPES.secret).length, 0, "refused before any resource is registered");
    });

    it("runs the backfill in the Quay image with the bundle mounted once every running cluster has the bundle", async () => {
        const w = await deployedExample();
        w.project = project([...EXAMPLE, AP]);
        await w.upClean("us");
        await w.upClean("eu");
        const r = await w.upClean("us");
        const [backfill] = jobs(r, "backfill");
        const pod = inputsOf(backfill).spec as {
            activeDeadlineSeconds: number;
            template: {
                spec: { containers: { image: string; command: string[]; volumeMounts: { mountPath: string }[] }[] };
            };
        };
        assert.equal(pod.template.spec.containers[0].image, "registry.redhat.io/quay/quay-rhel9:v3.18.0");
        assert.match(pod.template.spec.containers[0].command[2], /python -m util\.backfillreplication/);
        assert.deepEqual(
            pod.template.spec.containers[0].volumeMounts.map((m) => m.mountPath),
            ["/quay-registry/conf/stack", "/conf/stack"],
        );
        assert.equal(pod.activeDeadlineSeconds, 720 * 60, "hours, for registries of millions of blobs");
        assert.deepEqual(r.outputs.lifecyclePending, []);
        assert.equal(r.outputs.backfilledTopology, "usstorage:active,eustorage:active,apstorage:active");
        // ap was never deployed, so it runs no Quay and nothing waits for it; then it deploys.
        const ap = await w.upClean("ap");
        assert.equal(ap.outputs.deployedTopology, "usstorage:active,eustorage:active,apstorage:active");
    });
});

describe("lifecycle: draining a site", () => {
    const draining = withState(EXAMPLE, "eustorage", "draining");

    it("keeps the site readable in the bundle but out of the default locations and preferences", async () => {
        const w = await deployedExample();
        w.project = project(draining);
        const r = await w.upClean("us");
        const config = configYaml(r);
        assert.ok("eustorage" in (config.DISTRIBUTED_STORAGE_CONFIG as object));
        assert.deepEqual(config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, ["usstorage"]);
        assert.deepEqual(config.DISTRIBUTED_STORAGE_PREFERENCE, ["usstorage"]);
        assert.ok(!r.resources.some((x) => x.name === "quay-georep-entrypoint-eustorage-record"));
        assert.equal(one(r, "azure-native:storage:StorageAccount").protect, true);
    });

    it("switches the draining cluster's own preference to the surviving site", async () => {
        const w = await deployedExample();
        w.project = project(draining);
        await w.upClean("us");
        const eu = await w.upClean("eu");
        const spec = inputsOf(one(eu, TYPES.quayRegistry)).spec as {
            components: { kind: string; overrides?: { env: { value: string }[] } }[];
        };
        for (const kind of ["quay", "mirror"]) {
            assert.equal(spec.components.find((c) => c.kind === kind)?.overrides?.env[0].value, "usstorage");
        }
        assert.equal(eu.outputs.deployedTopology, "usstorage:active,eustorage:draining");
        const us = await w.upClean("us");
        assert.equal(jobs(us, "backfill").length, 1);
        assert.equal((us.outputs.replicationStatus as { locations: string }).locations, "usstorage");
    });
});

describe("lifecycle: retiring a site (state: retired)", () => {
    it("drains it first when it was active, however the config says retired", async () => {
        const w = await deployedExample();
        w.project = project(withState(EXAMPLE, "eustorage", "retired"));
        const r = await w.upClean("us");
        assert.equal(jobs(r, "retirement-gate").length, 0);
        assert.deepEqual(configYaml(r).DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, ["usstorage"]);
        assert.ok("eustorage" in (configYaml(r).DISTRIBUTED_STORAGE_CONFIG as object), "still readable");
        assert.match((r.outputs.lifecyclePending as string[])[0], /^eustorage drains first/);
        assert.equal(one(r, "azure-native:storage:StorageAccount").protect, true);
    });

    it("gates, drops, empties the site's stack, removes the location once, then never again", async () => {
        const w = await deployedExample();
        w.project = project(withState(EXAMPLE, "eustorage", "retired"));
        await w.upClean("us"); // drained
        await w.upClean("eu");
        await w.upClean("us"); // backfill of the drained topology
        const { r: retire, deps } = await upWithDependencies(w, "us");
        const [gate] = jobs(retire, "retirement-gate");
        assert.deepEqual(env(gate), { DATABASE_URL: "(from secret)", LOCATIONS: "usstorage", RETIRING: "eustorage" });
        assert.equal((inputsOf(gate).spec as { backoffLimit: number }).backoffLimit, 0, "a failed gate fails at once");
        // Through data: the bundle it is written from resolves only once every gate passed.
        assert.deepEqual(bundleSecret(retire).dependsOn, []);
        assert.ok(
            inputsWaitFor(deps, bundleSecret(retire).urn).includes(gate.urn),
            "the bundle Secret waits for the gate",
        );
        assert.ok(waitsFor(deps, one(retire, TYPES.quayRegistry).urn).has(gate.urn), "and so does the QuayRegistry");
        assert.deepEqual(Object.keys(configYaml(retire).DISTRIBUTED_STORAGE_CONFIG as object), ["usstorage"]);
        for (const type of ["azure-native:storage:StorageAccount", "azure-native:storage:BlobContainer"]) {
            const kept = one(retire, type);
            assert.deepEqual([kept.protect, kept.retainOnDelete], [false, true], type);
        }
        assert.equal(jobs(retire, "removelocation").length, 0);
        assert.deepEqual(retire.outputs.lifecyclePending, [
            "util.removelocation eustorage waits until no cluster lists it: run pulumi up -s eu, then pulumi up -s us again",
        ]);

        const eu = await w.upClean("eu");
        assert.equal(eu.outputs.role, "retired");
        assert.deepEqual(ofType(eu, TYPES.quayRegistry), []);
        assert.deepEqual(ofType(eu, TYPES.secret), []);

        const remove = await w.upClean("us");
        assert.equal(jobs(remove, "retirement-gate").length, 0, "the gate ran once, with the bundle change");
        const [removal] = jobs(remove, "removelocation");
        assert.deepEqual(env(removal, 0, true), {
            DATABASE_URL: "(from secret)",
            LOCATION: "eustorage",
            LOCATIONS: "usstorage",
            UPLOAD_GRACE_MINUTES: "2880",
            STATE_FILE: "/work/location-state",
        });
        assert.deepEqual(env(removal, 1, true), {
            QUAYCONF: "/quay-registry/conf",
            LOCATION: "eustorage",
            STATE_FILE: "/work/location-state",
        });
        assert.deepEqual(env(removal), { DATABASE_URL: "(from secret)", LOCATION: "eustorage" });
        const pod = inputsOf(removal).spec as {
            backoffLimit: number;
            template: { spec: { initContainers: { name: string; command: string[] }[] } };
        };
        assert.equal(pod.backoffLimit, 0);
        assert.deepEqual(
            pod.template.spec.initContainers.map((c) => c.name),
            ["precheck", "removelocation"],
        );
        assert.match(
            pod.template.spec.initContainers[1].command[2],
            /echo y \| python -m util\.removelocation "\$LOCATION"/,
        );
        const maintenance = one(remove, TYPES.secret, "quay-georep-replication-maintenance-bundle");
        assert.ok(isSecretInput(maintenance.inputs.stringData));
        const maintenanceYaml = (plain(maintenance.inputs.stringData) as Record<string, string>)["config.yaml"];
        const config = parse(maintenanceYaml) as Record<string, unknown>;
        assert.equal(config.DISABLE_PUSHES, true);
        assert.equal(configYaml(remove).DISABLE_PUSHES, undefined, "only the maintenance pod has pushes disabled");
        assert.deepEqual(remove.outputs.lifecyclePending, []);
        assert.equal((w.out("us").sites as { name: string; removed?: boolean }[])[1].removed, true);

        const after = await w.upClean("us");
        assert.equal(jobs(after, "removelocation").length, 0, "a verified removal is not run again");
        assert.equal(
            one(after, "azure-native:storage:StorageAccount").retainOnDelete,
            true,
            "listed as retired: still declared",
        );
    });

    it("meets every policy, the retired bucket's deliberate unprotection included", async () => {
        const w = new World(project(withState(EXAMPLE, "eustorage", "retired")));
        w.outputs["organization/quay-georep/us"] = {
            role: "shared+site",
            topology: "usstorage:active,eustorage:retired",
            sites: [
                { ...EXAMPLE[0], state: "active", storage: { mode: "create", storagePath: "/datastorage/registry" } },
                {
                    ...EXAMPLE[1],
                    state: "retired",
                    storage: { mode: "create", storagePath: "/datastorage/registry", container: "quay" },
                },
            ],
        };
        assert.deepEqual(checkRun(await w.upClean("us")), []);
    });
});

describe("lifecycle: removing a site from sites is a safe teardown", () => {
    it("drains, gates, drops and removes it in order, then forgets it and its bucket (retained in the cloud)", async () => {
        const w = await deployedExample();
        w.project = project(EXAMPLE.filter((s) => s.name !== "eustorage"));
        const steps: string[] = [];
        for (const stack of ["us", "eu", "us", "us", "eu", "us", "us"]) {
            const r = await w.upClean(stack);
            const sites = w.out("us").sites as { name: string; state: string; removed?: boolean }[];
            const kinds = ofType(r, TYPES.job)
                .map((j) => (inputsOf(j).metadata as { labels: Record<string, string> }).labels["quay-georep.io/job"])
                .filter((k) => k !== "rollout-check");
            steps.push(
                `${stack}: ${sites.map((x) => `${x.name}:${x.state}${x.removed ? "+removed" : ""}`).join(",")} [${kinds.join("+")}]`,
            );
        }
        assert.deepEqual(steps, [
            "us: usstorage:active,eustorage:draining []",
            "eu: usstorage:active,eustorage:draining []",
            "us: usstorage:active,eustorage:draining [backfill]",
            "us: usstorage:active,eustorage:retired [retirement-gate]",
            "eu: usstorage:active,eustorage:retired []",
            "us: usstorage:active,eustorage:retired+removed [removelocation]",
            "us: usstorage:active []",
        ]);
        const last = await w.upClean("us");
        assert.equal(last.resources.filter((r) => r.name.includes("eustorage")).length, 0, "dropped from state");
        assert.equal(w.out("eu").role, "retired");
    });

    it("keeps a removed site's location and bucket while the shared stack's bundle still lists it", async () => {
        const w = await deployedExample();
        w.project = project(EXAMPLE.filter((s) => s.name !== "eustorage"));
        const r = await w.upClean("us");
        assert.ok("eustorage" in (configYaml(r).DISTRIBUTED_STORAGE_CONFIG as object));
        const account = one(r, "azure-native:storage:StorageAccount");
        assert.deepEqual([account.protect, account.retainOnDelete], [true, true]);
        // Its stack keeps running the drained cluster until the site is retired.
        const eu = await w.upClean("eu");
        assert.equal(eu.outputs.role, "site");
        assert.equal(eu.outputs.deployedTopology, "usstorage:active,eustorage:draining");
    });

    it("in existing storage, needs the bucket entry and its key until the site is retired", async () => {
        const buckets = { usstorage: { bucket: "quay-us" }, eustorage: { container: "quay", accountName: "quayeu" } };
        const creds = { usstorage: { accessKey: "AKIA", secretKey: "s" }, eustorage: { accountKey: "k" } };
        const w = new World({ storage: { mode: "existing", buckets } });
        w.stackChanges.us = { storageCredentials: creds };
        await w.upClean("us");
        await w.upClean("eu");
        const gone = EXAMPLE.filter((s) => s.name !== "eustorage");
        w.project = { ...project(gone), storage: { mode: "existing", buckets: { usstorage: buckets.usstorage } } };
        w.stackChanges.us = { storageCredentials: { usstorage: creds.usstorage } };
        assert.equal(
            errors(await w.up("us")),
            'quay-georep configuration for stack "us" has 2 problems:\n' +
                "  - storage.buckets.eustorage: (missing) is required while eustorage drains (it left sites, but clusters still read its blobs from that bucket); keep the entry (and its storageCredentials) until eustorage is retired\n" +
                "  - storageCredentials.eustorage: (missing) is required while eustorage drains (clusters still read its blobs with it); keep its accountKey until eustorage is retired",
        );
        w.project = { ...project(gone), storage: { mode: "existing", buckets } };
        w.stackChanges.us = { storageCredentials: creds };
        const r = await w.upClean("us");
        assert.deepEqual(
            (configYaml(r).DISTRIBUTED_STORAGE_CONFIG as Record<string, unknown[]>).eustorage[0],
            "AzureStorage",
        );
    });

    it("refuses removing the shared stack's own site", async () => {
        const w = await deployedExample();
        w.project = project(EXAMPLE.filter((s) => s.name !== "usstorage"));
        const r = await w.up("us");
        assert.match(
            errors(r),
            /- sites: "usstorage" is the shared stack's own site and cannot be removed \(its cluster runs the gate and util\.removelocation\); first make another stack the shared stack/,
        );
    });

    it("walks three sites with long names through add, drain, retire and remove, with only valid derived names", async () => {
        const long = (name: string, stack: string, cloud: string, region: string, i: number): SiteEntry => ({
            name,
            stack,
            cloud,
            region,
            endpoint: `router.apps.${stack}.example.com`,
            _i: i,
        });
        const sites = [
            long("us_east_primary_storage_01", "us", "aws", "us-east-1", 0),
            long("eu_west_secondary_storage_02", "eu", "azure", "westeurope", 1),
            long("ap_southeast_tertiary_storage", "ap", "aws", "ap-southeast-2", 2),
        ].map(({ _i, ...s }) => s);
        const w = new World(project(sites.slice(0, 2)));
        await w.upClean("us");
        await w.upClean("eu");
        const runs: RunResult[] = [];
        const up = async (stack: string) => runs.push(await w.upClean(stack));
        w.project = project(sites); // add
        for (const s of ["us", "eu", "ap", "us"]) await up(s);
        w.project = project(withState(sites, "eu_west_secondary_storage_02", "draining")); // drain
        for (const s of ["us", "eu", "ap", "us"]) await up(s);
        w.project = project(withState(sites, "eu_west_secondary_storage_02", "retired")); // gate, drop, remove
        for (const s of ["us", "eu", "ap", "us"]) await up(s);
        w.project = project(sites.filter((s) => s.name !== "eu_west_secondary_storage_02")); // forget
        await up("us");
        assert.deepEqual(
            (w.out("us").sites as { name: string }[]).map((s) => s.name),
            ["us_east_primary_storage_01", "ap_southeast_tertiary_storage"],
        );
        const kinds = new Set<string>();
        for (const r of runs) {
            for (const k of r.resources.filter(
                (x) => x.type.startsWith("kubernetes:") && !x.type.startsWith("kubernetes:quay"),
            )) {
                const name = (inputsOf(k).metadata as { name?: string } | undefined)?.name;
                if (name !== undefined) {
                    assert.ok(isKubeName(name), `${k.type} ${k.name}: "${name}" is not a valid Kubernetes name`);
                    kinds.add(k.type);
                }
            }
            for (const b of ofType(r, "aws:s3/bucket:Bucket")) {
                const prefix = inputsOf(b).bucketPrefix as string | undefined;
                assert.ok(prefix === undefined || /^[a-z0-9][a-z0-9-]{0,35}-$/.test(prefix), `bucket prefix ${prefix}`);
                assert.ok(prefix !== undefined, "a site name with _ gets a valid bucket prefix");
            }
        }
        assert.ok(kinds.has(TYPES.job), "the Jobs of every step were checked");
    });
});

describe("lifecycle: edits refused against what is deployed", () => {
    it("refuses moving a deployed location to another cloud or region, before registering anything", async () => {
        const w = await deployedExample();
        w.project = project(
            EXAMPLE.map((s) => (s.name === "eustorage" ? { ...s, cloud: "aws", region: "eu-west-1" } : s)),
        );
        const r = await w.up("us");
        assert.match(errors(r), /- sites\[1\]\.cloud: "aws" would move deployed location eustorage from cloud "azure"/);
        assert.match(
            errors(r),
            /- sites\[1\]\.region: "eu-west-1" would move deployed location eustorage from region "westeurope"/,
        );
        assert.deepEqual([...new Set(r.resources.map((x) => x.type))].sort(), [
            "pulumi:pulumi:Stack",
            "pulumi:pulumi:StackReference",
        ]);
        const eu = await w.up("eu");
        assert.match(
            errors(eu),
            /sites\[1\]\.cloud: "aws" would move deployed location eustorage/,
            "every stack refuses it",
        );
    });

    it("refuses pointing an existing-mode location at another bucket", async () => {
        const buckets = { usstorage: { bucket: "quay-us" }, eustorage: { container: "quay", accountName: "quayeu" } };
        const existing = {
            storage: { mode: "existing", buckets },
            storageCredentials: { usstorage: { accessKey: "AKIA", secretKey: "s" }, eustorage: { accountKey: "k" } },
        };
        const w = new World({ storage: existing.storage });
        w.stackChanges.us = { storageCredentials: existing.storageCredentials };
        await w.upClean("us");
        w.project = { storage: { mode: "existing", buckets: { ...buckets, usstorage: { bucket: "quay-us-new" } } } };
        const r = await w.up("us");
        assert.match(
            errors(r),
            /- storage\.buckets\.usstorage: "bucket quay-us-new at \/datastorage\/registry" would point deployed location usstorage away from bucket quay-us at \/datastorage\/registry/,
        );
    });

    it("refuses bringing back a retired location", async () => {
        const w = await deployedExample();
        w.outputs["organization/quay-georep/us"] = {
            ...w.out("us"),
            sites: (w.out("us").sites as Record<string, unknown>[]).map((s) =>
                s.name === "eustorage" ? { ...s, state: "retired" } : s,
            ),
        };
        const r = await w.up("us");
        assert.match(errors(r), /- sites\[1\]\.state: "active" cannot bring back location eustorage: it was retired/);
    });

    it("refuses a project-level key set in a stack file", async () => {
        const w = await deployedExample();
        w.stackChanges.eu = { sites: EXAMPLE.filter((s) => s.name !== "usstorage") };
        const r = await w.up("eu");
        assert.match(
            errors(r),
            /- sites: \[.* is set for stack "eu" but differs from Pulumi\.yaml \(a stack file or environment overrides it\); project-level keys are the same for every stack; remove it from the stack \(pulumi config rm quay-georep:sites -s eu\) and set it in Pulumi\.yaml/,
        );
    });

    it("refuses a new sharedStack while the old one still holds the shared services, and lets it go once they moved", async () => {
        const w = await deployedExample();
        w.project = { sharedStack: "eu" };
        w.stackChanges.eu = { tlsCertificate: "CERT", tlsKey: "KEY" };
        const refused = await w.up("eu");
        assert.match(
            errors(refused),
            /- sharedStack: "eu" is not the stack that holds the shared services: stack "us" still has \d+ of them in its state \(quay-georep-bundle, .*\); move them first: pulumi state move --source us --dest eu --include-parents 'urn:pulumi:us::quay-georep::quay-georep:bundle:ConfigBundle::quay-georep-bundle'/,
        );
        const old = await w.up("us");
        assert.match(
            errors(old),
            /sharedStack: "eu" is not the stack that holds the shared services: stack "us" still has/,
        );
        // `pulumi state move` takes the shared components (and their children) to eu.
        const moved = w.resources["organization/quay-georep/us"].filter((r) =>
            /quay-georep:(bundle|database|redis|storage|entrypoint):/.test(r.urn),
        );
        w.resources["organization/quay-georep/us"] = w.resources["organization/quay-georep/us"].filter(
            (r) => !moved.includes(r),
        );
        w.resources["organization/quay-georep/eu"] = moved.map((r) => ({
            ...r,
            urn: r.urn.replace("urn:pulumi:us::", "urn:pulumi:eu::"),
        }));
        const now = await w.upClean("eu");
        assert.equal(now.outputs.role, "shared+site");
        const before = await w.upClean("us");
        assert.equal(before.outputs.role, "site");
    });
});
