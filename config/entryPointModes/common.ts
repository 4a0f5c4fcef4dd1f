/**
 * Helpers the per-mode parsers of `quay-georep:entryPoint` share: the parse context, per-site
 * maps keyed by site name, the TTL, and checks of a DNS zone against the hostname.
 */
import type { Site } from "../sites";
import { isDnsName, isRecord, ObjectReader, Problems } from "../validate";

/** Context the mode parsers need from the rest of the config. */
export interface Context {
    readonly problems: Problems;
    readonly hostname?: string;
    readonly sites: readonly Site[];
    /** Every name in the raw site list, valid or not (entries for an invalid site are not reported again). */
    readonly rawNames: readonly string[];
}

/** Reads a per-site map (`latencyRegions`, `locations`, `healthCheckAddresses`), reporting unknown sites. */
export function siteMap(lb: ObjectReader, key: string, ctx: Context, what: string): Map<Site, string> {
    const result = new Map<Site, string>();
    const raw = lb.raw_(key);
    if (raw === undefined || raw === null) return result;
    if (!isRecord(raw)) {
        ctx.problems.add(
            `entryPoint.${key}`,
            raw,
            "is not an object",
            `map site names to ${what}, e.g. {eustorage: ...}`,
        );
        return result;
    }
    for (const [name, value] of Object.entries(raw)) {
        const site = ctx.sites.find((s) => s.name === name);
        if (site === undefined) {
            if (!ctx.rawNames.includes(name)) {
                ctx.problems.add(
                    `entryPoint.${key}.${name}`,
                    name,
                    "is not a site",
                    `use one of: ${ctx.sites.map((s) => s.name).join(", ")}`,
                );
            }
        } else if (typeof value !== "string" || value === "") {
            ctx.problems.add(`entryPoint.${key}.${name}`, value, "is not a string", `set it to ${what}`);
        } else {
            result.set(site, value);
        }
    }
    return result;
}

export function ttlOf(lb: ObjectReader): number {
    return lb.integer("ttl", 60, 0, 86400) ?? 60;
}

export function sitePath(ctx: Context, site: Site): string {
    return `sites[${ctx.rawNames.indexOf(site.name)}]`;
}

/** A zone's domain, lower-case without the trailing dot; checks that `hostname` lies inside it. */
export function zoneName(zone: ObjectReader, ctx: Context, cnameAlways: boolean, cnameFix: string): string | undefined {
    const name = zone
        .string("name", { required: true, fix: 'set the zone\'s domain, e.g. "example.com"' })
        ?.toLowerCase()
        .replace(/\.$/, "");
    if (name === undefined) return undefined;
    if (!isDnsName(name)) {
        ctx.problems.add(zone.at("name"), name, "is not a DNS name", 'use the zone\'s domain, e.g. "example.com"');
        return name;
    }
    const host = ctx.hostname?.toLowerCase();
    // An invalid hostname is reported once, under its own key.
    if (host === undefined || !isDnsName(host)) return name;
    if (host !== name && !host.endsWith(`.${name}`)) {
        ctx.problems.add(
            zone.at("name"),
            name,
            `does not contain hostname "${host}"`,
            "use the DNS zone that holds the hostname (records outside their zone are refused)",
        );
    } else if (host === name && cnameAlways) {
        ctx.problems.add("hostname", host, `is the apex of zone "${name}", where a CNAME is not allowed`, cnameFix);
    }
    return name;
}
