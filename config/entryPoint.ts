/**
 * Parsing of `quay-georep:entryPoint`, the global entry point in front of every cluster.
 *
 * A union keyed by `mode`: `route53` (latency records with health checks in a hosted zone),
 * `traffic-manager` (an Azure Traffic Manager profile with performance routing) or `none` (the
 * user's own balancer; the stack only exports what it should target). Per-site settings (the AWS
 * latency region of a non-AWS site, the Azure location of a non-Azure site, Route 53's probe IP)
 * are maps keyed by site name inside this object, so `sites` stays cloud-neutral.
 */
import { DEFAULT_HEALTH_PATH, HealthCheckSettings } from "../lib/entryPoint";
import type { Site } from "./sites";
import { isRecord, ObjectReader, Problems } from "./validate";
import { Context } from "./entryPointModes/common";
import { parseRoute53, Route53EntryPointConfig } from "./entryPointModes/route53";
import { parseTrafficManager, TrafficManagerEntryPointConfig } from "./entryPointModes/trafficManager";

export type { HealthCheckSettings } from "../lib/entryPoint";
export type { Route53EntryPointConfig } from "./entryPointModes/route53";
export type { TrafficManagerEntryPointConfig } from "./entryPointModes/trafficManager";

/** The user's own balancer: no resources, only exports. */
export interface NoEntryPointConfig {
    readonly mode: "none";
    readonly healthCheck: HealthCheckSettings;
}

export type EntryPointConfig = Route53EntryPointConfig | TrafficManagerEntryPointConfig | NoEntryPointConfig;
export type EntryPointMode = EntryPointConfig["mode"];

export const LOAD_BALANCER_MODES: readonly EntryPointMode[] = ["route53", "traffic-manager", "none"];

const KEYS: Readonly<Record<EntryPointMode, readonly string[]>> = {
    route53: ["mode", "zone", "ttl", "healthCheck", "latencyRegions", "healthCheckAddresses"],
    "traffic-manager": [
        "mode",
        "resourceGroupName",
        "profileName",
        "relativeName",
        "subscriptionId",
        "ttl",
        "healthCheck",
        "locations",
        "zone",
    ],
    none: ["mode", "healthCheck"],
};

/** An absolute path of printable ASCII, at most 255 characters (Route 53's ResourcePath limit). */
const PATH = /^\/[\x21-\x7e]{0,254}$/;

/**
 * Parses `entryPoint` (absent means mode `none` with default health settings). Problems are
 * recorded, never thrown.
 */
export function parseEntryPoint(
    top: ObjectReader,
    problems: Problems,
    hostname: string | undefined,
    sites: readonly Site[],
): EntryPointConfig {
    const fallback: NoEntryPointConfig = {
        mode: "none",
        healthCheck: { path: DEFAULT_HEALTH_PATH, interval: 30, failureThreshold: 3 },
    };
    const raw = top.raw_("entryPoint");
    if (raw === undefined || raw === null) return fallback;
    if (!isRecord(raw)) {
        problems.add(
            "entryPoint",
            raw,
            "is not an object",
            "set it to an object with a mode, e.g. {mode: route53, ...}",
        );
        return fallback;
    }
    const peek = LOAD_BALANCER_MODES.find((m) => m === raw.mode);
    const lb = new ObjectReader("entryPoint", raw, problems, peek ? KEYS[peek] : Object.keys(raw));
    const mode = lb.oneOf("mode", LOAD_BALANCER_MODES);
    if (mode === undefined) return fallback;
    const rawSites = top.raw_("sites");
    const rawNames = (Array.isArray(rawSites) ? rawSites : []).flatMap((s) =>
        isRecord(s) && typeof s.name === "string" ? [s.name] : [],
    );
    const ctx: Context = { problems, hostname, sites, rawNames };

    for (const key of Object.keys(raw).filter((k) => !KEYS[mode].includes(k))) {
        const owners = LOAD_BALANCER_MODES.filter((m) => KEYS[m].includes(key));
        if (owners.length === 0) continue; // done() reports it as unknown, with a suggestion
        lb.raw_(key);
        problems.add(
            `entryPoint.${key}`,
            key,
            `is not used in mode "${mode}"`,
            `remove it (it applies to mode ${owners.join(" and ")})`,
        );
    }
    const healthCheck = parseHealthCheck(lb);
    let parsed: EntryPointConfig;
    switch (mode) {
        case "route53":
            parsed = parseRoute53(lb, ctx, healthCheck);
            break;
        case "traffic-manager":
            parsed = parseTrafficManager(lb, ctx, healthCheck);
            break;
        case "none":
            parsed = { mode, healthCheck };
            break;
        default: {
            const unknown: never = mode;
            throw new Error(`unhandled entryPoint mode ${String(unknown)}`);
        }
    }
    lb.done();
    return parsed;
}

function parseHealthCheck(lb: ObjectReader): HealthCheckSettings {
    const hc = lb.object("healthCheck", ["path", "interval", "failureThreshold"]);
    const path = hc?.string("path") ?? DEFAULT_HEALTH_PATH;
    if (!PATH.test(path)) {
        lb.problems.add(
            "entryPoint.healthCheck.path",
            path,
            "is not an absolute URL path of at most 255 characters",
            `use e.g. "${DEFAULT_HEALTH_PATH}" (Red Hat recommends it for the global balancer)`,
        );
    }
    const rawInterval = hc?.raw_("interval");
    const interval = rawInterval === undefined || rawInterval === null ? 30 : Number(rawInterval);
    if (interval !== 10 && interval !== 30) {
        lb.problems.add(
            "entryPoint.healthCheck.interval",
            rawInterval,
            "is not allowed",
            "use 30 (standard) or 10 (fast, billed extra): the only intervals Route 53 and Traffic Manager offer",
        );
    }
    const failureThreshold = hc?.integer("failureThreshold", 3, 1, 10) ?? 3;
    hc?.done();
    return { path, interval: interval === 10 ? 10 : 30, failureThreshold };
}
