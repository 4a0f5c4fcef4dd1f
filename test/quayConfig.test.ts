/**
 * The bundle renderer: what config.yaml and clair-config.yaml say, and that they say it the same
 * way every time. Validated against Quay's own schema where the reference folder is present.
 */
import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { BundleInput, bundleSha256, DATABASE_CA, postgresUrl, renderBundle, storageEntry } from "../lib/quayConfig";
import type { Site } from "../config/config";
import { REFERENCE_SKIP_MESSAGE, referenceDir, validateQuayConfig } from "./support/schemas";

const site = (name: string, cloud: "aws" | "azure", state: Site["state"] = "active"): Site => ({
    name,
    stack: name,
    cloud,
    region: cloud === "aws" ? "us-east-1" : "westeurope",
    state,
    endpoint: `${name}.example.com`,
});

function input(changes: Partial<BundleInput> = {}): BundleInput {
    return {
        hostname: "quay.example.com",
        sites: [site("usstorage", "aws"), site("eustorage", "azure")],
        database: {
            host: "db.example.com",
            port: 5432,
            quay: { name: "quay", user: "quay", password: "p@ss:w/rd?" },
            clair: { name: "clair", user: "clair", password: "clair pw" },
            clairPoolMaxConns: 33,
        },
        redis: { host: "redis.example.com", port: 6379, password: "redispw", tls: false },
        buckets: {
            usstorage: {
                cloud: "aws",
                bucket: "quay-us",
                storagePath: "/datastorage/registry",
                region: "us-east-1",
                accessKey: "AK",
                secretKey: "SK",
            },
            eustorage: {
                cloud: "azure",
                container: "quay",
                accountName: "quayeu",
                storagePath: "/datastorage/registry",
                accountKey: "AZK",
            },
        },
        secretKey: "s".repeat(64),
        databaseSecretKey: "d".repeat(64),
        quay: {
            authenticationType: "Database",
            defaultTagExpiration: "2w",
            tagExpirationOptions: ["2w"],
            superUsers: [],
        },
        tlsCertificate: "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----",
        tlsKey: "-----BEGIN PRIVATE KEY-----\nxyz\n-----END PRIVATE KEY-----\n\n",
        ...changes,
    };
}

function config(changes: Partial<BundleInput> = {}): Record<string, unknown> {
    return parse(renderBundle(input(changes))["config.yaml"]) as Record<string, unknown>;
}

describe("config bundle rendering", () => {
    it("holds exactly the four bundle files", () => {
        assert.deepEqual(Object.keys(renderBundle(input())).sort(), [
            "clair-config.yaml",
            "config.yaml",
            "ssl.cert",
            "ssl.key",
        ]);
    });

    it("turns replication on and lists every active site as default location and preference", () => {
        const c = config();
        assert.equal(c.FEATURE_STORAGE_REPLICATION, true);
        assert.deepEqual(c.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, ["usstorage", "eustorage"]);
        assert.deepEqual(c.DISTRIBUTED_STORAGE_PREFERENCE, ["usstorage", "eustorage"]);
        assert.deepEqual(Object.keys(c.DISTRIBUTED_STORAGE_CONFIG as object), ["eustorage", "usstorage"]);
    });

    it("sets every key of the facts table", () => {
        const c = config();
        for (const key of [
            "SERVER_HOSTNAME",
            "PREFERRED_URL_SCHEME",
            "DB_URI",
            "DB_CONNECTION_ARGS",
            "BUILDLOGS_REDIS",
            "USER_EVENTS_REDIS",
            "DATABASE_SECRET_KEY",
            "SECRET_KEY",
            "DISTRIBUTED_STORAGE_CONFIG",
            "DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS",
            "DISTRIBUTED_STORAGE_PREFERENCE",
            "FEATURE_STORAGE_REPLICATION",
            "USERFILES_LOCATION",
            "LOG_ARCHIVE_LOCATION",
            "ACTION_LOG_ARCHIVE_LOCATION",
            "AUTHENTICATION_TYPE",
            "DEFAULT_TAG_EXPIRATION",
            "TAG_EXPIRATION_OPTIONS",
        ]) {
            assert.ok(key in c, `config.yaml lacks ${key}`);
        }
        assert.equal(c.PREFERRED_URL_SCHEME, "https");
        assert.deepEqual(c.DB_CONNECTION_ARGS, { autorollback: true, sslmode: "require", threadlocals: true });
        assert.equal(c.USERFILES_LOCATION, "usstorage");
        assert.equal(c.LOG_ARCHIVE_LOCATION, "usstorage");
        assert.equal(c.ACTION_LOG_ARCHIVE_LOCATION, "usstorage");
    });

    it("uses exactly the S3 parameter names Quay reads, with the site's region", () => {
        assert.deepEqual(config().DISTRIBUTED_STORAGE_CONFIG, {
            usstorage: [
                "S3Storage",
                {
                    s3_bucket: "quay-us",
                    storage_path: "/datastorage/registry",
                    s3_region: "us-east-1",
                    s3_access_key: "AK",
                    s3_secret_key: "SK",
                },
            ],
            eustorage: [
                "AzureStorage",
                {
                    azure_account_name: "quayeu",
                    azure_container: "quay",
                    storage_path: "/datastorage/registry",
                    azure_account_key: "AZK",
                },
            ],
        });
    });

    it("omits s3_region for S3-compatible endpoints (it would force AWS's endpoint)", () => {
        const [, params] = storageEntry({
            cloud: "aws",
            bucket: "b",
            storagePath: "/p",
            region: "us-east-1",
            endpointUrl: "https://minio.example.com",
        });
        assert.deepEqual(params, { s3_bucket: "b", storage_path: "/p", endpoint_url: "https://minio.example.com" });
    });

    it("leaves S3 keys out when none are given (AWS default credential chain)", () => {
        const [, params] = storageEntry({ cloud: "aws", bucket: "b", storagePath: "/p", region: "eu-west-1" });
        assert.deepEqual(params, { s3_bucket: "b", storage_path: "/p", s3_region: "eu-west-1" });
    });

    it("authenticates Azure with the account key, the only credential Quay's AzureStorage uses", () => {
        const container = { cloud: "azure" as const, container: "c", accountName: "a", storagePath: "/p" };
        assert.deepEqual(storageEntry({ ...container, accountKey: "k" })[1], {
            azure_account_name: "a",
            azure_container: "c",
            storage_path: "/p",
            azure_account_key: "k",
        });
        assert.throws(() => storageEntry(container), /the Azure container c has no account key/);
    });

    it("percent-encodes the DB password and requires TLS", () => {
        assert.equal(config().DB_URI, "postgresql://quay:p%40ss%3Aw%2Frd%3F@db.example.com:5432/quay?sslmode=require");
        assert.equal(
            postgresUrl("2001:db8::5", 5432, { name: "quay", user: "quay", password: "x" }),
            "postgresql://quay:x@[2001:db8::5]:5432/quay?sslmode=require",
        );
    });

    it("gives Clair its own database in all three connection strings", () => {
        const clair = parse(renderBundle(input())["clair-config.yaml"]) as Record<string, { connstring: string }>;
        const expected = "postgresql://clair:clair%20pw@db.example.com:5432/clair?sslmode=require&pool_max_conns=33";
        assert.equal(clair.indexer.connstring, expected);
        assert.equal(clair.matcher.connstring, expected);
        assert.equal(clair.notifier.connstring, expected);
    });

    it("requires TLS in DB_CONNECTION_ARGS, the only options Quay's own connections read", () => {
        // data/database.py _db_from_url keeps host, port, user, password and database of DB_URI only.
        assert.deepEqual(config().DB_CONNECTION_ARGS, { autorollback: true, sslmode: "require", threadlocals: true });
    });

    it("verifies the server against a given CA: verify-full, with the CA where each pod mounts it", () => {
        const ca = "-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----";
        const changed = input();
        const withCa: BundleInput = { ...changed, database: { ...changed.database, caCertificate: ca } };
        const bundle = renderBundle(withCa);
        const c = parse(bundle["config.yaml"]) as Record<string, unknown>;
        assert.deepEqual(c.DB_CONNECTION_ARGS, {
            autorollback: true,
            sslmode: "verify-full",
            sslrootcert: "/conf/stack/database.pem",
            threadlocals: true,
        });
        assert.equal(
            c.DB_URI,
            "postgresql://quay:p%40ss%3Aw%2Frd%3F@db.example.com:5432/quay?sslmode=verify-full&sslrootcert=/conf/stack/database.pem",
        );
        const clair = parse(bundle["clair-config.yaml"]) as Record<string, { connstring: string }>;
        for (const part of ["indexer", "matcher", "notifier"]) {
            assert.equal(
                clair[part].connstring,
                "postgresql://clair:clair%20pw@db.example.com:5432/clair?sslmode=verify-full&sslrootcert=/var/run/certs/database.pem&pool_max_conns=33",
            );
        }
        // Quay's pods (and the lifecycle Jobs) read /conf/stack/<key>; Clair's, the extra_ca_cert_* Secret.
        assert.deepEqual(Object.keys(bundle).sort(), [
            "clair-config.yaml",
            "config.yaml",
            "database.pem",
            "extra_ca_cert_database.pem",
            "ssl.cert",
            "ssl.key",
        ]);
        assert.equal(bundle["database.pem"], `${ca}\n`);
        assert.equal(bundle["extra_ca_cert_database.pem"], `${ca}\n`);
        assert.deepEqual([DATABASE_CA.quayKey, DATABASE_CA.clairKey], ["database.pem", "extra_ca_cert_database.pem"]);
        assert.equal(renderBundle(withCa, { disablePushes: true })["database.pem"], `${ca}\n`);
    });

    it("sizes each of Clair's pools with pool_max_conns, and drops max_conn_pool (the matcher ignores it)", () => {
        const changed = input();
        const bundle = renderBundle({ ...changed, database: { ...changed.database, clairPoolMaxConns: 10 } });
        const clair = parse(bundle["clair-config.yaml"]) as Record<string, Record<string, unknown>>;
        const conn = "postgresql://clair:clair%20pw@db.example.com:5432/clair?sslmode=require&pool_max_conns=10";
        assert.deepEqual(clair.matcher, { connstring: conn, migrations: true });
        assert.equal(clair.indexer.connstring, conn);
        assert.equal(clair.notifier.connstring, conn);
        assert.ok(!bundle["clair-config.yaml"].includes("max_conn_pool"));
    });

    it("sets the Redis blocks with password, and ssl only when TLS is on", () => {
        assert.deepEqual(config().BUILDLOGS_REDIS, { host: "redis.example.com", port: 6379, password: "redispw" });
        const tls = config({ redis: { host: "r.example.com", port: 6380, password: "x", tls: true } });
        assert.deepEqual(tls.USER_EVENTS_REDIS, { host: "r.example.com", port: 6380, password: "x", ssl: true });
    });

    it("keeps a draining site's storage readable but out of the default locations and preference", () => {
        const c = config({ sites: [site("usstorage", "aws"), site("eustorage", "azure", "draining")] });
        assert.deepEqual(Object.keys(c.DISTRIBUTED_STORAGE_CONFIG as object).sort(), ["eustorage", "usstorage"]);
        assert.deepEqual(c.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS, ["usstorage"]);
        assert.deepEqual(c.DISTRIBUTED_STORAGE_PREFERENCE, ["usstorage"]);
    });

    it("drops a retired site's storage entirely", () => {
        const c = config({ sites: [site("usstorage", "aws"), site("eustorage", "azure", "retired")] });
        assert.deepEqual(Object.keys(c.DISTRIBUTED_STORAGE_CONFIG as object), ["usstorage"]);
    });

    it("writes PEM files with exactly one trailing newline", () => {
        const b = renderBundle(input());
        assert.equal(b["ssl.cert"], "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n");
        assert.equal(b["ssl.key"], "-----BEGIN PRIVATE KEY-----\nxyz\n-----END PRIVATE KEY-----\n");
    });

    it("renders the same bytes for the same input, keys sorted, no YAML aliases", () => {
        const a = renderBundle(input());
        const b = renderBundle(input());
        assert.deepEqual(a, b);
        const text = a["config.yaml"];
        const keys = text
            .split("\n")
            .filter((l) => /^[A-Z_]+:/.test(l))
            .map((l) => l.split(":")[0]);
        assert.deepEqual(keys, [...keys].sort());
        assert.ok(!/[&*]a\d/.test(text), "config.yaml must not use anchors/aliases");
    });

    it("hashes the bundle over sorted file names, and any byte changes the hash", () => {
        const a = renderBundle(input());
        const reordered = Object.fromEntries(Object.entries(a).reverse());
        assert.equal(bundleSha256(a), bundleSha256(reordered));
        assert.match(bundleSha256(a), /^[0-9a-f]{64}$/);
        assert.notEqual(bundleSha256(a), bundleSha256({ ...a, "ssl.key": `${a["ssl.key"]} ` }));
    });

    it("validates against Quay's config schema", function () {
        if (referenceDir() === undefined) {
            console.log(`      ${REFERENCE_SKIP_MESSAGE}`);
            this.skip();
        }
        assert.deepEqual(validateQuayConfig(config()), []);
        assert.deepEqual(
            validateQuayConfig(
                config({
                    quay: {
                        authenticationType: "LDAP",
                        defaultTagExpiration: "1d",
                        tagExpirationOptions: ["1d", "2w"],
                        superUsers: ["admin"],
                    },
                }),
            ),
            [],
        );
        const base = input();
        const ca = "-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----";
        assert.deepEqual(validateQuayConfig(config({ database: { ...base.database, caCertificate: ca } })), []);
    });
});
