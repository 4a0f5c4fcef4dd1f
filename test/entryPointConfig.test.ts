/**
 * `quay-georep:entryPoint` validation: the example project's config is the valid fixture, each
 * test changes one thing, and asserts the exact message (`<path>: <value> <problem>; <fix>`).
 */
import { strict as assert } from "node:assert";
import { ConfigError, parseConfig, QuayGeorepConfig } from "../config/config";
import { readRawConfig } from "../config/load";
import { exampleConfig, exampleSites, PROJECT, withConfig } from "./mocks";

/** The example's `entryPoint` (route53), as written in Pulumi.yaml. */
const LB = JSON.parse(exampleConfig("us").config[`${PROJECT}:entryPoint`]) as Record<string, unknown>;
const ZONE = LB.zone as Record<string, unknown>;

/** A valid traffic-manager setup for the example's sites. */
const TM = {
    mode: "traffic-manager",
    resourceGroupName: "quay-global",
    relativeName: "quay-example",
    locations: { usstorage: "eastus" },
};

/** Parses the us stack's example config with some keys changed (`undefined` removes a key). */
function parse(changes: Record<string, unknown> = {}): QuayGeorepConfig {
    const cfg = withConfig(exampleConfig("us"), changes);
    const { raw, plaintextKeys } = readRawConfig(PROJECT, cfg.config, (key) => cfg.secretKeys.includes(key));
    return parseConfig(raw, { project: PROJECT, stack: "us", plaintextKeys });
}

/** The problems a change causes (fails when it parses). */
function problems(changes: Record<string, unknown>): readonly string[] {
    try {
        parse(changes);
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
    assert.fail("expected a ConfigError");
}

/** The example's entryPoint with some keys changed. */
function lb(changes: Record<string, unknown>) {
    return { entryPoint: { ...LB, ...changes } };
}

/** The example's sites with one site changed. */
function site(name: string, change: Record<string, unknown>) {
    return { sites: exampleSites().map((s) => (s.name === name ? { ...s, ...change } : s)) };
}

describe("entryPoint config", () => {
    it("refuses the old key loadBalancer, saying it was renamed", () => {
        assert.ok(
            problems({ loadBalancer: LB }).includes(
                'loadBalancer: "<set>" was renamed entryPoint (one name for the global entry point in config, code and docs); rename the key in Pulumi.yaml to entryPoint; its content is unchanged',
            ),
        );
    });

    it("reads the example: route53, latency regions and probe IPs resolved per site", () => {
        assert.deepEqual(parse().entryPoint, {
            mode: "route53",
            zone: { id: "Z0123456789EXAMPLE", name: "example.com" },
            ttl: 60,
            healthCheck: { path: "/health/endtoend", interval: 30, failureThreshold: 3 },
            latencyRegions: { usstorage: "us-east-1", eustorage: "eu-central-1" },
            probeAddresses: { usstorage: "198.51.100.10", eustorage: "203.0.113.20" },
        });
    });

    it("defaults to mode none with Red Hat's health path when absent", () => {
        assert.deepEqual(parse({ entryPoint: undefined }).entryPoint, {
            mode: "none",
            healthCheck: { path: "/health/endtoend", interval: 30, failureThreshold: 3 },
        });
    });

    it("accepts health settings given as strings, as `pulumi config set --path` stores them", () => {
        const hc = parse(lb({ healthCheck: { path: "/health/instance", interval: "10", failureThreshold: "5" } }))
            .entryPoint.healthCheck;
        assert.deepEqual(hc, { path: "/health/instance", interval: 10, failureThreshold: 5 });
    });

    it("rejects a value that is not an object, and a missing or unknown mode", () => {
        assert.deepEqual(problems({ entryPoint: "route53" }), [
            'entryPoint: "route53" is not an object; set it to an object with a mode, e.g. {mode: route53, ...}',
        ]);
        assert.deepEqual(problems({ entryPoint: { zone: ZONE } }), [
            "entryPoint.mode: (missing) is required; use one of: route53, traffic-manager, none",
        ]);
        assert.deepEqual(problems(lb({ mode: "dns" })), [
            'entryPoint.mode: "dns" is not allowed; use one of: route53, traffic-manager, none',
        ]);
    });

    it("reports an unknown key with a suggestion, and a key that belongs to another mode", () => {
        assert.deepEqual(problems(lb({ healthcheck: {} })), [
            'entryPoint.healthcheck: "healthcheck" is not a known key; did you mean "healthCheck"? Valid keys: mode, zone, ttl, healthCheck, latencyRegions, healthCheckAddresses',
        ]);
        assert.deepEqual(problems(lb({ locations: { usstorage: "eastus" } })), [
            'entryPoint.locations: "locations" is not used in mode "route53"; remove it (it applies to mode traffic-manager)',
        ]);
        assert.deepEqual(problems({ entryPoint: { mode: "none", zone: ZONE } }), [
            'entryPoint.zone: "zone" is not used in mode "none"; remove it (it applies to mode route53 and traffic-manager)',
        ]);
    });

    it("validates the health check path, interval and failure threshold against what both balancers allow", () => {
        assert.deepEqual(
            problems(lb({ healthCheck: { path: "health/endtoend", interval: 15, failureThreshold: 0 } })),
            [
                'entryPoint.healthCheck.path: "health/endtoend" is not an absolute URL path of at most 255 characters; use e.g. "/health/endtoend" (Red Hat recommends it for the global balancer)',
                "entryPoint.healthCheck.interval: 15 is not allowed; use 30 (standard) or 10 (fast, billed extra): the only intervals Route 53 and Traffic Manager offer",
                "entryPoint.healthCheck.failureThreshold: 0 is not a valid number; use a whole number from 1 to 10",
            ],
        );
        assert.deepEqual(problems(lb({ healthCheck: { path: `/${"x".repeat(255)}`, failureThreshold: 11 } })), [
            `entryPoint.healthCheck.path: "/${"x".repeat(55)}... is not an absolute URL path of at most 255 characters; use e.g. "/health/endtoend" (Red Hat recommends it for the global balancer)`,
            "entryPoint.healthCheck.failureThreshold: 11 is not a valid number; use a whole number from 1 to 10",
        ]);
        assert.deepEqual(problems(lb({ healthCheck: { timeout: 5 } })), [
            'entryPoint.healthCheck.timeout: "timeout" is not a known key; valid keys: path, interval, failureThreshold',
        ]);
        assert.deepEqual(problems(lb({ ttl: -1 })), [
            "entryPoint.ttl: -1 is not a valid number; use a whole number from 0 to 86400",
        ]);
    });

    it("rejects the issue's site problems: a site without endpoint, an endpoint neither hostname nor IP", () => {
        assert.deepEqual(problems(site("eustorage", { endpoint: undefined })), [
            'sites[1].endpoint: (missing) is required; set the hostname or IP of this cluster\'s router (its ingress), e.g. "router.us.example.com"',
        ]);
        assert.deepEqual(problems(site("eustorage", { endpoint: "https://router.eu" })), [
            'sites[1].endpoint: "https://router.eu" is neither a hostname nor an IP address; use e.g. "router.us.example.com" or "203.0.113.10"',
        ]);
    });
});

describe("entryPoint config: route53", () => {
    it("requires the hosted zone and reports unknown zone settings", () => {
        assert.deepEqual(problems(lb({ zone: undefined })), [
            'entryPoint.zone: (missing) is required; set {id: "Z...", name: "example.com"} of the public hosted zone that holds hostname',
        ]);
        assert.deepEqual(problems(lb({ zone: { ...ZONE, ttl: 60 } })), [
            'entryPoint.zone.ttl: "ttl" is not a known key; valid keys: id, name',
        ]);
        assert.deepEqual(problems(lb({ zone: { ...ZONE, id: "/hostedzone/Z0123456789EXAMPLE" } })), [
            'entryPoint.zone.id: "/hostedzone/Z0123456789EXAMPLE" is not a Route 53 hosted zone ID; use the bare ID, e.g. "Z0123456789ABCDEFGHIJ" (without "/hostedzone/")',
        ]);
    });

    it("requires hostname inside the zone, and not at its apex while the records are CNAMEs", () => {
        assert.deepEqual(problems(lb({ zone: { ...ZONE, name: "example.org" } })), [
            'entryPoint.zone.name: "example.org" does not contain hostname "quay.example.com"; use the DNS zone that holds the hostname (records outside their zone are refused)',
        ]);
        assert.deepEqual(problems({ hostname: "example.com" }), [
            'hostname: "example.com" is the apex of zone "example.com", where a CNAME is not allowed; use a name below the apex (e.g. "quay.<zone>"), or give every active site an IP endpoint (A/AAAA records may sit at the apex)',
        ]);
        // A trailing dot is the same zone.
        assert.equal(parse(lb({ zone: { ...ZONE, name: "Example.COM." } })).entryPoint.mode, "route53");
    });

    it("allows A records at the apex when every active site has an IP endpoint", () => {
        const sites = exampleSites().map((s, i) => ({ ...s, endpoint: `198.51.100.${10 + i}` }));
        const cfg = parse({ hostname: "example.com", sites, entryPoint: { ...LB, healthCheckAddresses: undefined } });
        assert.deepEqual(cfg.entryPoint.mode === "route53" && cfg.entryPoint.probeAddresses, {
            usstorage: "198.51.100.10",
            eustorage: "198.51.100.11",
        });
    });

    it("requires an AWS latency region for a non-AWS site: a commercial one, distinct per active site", () => {
        assert.deepEqual(problems(lb({ latencyRegions: undefined })), [
            'entryPoint.latencyRegions.eustorage: (missing) is required for a site on azure; name the AWS region nearest to its cluster (Route 53 measures latency to AWS regions only), e.g. "eu-central-1"',
        ]);
        assert.deepEqual(problems(lb({ latencyRegions: { eustorage: "westeurope", apstorage: "ap-southeast-2" } })), [
            'entryPoint.latencyRegions.apstorage: "apstorage" is not a site; use one of: usstorage, eustorage',
            'entryPoint.latencyRegions.eustorage: "westeurope" is not an AWS region Route 53 latency records can use; name a commercial AWS region near the site\'s cluster, e.g. "eu-central-1"',
        ]);
        assert.deepEqual(problems(lb({ latencyRegions: { eustorage: "us-gov-west-1" } })), [
            'entryPoint.latencyRegions.eustorage: "us-gov-west-1" is not an AWS region Route 53 latency records can use; name a commercial AWS region near the site\'s cluster, e.g. "eu-central-1"',
        ]);
        assert.deepEqual(problems(lb({ latencyRegions: { eustorage: "us-east-1" } })), [
            'entryPoint.latencyRegions.eustorage: "us-east-1" is also the latency region of site "usstorage"; give each active site its own region: Route 53 allows one latency record per region for a name and type',
        ]);
    });

    it("lets an AWS site override its latency region, and needs none for a draining site", () => {
        const cfg = parse(lb({ latencyRegions: { usstorage: "us-east-2", eustorage: "eu-central-1" } }));
        assert.deepEqual(cfg.entryPoint.mode === "route53" && cfg.entryPoint.latencyRegions, {
            usstorage: "us-east-2",
            eustorage: "eu-central-1",
        });
        const draining = parse({ ...site("eustorage", { state: "draining" }), ...lb({ latencyRegions: undefined }) });
        assert.deepEqual(draining.entryPoint.mode === "route53" && draining.entryPoint.latencyRegions, {
            usstorage: "us-east-1",
        });
    });

    it("needs a public probe IP for a hostname endpoint: Route 53 sends Host/SNI = hostname only to an IP", () => {
        assert.deepEqual(problems(lb({ healthCheckAddresses: { eustorage: "203.0.113.20" } })), [
            'entryPoint.healthCheckAddresses.usstorage: (missing) is required because sites[0].endpoint "router.apps.us.example.com" is a hostname: Route 53 sends Host and SNI = hostname only when it probes an IP address; set the public IP of that router (e.g. its load balancer\'s static IP), give the site an IP endpoint, or use mode traffic-manager',
        ]);
        assert.deepEqual(problems(lb({ healthCheckAddresses: { usstorage: "10.0.0.1", eustorage: "router.eu" } })), [
            'entryPoint.healthCheckAddresses.usstorage: "10.0.0.1" is not a public address (Route 53 health checkers cannot reach private, loopback, link-local, shared or multicast ranges); use the router\'s public IP address',
            'entryPoint.healthCheckAddresses.eustorage: "router.eu" is not an IP address; use the public IP of the site\'s router, e.g. "203.0.113.10"',
        ]);
        for (const ip of [
            "127.0.0.1",
            "169.254.1.1",
            "172.20.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
            "fe80::1",
        ]) {
            assert.equal(
                problems(lb({ healthCheckAddresses: { usstorage: ip, eustorage: "203.0.113.20" } })).length,
                1,
                ip,
            );
        }
    });

    it("probes an IP endpoint directly and refuses a redundant or private probe address for it", () => {
        const sites = exampleSites().map((s, i) => ({ ...s, endpoint: `2001:db8::${i + 1}` }));
        const cfg = parse({ sites, entryPoint: { ...LB, healthCheckAddresses: undefined } });
        assert.deepEqual(cfg.entryPoint.mode === "route53" && cfg.entryPoint.probeAddresses, {
            usstorage: "2001:db8::1",
            eustorage: "2001:db8::2",
        });
        assert.deepEqual(problems({ sites, ...lb({ healthCheckAddresses: { usstorage: "198.51.100.10" } }) }), [
            'entryPoint.healthCheckAddresses.usstorage: "198.51.100.10" is not needed: sites[0].endpoint "2001:db8::1" is already an IP address; remove it (Route 53 probes the endpoint itself)',
        ]);
        const privateSites = sites.map((s, i) => ({ ...s, endpoint: i === 0 ? "fd12::1" : s.endpoint }));
        assert.deepEqual(problems({ sites: privateSites, ...lb({ healthCheckAddresses: undefined }) }), [
            'sites[0].endpoint: "fd12::1" is not a public address (Route 53 health checkers cannot reach private, loopback, link-local, shared or multicast ranges); use the router\'s public IP address',
        ]);
    });

    it("refuses to mix record types among active sites (one latency group per name and type)", () => {
        const sites = exampleSites().map((s) => (s.name === "eustorage" ? { ...s, endpoint: "203.0.113.20" } : s));
        assert.deepEqual(problems({ sites, ...lb({ healthCheckAddresses: { usstorage: "198.51.100.10" } }) }), [
            'sites: ["usstorage=CNAME","eustorage=A"] mixes record types among active sites; give every active site a hostname endpoint, or every one an IPv4 (or every one an IPv6) address: latency records for one name share one type, a CNAME cannot sit beside A/AAAA, and clients asking for one type would never fail over to sites of the other',
        ]);
        const v4v6 = exampleSites().map((s, i) => ({ ...s, endpoint: i === 0 ? "198.51.100.10" : "2001:db8::2" }));
        assert.match(
            problems({ sites: v4v6, ...lb({ healthCheckAddresses: undefined }) })[0],
            /^sites: \["usstorage=A","eustorage=AAAA"\] mixes/,
        );
    });

    it("ignores entries of a retired site and does not repeat an invalid site's problems", () => {
        const retired = parse(site("eustorage", { state: "retired" }));
        assert.deepEqual(retired.entryPoint.mode === "route53" && retired.entryPoint.probeAddresses, {
            usstorage: "198.51.100.10",
        });
        assert.deepEqual(problems(site("eustorage", { region: "narnia" })), [
            'sites[1].region: "narnia" is not an Azure region; use e.g. "westeurope"',
        ]);
    });
});

describe("entryPoint config: traffic-manager", () => {
    it("reads a valid profile: locations resolved per site, profile name defaulting to the DNS label", () => {
        assert.deepEqual(parse({ entryPoint: TM }).entryPoint, {
            mode: "traffic-manager",
            resourceGroupName: "quay-global",
            profileName: "quay-example",
            relativeName: "quay-example",
            subscriptionId: undefined,
            ttl: 60,
            healthCheck: { path: "/health/endtoend", interval: 30, failureThreshold: 3 },
            locations: { usstorage: "eastus", eustorage: "westeurope" },
            zone: undefined,
        });
    });

    it("reports every missing or malformed profile setting at once", () => {
        assert.deepEqual(
            problems({
                entryPoint: {
                    mode: "traffic-manager",
                    relativeName: "Quay_X",
                    profileName: "-x",
                    subscriptionId: "abc",
                },
            }),
            [
                "entryPoint.resourceGroupName: (missing) is required; name an existing resource group for the Traffic Manager profile",
                "entryPoint.relativeName: \"Quay_X\" is not a DNS label; use lower-case letters, digits and '-', at most 63 characters",
                "entryPoint.profileName: \"-x\" is not a Traffic Manager profile name; use 1-63 letters, digits, '-' or '.', starting with a letter or digit",
                'entryPoint.subscriptionId: "abc" is not a subscription ID; use the GUID from "az account show --query id"',
                'entryPoint.locations.usstorage: (missing) is required for a site on aws; name the Azure region nearest to its cluster (performance routing measures latency to Azure regions), e.g. "eastus"',
            ],
        );
        assert.deepEqual(problems({ entryPoint: { ...TM, relativeName: undefined, resourceGroupName: "rg." } }), [
            "entryPoint.resourceGroupName: \"rg.\" is not an Azure resource group name; use 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
            'entryPoint.relativeName: (missing) is required; choose the profile\'s DNS label, unique in trafficmanager.net, e.g. "quay-example"',
        ]);
        assert.deepEqual(problems({ entryPoint: { ...TM, locations: { usstorage: "us-east-1" } } }), [
            'entryPoint.locations.usstorage: "us-east-1" is not an Azure region; use e.g. "eastus" or "westeurope"',
        ]);
    });

    it("refuses a profile subscription other than the one every Azure provider is pinned to", () => {
        assert.deepEqual(problems({ entryPoint: { ...TM, subscriptionId: "11111111-1111-1111-1111-111111111111" } }), [
            'entryPoint.subscriptionId: "11111111-1111-1111-1111-111111111111" differs from accounts.azure "00000000-0000-0000-0000-000000000000"; remove it (the entry point uses accounts.azure) or make them equal',
        ]);
        assert.equal(
            parse({ entryPoint: { ...TM, subscriptionId: "00000000-0000-0000-0000-000000000000" } }).accounts.azure,
            "00000000-0000-0000-0000-000000000000",
        );
    });

    it("validates the Azure DNS zone: known settings, resource group, hostname inside and below the apex", () => {
        assert.deepEqual(problems({ entryPoint: { ...TM, zone: { name: "example.com", ttl: 5 } } }), [
            "entryPoint.zone.resourceGroupName: (missing) is required; name the resource group of the Azure DNS zone",
            'entryPoint.zone.ttl: "ttl" is not a known key; valid keys: name, resourceGroupName',
        ]);
        assert.deepEqual(
            problems({
                hostname: "example.com",
                entryPoint: { ...TM, zone: { name: "example.com", resourceGroupName: "dns" } },
            }),
            [
                'hostname: "example.com" is the apex of zone "example.com", where a CNAME is not allowed; use a name below the apex, or drop entryPoint.zone and point the apex at the profile with an Azure DNS alias record yourself',
            ],
        );
        assert.deepEqual(
            problems({ entryPoint: { ...TM, zone: { name: "apps.example.com", resourceGroupName: "dns" } } }),
            [
                'entryPoint.zone.name: "apps.example.com" does not contain hostname "quay.example.com"; use the DNS zone that holds the hostname (records outside their zone are refused)',
            ],
        );
    });
});
