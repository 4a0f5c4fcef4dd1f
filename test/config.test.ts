/**
 * The config contract: one valid fixture (two sites, services in mode `existing`), one change
 * per test, and the exact message each rule gives.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as util from "node:util";
import { ConfigError, KNOWN_KEYS, parseConfig, QuayGeorepConfig } from "../config/config";
import { freezeShared } from "../config/sharedFrozen";
import { projectValues, readRawConfig, secretPlacement } from "../config/load";
import { parseSites } from "../config/sites";
import { ObjectReader, Problems, SecretValue } from "../config/validate";
import { PROJECT } from "./mocks";

const SITES = [
    { name: "usstorage", stack: "us", cloud: "aws", region: "us-east-1", endpoint: "router.us.example.com" },
    { name: "eustorage", stack: "eu", cloud: "azure", region: "westeurope", endpoint: "router.eu.example.com" },
];

/** The valid fixture, as the CLI would pass it: full keys, structured values as JSON text. */
function fixture(): Record<string, unknown> {
    return {
        hostname: "quay.example.com",
        sharedStack: "us",
        sites: SITES,
        database: { mode: "existing", host: "db.example.com", port: 5432 },
        redis: { mode: "existing", host: "redis.example.com" },
        storage: {
            mode: "existing",
            buckets: {
                usstorage: { bucket: "quay-us" },
                eustorage: { container: "quay", accountName: "quayeu" },
            },
        },
        lifecycle: { quayImage: "registry.redhat.io/quay/quay-rhel9:v3.18.0" },
        tlsCertificate: "CERT",
        tlsKey: "KEY",
        databasePassword: "dbpass",
        clairDatabasePassword: "clairpass",
        redisPassword: "redispass",
        secretKey: "quay-secret",
        databaseSecretKey: "quay-db-secret",
        storageCredentials: { eustorage: { accountKey: "azkey" } },
    };
}

const SECRETS = [
    "tlsKey",
    "databasePassword",
    "clairDatabasePassword",
    "redisPassword",
    "secretKey",
    "databaseSecretKey",
    "storageCredentials",
    "kubeconfig",
];

/** Parses the fixture with changes (`undefined` deletes a key) for a stack. */
function parse(
    changes: Record<string, unknown> = {},
    stack = "us",
    plaintext: readonly string[] = [],
): QuayGeorepConfig {
    const merged: Record<string, unknown> = { ...fixture(), ...changes };
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(merged)) {
        if (v !== undefined) flat[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    }
    const isSecret = (full: string) => SECRETS.some((k) => full === `${PROJECT}:${k}` && !plaintext.includes(k));
    const { raw, plaintextKeys } = readRawConfig(PROJECT, flat, isSecret);
    return parseConfig(raw, { project: PROJECT, stack, plaintextKeys });
}

/** The problems a change causes (fails when it parses). */
function problems(
    changes: Record<string, unknown>,
    stack = "us",
    plaintext: readonly string[] = [],
): readonly string[] {
    try {
        parse(changes, stack, plaintext);
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
    assert.fail("expected a ConfigError");
}

function withSite(i: number, change: Record<string, unknown>) {
    return { sites: SITES.map((s, j) => (j === i ? { ...s, ...change } : s)) };
}

describe("config parser", () => {
    it("accepts the fixture and fills every default", () => {
        const cfg = parse();
        assert.equal(cfg.hostname, "quay.example.com");
        assert.equal(cfg.sharedStack, "us");
        assert.deepEqual(
            cfg.sites.map((s) => [s.name, s.state]),
            [
                ["usstorage", "active"],
                ["eustorage", "active"],
            ],
        );
        assert.equal(cfg.stack.namespace, "quay-enterprise");
        assert.equal(cfg.stack.registryName, "quay");
        assert.equal(cfg.stack.bundleSecretName, "georep-config-bundle");
        assert.equal(cfg.stack.clusterName, "us");
        assert.deepEqual(cfg.stack.components, { clair: true, horizontalpodautoscaler: true, monitoring: true });
        assert.equal(cfg.stack.replicas, undefined);
        assert.equal(cfg.database.port, 5432);
        assert.deepEqual(cfg.database.quay, { name: "quay", user: "quay" });
        assert.deepEqual(cfg.database.clair, { name: "clair", user: "clair" });
        assert.equal(cfg.redis.port, 6379);
        assert.deepEqual(cfg.storage.buckets.usstorage, {
            cloud: "aws",
            bucket: "quay-us",
            storagePath: "/datastorage/registry",
        });
        assert.deepEqual(cfg.quay, {
            authenticationType: "Database",
            defaultTagExpiration: "2w",
            tagExpirationOptions: ["2w"],
            superUsers: [],
        });
    });

    it("returns a deeply frozen object", () => {
        const cfg = parse();
        assert.ok(Object.isFrozen(cfg));
        assert.ok(Object.isFrozen(cfg.sites));
        assert.ok(Object.isFrozen(cfg.sites[0]));
        assert.ok(Object.isFrozen(cfg.stack.storagePreference));
        assert.throws(() => (cfg.sites as unknown as unknown[]).push({}));
    });

    it("keeps secrets wrapped so they never print", () => {
        const cfg = parse();
        const key = cfg.secrets?.tlsKey;
        assert.ok(key instanceof SecretValue);
        assert.equal(key.reveal(), "KEY");
        assert.equal(String(key), "<secret>");
        assert.equal(
            JSON.stringify(cfg.secrets),
            JSON.stringify({
                tlsCertificate: "<secret>",
                tlsKey: "<secret>",
                databasePassword: "<secret>",
                clairDatabasePassword: "<secret>",
                redisPassword: "<secret>",
                secretKey: "<secret>",
                databaseSecretKey: "<secret>",
                storageCredentials: { eustorage: { accountKey: "<secret>" } },
            }),
        );
        assert.ok(!util.inspect(cfg, { depth: 10 }).includes("dbpass"));
    });

    it("orders the storage preference: own site first, then the other active sites", () => {
        assert.deepEqual(parse({}, "us").stack.storagePreference, ["usstorage", "eustorage"]);
        assert.deepEqual(parse({}, "eu").stack.storagePreference, ["eustorage", "usstorage"]);
    });

    it("takes an explicit storagePreference as given", () => {
        assert.deepEqual(parse({ storagePreference: ["eustorage"] }, "us").stack.storagePreference, ["eustorage"]);
    });

    it("gives only the shared stack the shared secrets, and warns when another stack sets them", () => {
        const eu = parse({}, "eu");
        assert.equal(eu.secrets, undefined);
        assert.equal(eu.stack.isShared, false);
        assert.ok(eu.warnings.includes('tlsKey is set on stack "eu" but only the shared stack "us" reads it'));
    });

    it("lets a dedicated shared stack deploy no site", () => {
        const cfg = parse({ sharedStack: "global" }, "global");
        assert.equal(cfg.stack.isShared, true);
        assert.equal(cfg.stack.site, undefined);
        assert.deepEqual(cfg.stack.storagePreference, []);
    });

    it("sets replicas (default 2) only when the HPA is unmanaged", () => {
        const cfg = parse({ components: { horizontalpodautoscaler: false } });
        assert.deepEqual(cfg.stack.replicas, { quay: 2, mirror: 2 });
        const sized = parse({ components: { horizontalpodautoscaler: false }, replicas: { quay: 4, mirror: 3 } });
        assert.deepEqual(sized.stack.replicas, { quay: 4, mirror: 3 });
    });

    it("accepts string forms the CLI stores for numbers and booleans", () => {
        const cfg = parse({
            database: { mode: "existing", host: "db.example.com", port: "6432" },
            components: { clair: "false" },
        });
        assert.equal(cfg.database.port, 6432);
        assert.equal(cfg.stack.components.clair, false);
    });
});

describe("config validation messages", () => {
    it("reports an unknown key, suggesting the closest", () => {
        assert.deepEqual(problems({ hostnme: "x" }), [
            `hostnme: "hostnme" is not a known key; did you mean "hostname"? Valid keys: ${KNOWN_KEYS.join(", ")}`,
        ]);
    });

    it("reports an unknown key inside a site", () => {
        assert.deepEqual(problems(withSite(0, { regoin: "x" })), [
            'sites[0].regoin: "regoin" is not a known key; did you mean "region"? Valid keys: name, stack, cloud, region, state, endpoint',
        ]);
    });

    it("rejects duplicate site names and endpoints", () => {
        const copy = { ...SITES[0], stack: "ap", region: "us-west-2" };
        assert.deepEqual(problems({ sites: [...SITES, copy] }), [
            'sites[2].name: "usstorage" duplicates sites[0].name; site names must be unique (each is a storage location ID)',
            'sites[2].endpoint: "router.us.example.com" duplicates sites[0].endpoint; each site\'s cluster has its own router endpoint',
        ]);
    });

    it("rejects a bad location ID, once (not again for its bucket)", () => {
        const storage = {
            mode: "existing",
            buckets: { "US Storage": { bucket: "quay-us" }, eustorage: { container: "quay", accountName: "quayeu" } },
        };
        assert.deepEqual(problems({ ...withSite(0, { name: "US Storage" }), storage }), [
            'sites[0].name: "US Storage" is not a valid storage location ID; use lower-case letters, digits and "_", starting with a letter (e.g. "usstorage")',
        ]);
    });

    it("takes site names of 24 characters and more, with _, and refuses one whose derived names cannot fit", () => {
        const ok = "eu_west_secondary_storage_02";
        const storage = (name: string) => ({
            mode: "existing",
            buckets: { usstorage: { bucket: "quay-us" }, [name]: { container: "quay", accountName: "quayeu" } },
        });
        const creds = (name: string) => ({ storageCredentials: { [name]: { accountKey: "azkey" } } });
        assert.equal(parse({ ...withSite(1, { name: ok }), storage: storage(ok), ...creds(ok) }).sites[1].name, ok);
        const long = `eu_${"x".repeat(57)}`;
        assert.deepEqual(problems({ ...withSite(1, { name: long }), storage: storage(long), ...creds(long) }), [
            `sites[1].name: ${JSON.stringify(long).slice(0, 57)}... gives the Azure resource group "quay-georep-storage-${long}-rg" plus a random suffix, over Azure's 90 characters; use a name of at most 58 characters`,
        ]);
    });

    it("rejects an unknown cloud", () => {
        assert.deepEqual(problems(withSite(0, { cloud: "gcp" })), [
            'sites[0].cloud: "gcp" is not allowed; use one of: aws, azure',
        ]);
    });

    it("rejects a region that does not exist in the site's cloud", () => {
        assert.deepEqual(problems(withSite(0, { region: "eu-west-9" })), [
            'sites[0].region: "eu-west-9" is not an AWS region; use e.g. "eu-west-1"',
        ]);
        assert.deepEqual(problems(withSite(1, { region: "eu-west-1" })), [
            'sites[1].region: "eu-west-1" is not an Azure region; use e.g. "westeurope"',
        ]);
    });

    it("rejects an unknown state", () => {
        assert.deepEqual(problems(withSite(1, { state: "paused" })), [
            'sites[1].state: "paused" is not allowed; use one of: active, draining, retired',
        ]);
    });

    it("rejects an endpoint that is neither a hostname nor an IP", () => {
        assert.deepEqual(problems(withSite(0, { endpoint: "http://router" })), [
            'sites[0].endpoint: "http://router" is neither a hostname nor an IP address; use e.g. "router.us.example.com" or "203.0.113.10"',
        ]);
    });

    it("requires an endpoint for a site that is not retired", () => {
        assert.deepEqual(problems(withSite(0, { endpoint: undefined })), [
            'sites[0].endpoint: (missing) is required; set the hostname or IP of this cluster\'s router (its ingress), e.g. "router.us.example.com"',
        ]);
    });

    it("rejects two live sites deployed by one stack", () => {
        assert.deepEqual(problems(withSite(1, { stack: "us" })), [
            'sites[1].stack: "us" already deploys site "usstorage"; give each site its own stack (one stack deploys one cluster)',
        ]);
    });

    it("rejects a topology with no active site", () => {
        const sites = SITES.map((s) => ({ ...s, state: "draining" }));
        assert.deepEqual(problems({ sites }), [
            'sites: ["usstorage:draining","eustorage:draining"] has no active site; keep at least one site in state active',
        ]);
    });

    it("rejects a storagePreference naming an unknown or retired site", () => {
        const retired = withSite(1, { state: "retired" });
        assert.deepEqual(problems({ ...retired, storagePreference: ["usstorage", "eustorage", "apstorage"] }), [
            'storagePreference[1]: "eustorage" is retired; remove it; new blobs must land on an active site (usstorage)',
            'storagePreference[2]: "apstorage" is not a site; use one of: usstorage',
        ]);
    });

    it("rejects an empty or repetitive storagePreference", () => {
        assert.deepEqual(problems({ storagePreference: [] }), [
            "storagePreference: [] is empty; list at least one active site, e.g. [usstorage, eustorage]",
        ]);
        assert.deepEqual(problems({ storagePreference: ["usstorage", "usstorage"] }), [
            'storagePreference[1]: "usstorage" is listed twice; list each site once',
        ]);
    });

    it("rejects a hostname that is not a DNS name", () => {
        assert.deepEqual(problems({ hostname: "quay_registry" }), [
            'hostname: "quay_registry" is not a DNS name; use a fully qualified name such as "quay.example.com"',
        ]);
    });

    it("names every missing secret of the shared stack", () => {
        assert.deepEqual(problems({ tlsKey: undefined, redisPassword: undefined, storageCredentials: undefined }), [
            "tlsKey: (missing) is required on the shared stack (private key (PEM) of that certificate); run: pulumi config set --secret quay-georep:tlsKey <value>",
            "redisPassword: (missing) is required on the shared stack (the Redis requirepass password); run: pulumi config set --secret quay-georep:redisPassword <value>",
            "storageCredentials.eustorage: (missing) needs accountKey for an Azure container; run: pulumi config set --secret --path quay-georep:storageCredentials.eustorage.accountKey <key>",
        ]);
    });

    it("refuses an Azure SAS token alone: Quay's AzureStorage authenticates with the account key only", () => {
        assert.deepEqual(problems({ storageCredentials: { eustorage: { sasToken: "sv=2024" } } }), [
            'storageCredentials.eustorage.sasToken: "<secret>" cannot work alone: Quay\'s AzureStorage authenticates with the account key only (storage/azurestorage.py); run: pulumi config set --secret --path quay-georep:storageCredentials.eustorage.accountKey <key>',
        ]);
    });

    it("warns that an Azure SAS token next to the account key is not used", () => {
        const cfg = parse({ storageCredentials: { eustorage: { accountKey: "k", sasToken: "sv=2024" } } });
        assert.ok(
            cfg.warnings.includes(
                "storageCredentials.eustorage.sasToken is set but not used: Quay's AzureStorage authenticates with the account key only; remove it: pulumi config rm --path quay-georep:storageCredentials.eustorage.sasToken",
            ),
        );
    });

    it("refuses a key in an unknown config namespace, suggesting the project's", () => {
        // As the CLI passes them: every key of the stack's config, in every namespace.
        const cfg = (foreign: string[]) => () => {
            const flat: Record<string, string> = Object.fromEntries(foreign.map((k) => [k, "x"]));
            for (const [k, v] of Object.entries(fixture())) {
                flat[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
            }
            const isSecret = (full: string) => SECRETS.some((k) => full === `${PROJECT}:${k}`);
            const { raw, plaintextKeys, foreignKeys } = readRawConfig(PROJECT, flat, isSecret);
            return parseConfig(raw, { project: PROJECT, stack: "eu", plaintextKeys, foreignKeys });
        };
        assert.throws(cfg(["quay-georp:kubeContext"]), (err: ConfigError) => {
            assert.deepEqual(err.problems, [
                'quay-georp:kubeContext: "quay-georp" is not a config namespace this program reads; did you mean "quay-georep:kubeContext"? remove it or use one of: quay-georep, pulumi, aws, azure-native, kubernetes, postgresql, random',
            ]);
            return true;
        });
        assert.doesNotThrow(cfg(["pulumi:disable-default-providers", "aws:region", "kubernetes:context"]));
    });

    it("checks the accounts providers are pinned to", () => {
        assert.deepEqual(problems({ accounts: { aws: ["12345", 123456789012], azure: "my-subscription" } }), [
            'accounts.aws[0]: "12345" is not an AWS account ID; use the 12 digits, as a string, e.g. "123456789012"',
            'accounts.aws[1]: 123456789012 is not an AWS account ID; use the 12 digits, as a string, e.g. "123456789012"',
            'accounts.azure: "my-subscription" is not an Azure subscription ID; use the subscription\'s GUID (az account show --query id)',
        ]);
        assert.deepEqual(parse({ accounts: { aws: ["123456789012"] } }).accounts, { aws: ["123456789012"] });
    });

    it("refuses upper-case host names, and takes IPv4-mapped IPv6 endpoints", () => {
        assert.deepEqual(
            problems({ hostname: "Quay.Example.com", ...withSite(1, { endpoint: "Router.EU.example.com" }) }),
            [
                'hostname: "Quay.Example.com" has upper-case letters; write it in lower case: "quay.example.com"',
                'sites[1].endpoint: "Router.EU.example.com" has upper-case letters; write it in lower case: "router.eu.example.com"',
            ],
        );
        assert.equal(parse(withSite(1, { endpoint: "::ffff:198.51.100.1" })).sites[1].endpoint, "::ffff:198.51.100.1");
        for (const endpoint of [":::::::", "ab:cd"]) {
            assert.deepEqual(problems(withSite(1, { endpoint })), [
                `sites[1].endpoint: "${endpoint}" is neither a hostname nor an IP address; use e.g. "router.us.example.com" or "203.0.113.10"`,
            ]);
        }
    });

    it("does not ask non-shared stacks for shared secrets", () => {
        assert.doesNotThrow(() =>
            parse({ tlsKey: undefined, tlsCertificate: undefined, databasePassword: undefined }, "eu"),
        );
    });

    it("refuses a secret stored in plain text", () => {
        assert.deepEqual(problems({}, "us", ["tlsKey"]), [
            'tlsKey: "<plain text>" is a secret stored in plain text; store it encrypted: pulumi config set --secret quay-georep:tlsKey (use --path for nested keys)',
        ]);
    });

    it("reuses the Quay password for Clair when both use one role", () => {
        const cfg = parse({
            database: { mode: "existing", host: "db.example.com", clair: { name: "clair", user: "quay" } },
            clairDatabasePassword: undefined,
        });
        assert.equal(cfg.secrets?.clairDatabasePassword?.reveal(), "dbpass");
    });

    it("requires a bucket for every site in existing storage mode", () => {
        assert.deepEqual(problems({ storage: { mode: "existing", buckets: { usstorage: { bucket: "quay-us" } } } }), [
            "storage.buckets.eustorage: (missing) is required; name eustorage's existing Azure container there",
        ]);
    });

    it("rejects credentials that do not fit the site's cloud", () => {
        assert.deepEqual(
            problems({ storageCredentials: { eustorage: { accountKey: "k" }, usstorage: { accountKey: "k" } } }),
            [
                'storageCredentials.usstorage.accountKey: "accountKey" is not a credential of a aws bucket; use accessKey or secretKey',
            ],
        );
    });

    it("refuses replicas while the HPA is managed", () => {
        assert.deepEqual(problems({ replicas: { quay: 3 } }), [
            'replicas: "<set>" cannot be set while components.horizontalpodautoscaler is managed (the operator refuses replicas other than 0); remove replicas, or set components.horizontalpodautoscaler: false to size the deployments yourself',
        ]);
    });

    it("refuses to unmanage what geo-replication fixes", () => {
        assert.deepEqual(problems({ components: { objectstorage: true } }), [
            'components.objectstorage: "objectstorage" cannot be chosen: geo-replication fixes it; remove it (quay, route and mirror are always managed; objectstorage, postgres, redis, clairpostgres and tls never are)',
        ]);
    });

    it("rejects a Kubernetes name that the API server would refuse", () => {
        assert.deepEqual(problems({ namespace: "Quay_Enterprise" }), [
            "namespace: \"Quay_Enterprise\" is not a Kubernetes name; use lower-case letters, digits and '-', at most 63 characters",
        ]);
    });

    it("rejects a default tag expiration that is not among the options", () => {
        assert.deepEqual(problems({ quay: { defaultTagExpiration: "4w", tagExpirationOptions: ["2w"] } }), [
            'quay.tagExpirationOptions: ["2w"] does not contain the default "4w"; add quay.defaultTagExpiration to the list (Quay refuses a default that is not an option)',
        ]);
    });

    it("collects every problem at once", () => {
        const found = problems({ hostname: "bad_host", ...withSite(0, { cloud: "gcp" }), namespace: "Bad" });
        assert.equal(found.length, 3);
        let err: unknown;
        try {
            parse({ hostname: "bad_host", namespace: "Bad" });
        } catch (e) {
            err = e;
        }
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^quay-georep configuration for stack "us" has 2 problems:\n {2}- hostname: /);
    });
});

describe("config: where secrets are written", () => {
    const project = `name: quay-georep
config:
  hostname: quay.example.com
  redisPassword:
    secure: v1:abc
  database:
    value:
      mode: existing
      admin:
        password:
          secure: v1:def
`;
    const stack = `config:
  quay-georep:tlsKey:
    secure: v1:ghi
  quay-georep:storageCredentials:
    usstorage:
      accessKey:
        secure: v1:jkl
      secretKey: PLAINTEXT
    eustorage:
      accountKey:
        secure: v1:mno
  quay-georep:namespace: quay-enterprise
`;

    it("finds secure: values in Pulumi.yaml and plain-text leaves under secret keys, by path", () => {
        assert.deepEqual(secretPlacement(PROJECT, project, stack), {
            secureInProject: ["redisPassword", "database.admin.password"],
            plaintextLeaves: ["storageCredentials.usstorage.secretKey"],
        });
    });

    it("finds nothing in the example's files, or where a file is absent", () => {
        const read = (f: string) => fs.readFileSync(f, "utf8");
        for (const s of ["us", "eu"]) {
            assert.deepEqual(secretPlacement(PROJECT, read("Pulumi.yaml"), read(`Pulumi.${s}.yaml`)), {
                secureInProject: [],
                plaintextLeaves: [],
            });
        }
        assert.deepEqual(secretPlacement(PROJECT, undefined, undefined), { secureInProject: [], plaintextLeaves: [] });
    });

    it("refuses both, naming the key path", () => {
        const found = secretPlacement(PROJECT, project, stack);
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(fixture()))
            flat[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
        const { raw } = readRawConfig(PROJECT, flat, (full) => SECRETS.some((k) => full === `${PROJECT}:${k}`));
        assert.throws(
            () => parseConfig(raw, { project: PROJECT, stack: "us", ...found }),
            (err: ConfigError) => {
                assert.deepEqual(err.problems, [
                    'redisPassword: "<secure>" is a secret in Pulumi.yaml, which has no secrets provider to decrypt it (project-level values are plain and shared by every stack); set it per stack instead: pulumi config set --secret quay-georep:redisPassword -s <stack> (use --path for nested keys)',
                    'database.admin.password: "<secure>" is a secret in Pulumi.yaml, which has no secrets provider to decrypt it (project-level values are plain and shared by every stack); set it per stack instead: pulumi config set --secret quay-georep:database.admin.password -s <stack> (use --path for nested keys)',
                    'storageCredentials.usstorage.secretKey: "<plain text>" is a secret stored in plain text (next to encrypted values of the same key); store it encrypted: pulumi config set --secret --path quay-georep:storageCredentials.usstorage.secretKey',
                ]);
                return true;
            },
        );
    });
});

describe("config: Pulumi.yaml, read by every stack of a render", () => {
    /** A project file with the fixture's values (at 100 sites, 17 KB that every stack's run reads). */
    const projectText = () =>
        `name: ${PROJECT}\nconfig:\n${Object.entries(fixture())
            .filter(([k]) => !SECRETS.includes(k) && k !== "tlsCertificate")
            // An object in project config is a declaration: a structured value is its `value`.
            .map(([k, v]) => `  ${PROJECT}:${k}: ${JSON.stringify(typeof v === "object" ? { value: v } : v)}`)
            .join("\n")}\n`;
    const stackText = (i: number) => `config:\n  ${PROJECT}:namespace: ns-${i}\n`;

    /** The fixture as the CLI passes it, with project values from `text` (each project key as written there). */
    function runStack(text: string, sites: unknown, stack = "eu"): readonly string[] {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries({ ...fixture(), sites }))
            flat[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
        const { raw } = readRawConfig(PROJECT, flat, (full) => SECRETS.some((k) => full === `${PROJECT}:${k}`));
        try {
            parseConfig(raw, { project: PROJECT, stack, projectValues: projectValues(PROJECT, text) });
            return [];
        } catch (err) {
            if (err instanceof ConfigError) return err.problems;
            throw err;
        }
    }

    it("parses Pulumi.yaml once while many stack files are read after it", () => {
        const text = projectText();
        const first = projectValues(PROJECT, text).sites;
        // Each stack's run reads Pulumi.yaml and its own file; a cache that drops the oldest
        // entry, read or not, parsed Pulumi.yaml again after every eighth stack.
        for (let i = 0; i < 20; i++) {
            secretPlacement(PROJECT, text, stackText(i));
            assert.equal(projectValues(PROJECT, text).sites, first, `re-parsed after ${i + 1} stack files`);
        }
        assert.ok(Object.isFrozen(first), "the shared parse is frozen: no run can change it for the next");
    });

    it("parses a structured value's text once for every stack that is given it, frozen; secrets stay each run's own", () => {
        const flat = (sites: unknown): Record<string, string> => ({
            [`${PROJECT}:sites`]: JSON.stringify(sites),
            [`${PROJECT}:storageCredentials`]: JSON.stringify({ usstorage: { accessKey: "a", secretKey: "s" } }),
        });
        const read = (sites: unknown) => readRawConfig(PROJECT, flat(sites), () => false).raw;
        const [a, b] = [read(SITES), read(SITES)];
        assert.equal(a.sites, b.sites, "the same text gives the same parse");
        assert.ok(Object.isFrozen(a.sites) && Object.isFrozen((a.sites as object[])[0]), "frozen all the way down");
        assert.deepEqual(a.sites, SITES);
        const moved = read(SITES.map((s) => ({ ...s, region: "northeurope" })));
        assert.notEqual(moved.sites, a.sites);
        assert.notDeepEqual(moved.sites, a.sites);
        // A secret key's value is wrapped afresh (SecretValue leaves) in each run, not shared.
        assert.notEqual(a.storageCredentials, b.storageCredentials);
        assert.ok(!Object.isFrozen(a.storageCredentials));
    });

    it("refuses a stack's override of a project key in every run, with Pulumi.yaml's values kept between runs", () => {
        const text = projectText();
        const moved = SITES.map((s) => (s.name === "eustorage" ? { ...s, region: "northeurope" } : s));
        const override = (p: readonly string[]) =>
            p.filter(
                (m) => m.startsWith("sites: ") && m.includes('is set for stack "eu" but differs from Pulumi.yaml'),
            );
        assert.deepEqual(runStack(text, SITES), []);
        assert.equal(override(runStack(text, moved)).length, 1);
        assert.deepEqual(runStack(text, SITES), []);
        // Keys in another order are the same value.
        const reordered = SITES.map((s) => Object.fromEntries(Object.entries(s).reverse()));
        assert.deepEqual(runStack(text, reordered), []);
        assert.equal(override(runStack(text, moved)).length, 1);
    });

    it("compares a project value that is not deeply frozen afresh in every run", () => {
        const sites = SITES.map((s) => ({ ...s }));
        const values = Object.freeze({ ...fixture(), sites }); // frozen on top only: its sites can change
        const check = () => {
            const flat: Record<string, string> = {};
            for (const [k, v] of Object.entries(fixture()))
                flat[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
            const { raw } = readRawConfig(PROJECT, flat, (full) => SECRETS.some((k) => full === `${PROJECT}:${k}`));
            try {
                parseConfig(raw, { project: PROJECT, stack: "eu", projectValues: values });
                return [];
            } catch (err) {
                return (err as ConfigError).problems.filter((m) => m.startsWith("sites: "));
            }
        };
        assert.deepEqual(check(), []);
        sites[1].region = "northeurope";
        assert.equal(check().length, 1);
    });

    it("checks a sites list frozen whole once for every run given it, reporting its problems in each", () => {
        const flat = (sites: unknown): Record<string, string> => {
            const all: Record<string, string> = {};
            for (const [k, v] of Object.entries({ ...fixture(), sites }))
                all[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
            return all;
        };
        const run = (sites: unknown, stack: string) => {
            const { raw } = readRawConfig(PROJECT, flat(sites), (full) =>
                SECRETS.some((k) => full === `${PROJECT}:${k}`),
            );
            try {
                return { config: parseConfig(raw, { project: PROJECT, stack }), problems: [] as readonly string[] };
            } catch (err) {
                if (err instanceof ConfigError) return { config: undefined, problems: err.problems };
                throw err;
            }
        };
        const [us, eu] = [run(SITES, "us").config, run(SITES, "eu").config];
        assert.ok(us !== undefined && eu !== undefined);
        assert.equal(eu.sites, us.sites, "the second run gets the first one's sites");
        assert.ok(Object.isFrozen(us.sites) && Object.isFrozen(us.sites[0]));
        const bad = SITES.map((s) => (s.name === "eustorage" ? { ...s, region: "mars-1" } : s));
        const problems = run(bad, "us").problems.filter((m) => m.startsWith("sites[1]"));
        assert.deepEqual(problems, ['sites[1].region: "mars-1" is not an Azure region; use e.g. "westeurope"']);
        for (const stack of ["us", "eu", "us"]) {
            assert.deepEqual(
                run(bad, stack).problems.filter((m) => m.startsWith("sites[1]")),
                problems,
                stack,
            );
        }
    });

    it("gives every run the one topology of a sites list frozen whole, frozen with its sites", () => {
        const sites = freezeShared(JSON.parse(JSON.stringify(SITES)) as unknown[]);
        const parse = () => parseSites(new ObjectReader("", { sites }, new Problems(), ["sites"]), new Problems());
        const first = parse();
        assert.equal(parse(), first);
        assert.ok(Object.isFrozen(first.sites) && first.sites.every((s) => Object.isFrozen(s)));
        assert.deepEqual(
            first.sites.map((s) => s.name),
            ["usstorage", "eustorage"],
        );
    });

    it("checks a sites list not frozen whole afresh in every run", () => {
        const sites = Object.freeze(SITES.map((s) => ({ ...s }))); // frozen on top only: its entries can change
        const raw = (): Record<string, unknown> => ({ ...fixture(), sites });
        const regionProblems = () => {
            try {
                parseConfig(raw(), { project: PROJECT, stack: "us" });
                return [];
            } catch (err) {
                return (err as ConfigError).problems.filter((m) => m.startsWith("sites[1].region"));
            }
        };
        assert.deepEqual(regionProblems(), []);
        sites[1].region = "mars-1";
        assert.equal(regionProblems().length, 1);
    });

    it("freezeShared freezes what is under an object frozen on top only, and ends on a cycle", () => {
        const inner = { a: 1 };
        const outer = Object.freeze({ inner });
        freezeShared(outer);
        assert.ok(Object.isFrozen(inner));
        const cyclic: Record<string, unknown> = { name: "x" };
        cyclic.self = cyclic;
        assert.equal(freezeShared(cyclic), cyclic);
        assert.ok(Object.isFrozen(cyclic));
    });

    it("gives each caller its own list of secure: paths in Pulumi.yaml", () => {
        const text = `name: ${PROJECT}\nconfig:\n  ${PROJECT}:redisPassword:\n    secure: v1:abc\n`;
        const first = secretPlacement(PROJECT, text, undefined);
        first.secureInProject.push("changed by a caller");
        assert.deepEqual(secretPlacement(PROJECT, text, undefined).secureInProject, ["redisPassword"]);
        assert.deepEqual(secretPlacement("other", text, undefined).secureInProject, [`${PROJECT}:redisPassword`]);
    });
});

describe("config: Quay's keys and the database's TLS", () => {
    const fix = (key: string) =>
        `copy it from the running Quay's config bundle (docs/services.md, "Adopting a running Quay") and run: pulumi config set --secret quay-georep:${key} <value>, or set database.new: true if the database holds no Quay data yet`;

    it("takes SECRET_KEY and DATABASE_SECRET_KEY of an existing database's data as secrets", () => {
        const secrets = parse().secrets;
        assert.deepEqual(
            [secrets?.secretKey?.reveal(), secrets?.databaseSecretKey?.reveal()],
            ["quay-secret", "quay-db-secret"],
        );
        assert.equal((parse().database as { isNew: boolean }).isNew, false);
    });

    it("requires both in mode existing, unless database.new says the database holds no Quay data", () => {
        assert.deepEqual(problems({ secretKey: undefined, databaseSecretKey: undefined }), [
            `secretKey: (missing) is required with database.mode existing (the SECRET_KEY its users' encrypted CLI passwords and sessions were made with); ${fix("secretKey")}`,
            `databaseSecretKey: (missing) is required with database.mode existing (the DATABASE_SECRET_KEY its encrypted fields were written with; another one makes them unreadable); ${fix("databaseSecretKey")}`,
        ]);
        const fresh = parse({
            database: { mode: "existing", host: "db.example.com", new: true },
            secretKey: undefined,
            databaseSecretKey: undefined,
        });
        assert.deepEqual([fresh.secrets?.secretKey, fresh.secrets?.databaseSecretKey], [undefined, undefined]);
        assert.deepEqual(problems({ database: { mode: "existing", host: "db.example.com", new: "yes" } }), [
            'database.new: "yes" is not a boolean; use true or false',
        ]);
    });

    it("refuses the keys in plain text, and only warns where a stack other than the shared one sets them", () => {
        assert.deepEqual(problems({}, "us", ["secretKey", "databaseSecretKey"]), [
            'secretKey: "<plain text>" is a secret stored in plain text; store it encrypted: pulumi config set --secret quay-georep:secretKey (use --path for nested keys)',
            'databaseSecretKey: "<plain text>" is a secret stored in plain text; store it encrypted: pulumi config set --secret quay-georep:databaseSecretKey (use --path for nested keys)',
        ]);
        const eu = parse({}, "eu");
        assert.ok(
            eu.warnings.includes('databaseSecretKey is set on stack "eu" but only the shared stack "us" reads it'),
        );
        assert.ok(KNOWN_KEYS.includes("secretKey") && KNOWN_KEYS.includes("databaseSecretKey"));
    });

    it("reads the database's CA certificate and Clair's pool size, with their defaults", () => {
        const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        const cfg = parse({
            database: {
                mode: "existing",
                host: "db.example.com",
                caCertificate: `${ca}\n`,
                clair: { poolMaxConns: "20" },
            },
        });
        assert.deepEqual([cfg.database.caCertificate, cfg.database.clairPoolMaxConns], [ca, 20]);
        assert.deepEqual([parse().database.caCertificate, parse().database.clairPoolMaxConns], [undefined, 33]);
        assert.deepEqual(
            problems({ database: { mode: "existing", host: "db.example.com", quay: { poolMaxConns: 5 } } }),
            ['database.quay.poolMaxConns: "poolMaxConns" is not a known key; valid keys: name, user'],
        );
    });
});
