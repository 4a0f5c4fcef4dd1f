/**
 * The QuayRegistry builder: all 11 kinds, the geo-replication split of managed/unmanaged, the
 * preference env on quay and mirror, replicas that never silently drop to 1. Validated against
 * the operator's CRD schema and its CEL rules where the reference folder is present.
 */
import { strict as assert } from "node:assert";
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
