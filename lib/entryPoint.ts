/**
 * Pure planning of the global entry point: which sites are in rotation, what each site's DNS
 * answer and health probe are, and the exact arguments the Route 53 and Traffic Manager
 * resources get. No Pulumi here, so every rule is testable without mocks.
 *
 * Facts used (docs/entry-point.md has the full list with links):
 * - Route 53 sends Host = `fqdn` (and SNI = `fqdn` with `enableSni`) to `ipAddress` when both are
 *   set; without `ipAddress` it resolves `fqdn` and probes that name instead (API reference,
 *   HealthCheckConfig.FullyQualifiedDomainName / EnableSNI).
 * - Traffic Manager adds profile-level custom headers, e.g. `Host`, to every probe (Microsoft
 *   Learn, "Traffic Manager endpoint monitoring").
 * - OpenShift passthrough routes are matched on SNI, so a probe must carry SNI/Host = the global
 *   hostname or the router never reaches Quay (docs/quay-georep.md §5, an inference).
 */
import type { Cloud, Site, SiteState } from "./domain";
import { isIpAddress } from "./net";

/** The HTTPS port every router serves Quay on (the passthrough Route's port). */
export const HTTPS_PORT = 443;

/** Red Hat's recommended probe for a global balancer: DB, Redis, storage and auth. */
export const DEFAULT_HEALTH_PATH = "/health/endtoend";

/** The DNS record type a site's endpoint is published as. */
export type RecordType = "A" | "AAAA" | "CNAME";

/** How the balancer probes sites (one setting for all of them). */
export interface HealthCheckSettings {
    /** Request path (default `/health/endtoend`). */
    readonly path: string;
    /** Seconds between probes: 30 (standard) or 10 (fast, billed extra) (default 30). */
    readonly interval: 10 | 30;
    /** Consecutive failures before a site is taken out (1–10, default 3). */
    readonly failureThreshold: number;
}

/** What the balancer sends to one site and expects back. */
export interface Probe {
    readonly protocol: "HTTPS";
    /** Where the probe connects: an IP (Route 53) or the endpoint itself. */
    readonly address: string;
    readonly port: number;
    readonly path: string;
    /** HTTP Host header: always the global hostname. */
    readonly host: string;
    /** TLS server name: always the global hostname (the passthrough Route is matched on it). */
    readonly sni: string;
    /** The URL as a client would write it. */
    readonly url: string;
    readonly interval: number;
    readonly failureThreshold: number;
    /** Status a healthy site answers (Quay: 200 healthy, 503 unhealthy). */
    readonly healthyStatus: 200;
}

/** One site as the entry point sees it (non-retired sites only). */
export interface EntryPointTarget {
    readonly site: string;
    readonly cloud: Cloud;
    readonly state: SiteState;
    /** True for an active site not fenced: its record exists / its endpoint is enabled. */
    readonly inRotation: boolean;
    /** Kept out after a failover until its stack deployed the bundle naming the new database. */
    readonly fenced?: true;
    /** The value DNS answers with: the router's hostname or IP. */
    readonly endpoint: string;
    readonly recordType: RecordType;
    readonly probe: Probe;
    /** Route 53 only: the AWS region latency is measured from. */
    readonly latencyRegion?: string;
    /** Traffic Manager only: the Azure region performance routing attributes the site to. */
    readonly location?: string;
}

/** Per-mode extras of a target (latency region, Azure location, probe address). */
export interface TargetPlacement {
    /** Where to probe; default the endpoint itself. */
    readonly probeAddress?: string;
    readonly latencyRegion?: string;
    readonly location?: string;
}

/** `CNAME` for a hostname, `A`/`AAAA` for an IPv4/IPv6 address. */
export function recordTypeOf(endpoint: string): RecordType {
    if (!isIpAddress(endpoint)) return "CNAME";
    return endpoint.includes(":") ? "AAAA" : "A";
}

/** Sites the entry point knows: every site whose cluster still runs (not retired), in config order. */
export function servedSites(sites: readonly Site[]): Site[] {
    return sites.filter((s) => s.state !== "retired");
}

/** A site takes new traffic only while active; draining and retired sites leave rotation. */
export function isInRotation(site: Site): boolean {
    return site.state === "active";
}

/** The entry point's view of every non-retired site. */
export function entryPointTargets(
    hostname: string,
    sites: readonly Site[],
    health: HealthCheckSettings,
    placement: (site: Site) => TargetPlacement = () => ({}),
    fenced: readonly string[] = [],
): EntryPointTarget[] {
    return servedSites(sites).map((site) => {
        const p = placement(site);
        return {
            site: site.name,
            cloud: site.cloud,
            state: site.state,
            // A fenced site's cluster may still run a bundle that names a database lost in a
            // failover (lib/standby.ts): out of rotation until its stack deployed the current one.
            inRotation: isInRotation(site) && !fenced.includes(site.name),
            ...(fenced.includes(site.name) ? { fenced: true } : {}),
            endpoint: site.endpoint,
            recordType: recordTypeOf(site.endpoint),
            probe: {
                protocol: "HTTPS",
                address: p.probeAddress ?? site.endpoint,
                port: HTTPS_PORT,
                path: health.path,
                host: hostname,
                sni: hostname,
                url: `https://${hostname}${health.path}`,
                interval: health.interval,
                failureThreshold: health.failureThreshold,
                healthyStatus: 200,
            },
            ...(p.latencyRegion !== undefined ? { latencyRegion: p.latencyRegion } : {}),
            ...(p.location !== undefined ? { location: p.location } : {}),
        };
    });
}

/**
 * Arguments of one site's Route 53 health check. `ipAddress` + `fqdn` is the only combination
 * that sends Host and SNI = the global hostname to one specific site. Not inverted, not disabled:
 * either would make Route 53 ignore the probe (a disabled check is always healthy).
 */
export function route53HealthCheckArgs(target: EntryPointTarget) {
    return {
        type: "HTTPS",
        ipAddress: target.probe.address,
        fqdn: target.probe.host,
        enableSni: true,
        port: target.probe.port,
        resourcePath: target.probe.path,
        requestInterval: target.probe.interval,
        failureThreshold: target.probe.failureThreshold,
        invertHealthcheck: false,
        disabled: false,
        tags: { Name: `${target.probe.host} ${target.site}` },
    };
}

/** Arguments of one active site's latency record, without the health check id (an Output). */
export function route53RecordArgs(target: EntryPointTarget, zoneId: string, ttl: number) {
    if (target.latencyRegion === undefined) throw new Error(`site ${target.site} has no latency region`);
    return {
        zoneId,
        name: target.probe.host,
        type: target.recordType,
        ttl,
        records: [target.endpoint],
        setIdentifier: target.site,
        latencyRoutingPolicies: [{ region: target.latencyRegion }],
    };
}

/**
 * Traffic Manager's monitor: HTTPS on the path with Host = the global hostname. The failure
 * threshold maps onto `toleratedNumberOfFailures` (failures tolerated before the next one marks
 * the endpoint Degraded), so both balancers take a site out after the same number of failures.
 */
export function trafficManagerMonitorConfig(hostname: string, health: HealthCheckSettings) {
    return {
        protocol: "HTTPS",
        port: HTTPS_PORT,
        path: health.path,
        intervalInSeconds: health.interval,
        // The longest timeout each interval allows (10 s at 30 s, 9 s at 10 s): endtoend checks DB, Redis and storage.
        timeoutInSeconds: health.interval === 30 ? 10 : 9,
        toleratedNumberOfFailures: health.failureThreshold - 1,
        customHeaders: [{ name: "Host", value: hostname }],
        expectedStatusCodeRanges: [{ min: 200, max: 200 }],
    };
}

/** Arguments of one site's external endpoint (the profile and resource group are added by the caller). */
export function trafficManagerEndpointArgs(target: EntryPointTarget) {
    if (target.location === undefined) throw new Error(`site ${target.site} has no Azure location`);
    return {
        endpointName: target.site,
        endpointType: "ExternalEndpoints",
        type: "Microsoft.Network/trafficManagerProfiles/externalEndpoints",
        target: target.endpoint,
        endpointLocation: target.location,
        // A draining site stays defined (its cluster still runs) but is never answered, even when all others fail.
        endpointStatus: target.inRotation ? "Enabled" : "Disabled",
        // AlwaysServe would stop probing and answer the endpoint regardless of health.
        alwaysServe: "Disabled",
    };
}

/** True when `ip` is an address Route 53 health checkers can reach (not private, loopback, link-local, shared or multicast). */
export function isPublicIpAddress(ip: string): boolean {
    if (!isIpAddress(ip)) return false;
    if (ip.includes(":")) {
        const first = parseInt(ip.split(":")[0] || "0", 16);
        // ::, ::1, fc00::/7 (unique local), fe80::/10 (link-local), ff00::/8 (multicast).
        return !(
            ip === "::" ||
            ip === "::1" ||
            (first & 0xfe00) === 0xfc00 ||
            (first & 0xffc0) === 0xfe80 ||
            first >= 0xff00
        );
    }
    const [a, b] = ip.split(".").map(Number);
    return !(
        a === 0 ||
        a === 10 ||
        a === 127 ||
        (a === 100 && b >= 64 && b <= 127) ||
        (a === 169 && b === 254) ||
        (a === 172 && b >= 16 && b <= 31) ||
        (a === 192 && b === 168) ||
        a >= 224
    );
}
