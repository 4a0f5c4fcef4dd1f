/**
 * Tests of the schema validators themselves (test/support/schemas.ts): each must accept a known-good
 * document and reject known-bad ones with a message that says what is wrong, or the tests that rely on
 * them prove nothing.
 */
import { strict as assert } from "node:assert";
import { REFERENCE_SKIP_MESSAGE, referenceDir, validateQuayConfig, validateQuayRegistry } from "./support/schemas";

/** Skips the calling test, visibly, when the upstream reference schemas are not next to the repository. */
function requireReference(ctx: Mocha.Context): void {
    if (referenceDir() === undefined) {
        console.log(`      skipped: ${REFERENCE_SKIP_MESSAGE}`);
        ctx.skip();
    }
}

function assertValid(errors: string[]): void {
    assert.deepEqual(errors, [], `expected no errors, got:\n  ${errors.join("\n  ")}`);
}

/** Asserts at least one error line matches every given pattern (all in the same line). */
function assertError(errors: string[], ...patterns: RegExp[]): void {
    assert.ok(
        errors.some((line) => patterns.every((p) => p.test(line))),
        `expected an error matching ${patterns.join(" and ")}, got:\n  ${errors.join("\n  ") || "(no errors)"}`,
    );
}

type Config = Record<string, unknown>;

function minimalQuayConfig(): Config {
    return {
        SERVER_HOSTNAME: "quay.example.com",
        PREFERRED_URL_SCHEME: "https",
        DB_URI: "postgresql://quay:secret@db.example.com:5432/quay?sslmode=require",
        AUTHENTICATION_TYPE: "Database",
        DISTRIBUTED_STORAGE_CONFIG: {
            usstorage: [
                "S3Storage",
                {
                    host: "s3.us-east-1.amazonaws.com",
                    s3_bucket: "quay-us",
                    s3_region: "us-east-1",
                    storage_path: "/datastorage/registry",
                },
            ],
        },
        BUILDLOGS_REDIS: {
            host: "redis.example.com",
            port: 6379,
            password: "secret",
        },
        USER_EVENTS_REDIS: {
            host: "redis.example.com",
            port: 6379,
            password: "secret",
        },
        DISTRIBUTED_STORAGE_PREFERENCE: ["usstorage"],
        DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: ["usstorage"],
        DEFAULT_TAG_EXPIRATION: "2w",
        TAG_EXPIRATION_OPTIONS: ["2w"],
        FEATURE_STORAGE_REPLICATION: true,
    };
}

describe("schema validators", function () {
    it("names the missing reference path in the skip message", function () {
        assert.match(REFERENCE_SKIP_MESSAGE, /shared[\\/]reference[\\/]quay[\\/]config-schema\.json/);
        assert.match(REFERENCE_SKIP_MESSAGE, /shared[\\/]reference[\\/]quay-operator[\\/]quayregistries\.crd\.yaml/);
    });

    describe("validateQuayConfig", function () {
        it("accepts a minimal valid config", function () {
            requireReference(this);
            assertValid(validateQuayConfig(minimalQuayConfig()));
        });

        it("rejects a config missing a required key, naming it", function () {
            requireReference(this);
            const config = minimalQuayConfig();
            delete config.DB_URI;
            assertError(validateQuayConfig(config), /DB_URI/, /required/);
        });

        it("rejects a wrongly typed key, naming it", function () {
            requireReference(this);
            const errors = validateQuayConfig({
                ...minimalQuayConfig(),
                FEATURE_STORAGE_REPLICATION: "yes",
            });
            assertError(errors, /FEATURE_STORAGE_REPLICATION/, /boolean/);
        });

        it("rejects a value outside an enum or pattern", function () {
            requireReference(this);
            assertError(
                validateQuayConfig({
                    ...minimalQuayConfig(),
                    PREFERRED_URL_SCHEME: "ftp",
                }),
                /PREFERRED_URL_SCHEME/,
                /"https"/,
            );
            assertError(
                validateQuayConfig({
                    ...minimalQuayConfig(),
                    TAG_EXPIRATION_OPTIONS: ["2 weeks"],
                }),
                /TAG_EXPIRATION_OPTIONS\/0/,
            );
            assertError(
                validateQuayConfig({
                    ...minimalQuayConfig(),
                    BUILDLOGS_REDIS: { port: 6379 },
                }),
                /BUILDLOGS_REDIS/,
                /host/,
            );
        });

        it("maps the schema's Python type names (int) to JSON Schema types", function () {
            requireReference(this);
            assertValid(
                validateQuayConfig({
                    ...minimalQuayConfig(),
                    QUOTA_TOTAL_DELAY_SECONDS: 30,
                }),
            );
            assertError(
                validateQuayConfig({
                    ...minimalQuayConfig(),
                    QUOTA_TOTAL_DELAY_SECONDS: "30",
                }),
                /QUOTA_TOTAL_DELAY_SECONDS/,
                /integer/,
            );
        });
    });

    describe("validateQuayRegistry", function () {
        type Component = {
            kind: string;
            managed: boolean;
            [field: string]: unknown;
        };
        type Registry = {
            apiVersion: string;
            kind: string;
            metadata: { name: string; namespace: string };
            spec: {
                configBundleSecret: string;
                components: Component[];
                [field: string]: unknown;
            };
        };

        function validRegistry(): Registry {
            return {
                apiVersion: "quay.redhat.com/v1",
                kind: "QuayRegistry",
                metadata: { name: "quay", namespace: "quay-enterprise" },
                spec: {
                    configBundleSecret: "quay-config-bundle",
                    components: [
                        {
                            kind: "quay",
                            managed: true,
                            overrides: {
                                replicas: 2,
                                env: [{ name: "WORKER_COUNT_REGISTRY", value: "8" }],
                            },
                        },
                        { kind: "postgres", managed: false },
                        { kind: "clair", managed: true },
                        { kind: "clairpostgres", managed: false },
                        { kind: "redis", managed: false },
                        { kind: "horizontalpodautoscaler", managed: true },
                        { kind: "objectstorage", managed: false },
                        { kind: "route", managed: true },
                        {
                            kind: "mirror",
                            managed: true,
                            overrides: {
                                replicas: 1,
                                env: [
                                    {
                                        name: "REPO_MIRROR_SERVER_HOSTNAME",
                                        value: "quay.example.com",
                                    },
                                ],
                            },
                        },
                        { kind: "monitoring", managed: true },
                        { kind: "tls", managed: false },
                    ],
                },
            };
        }

        function component(registry: Registry, kind: string): Component {
            const found = registry.spec.components.find((c) => c.kind === kind);
            assert.ok(found, `fixture has no ${kind} component`);
            return found;
        }

        it("accepts a valid QuayRegistry with all eleven component kinds", function () {
            requireReference(this);
            const registry = validRegistry();
            assert.equal(registry.spec.components.length, 11);
            assertValid(validateQuayRegistry(registry));
        });

        it("rejects overrides on an unmanaged component (CEL rule)", function () {
            requireReference(this);
            const registry = validRegistry();
            component(registry, "postgres").overrides = {
                env: [{ name: "X", value: "1" }],
            };
            assertError(
                validateQuayRegistry(registry),
                /^\/spec\/components\/1: /,
                /cannot set overrides on unmanaged component/,
            );
        });

        it("evaluates the other CEL rules per component (secretRef)", function () {
            requireReference(this);
            const allowed = validRegistry();
            component(allowed, "tls").secretRef = { name: "quay-tls" };
            assertValid(validateQuayRegistry(allowed));

            const onManaged = validRegistry();
            component(onManaged, "route").secretRef = { name: "route-tls" };
            assertError(validateQuayRegistry(onManaged), /secretRef cannot be set on a managed component/);

            const emptyName = validRegistry();
            component(emptyName, "tls").secretRef = { name: "" };
            assertError(validateQuayRegistry(emptyName), /secretRef\.name must not be empty/);
        });

        it("rejects unknown fields where the schema does not preserve them", function () {
            requireReference(this);
            const inSpec = validRegistry();
            inSpec.spec.storageReplication = true;
            assertError(
                validateQuayRegistry(inSpec),
                /\/spec\/storageReplication/,
                /unknown field "storageReplication"/,
            );

            const inOverrides = validRegistry();
            component(inOverrides, "quay").overrides = { replica: 2 };
            assertError(validateQuayRegistry(inOverrides), /unknown field "replica"/);
        });

        it("rejects an unknown component kind", function () {
            requireReference(this);
            const registry = validRegistry();
            registry.spec.components.push({ kind: "builder", managed: true });
            assertError(validateQuayRegistry(registry), /\/spec\/components\/11\/kind/, /"builder"/);
        });

        it("rejects a component without managed, the wrong apiVersion, and bad metadata", function () {
            requireReference(this);
            const noManaged = validRegistry();
            noManaged.spec.components.push({ kind: "clair" } as Component);
            assertError(validateQuayRegistry(noManaged), /\/spec\/components\/11/, /"managed"/);

            assertError(
                validateQuayRegistry({
                    ...validRegistry(),
                    apiVersion: "quay.redhat.com/v1beta1",
                }),
                /apiVersion/,
            );
            assertError(
                validateQuayRegistry({
                    ...validRegistry(),
                    metadata: { name: "Quay_1", namespace: "q" },
                }),
                /\/metadata\/name/,
            );
        });

        it("applies structural types: int-or-string, nullable, string-only env values", function () {
            requireReference(this);
            for (const volumeSize of ["50Gi", 50]) {
                const registry = validRegistry();
                component(registry, "clair").overrides = { volumeSize };
                assertValid(validateQuayRegistry(registry));
            }
            for (const volumeSize of [true, 1.5, "fifty"]) {
                const registry = validRegistry();
                component(registry, "clair").overrides = { volumeSize };
                assertError(validateQuayRegistry(registry), /overrides\/volumeSize/);
            }

            const nullReplicas = validRegistry();
            component(nullReplicas, "quay").overrides = { replicas: null };
            assertValid(validateQuayRegistry(nullReplicas));

            const stringReplicas = validRegistry();
            component(stringReplicas, "quay").overrides = { replicas: "2" };
            assertError(validateQuayRegistry(stringReplicas), /overrides\/replicas/, /integer/);

            const numericEnv = validRegistry();
            component(numericEnv, "mirror").overrides = {
                env: [{ name: "WORKERS", value: 8 }],
            };
            assertError(validateQuayRegistry(numericEnv), /env\/0\/value/, /string/);
        });

        it("treats undefined members as absent, as serialisation does", function () {
            requireReference(this);
            const registry = validRegistry();
            component(registry, "postgres").overrides = undefined;
            assertValid(validateQuayRegistry(registry));
        });
    });
});
