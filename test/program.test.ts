/**
 * The whole program under mocks, for the example stacks and one change at a time: what each
 * stack asks the cloud for, that secrets stay secret, that every cluster gets the same bundle
 * bytes, and that adding or removing a site renames nothing else.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { isSecretInput, RecordedResource, RunResult } from "../offline/runtime";
import { StackConfig } from "../offline/stackConfig";
import {
    assertClean,
    bundleSecret,
    urnDiff,
    exampleConfig,
    exampleSites,
    inputsOf,
    one,
    ofType,
    PROJECT,
    PROJECT_DIR,
    runPair,
    runStack,
    stackRef,
    TYPES,
    withConfig,
} from "./mocks";
import { DependencyRun, inputsWaitFor, runWithDependencies } from "./support/dependencies";
import { requireSchemas, validateQuayConfig, validateQuayRegistry } from "./support/schemas";

const us = () => exampleConfig("us");
const eu = () => exampleConfig("eu");

/** A third site for topology changes. */
const AP_SITE = {
    name: "apstorage",
    stack: "ap",
    cloud: "aws",
    region: "ap-southeast-2",
    endpoint: "router.apps.ap.example.com",
};

/**
 * A stack's config with a different site list, plus what a new site needs elsewhere: a bucket
 * (storage mode `existing`) and a probe address (entry point `route53`, hostname endpoints).
 */
function withSites(base: StackConfig, sites: Record<string, unknown>[]): StackConfig {
    const storage = JSON.parse(base.config[`${PROJECT}:storage`]) as {
        mode: string;
        buckets?: Record<string, unknown>;
    };
    if (storage.mode === "existing" && storage.buckets) {
        for (const s of sites) storage.buckets[s.name as string] ??= { bucket: `example-quay-${s.name as string}` };
    }
    const changes: Record<string, unknown> = { sites, storage };
    const lbText = base.config[`${PROJECT}:entryPoint`];
    const lb = lbText
        ? (JSON.parse(lbText) as { mode: string; healthCheckAddresses?: Record<string, string> })
        : undefined;
    if (lb?.mode === "route53") {
        const addresses = { ...lb.healthCheckAddresses };
        sites.forEach((s, i) => (addresses[s.name as string] ??= `192.0.2.${30 + i}`));
        changes.entryPoint = { ...lb, healthCheckAddresses: addresses };
    }
    return withConfig(base, changes);
}

describe("program: example stacks", () => {
    let pair: { shared: RunResult; other: RunResult };
    before(async () => {
        pair = await runPair(us(), eu());
        assertClean(pair.shared);
        assertClean(pair.other);
    });

    it("us is the shared stack and a site; eu is a site", () => {
        assert.equal(pair.shared.outputs.role, "shared+site");
        assert.equal(pair.other.outputs.role, "site");
        assert.equal(pair.shared.outputs.site, "usstorage");
        assert.equal(pair.other.outputs.site, "eustorage");
    });

    it("creates one namespace, operator Subscription, bundle Secret and QuayRegistry per site stack", () => {
        for (const r of [pair.shared, pair.other]) {
            assert.equal(ofType(r, TYPES.namespace).length, 1);
            assert.equal(ofType(r, TYPES.subscription).length, 1);
            assert.ok(bundleSecret(r));
            assert.equal(ofType(r, TYPES.quayRegistry).length, 1);
        }
        // The site stack has no lifecycle Jobs, so its bundle Secret is its only Secret.
        assert.equal(ofType(pair.other, TYPES.secret).length, 1);
    });

    it("uses explicit providers only: no custom resource falls back to a default provider", () => {
        for (const r of [...pair.shared.resources, ...pair.other.resources]) {
            if (!r.custom || r.type.startsWith("pulumi:providers:") || r.type === TYPES.stackReference) continue;
            assert.ok(r.provider, `${r.type} ${r.name} has no explicit provider`);
            assert.ok(!r.provider.includes("::default"), `${r.type} ${r.name} uses a default provider`);
        }
    });

    it("pins every AWS and Azure provider to the configured accounts", () => {
        const providers = pair.shared.resources.filter((r) => /^pulumi:providers:(aws|azure-native)$/.test(r.type));
        assert.ok(providers.length >= 2);
        for (const p of providers) {
            // Provider configuration travels as strings: a list as its JSON text.
            if (p.type === "pulumi:providers:aws")
                assert.deepEqual(JSON.parse(String(inputsOf(p).allowedAccountIds)), ["123456789012"], p.name);
            else assert.equal(inputsOf(p).subscriptionId, "00000000-0000-0000-0000-000000000000", p.name);
        }
    });

    it("has one provider per cloud account and region, plus the cluster's, random and PostgreSQL ones", () => {
        const providers = (r: RunResult) =>
            r.resources
                .filter((x) => x.type.startsWith("pulumi:providers:"))
                .map((x) => `${x.type.slice("pulumi:providers:".length)} ${x.name}`)
                .sort();
        assert.deepEqual(providers(pair.shared), [
            // The database's and Redis's standby region (database.standby, redis.standby).
            "aws quay-georep-aws-eu-west-1",
            "aws quay-georep-aws-us-east-1",
            "azure-native quay-georep-azure",
            "kubernetes quay-georep-us-cluster",
            "postgresql quay-georep-database-logins-postgresql",
            "random quay-georep-random",
        ]);
        assert.deepEqual(providers(pair.other), ["kubernetes quay-georep-eu-cluster"]);
        assert.equal(
            inputsOf(one(pair.shared, "pulumi:providers:aws", "quay-georep-aws-us-east-1")).region,
            "us-east-1",
        );
        assert.equal(
            inputsOf(one(pair.shared, "pulumi:providers:aws", "quay-georep-aws-eu-west-1")).region,
            "eu-west-1",
        );
    });

    it("creates cloud and random providers at the stack, none inside a component", () => {
        const stack = one(pair.shared, "pulumi:pulumi:Stack").urn;
        const cloud = pair.shared.resources.filter((r) => /^pulumi:providers:(aws|azure-native|random)$/.test(r.type));
        for (const p of cloud) assert.equal(p.parent, stack, p.name);
        // Every resource of those packages uses one of them (children inherit them from their component).
        const urns = new Set(cloud.map((p) => p.urn));
        for (const r of pair.shared.resources.filter((x) => x.custom && /^(aws|azure-native|random):/.test(x.type))) {
            assert.ok(r.provider !== undefined && urns.has(r.provider), `${r.type} ${r.name} uses ${r.provider}`);
        }
    });

    it("refuses to create cloud resources without the accounts to pin them to", async () => {
        const r = await runStack(withConfig(us(), { accounts: undefined }));
        assert.match(
            r.errors.map((e) => e.message).join("\n"),
            /- accounts\.aws: \(missing\) is required: this deployment creates AWS resources, and every AWS provider is pinned to the accounts listed; set quay-georep:accounts in Pulumi\.yaml[^\n]*\n {2}- accounts\.azure: \(missing\) is required: this deployment creates Azure resources/,
        );
    });

    it("gives each cluster a Kubernetes provider with a stable clusterIdentifier", () => {
        const p = one(pair.other, TYPES.k8sProvider);
        assert.deepEqual(inputsOf(p), { clusterIdentifier: "eu", context: "eu-cluster" });
        for (const r of [...ofType(pair.other, TYPES.secret), ...ofType(pair.other, TYPES.quayRegistry)]) {
            assert.equal(r.provider, p.urn);
        }
    });

    it("parents the registry under its component, the namespace under the stack, passwords under the bundle", () => {
        const component = one(pair.shared, "quay-georep:quay:QuayRegistry");
        assert.equal(bundleSecret(pair.shared).parent, component.urn);
        assert.equal(one(pair.shared, TYPES.quayRegistry).parent, component.urn);
        // The stack owns the namespace: lifecycle Jobs run in it before the registry changes.
        assert.equal(one(pair.shared, TYPES.namespace).parent, one(pair.shared, "pulumi:pulumi:Stack").urn);
        const bundle = one(pair.shared, "quay-georep:bundle:ConfigBundle");
        for (const name of ["quay-georep-bundle-secret-key", "quay-georep-bundle-database-secret-key"]) {
            assert.equal(one(pair.shared, TYPES.randomPassword, name).parent, bundle.urn);
        }
    });

    it("generates SECRET_KEY and DATABASE_SECRET_KEY once, on the shared stack, and protects the database key", () => {
        const bundle = one(pair.shared, "quay-georep:bundle:ConfigBundle");
        const keys = ofType(pair.shared, TYPES.randomPassword).filter((r) => r.parent === bundle.urn);
        assert.deepEqual(keys.map((r) => [r.name, r.protect]).sort(), [
            ["quay-georep-bundle-database-secret-key", true],
            ["quay-georep-bundle-secret-key", false],
        ]);
        assert.equal(ofType(pair.other, TYPES.randomPassword).length, 0);
    });

    it("keeps the bundle secret: in the Secret's data and in the stack output; only the hash is plain", () => {
        for (const r of [pair.shared, pair.other]) {
            assert.ok(isSecretInput(bundleSecret(r).inputs.stringData), "Secret stringData must be secret");
        }
        assert.ok(isSecretInput(pair.shared.outputs.bundle), "bundle output must be secret");
        assert.match(String(pair.shared.outputs.bundleSha256), /^[0-9a-f]{64}$/);
    });

    it("deploys byte-identical bundles in every cluster, from the shared stack (never re-rendered)", () => {
        const a = inputsOf(bundleSecret(pair.shared)).stringData;
        const b = inputsOf(bundleSecret(pair.other)).stringData;
        assert.deepEqual(b, a);
        assert.equal(pair.shared.outputs.deployedBundleSha256, pair.shared.outputs.bundleSha256);
        assert.equal(pair.other.outputs.deployedBundleSha256, pair.shared.outputs.bundleSha256);
        assert.equal(ofType(pair.other, "quay-georep:bundle:ConfigBundle").length, 0);
        // It reads the shared stack (the bundle) and itself (what it deployed last).
        assert.deepEqual(
            ofType(pair.other, TYPES.stackReference)
                .map((r) => inputsOf(r).name)
                .sort(),
            [stackRef("eu"), stackRef("us")],
        );
    });

    it("points each QuayRegistry at the bundle Secret with its own storage preference and the bundle's hash", async () => {
        const dependencies = [
            await runWithDependencies(us()),
            await runWithDependencies(eu(), { [stackRef("us")]: pair.shared.outputs }),
        ];
        const expectations: [RunResult, string, DependencyRun][] = [
            [pair.shared, "usstorage eustorage", dependencies[0]],
            [pair.other, "eustorage usstorage", dependencies[1]],
        ];
        for (const [r, preference, deps] of expectations) {
            const cr = one(r, TYPES.quayRegistry);
            const spec = inputsOf(cr).spec as {
                configBundleSecret: string;
                components: { kind: string; overrides?: { env: unknown } }[];
            };
            assert.equal(spec.configBundleSecret, "georep-config-bundle");
            assert.equal(spec.components.length, 11);
            for (const kind of ["quay", "mirror"]) {
                const env = spec.components.find((c) => c.kind === kind)?.overrides?.env;
                assert.deepEqual(env, [
                    { name: "QUAY_DISTRIBUTED_STORAGE_PREFERENCE", value: preference },
                    // In the spec, so a new bundle bumps the generation the operator reconciles on.
                    { name: "QUAY_GEOREP_BUNDLE_SHA256", value: pair.shared.outputs.bundleSha256 },
                ]);
            }
            const meta = inputsOf(cr).metadata as {
                annotations: Record<string, string>;
                namespace: string;
                name: string;
            };
            assert.equal(meta.annotations["pulumi.com/waitFor"], "condition=Available");
            assert.equal(meta.namespace, "quay-enterprise");
            // The registry waits for its bundle Secret and for the operator (its CRD) to be installed,
            // through data: its spec names the Secret as created and takes the installed Subscription.
            assert.deepEqual(cr.dependsOn, []);
            const waits = inputsWaitFor(deps, cr.urn);
            assert.ok(waits.includes(one(r, TYPES.subscription).urn), waits.join(", "));
            assert.ok(waits.includes(bundleSecret(r).urn), waits.join(", "));
        }
    });

    it("renders a config.yaml and QuayRegistry that the upstream schemas accept", function () {
        requireSchemas(this);
        const bundle = inputsOf(bundleSecret(pair.shared)).stringData as Record<string, string>;
        assert.deepEqual(validateQuayConfig(parse(bundle["config.yaml"])), []);
        for (const r of [pair.shared, pair.other]) {
            const { apiVersion, kind, metadata, spec } = inputsOf(one(r, TYPES.quayRegistry));
            assert.deepEqual(validateQuayRegistry({ apiVersion, kind, metadata, spec }), []);
        }
    });
});

describe("program: stack roles and ordering", () => {
    it("stops on invalid config before registering any resource", async () => {
        const r = await runStack(withConfig(us(), { hostname: "not a host" }));
        assert.equal(r.errors.length, 1);
        assert.match(r.errors[0].message, /hostname: "not a host" is not a DNS name/);
        assert.deepEqual(
            r.resources.map((x) => x.type),
            ["pulumi:pulumi:Stack"],
        );
    });

    it("refuses a site stack whose site the shared stack has not rendered yet", async () => {
        const sites = [...exampleSites(), AP_SITE];
        const shared = await runStack(us()); // the shared stack as deployed: no apstorage yet
        const ap = await runStack({ ...withSites(eu(), sites), stack: "ap" }, { [stackRef("us")]: shared.outputs });
        const messages = ap.errors.map((e) => e.message).join("\n");
        assert.match(
            messages,
            /sites: "apstorage" is not in the shared stack "us"'s bundle yet \(it lists usstorage, eustorage\); run "pulumi up -s us" first, then this stack/,
        );
        // The check fails while previewing, so `pulumi up` applies nothing; neither is registered.
        assert.equal(ofType(ap, TYPES.secret).length, 0);
        assert.equal(ofType(ap, TYPES.quayRegistry).length, 0);
    });

    it("lets a dedicated shared stack render the bundle and deploy no cluster", async () => {
        const global = { ...withConfig(us(), { sharedStack: "global" }), stack: "global" };
        const r = assertClean(await runStack(global));
        assert.equal(r.outputs.role, "shared");
        assert.equal(ofType(r, TYPES.k8sProvider).length, 0);
        assert.equal(ofType(r, TYPES.quayRegistry).length, 0);
        assert.ok(isSecretInput(r.outputs.bundle));
    });

    it("deploys nothing for a retired site's stack, so its cluster resources are removed", async () => {
        const sites = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, state: "retired" } : s));
        const r = assertClean(await runStack(withConfig(eu(), { sites })));
        assert.equal(r.outputs.role, "retired");
        // Only reads of what is deployed (the shared stack and itself); nothing in the cluster.
        assert.deepEqual(r.resources.map((x) => x.type).sort(), [
            "pulumi:pulumi:Stack",
            "pulumi:pulumi:StackReference",
            "pulumi:pulumi:StackReference",
        ]);
    });

    it("passes a configured kubeconfig to the provider as a secret", async () => {
        const cfg = withConfig(eu(), { kubeconfig: "apiVersion: v1\nkind: Config\n" }, ["kubeconfig"]);
        const r = await runStack(cfg, { [stackRef("us")]: (await runStack(us())).outputs });
        assertClean(r);
        assert.ok(isSecretInput(one(r, TYPES.k8sProvider).inputs.kubeconfig));
    });
});

describe("program: URN stability", () => {
    // A site's resources are named after it; the shared stack's reference to its stack, after the
    // stack; and the AWS provider of its region, when no other resource is in that region.
    const named = (list: string[], site: typeof AP_SITE) =>
        list.every(
            (u) =>
                u.includes(site.name) ||
                u.endsWith(`::quay-georep-${site.stack}-stack`) ||
                u.endsWith(`::pulumi:providers:aws::quay-georep-aws-${site.region}`),
        );

    it("adding a site creates only that site's resources and renames nothing", async () => {
        const before = assertClean(await runStack(us()));
        const after = assertClean(await runStack(withSites(us(), [...exampleSites(), AP_SITE])));
        const d = urnDiff(before, after);
        assert.deepEqual(d.removed, []);
        assert.ok(named(d.added, AP_SITE), `unexpected new URNs: ${d.added.join(", ")}`);
        // The new region's provider serves the new site's bucket; the others keep theirs.
        const ap = one(after, "pulumi:providers:aws", `quay-georep-aws-${AP_SITE.region}`);
        assert.equal(inputsOf(ap).region, AP_SITE.region);
        assert.equal(one(after, "aws:s3/bucket:Bucket", "quay-georep-storage-apstorage-bucket").provider, ap.urn);
        assert.equal(
            one(after, "aws:s3/bucket:Bucket", "quay-georep-storage-usstorage-bucket").provider,
            one(before, "pulumi:providers:aws", "quay-georep-aws-us-east-1").urn,
        );
    });

    it("removing a site removes only that site's resources and renames nothing", async () => {
        const before = assertClean(await runStack(withSites(us(), [...exampleSites(), AP_SITE])));
        const after = assertClean(await runStack(us()));
        const d = urnDiff(before, after);
        assert.deepEqual(d.added, []);
        assert.ok(named(d.removed, AP_SITE), `unexpected removed URNs: ${d.removed.join(", ")}`);
    });

    it("names cluster resources by site, so reordering sites changes no URN", async () => {
        const before = assertClean(await runStack(eu(), { [stackRef("us")]: (await runStack(us())).outputs }));
        const reversed = withConfig(eu(), { sites: [...exampleSites()].reverse() });
        const sharedReversed = await runStack(withConfig(us(), { sites: [...exampleSites()].reverse() }));
        const after = assertClean(await runStack(reversed, { [stackRef("us")]: sharedReversed.outputs }));
        assert.deepEqual(urnDiff(before, after), { added: [], removed: [] });
    });

    it("records every resource once (no two share a type and name)", async () => {
        const r = await runStack(us());
        const keys = r.resources.map((x: RecordedResource) => `${x.type}::${x.name}`);
        assert.equal(new Set(keys).size, keys.length);
    });
});

describe("program: layers", () => {
    /** Every TypeScript file under a folder of the project, with its text. */
    const sources = (folder: string): [string, string][] =>
        fs
            .readdirSync(path.join(PROJECT_DIR, folder), { recursive: true, encoding: "utf8" })
            .filter((f) => f.endsWith(".ts"))
            .map((f) => [`${folder}/${f}`, fs.readFileSync(path.join(PROJECT_DIR, folder, f), "utf8")]);

    it("keeps components/ and lib/ free of the config and wiring layers (no import from config/ or stacks/)", () => {
        const offending = [...sources("components"), ...sources("lib")].flatMap(([file, text]) =>
            [...text.matchAll(/from "((?:\.\.\/)+(?:config|stacks)\/[^"]*)"/g)].map((m) => `${file}: ${m[1]}`),
        );
        assert.deepEqual(offending, []);
    });

    it("makes no cloud or random provider inside a component: stacks/providers.ts makes them", () => {
        const offending = sources("components").filter(([, text]) =>
            /@pulumi\/(aws|azure-native)\/provider"|new random\.Provider\(/.test(text),
        );
        assert.deepEqual(
            offending.map(([file]) => file),
            [],
        );
    });
});
