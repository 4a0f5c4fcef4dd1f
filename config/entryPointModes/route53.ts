/**
 * `entryPoint` in mode `route53`: a public hosted zone, record TTL, and per site the AWS latency
 * region and the IP Route 53 probes.
 */
import { HealthCheckSettings, isInRotation, isPublicIpAddress, recordTypeOf } from "../../lib/entryPoint";
import { AWS_REGIONS } from "../regions";
import { isIpAddress, ObjectReader } from "../validate";
import { Context, siteMap, sitePath, ttlOf, zoneName } from "./common";

/** Latency-routed Route 53 records, one per active site, each tied to its own HTTPS health check. */
export interface Route53EntryPointConfig {
    readonly mode: "route53";
    /** The public hosted zone that holds `hostname`. */
    readonly zone: { readonly id: string; readonly name: string };
    /** Record TTL in seconds (default 60, as Route 53 advises for records with health checks). */
    readonly ttl: number;
    readonly healthCheck: HealthCheckSettings;
    /** Per active site: the AWS region its latency is measured from. */
    readonly latencyRegions: Readonly<Record<string, string>>;
    /** Per non-retired site: the public IP Route 53 probes (the endpoint itself when it is an IP). */
    readonly probeAddresses: Readonly<Record<string, string>>;
}

/** Route 53 latency records in a public zone can name commercial regions only (not China, GovCloud, ISO). */
const LATENCY_REGIONS = [...AWS_REGIONS].filter((r) => !/^(cn-|us-gov-|eusc-)|iso/.test(r));
const ZONE_ID = /^Z[A-Z0-9]{1,31}$/;

/** Parses the route53 keys; problems are recorded, never thrown. */
export function parseRoute53(
    lb: ObjectReader,
    ctx: Context,
    healthCheck: HealthCheckSettings,
): Route53EntryPointConfig {
    const p = ctx.problems;
    const served = ctx.sites.filter((s) => s.state !== "retired");
    const active = served.filter(isInRotation);
    const types = new Set(active.map((s) => recordTypeOf(s.endpoint)));

    const zone = lb.object("zone", ["id", "name"], {
        required: true,
        fix: 'set {id: "Z...", name: "example.com"} of the public hosted zone that holds hostname',
    });
    const id = zone?.string("id", { required: true, fix: "set the hosted zone's ID (aws route53 list-hosted-zones)" });
    if (id !== undefined && !ZONE_ID.test(id)) {
        p.add(
            "entryPoint.zone.id",
            id,
            "is not a Route 53 hosted zone ID",
            'use the bare ID, e.g. "Z0123456789ABCDEFGHIJ" (without "/hostedzone/")',
        );
    }
    const name = zone
        ? zoneName(
              zone,
              ctx,
              types.has("CNAME"),
              'use a name below the apex (e.g. "quay.<zone>"), or give every active site an IP endpoint (A/AAAA records may sit at the apex)',
          )
        : undefined;
    zone?.done();
    const ttl = ttlOf(lb);

    if (types.size > 1) {
        p.add(
            "sites",
            active.map((s) => `${s.name}=${recordTypeOf(s.endpoint)}`),
            "mixes record types among active sites",
            "give every active site a hostname endpoint, or every one an IPv4 (or every one an IPv6) address: latency records for one name share one type, a CNAME cannot sit beside A/AAAA, and clients asking for one type would never fail over to sites of the other",
        );
    }

    // Only active sites get a record, so only they need a latency region (one each, per Route 53).
    const given = siteMap(lb, "latencyRegions", ctx, "an AWS region");
    const latencyRegions: Record<string, string> = {};
    const regionOwner = new Map<string, string>();
    for (const site of active) {
        const path = `entryPoint.latencyRegions.${site.name}`;
        const region = given.get(site) ?? (site.cloud === "aws" ? site.region : undefined);
        const owner = region === undefined ? undefined : regionOwner.get(region);
        if (region === undefined) {
            p.add(
                path,
                region,
                `is required for a site on ${site.cloud}`,
                'name the AWS region nearest to its cluster (Route 53 measures latency to AWS regions only), e.g. "eu-central-1"',
            );
        } else if (!LATENCY_REGIONS.includes(region)) {
            p.add(
                path,
                region,
                given.has(site)
                    ? "is not an AWS region Route 53 latency records can use"
                    : "is the site's region, which latency records in a public zone cannot use",
                'name a commercial AWS region near the site\'s cluster, e.g. "eu-central-1"',
            );
        } else if (owner !== undefined) {
            p.add(
                path,
                region,
                `is also the latency region of site "${owner}"`,
                "give each active site its own region: Route 53 allows one latency record per region for a name and type",
            );
        } else {
            regionOwner.set(region, site.name);
            latencyRegions[site.name] = region;
        }
    }

    const addresses = siteMap(lb, "healthCheckAddresses", ctx, "the router's public IP address");
    const probeAddresses: Record<string, string> = {};
    for (const site of served) {
        const path = `entryPoint.healthCheckAddresses.${site.name}`;
        const given = addresses.get(site);
        const endpointIsIp = isIpAddress(site.endpoint);
        if (given !== undefined && endpointIsIp) {
            p.add(
                path,
                given,
                `is not needed: ${sitePath(ctx, site)}.endpoint "${site.endpoint}" is already an IP address`,
                "remove it (Route 53 probes the endpoint itself)",
            );
            continue;
        }
        if (given === undefined && !endpointIsIp) {
            p.add(
                path,
                given,
                `is required because ${sitePath(ctx, site)}.endpoint "${site.endpoint}" is a hostname: Route 53 sends Host and SNI = hostname only when it probes an IP address`,
                "set the public IP of that router (e.g. its load balancer's static IP), give the site an IP endpoint, or use mode traffic-manager",
            );
            continue;
        }
        const address = given ?? site.endpoint;
        const where = given !== undefined ? path : `${sitePath(ctx, site)}.endpoint`;
        if (!isIpAddress(address)) {
            p.add(
                where,
                address,
                "is not an IP address",
                'use the public IP of the site\'s router, e.g. "203.0.113.10"',
            );
        } else if (!isPublicIpAddress(address)) {
            p.add(
                where,
                address,
                "is not a public address (Route 53 health checkers cannot reach private, loopback, link-local, shared or multicast ranges)",
                "use the router's public IP address",
            );
        } else {
            probeAddresses[site.name] = address;
        }
    }
    return {
        mode: "route53",
        zone: { id: id ?? "", name: name ?? "" },
        ttl,
        healthCheck,
        latencyRegions,
        probeAddresses,
    };
}
