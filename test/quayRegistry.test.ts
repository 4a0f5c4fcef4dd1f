/**
 * The QuayRegistry builder: all 11 kinds, the geo-replication split of managed/unmanaged, the
 * preference env on quay and mirror, replicas that never silently drop to 1. Validated against
 * the operator's CRD schema and its CEL rules where the reference folder is present. Then the
 * cluster's components on their own (QuayOperator, QuayRegistry, RolloutCheck): the Kubernetes
 * names their args default to, the provider they take from their options, the order they carry
 * as data, and the outputs they register.
 */
import { strict as assert } from "node:assert";
import * as k8s from "@pulumi/kubernetes";
import { QuayOperator, QuayOperatorArgs } from "../components/quayOperator";
import { QuayRegistry, QuayRegistryArgs } from "../components/quayRegistry";
import { RolloutCheck, RolloutCheckArgs } from "../components/rolloutCheck";
import { inputsOf, one, TYPES } from "./mocks";
import {
    componentDependencies,
    DependencyRun,
    inputsWaitFor,
    publicOutputs,
    withRegisteredOutputs,
} from "./support/dependencies";
import {
    COMPONENT_KINDS,
    PREFERENCE_ENV,
    quayRegistryManifest,
    QuayRegistryInput,
    registryComponents,
} from "../lib/quayRegistry";
import { REFERENCE_SKIP_MESSAGE, referenceDir, validateQuayRegistry } from "./support/schemas";

function registry(changes: Partial<QuayRegistryInput> = {}): QuayRegistryInput {
    return {
        name: "quay",
        namespace: "quay-enterprise",
        bundleSecretName: "georep-config-bundle",
        storagePreference: ["eustorage", "usstorage"],
        components: { clair: true, horizontalpodautoscaler: true, monitoring: true },
        ...changes,
    };
}

describe("QuayRegistry manifest", () => {
    it("lists all 11 component kinds once, in the CRD's order", () => {
        assert.deepEqual(
            registryComponents(registry()).map((c) => c.kind),
            [...COMPONENT_KINDS],
        );
        assert.equal(COMPONENT_KINDS.length, 11);
    });

    it("leaves objectstorage, postgres, redis, clairpostgres and tls unmanaged; quay, route and mirror managed", () => {
        const managed = Object.fromEntries(registryComponents(registry()).map((c) => [c.kind, c.managed]));
        assert.deepEqual(managed, {
            quay: true,
            postgres: false,
            clair: true,
            clairpostgres: false,
            redis: false,
            horizontalpodautoscaler: true,
            objectstorage: false,
            route: true,
            mirror: true,
            monitoring: true,
            tls: false,
        });
    });

    it("sets the storage preference env on both quay and mirror, space-separated", () => {
        const withEnv = registryComponents(registry()).filter((c) => c.overrides?.env);
        assert.deepEqual(
            withEnv.map((c) => [c.kind, c.overrides?.env]),
            [
                ["quay", [{ name: PREFERENCE_ENV, value: "eustorage usstorage" }]],
                ["mirror", [{ name: PREFERENCE_ENV, value: "eustorage usstorage" }]],
            ],
        );
    });

    it("puts overrides on managed components only", () => {
        for (const c of registryComponents(registry())) {
            if (!c.managed) assert.equal(c.overrides, undefined, `${c.kind} is unmanaged but has overrides`);
        }
    });

    it("sets no replicas while the HPA is managed (the operator refuses them)", () => {
        for (const c of registryComponents(registry())) assert.equal(c.overrides?.replicas, undefined);
    });

    it("sets explicit replicas on quay and mirror when the HPA is unmanaged", () => {
        const comps = registryComponents(
            registry({
                components: { clair: true, horizontalpodautoscaler: false, monitoring: false },
                replicas: { quay: 3, mirror: 2 },
            }),
        );
        const byKind = Object.fromEntries(comps.map((c) => [c.kind, c]));
        assert.equal(byKind.quay.overrides?.replicas, 3);
        assert.equal(byKind.mirror.overrides?.replicas, 2);
        assert.equal(byKind.horizontalpodautoscaler.managed, false);
        assert.equal(byKind.monitoring.managed, false);
    });

    it("refuses an empty storage preference", () => {
        assert.throws(() => registryComponents(registry({ storagePreference: [] })), /at least one location/);
    });

    it("names the bundle Secret and asks Pulumi to wait for Available", () => {
        const m = quayRegistryManifest(registry());
        assert.equal(m.apiVersion, "quay.redhat.com/v1");
        assert.equal(m.kind, "QuayRegistry");
        assert.equal(m.spec.configBundleSecret, "georep-config-bundle");
        assert.deepEqual(m.metadata.annotations, { "pulumi.com/waitFor": "condition=Available" });
    });

    it("validates against the operator's CRD schema and CEL rules", function () {
        if (referenceDir() === undefined) {
            console.log(`      ${REFERENCE_SKIP_MESSAGE}`);
            this.skip();
        }
        assert.deepEqual(validateQuayRegistry(quayRegistryManifest(registry())), []);
        const unmanagedHpa = registry({
            components: { clair: false, horizontalpodautoscaler: false, monitoring: false },
            replicas: { quay: 2, mirror: 2 },
        });
        assert.deepEqual(validateQuayRegistry(quayRegistryManifest(unmanagedHpa)), []);
    });
});

/** Overrides of the three components' args, one object each. */
interface ClusterArgs {
    readonly operator?: QuayOperatorArgs;
    readonly registry?: Partial<QuayRegistryArgs>;
    readonly check?: Partial<RolloutCheckArgs>;
}

/** The three components wired as stacks/site.ts wires them, with only the required args unless given. */
async function cluster(args: ClusterArgs = {}) {
    return withRegisteredOutputs(() =>
        componentDependencies(() => {
            const provider = new k8s.Provider("test-cluster", {});
            const operator = new QuayOperator("test-operator", args.operator ?? {}, { provider });
            const registry = new QuayRegistry(
                "test",
                {
                    bundle: { "config.yaml": "SERVER_HOSTNAME: quay.example.com\n" },
                    namespace: "quay-enterprise",
                    storagePreference: ["usstorage"],
                    operator: operator.subscriptionName,
                    ...args.registry,
                },
                { provider },
            );
            new RolloutCheck(
                "test-rollout",
                {
                    namespace: "quay-enterprise",
                    bundleSha256: registry.bundleSha256,
                    image: "quay.example.com/quay:v3",
                    timeoutMinutes: 10,
                    ...args.check,
                },
                { provider },
            );
            return { bundleSha256: registry.bundleSha256 };
        }),
    );
}

/** A resource's `metadata.name` and `metadata.namespace`. */
function named(d: DependencyRun, type: string, name?: string): [unknown, unknown] {
    const metadata = inputsOf(one(d.run, type, name)).metadata as { name?: unknown; namespace?: unknown };
    return [metadata.name, metadata.namespace];
}

describe("QuayOperator, QuayRegistry and RolloutCheck components", () => {
    it("name their Kubernetes objects with the defaults the example renders", async () => {
        const { result: d } = await cluster();
        assert.deepEqual(named(d, TYPES.subscription), ["quay-operator", "openshift-operators"]);
        assert.deepEqual(named(d, TYPES.secret), ["georep-config-bundle", "quay-enterprise"]);
        assert.deepEqual(named(d, TYPES.quayRegistry), ["quay", "quay-enterprise"]);
        for (const type of [
            TYPES.job,
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:rbac.authorization.k8s.io/v1:Role",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        ]) {
            assert.deepEqual(named(d, type), ["quay-georep-rollout-quay", "quay-enterprise"], type);
        }
        assert.deepEqual(inputsOf(one(d.run, TYPES.subscription)).spec, {
            channel: "stable-3.18",
            name: "quay-operator",
            source: "redhat-operators",
            sourceNamespace: "openshift-marketplace",
            installPlanApproval: "Manual",
        });
        assert.equal(d.run.resources.filter((r) => r.type.endsWith(":OperatorGroup")).length, 0);
    });

    it("derive every name from their args: registry, Secret, operator namespace and the check's objects", async () => {
        const { result: d } = await cluster({
            operator: { namespace: "quay-operator", subscriptionName: "quay", startingCSV: "quay-operator.v3.18.0" },
            registry: { registryName: "registry", bundleSecretName: "bundle" },
        });
        assert.deepEqual(named(d, TYPES.subscription), ["quay", "quay-operator"]);
        assert.deepEqual(named(d, "kubernetes:operators.coreos.com/v1:OperatorGroup"), ["quay", "quay-operator"]);
        assert.deepEqual(named(d, TYPES.namespace), ["quay-operator", undefined]);
        assert.equal(
            (inputsOf(one(d.run, TYPES.subscription)).spec as { startingCSV: string }).startingCSV,
            "quay-operator.v3.18.0",
        );
        assert.deepEqual(named(d, TYPES.secret), ["bundle", "quay-enterprise"]);
        const registry = inputsOf(one(d.run, TYPES.quayRegistry));
        assert.equal((registry.metadata as { name: string }).name, "registry");
        assert.equal((registry.spec as { configBundleSecret: string }).configBundleSecret, "bundle");
        // The check's objects and the Deployments it may read follow the registry's name by default.
        assert.deepEqual(named(d, TYPES.job), ["quay-georep-rollout-quay", "quay-enterprise"]);
        const custom = (await cluster({ check: { registryName: "registry" } })).result;
        assert.deepEqual(named(custom, TYPES.job), ["quay-georep-rollout-registry", "quay-enterprise"]);
        const role = inputsOf(one(custom.run, "kubernetes:rbac.authorization.k8s.io/v1:Role"));
        assert.deepEqual((role.rules as { resourceNames: string[] }[])[0].resourceNames, [
            "registry-quay-app",
            "registry-quay-mirror",
        ]);
        const renamed = (await cluster({ check: { objectName: "check" } })).result;
        assert.deepEqual(named(renamed, TYPES.job), ["check", "quay-enterprise"]);
    });

    it("create every child through the cluster's provider given in their options", async () => {
        const { result: d } = await cluster({ operator: { namespace: "quay-operator" } });
        const provider = one(d.run, TYPES.k8sProvider).urn;
        const children = d.run.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
        assert.equal(children.length, 9);
        for (const r of children) assert.equal(r.provider, provider, r.name);
    });

    it("carry their order as data: the registry waits for the Subscription and its Secret, the check for the registry", async () => {
        const { result: d } = await cluster();
        const [subscription, secret, registry, check, binding] = [
            one(d.run, TYPES.subscription),
            one(d.run, TYPES.secret),
            one(d.run, TYPES.quayRegistry),
            one(d.run, TYPES.job),
            one(d.run, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"),
        ];
        assert.deepEqual(
            [subscription.urn, secret.urn].filter((u) => inputsWaitFor(d, registry.urn).includes(u)),
            [subscription.urn, secret.urn],
        );
        assert.ok(inputsWaitFor(d, check.urn).includes(registry.urn));
        assert.ok(
            !inputsWaitFor(d, secret.urn).includes(subscription.urn),
            "the Secret need not wait for the operator",
        );
        // Inside a component an explicit dependsOn stays: the check's pod needs its RoleBinding.
        assert.deepEqual(
            d.run.resources.filter((r) => r.dependsOn.length > 0).map((r) => [r.name, r.dependsOn]),
            [[check.name, [binding.urn]]],
        );
        // What the registry resolves is the hash of what its Secret holds.
        assert.match(String(d.run.outputs.bundleSha256), /^[0-9a-f]{64}$/);
    });

    it("register every public output", async () => {
        const { registered } = await cluster({ check: { expectImage: "quay.example.com/quay:v3" } });
        const components = [...registered.keys()];
        assert.deepEqual(components.map((c) => c.constructor.name).sort(), [
            "QuayOperator",
            "QuayRegistry",
            "RolloutCheck",
        ]);
        for (const c of components)
            assert.deepEqual([...(registered.get(c) ?? [])].sort(), publicOutputs(c), c.constructor.name);
        const check = components.find((c) => c instanceof RolloutCheck) as RolloutCheck;
        assert.deepEqual(publicOutputs(check), ["verifiedBundleSha256", "verifiedImage"]);
    });
});
