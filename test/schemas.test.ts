/**
 * Tests of the schema validators themselves (test/support/schemas.ts): each must accept a known-good
 * document and reject known-bad ones with a message that says what is wrong, or the tests that rely on
 * them prove nothing. Then where the upstream schemas come from: the lookup (offline/manifests.ts), the
 * hash check on load, and `npm run schemas` (scripts/fetch-schemas.ts) against a local HTTP server.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import {
    FETCHED_SCHEMAS_DIR,
    findSchemaDir,
    readSchemaFile,
    schemaSearchPath,
    SHARED_REFERENCE_DIR,
    UPSTREAM_SCHEMAS,
    type UpstreamSchema,
} from "../offline/manifests";
import { fetchSchemas, upstreamUrl } from "../scripts/fetch-schemas";
import { PROJECT_DIR } from "./mocks";
import { scratchDir } from "./support/scratch";
import {
    REFERENCE_SKIP_MESSAGE,
    referenceDir,
    requireSchemas,
    schemasRequiredMessage,
    schemasSkipMessage,
    validateQuayConfig,
    validateQuayRegistry,
} from "./support/schemas";

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
    it("says in the skip message where it looked and what to run", function () {
        const where = process.env.QUAY_GEOREP_SCHEMAS
            ? `${path.resolve(process.env.QUAY_GEOREP_SCHEMAS)} (QUAY_GEOREP_SCHEMAS); point QUAY_GEOREP_SCHEMAS at a complete copy, or unset it and run \`npm run schemas\``
            : `${FETCHED_SCHEMAS_DIR} or ${SHARED_REFERENCE_DIR}; run \`npm run schemas\` to download them into ${FETCHED_SCHEMAS_DIR}, or provide ${SHARED_REFERENCE_DIR}`;
        assert.equal(
            REFERENCE_SKIP_MESSAGE,
            `upstream schemas not found: no complete set in ${where}; skipping validation against upstream schemas`,
        );
    });

    describe("validateQuayConfig", function () {
        it("accepts a minimal valid config", function () {
            requireSchemas(this);
            assertValid(validateQuayConfig(minimalQuayConfig()));
        });

        it("rejects a config missing a required key, naming it", function () {
            requireSchemas(this);
            const config = minimalQuayConfig();
            delete config.DB_URI;
            assertError(validateQuayConfig(config), /DB_URI/, /required/);
        });

        it("rejects a wrongly typed key, naming it", function () {
            requireSchemas(this);
            const errors = validateQuayConfig({
                ...minimalQuayConfig(),
                FEATURE_STORAGE_REPLICATION: "yes",
            });
            assertError(errors, /FEATURE_STORAGE_REPLICATION/, /boolean/);
        });

        it("rejects a value outside an enum or pattern", function () {
            requireSchemas(this);
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
            requireSchemas(this);
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
            requireSchemas(this);
            const registry = validRegistry();
            assert.equal(registry.spec.components.length, 11);
            assertValid(validateQuayRegistry(registry));
        });

        it("rejects overrides on an unmanaged component (CEL rule)", function () {
            requireSchemas(this);
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
            requireSchemas(this);
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
            requireSchemas(this);
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
            requireSchemas(this);
            const registry = validRegistry();
            registry.spec.components.push({ kind: "builder", managed: true });
            assertError(validateQuayRegistry(registry), /\/spec\/components\/11\/kind/, /"builder"/);
        });

        it("rejects a component without managed, the wrong apiVersion, and bad metadata", function () {
            requireSchemas(this);
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
            requireSchemas(this);
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
            requireSchemas(this);
            const registry = validRegistry();
            component(registry, "postgres").overrides = undefined;
            assertValid(validateQuayRegistry(registry));
        });
    });
});

// ---------------------------------------------------------------------------------------------------------
// Where the schemas come from
// ---------------------------------------------------------------------------------------------------------

function sha256Of(bytes: Buffer | string): string {
    return createHash("sha256").update(bytes).digest("hex");
}

/** A writable copy of the schemas the lookup found (the originals may be read-only), without `omit`. */
function copyOfSchemas(omit?: string): string {
    const from = referenceDir() as string;
    const to = scratchDir("schemas");
    for (const { file } of UPSTREAM_SCHEMAS.filter((s) => s.file !== omit)) {
        fs.mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
        fs.writeFileSync(path.join(to, file), fs.readFileSync(path.join(from, file)));
    }
    return to;
}

/**
 * What GitHub would serve for each pinned schema, made from the local copy: the CRDs as they are, and for
 * Quay's schema a Python module defining CONFIG_SCHEMA as that JSON (the real schema.py is not in the copy).
 * `schemas` is UPSTREAM_SCHEMAS with that module's hash as the upstream pin; the dumped JSON's pin is kept.
 */
function upstreamFromCopy(): { files: Map<string, Buffer>; schemas: UpstreamSchema[] } {
    const dir = referenceDir() as string;
    const files = new Map<string, Buffer>();
    const schemas = UPSTREAM_SCHEMAS.map((s) => {
        const local = fs.readFileSync(path.join(dir, s.file));
        // A JSON string literal is a Python string literal too.
        const served =
            s.pythonVariable === undefined
                ? local
                : Buffer.from(
                      `import json\n${s.pythonVariable} = json.loads(${JSON.stringify(local.toString("utf8"))})\n`,
                  );
        files.set(`/${s.repo}/${s.commit}/${s.path}`, served);
        return { ...s, upstreamSha256: sha256Of(served) };
    });
    return { files, schemas };
}

interface Server {
    readonly baseUrl: string;
    /** Paths requested, in order. */
    readonly requests: string[];
    close(): Promise<void>;
}

/** Serves `files` (by URL path) on 127.0.0.1, 404 for anything else, as raw.githubusercontent.com does. */
async function serve(files: ReadonlyMap<string, Buffer>): Promise<Server> {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
        requests.push(req.url ?? "");
        const body = files.get(req.url ?? "");
        res.writeHead(body === undefined ? 404 : 200, { "content-type": "text/plain; charset=utf-8" });
        res.end(body ?? "404: Not Found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        baseUrl: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

describe("upstream schemas", function () {
    describe("lookup", function () {
        it("looks in $QUAY_GEOREP_SCHEMAS alone when set, else in .schemas, then ../shared/reference", function () {
            assert.equal(FETCHED_SCHEMAS_DIR, path.join(PROJECT_DIR, ".schemas"));
            assert.equal(SHARED_REFERENCE_DIR, path.resolve(PROJECT_DIR, "..", "shared", "reference"));
            assert.deepEqual(schemaSearchPath({}), [FETCHED_SCHEMAS_DIR, SHARED_REFERENCE_DIR]);
            assert.deepEqual(schemaSearchPath({ QUAY_GEOREP_SCHEMAS: "" }), [
                FETCHED_SCHEMAS_DIR,
                SHARED_REFERENCE_DIR,
            ]);
            assert.deepEqual(schemaSearchPath({ QUAY_GEOREP_SCHEMAS: "/srv/schemas" }), ["/srv/schemas"]);
        });

        it("takes the first folder that holds every schema", function () {
            requireSchemas(this);
            const [first, second] = [copyOfSchemas(), copyOfSchemas()];
            const partial = copyOfSchemas("olm/operators.coreos.com_operatorgroups.yaml");
            assert.equal(findSchemaDir([partial, first, second]), first);
            assert.equal(findSchemaDir([second, first]), second);
            assert.equal(findSchemaDir([partial, scratchDir("schemas")]), undefined);
        });

        it("refuses a schema file that is not the pinned upstream file", function () {
            requireSchemas(this);
            const dir = copyOfSchemas();
            const file = path.join(dir, "quay", "config-schema.json");
            fs.appendFileSync(file, " ");
            assert.throws(() => readSchemaFile(dir, "quay/config-schema.json"), {
                message:
                    `${file}: SHA-256 is ${sha256Of(fs.readFileSync(file))}, not the pinned ` +
                    `bf9463313ce0f3a80aae07c521ce494d617ab32b29402d441ba38608653edbbf (quay/quay util/config/schema.py at ` +
                    "ffba0c70e2d8d522290a4fbbaa704dbf2fc37f34); refusing a modified or stale copy: delete it and run `npm run schemas`",
            });
        });

        it("fails instead of skipping under CI=true, saying where it looked and what to run", function () {
            const empty = scratchDir("schemas");
            assert.equal(referenceDir({ QUAY_GEOREP_SCHEMAS: empty }), undefined);
            assert.throws(() => referenceDir({ QUAY_GEOREP_SCHEMAS: empty, CI: "true" }), {
                message:
                    `upstream schemas not found: no complete set in ${empty} (QUAY_GEOREP_SCHEMAS); point QUAY_GEOREP_SCHEMAS ` +
                    "at a complete copy, or unset it and run `npm run schemas` (CI=true: a missing schema fails the test instead of skipping it)",
            });
            assert.equal(
                schemasRequiredMessage({ CI: "true" }),
                `upstream schemas not found: no complete set in ${FETCHED_SCHEMAS_DIR} or ${SHARED_REFERENCE_DIR}; run ` +
                    `\`npm run schemas\` to download them into ${FETCHED_SCHEMAS_DIR}, or provide ${SHARED_REFERENCE_DIR} ` +
                    "(CI=true: a missing schema fails the test instead of skipping it)",
            );
        });

        it("makes a test skip without the schemas, and fail under CI=true", function () {
            const saved = { schemas: process.env.QUAY_GEOREP_SCHEMAS, ci: process.env.CI };
            const skipped = new Error("skipped");
            const ctx = {
                skip: () => {
                    throw skipped;
                },
            } as unknown as Mocha.Context;
            try {
                process.env.QUAY_GEOREP_SCHEMAS = scratchDir("schemas");
                delete process.env.CI;
                const printed: unknown[] = [];
                const log = console.log;
                console.log = (...args: unknown[]) => printed.push(...args);
                try {
                    assert.throws(() => requireSchemas(ctx), skipped);
                } finally {
                    console.log = log;
                }
                assert.deepEqual(printed, [`      skipped: ${schemasSkipMessage()}`]);
                process.env.CI = "true";
                assert.throws(
                    () => requireSchemas(ctx),
                    /^Error: upstream schemas not found: .*\(CI=true: a missing schema fails/,
                );
            } finally {
                for (const [name, value] of [
                    ["QUAY_GEOREP_SCHEMAS", saved.schemas],
                    ["CI", saved.ci],
                ] as const) {
                    if (value === undefined) delete process.env[name];
                    else process.env[name] = value;
                }
            }
        });
    });

    describe("npm run schemas (scripts/fetch-schemas.ts)", function () {
        let server: Server | undefined;

        afterEach(async function () {
            await server?.close();
            server = undefined;
        });

        it("downloads each pinned file from <base>/<owner>/<repo>/<commit>/<path> into a folder laid out like ../shared/reference", async function () {
            requireSchemas(this);
            const { files, schemas } = upstreamFromCopy();
            server = await serve(files);
            const out = path.join(scratchDir("schemas"), ".schemas");

            const written = await fetchSchemas({ out, baseUrl: server.baseUrl, schemas });

            assert.deepEqual(server.requests, [
                "/quay/quay-operator/328d8864f528a87c2f6cdc3022058e42a546aa9b/bundle/manifests/quayregistries.crd.yaml",
                "/quay/quay/ffba0c70e2d8d522290a4fbbaa704dbf2fc37f34/util/config/schema.py",
                "/operator-framework/api/3048ccdc52d1858783800c6d40305357aff66c8c/crds/operators.coreos.com_subscriptions.yaml",
                "/operator-framework/api/3048ccdc52d1858783800c6d40305357aff66c8c/crds/operators.coreos.com_operatorgroups.yaml",
            ]);
            assert.deepEqual(
                written.map((w) => path.relative(out, w.path)),
                UPSTREAM_SCHEMAS.map((s) => path.normalize(s.file)),
            );
            assert.deepEqual(
                fs.readdirSync(out, { recursive: true, encoding: "utf8" }).sort(),
                ["olm", "quay", "quay-operator", ...UPSTREAM_SCHEMAS.map((s) => path.normalize(s.file))].sort(),
            );
            // The CRDs byte for byte, and CONFIG_SCHEMA dumped by python3 to exactly the pinned JSON.
            for (const { file, sha256 } of UPSTREAM_SCHEMAS) {
                assert.equal(sha256Of(fs.readFileSync(path.join(out, file))), sha256, file);
            }
            assert.equal(findSchemaDir([out]), out);
        });

        it("builds GitHub's raw URLs by default", function () {
            assert.deepEqual(
                UPSTREAM_SCHEMAS.map((s) => upstreamUrl(s)),
                [
                    "https://raw.githubusercontent.com/quay/quay-operator/328d8864f528a87c2f6cdc3022058e42a546aa9b/bundle/manifests/quayregistries.crd.yaml",
                    "https://raw.githubusercontent.com/quay/quay/ffba0c70e2d8d522290a4fbbaa704dbf2fc37f34/util/config/schema.py",
                    "https://raw.githubusercontent.com/operator-framework/api/3048ccdc52d1858783800c6d40305357aff66c8c/crds/operators.coreos.com_subscriptions.yaml",
                    "https://raw.githubusercontent.com/operator-framework/api/3048ccdc52d1858783800c6d40305357aff66c8c/crds/operators.coreos.com_operatorgroups.yaml",
                ],
            );
        });

        it("refuses a file whose SHA-256 is not the pinned one and writes nothing, not even the files before it", async function () {
            requireSchemas(this);
            const { files, schemas } = upstreamFromCopy();
            const key =
                "/operator-framework/api/3048ccdc52d1858783800c6d40305357aff66c8c/crds/operators.coreos.com_operatorgroups.yaml";
            const tampered = Buffer.concat([files.get(key) as Buffer, Buffer.from("# edited\n")]);
            files.set(key, tampered);
            server = await serve(files);
            const out = path.join(scratchDir("schemas"), ".schemas");

            await assert.rejects(fetchSchemas({ out, baseUrl: server.baseUrl, schemas }), {
                message:
                    `${server.baseUrl}${key}: SHA-256 is ${sha256Of(tampered)}, not the pinned ` +
                    `dbde712a47a115c4522728645cc02eba6e099f17c3d17dda84dbafcf6fd2935c; nothing written to ${out}`,
            });
            assert.equal(server.requests.length, 4);
            assert.equal(fs.existsSync(out), false);
        });

        it("refuses a file the server does not have (HTTP 404) and writes nothing", async function () {
            requireSchemas(this);
            const { files, schemas } = upstreamFromCopy();
            const key =
                "/operator-framework/api/3048ccdc52d1858783800c6d40305357aff66c8c/crds/operators.coreos.com_subscriptions.yaml";
            files.delete(key);
            server = await serve(files);
            const out = path.join(scratchDir("schemas"), ".schemas");

            await assert.rejects(fetchSchemas({ out, baseUrl: server.baseUrl, schemas }), {
                message: `${server.baseUrl}${key}: HTTP 404 Not Found; nothing written to ${out}`,
            });
            assert.equal(fs.existsSync(out), false);
        });

        it("never runs a schema.py whose hash is not the pinned one", async function () {
            requireSchemas(this);
            const { files } = upstreamFromCopy();
            server = await serve(files);
            const out = path.join(scratchDir("schemas"), ".schemas");
            const key = "/quay/quay/ffba0c70e2d8d522290a4fbbaa704dbf2fc37f34/util/config/schema.py";

            // The real pins: the stand-in module is not upstream's schema.py, so it is refused before python3 runs.
            await assert.rejects(fetchSchemas({ out, baseUrl: server.baseUrl }), {
                message:
                    `${server.baseUrl}${key}: SHA-256 is ${sha256Of(files.get(key) as Buffer)}, not the pinned ` +
                    `f60c792953732d2333a514bc7becfbfd265b9bc1a86b49ca2d244768267bc3de; nothing written to ${out}`,
            });
            assert.equal(fs.existsSync(out), false);
        });
    });
});
