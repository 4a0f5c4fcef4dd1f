/**
 * The global entry point under mocks, per mode: what the shared stack asks Route 53 or Traffic
 * Manager for (records, health checks, Host/SNI, draining), the configuration that keeps clients
 * answered when every site is unhealthy, the exports, and URN stability when sites come and go.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { main as render } from "../offline/render";
import { RecordedResource, RunResult } from "../offline/runtime";
import { StackConfig } from "../offline/stackConfig";
import {
    assertClean,
    exampleConfig,
    exampleSites,
    inputsOf,
    one,
    ofType,
    PROJECT,
    runMemoized,
    runPair,
    runStack,
    withConfig,
} from "./mocks";
import { scratchDir } from "./support/scratch";

const T = {
    component53: "quay-georep:entrypoint:Route53EntryPoint",
    componentTm: "quay-georep:entrypoint:TrafficManagerEntryPoint",
    healthCheck: "aws:route53/healthCheck:HealthCheck",
    record: "aws:route53/record:Record",
    awsProvider: "pulumi:providers:aws",
    profile: "azure-native:trafficmanager:Profile",
    endpoint: "azure-native:trafficmanager:Endpoint",
    recordSet: "azure-native:dns:RecordSet",
    azureProvider: "pulumi:providers:azure-native",
} as const;

const LB = JSON.parse(exampleConfig("us").config[`${PROJECT}:entryPoint`]) as Record<string, unknown>;
const TM = {
    mode: "traffic-manager",
    resourceGroupName: "quay-global",
    relativeName: "quay-example",
    locations: { usstorage: "eastus" },
    zone: { name: "example.com", resourceGroupName: "dns" },
};
/** A third site (aws, hostname endpoint) with the probe IP route53 needs for it. */
const AP = {
    name: "apstorage",
    stack: "ap",
    cloud: "aws",
    region: "ap-southeast-2",
    endpoint: "router.apps.ap.example.com",
};

/** The us (shared) stack with changes; a changed site list brings its buckets and credentials along. */
function us(changes: Record<string, unknown> = {}): StackConfig {
    const base = exampleConfig("us");
    const sites = changes.sites as Record<string, unknown>[] | undefined;
    if (sites === undefined) return withConfig(base, changes);
    const names = sites.map((s) => s.name as string);
    const storage = JSON.parse(base.config[`${PROJECT}:storage`]) as { buckets: Record<string, unknown> };
    // Storage mode `create` (the example) needs nothing per site; `existing` needs buckets and credentials.
    if (storage.buckets === undefined) return withConfig(base, changes);
    const credentialsText = base.config[`${PROJECT}:storageCredentials`];
    const credentials = (credentialsText ? JSON.parse(credentialsText) : {}) as Record<string, unknown>;
    const buckets = Object.fromEntries(names.map((n) => [n, storage.buckets[n] ?? { bucket: `example-quay-${n}` }]));
    const storageCredentials = Object.fromEntries(Object.entries(credentials).filter(([n]) => names.includes(n)));
    return withConfig(base, { storage: { ...storage, buckets }, storageCredentials, ...changes });
}

async function run(changes: Record<string, unknown> = {}): Promise<RunResult> {
    return assertClean(await runStack(us(changes)));
}

function bySite(resources: RecordedResource[], suffix: string): Record<string, RecordedResource> {
    return Object.fromEntries(
        resources.map((r) => [r.name.replace(/^quay-georep-entrypoint-/, "").replace(suffix, ""), r]),
    );
}

function entryPointUrns(result: RunResult): string[] {
    return result.resources.filter((r) => r.urn.includes("quay-georep:entrypoint:")).map((r) => r.urn);
}

describe("entry point: route53", () => {
    let result: RunResult;
    before(async () => {
        result = await run();
    });

    it("creates one HTTPS health check per site, probing its IP with Host and SNI = hostname", () => {
        const checks = bySite(ofType(result, T.healthCheck), "-health");
        assert.deepEqual(Object.keys(checks).sort(), ["eustorage", "usstorage"]);
        assert.deepEqual(inputsOf(checks.usstorage), {
            type: "HTTPS",
            ipAddress: "198.51.100.10",
            fqdn: "quay.example.com",
            enableSni: true,
            port: 443,
            resourcePath: "/health/endtoend",
            requestInterval: 30,
            failureThreshold: 3,
            invertHealthcheck: false,
            disabled: false,
            tags: { Name: "quay.example.com usstorage" },
        });
        assert.equal(inputsOf(checks.eustorage).ipAddress, "203.0.113.20");
    });

    it("creates one latency CNAME per active site, set identifier = site, tied to that site's check", () => {
        const checks = bySite(ofType(result, T.healthCheck), "-health");
        const records = bySite(ofType(result, T.record), "-record");
        assert.deepEqual(inputsOf(records.eustorage), {
            zoneId: "Z0123456789EXAMPLE",
            name: "quay.example.com",
            type: "CNAME",
            ttl: 60,
            records: ["router.apps.eu.example.com"],
            setIdentifier: "eustorage",
            latencyRoutingPolicies: [{ region: "eu-central-1" }],
            healthCheckId: `${checks.eustorage.name}-id`,
        });
        assert.deepEqual(inputsOf(records.usstorage).latencyRoutingPolicies, [{ region: "us-east-1" }]);
        assert.equal(inputsOf(records.usstorage).healthCheckId, `${checks.usstorage.name}-id`);
    });

    it("publishes IP endpoints as A or AAAA records and probes them directly", async () => {
        for (const [ips, type] of [
            [["198.51.100.10", "198.51.100.11"], "A"],
            [["2001:db8::1", "2001:db8::2"], "AAAA"],
        ] as const) {
            const sites = exampleSites().map((s, i) => ({ ...s, endpoint: ips[i] }));
            const r = await run({ sites, entryPoint: { ...LB, healthCheckAddresses: undefined } });
            for (const record of ofType(r, T.record)) assert.equal(inputsOf(record).type, type);
            assert.deepEqual(
                ofType(r, T.healthCheck).map((c) => inputsOf(c).ipAddress),
                ofType(r, T.record).map((rec) => (inputsOf(rec).records as string[])[0]),
            );
        }
    });

    it("passes the configured path, interval, failure threshold and TTL through", async () => {
        const r = await run({
            entryPoint: {
                ...LB,
                ttl: 30,
                healthCheck: { path: "/health/instance", interval: 10, failureThreshold: 2 },
            },
        });
        for (const c of ofType(r, T.healthCheck)) {
            const i = inputsOf(c);
            assert.deepEqual([i.resourcePath, i.requestInterval, i.failureThreshold], ["/health/instance", 10, 2]);
        }
        for (const rec of ofType(r, T.record)) assert.equal(inputsOf(rec).ttl, 30);
    });

    it("uses the stack's AWS provider for us-east-1 for every Route 53 resource, all under the component", () => {
        const provider = one(result, T.awsProvider, "quay-georep-aws-us-east-1");
        assert.equal(inputsOf(provider).region, "us-east-1");
        const component = one(result, T.component53, "quay-georep-entrypoint");
        for (const r of [...ofType(result, T.healthCheck), ...ofType(result, T.record)]) {
            assert.equal(r.provider, provider.urn, r.name);
            assert.equal(r.parent, component.urn, r.name);
        }
        assert.equal(ofType(result, T.profile).length, 0);
    });

    it("takes a draining site out of rotation (no record) but keeps its check; a retired site has neither", async () => {
        const draining = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, state: "draining" } : s));
        const d = await run({ sites: draining });
        assert.deepEqual(
            ofType(d, T.record).map((r) => r.name),
            ["quay-georep-entrypoint-usstorage-record"],
        );
        assert.equal(ofType(d, T.healthCheck).length, 2);
        assert.equal(
            (d.outputs.entryPointTargets as Record<string, { inRotation: boolean }>).eustorage.inRotation,
            false,
        );

        const retired = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, state: "retired" } : s));
        const r = await run({ sites: retired });
        assert.deepEqual(
            ofType(r, T.record).map((x) => x.name),
            ["quay-georep-entrypoint-usstorage-record"],
        );
        assert.deepEqual(
            ofType(r, T.healthCheck).map((x) => x.name),
            ["quay-georep-entrypoint-usstorage-health"],
        );
        assert.deepEqual(Object.keys(r.outputs.entryPointTargets as object), ["usstorage"]);
    });

    it("keeps clients answered when every site is unhealthy: one record group, every record checked, nothing overriding", () => {
        // Route 53: when all records of a group are unhealthy it treats them all as healthy and
        // answers by latency. That holds only if every record of the group (same name and type)
        // has a health check, and no check is inverted, disabled or calculated.
        const records = ofType(result, T.record).map(inputsOf);
        const checkIds = new Set(ofType(result, T.healthCheck).map((c) => `${c.name}-id`));
        assert.equal(new Set(records.map((r) => `${String(r.name)} ${String(r.type)}`)).size, 1);
        for (const r of records) {
            assert.ok(checkIds.has(String(r.healthCheckId)), `${String(r.setIdentifier)} has no health check`);
            for (const policy of ["failoverRoutingPolicies", "weightedRoutingPolicies", "aliases"]) {
                assert.equal(r[policy], undefined, policy);
            }
        }
        for (const c of ofType(result, T.healthCheck).map(inputsOf)) {
            assert.equal(c.type, "HTTPS");
            assert.equal(c.invertHealthcheck, false);
            assert.equal(c.disabled, false);
            assert.equal(c.childHealthchecks, undefined);
        }
    });

    it("exports the DNS name, per-site targets with probe Host/SNI, and the health check IDs", () => {
        const o = result.outputs;
        assert.equal(o.entryPointMode, "route53");
        assert.equal(o.entryPointDnsName, "quay.example.com");
        assert.deepEqual(o.healthCheckIds, {
            usstorage: "quay-georep-entrypoint-usstorage-health-id",
            eustorage: "quay-georep-entrypoint-eustorage-health-id",
        });
        assert.deepEqual((o.entryPointTargets as Record<string, unknown>).eustorage, {
            site: "eustorage",
            cloud: "azure",
            state: "active",
            inRotation: true,
            endpoint: "router.apps.eu.example.com",
            recordType: "CNAME",
            latencyRegion: "eu-central-1",
            probe: {
                protocol: "HTTPS",
                address: "203.0.113.20",
                port: 443,
                path: "/health/endtoend",
                host: "quay.example.com",
                sni: "quay.example.com",
                url: "https://quay.example.com/health/endtoend",
                interval: 30,
                failureThreshold: 3,
                healthyStatus: 200,
            },
        });
    });

    it("adding or removing a site changes only that site's record and health check (URNs keyed by site name)", async () => {
        const probes: Record<string, string> = { ...(LB.healthCheckAddresses as object), apstorage: "192.0.2.30" };
        const three = await run({
            sites: [...exampleSites(), AP],
            entryPoint: { ...LB, healthCheckAddresses: probes },
        });
        const two = entryPointUrns(result);
        const all = entryPointUrns(three);
        assert.deepEqual(
            two.filter((u) => !all.includes(u)),
            [],
        );
        assert.deepEqual(
            all.filter((u) => !two.includes(u)).map((u) => u.split("::").pop()),
            ["quay-georep-entrypoint-apstorage-health", "quay-georep-entrypoint-apstorage-record"],
        );
        // Removing the middle site moves apstorage from index 2 to 1: nothing of it may be renamed.
        const rest = Object.fromEntries(Object.entries(probes).filter(([site]) => site !== "eustorage"));
        const withoutEu = await run({
            sites: [exampleSites()[0], AP],
            entryPoint: { ...LB, latencyRegions: undefined, healthCheckAddresses: rest },
        });
        const remaining = entryPointUrns(withoutEu);
        assert.deepEqual(
            all.filter((u) => !remaining.includes(u)).map((u) => u.split("::").pop()),
            ["quay-georep-entrypoint-eustorage-health", "quay-georep-entrypoint-eustorage-record"],
        );
        assert.deepEqual(
            remaining.filter((u) => !all.includes(u)),
            [],
        );
    });
});

describe("entry point: traffic-manager", () => {
    let result: RunResult;
    before(async () => {
        result = await run({ entryPoint: TM });
    });

    it("creates a Performance profile with an HTTPS monitor on the path, Host = hostname", () => {
        const profile = inputsOf(one(result, T.profile));
        assert.deepEqual(profile, {
            profileName: "quay-example",
            resourceGroupName: "quay-global",
            location: "global",
            profileStatus: "Enabled",
            trafficRoutingMethod: "Performance",
            dnsConfig: { relativeName: "quay-example", ttl: 60 },
            monitorConfig: {
                protocol: "HTTPS",
                port: 443,
                path: "/health/endtoend",
                intervalInSeconds: 30,
                timeoutInSeconds: 10,
                toleratedNumberOfFailures: 2,
                customHeaders: [{ name: "Host", value: "quay.example.com" }],
                expectedStatusCodeRanges: [{ min: 200, max: 200 }],
            },
        });
    });

    it("maps the fast interval to Traffic Manager's longest timeout for it", async () => {
        const r = await run({ entryPoint: { ...TM, healthCheck: { interval: 10, failureThreshold: 1 } } });
        const monitor = inputsOf(one(r, T.profile)).monitorConfig as Record<string, unknown>;
        assert.deepEqual(
            [monitor.intervalInSeconds, monitor.timeoutInSeconds, monitor.toleratedNumberOfFailures],
            [10, 9, 0],
        );
    });

    it("creates one external endpoint per site with its Azure location, standalone (never inline)", () => {
        const endpoints = bySite(ofType(result, T.endpoint), "-endpoint");
        const profile = one(result, T.profile);
        assert.deepEqual(inputsOf(endpoints.usstorage), {
            endpointName: "usstorage",
            endpointType: "ExternalEndpoints",
            type: "Microsoft.Network/trafficManagerProfiles/externalEndpoints",
            target: "router.apps.us.example.com",
            endpointLocation: "eastus",
            endpointStatus: "Enabled",
            alwaysServe: "Disabled",
            profileName: "quay-example",
            resourceGroupName: "quay-global",
        });
        assert.equal(inputsOf(endpoints.eustorage).endpointLocation, "westeurope");
        for (const e of Object.values(endpoints)) assert.deepEqual(e.dependsOn, [profile.urn]);
        assert.equal(inputsOf(profile).endpoints, undefined);
    });

    it("disables a draining site's endpoint; a retired site has none", async () => {
        const draining = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, state: "draining" } : s));
        const d = bySite(ofType(await run({ sites: draining, entryPoint: TM }), T.endpoint), "-endpoint");
        assert.equal(inputsOf(d.eustorage).endpointStatus, "Disabled");
        assert.equal(inputsOf(d.usstorage).endpointStatus, "Enabled");
        const retired = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, state: "retired" } : s));
        const r = await run({ sites: retired, entryPoint: TM });
        assert.deepEqual(
            ofType(r, T.endpoint).map((e) => e.name),
            ["quay-georep-entrypoint-usstorage-endpoint"],
        );
    });

    it("keeps clients answered when every site is degraded: profile enabled, active endpoints enabled and probed", () => {
        // Traffic Manager treats all endpoints as healthy when all are degraded; AlwaysServe would
        // stop probing, and a disabled profile or all-disabled endpoints would answer nothing.
        assert.equal(inputsOf(one(result, T.profile)).profileStatus, "Enabled");
        const endpoints = ofType(result, T.endpoint).map(inputsOf);
        assert.ok(endpoints.some((e) => e.endpointStatus === "Enabled"));
        for (const e of endpoints) assert.equal(e.alwaysServe, "Disabled");
    });

    it("CNAMEs hostname to the profile in the given Azure DNS zone", () => {
        const cname = one(result, T.recordSet);
        assert.deepEqual(inputsOf(cname), {
            zoneName: "example.com",
            resourceGroupName: "dns",
            relativeRecordSetName: "quay",
            recordType: "CNAME",
            ttl: 60,
            cnameRecord: { cname: "(known after apply: quay-georep-entrypoint-profile.dnsConfig.fqdn)" },
        });
    });

    it("creates no DNS record without a zone", async () => {
        const r = await run({ entryPoint: { ...TM, zone: undefined } });
        assert.equal(ofType(r, T.recordSet).length, 0);
    });

    it("uses the stack's azure-native provider, pinned to accounts.azure, for every child, all under the component", () => {
        const provider = one(result, T.azureProvider, "quay-georep-azure");
        assert.equal(inputsOf(provider).subscriptionId, "00000000-0000-0000-0000-000000000000");
        const component = one(result, T.componentTm);
        for (const r of [...ofType(result, T.profile), ...ofType(result, T.endpoint), ...ofType(result, T.recordSet)]) {
            assert.equal(r.provider, provider.urn, r.name);
            assert.equal(r.parent, component.urn, r.name);
        }
        // No provider of the entry point's own, and no Route 53 resource.
        assert.deepEqual(
            result.resources.filter((r) => r.type.startsWith("pulumi:providers:") && r.name.includes("entrypoint")),
            [],
        );
        assert.equal(ofType(result, T.healthCheck).length + ofType(result, T.record).length, 0);
    });

    it("exports the profile's DNS name, per-site targets with locations, and endpoint IDs", () => {
        const o = result.outputs;
        assert.equal(o.entryPointMode, "traffic-manager");
        assert.equal(o.entryPointDnsName, "(known after apply: quay-georep-entrypoint-profile.dnsConfig.fqdn)");
        assert.deepEqual(o.healthCheckIds, {
            usstorage: "quay-georep-entrypoint-usstorage-endpoint-id",
            eustorage: "quay-georep-entrypoint-eustorage-endpoint-id",
        });
        const eu = (
            o.entryPointTargets as Record<string, { location: string; probe: { address: string; host: string } }>
        ).eustorage;
        assert.deepEqual(
            [eu.location, eu.probe.address, eu.probe.host],
            ["westeurope", "router.apps.eu.example.com", "quay.example.com"],
        );
    });

    it("adding a site adds only its endpoint", async () => {
        const r = await run({
            sites: [...exampleSites(), AP],
            entryPoint: { ...TM, locations: { usstorage: "eastus", apstorage: "australiaeast" } },
        });
        const before = entryPointUrns(result);
        const after = entryPointUrns(r);
        assert.deepEqual(
            before.filter((u) => !after.includes(u)),
            [],
        );
        assert.deepEqual(
            after.filter((u) => !before.includes(u)).map((u) => u.split("::").pop()),
            ["quay-georep-entrypoint-apstorage-endpoint"],
        );
    });
});

describe("entry point: none", () => {
    it("creates no resource and exports what the user's balancer should target", async () => {
        const r = await run({ entryPoint: { mode: "none", healthCheck: { path: "/health/instance" } } });
        assert.equal(
            // The services (database, Redis, buckets) have their own resources; none is the entry point's.
            r.resources.filter(
                (x) => x.urn.includes("quay-georep:entrypoint:") || x.name.startsWith("quay-georep-entrypoint"),
            ).length,
            0,
        );
        assert.equal(r.outputs.entryPointMode, "none");
        assert.equal(r.outputs.entryPointDnsName, "quay.example.com");
        assert.deepEqual(r.outputs.healthCheckIds, {});
        const us = (r.outputs.entryPointTargets as Record<string, { probe: Record<string, unknown> }>).usstorage;
        assert.deepEqual(
            [us.probe.address, us.probe.path, us.probe.host, us.probe.sni, us.probe.url],
            [
                "router.apps.us.example.com",
                "/health/instance",
                "quay.example.com",
                "quay.example.com",
                "https://quay.example.com/health/instance",
            ],
        );
    });
});

describe("entry point: example stacks", () => {
    it("is deployed by the shared stack only: the eu site stack neither creates nor exports it", async () => {
        const pair = await runPair(exampleConfig("us"), exampleConfig("eu"));
        assertClean(pair.other);
        assert.equal(entryPointUrns(pair.other).length, 0);
        assert.equal(pair.other.outputs.entryPointMode, undefined);
        assert.equal(entryPointUrns(pair.shared).length, 5);
    });

    it("renders the Route 53 entry point in rendered/us/resources.json (npm run render)", async () => {
        const out = scratchDir("entrypoint");
        // The renderer's CLI, in this process (test/render.test.ts runs it as a process once).
        let stderr = "";
        const code = await render(["--out", out], {
            stdout: () => undefined,
            stderr: (t) => void (stderr += t),
            run: runMemoized,
        });
        assert.equal(code, 0, stderr);
        const resources = JSON.parse(fs.readFileSync(path.join(out, "us", "resources.json"), "utf8")) as {
            type: string;
            name: string;
        }[];
        assert.deepEqual(
            resources.filter((r) => r.type.startsWith("aws:route53")).map((r) => r.name),
            [
                "quay-georep-entrypoint-eustorage-health",
                "quay-georep-entrypoint-usstorage-health",
                "quay-georep-entrypoint-eustorage-record",
                "quay-georep-entrypoint-usstorage-record",
            ],
        );
        const outputs = JSON.parse(fs.readFileSync(path.join(out, "us", "outputs.json"), "utf8")) as Record<
            string,
            unknown
        >;
        assert.equal(outputs.entryPointDnsName, "quay.example.com");
    });
});
