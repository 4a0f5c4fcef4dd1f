/**
 * Readers for the fields of the service objects (`database`, `redis`, `storage`): the mode and its
 * keys, regions, hostnames, IPv4 CIDR allow-lists and the cloud resource IDs that place a server in
 * an existing network. Problems are recorded on the reader, never thrown.
 *
 * Allow-lists are IPv4 only: Azure Database for PostgreSQL firewall rules take IPv4 ranges only,
 * and one rule set serves every mode.
 */
import { describeOverexposure, ipv4Number, overBound, parseBlock, parseCidr, PUBLIC_BOUND_PREFIX } from "../lib/cidr";
import { AWS_REGIONS, AZURE_REGIONS, EXAMPLE_REGION } from "./regions";
import type { Cloud } from "./sites";
import { isDnsName, isIpAddress, isRecord, ObjectReader, Problems } from "./validate";

/**
 * Opens a service object with the keys of its mode. Keys that belong to another mode are reported
 * as such (not as unknown), so switching modes tells the user exactly what to remove.
 */
export function openModal<M extends string>(
    top: ObjectReader,
    key: "database" | "redis" | "storage",
    table: Readonly<Record<M, readonly string[]>>,
    fix: string,
): { r?: ObjectReader; mode?: M } {
    const modes = Object.keys(table) as M[];
    const raw = top.raw_(key);
    const given = isRecord(raw) && typeof raw.mode === "string" ? raw.mode : undefined;
    const mode = modes.find((m) => m === given);
    const all = [...new Set(modes.flatMap((m) => table[m]))];
    const r = top.object(key, mode ? table[mode] : all, { required: true, fix });
    if (r === undefined) return {};
    r.oneOf("mode", modes);
    if (mode !== undefined && isRecord(raw)) {
        for (const k of Object.keys(raw)) {
            if (table[mode].includes(k) || !all.includes(k)) continue;
            const owners = modes.filter((m) => table[m].includes(k));
            r.problems.add(
                r.at(k),
                r.raw_(k),
                `is not used in mode ${mode}`,
                `remove it, or set ${key}.mode to ${owners.join(" or ")}`,
            );
        }
    }
    return { r, mode };
}

/** A hostname or an IP address. */
export function checkHost(problems: Problems, path: string, host: string | undefined): void {
    if (host !== undefined && !isDnsName(host) && !isIpAddress(host)) {
        problems.add(path, host, "is neither a hostname nor an IP address", 'use e.g. "db.example.com" or "10.0.0.5"');
    }
}

/** A required region of `cloud`. */
export function checkRegion(r: ObjectReader, key: string, cloud: Cloud): string {
    const region = r.string(key, {
        required: true,
        fix: `set the ${cloud === "aws" ? "AWS region" : "Azure location"}, e.g. "${EXAMPLE_REGION[cloud]}"`,
    });
    if (region !== undefined && !(cloud === "aws" ? AWS_REGIONS : AZURE_REGIONS).has(region)) {
        const label = cloud === "aws" ? "an AWS region" : "an Azure location";
        r.problems.add(r.at(key), region, `is not ${label}`, `use e.g. "${EXAMPLE_REGION[cloud]}"`);
    }
    return region ?? "";
}

/** A string matching `pattern`, else `fallback` with a problem naming `what` and an `example`. */
export function matching(
    r: ObjectReader,
    key: string,
    fallback: string,
    pattern: RegExp,
    what: string,
    example: string,
) {
    const value = r.string(key) ?? fallback;
    if (!pattern.test(value)) r.problems.add(r.at(key), value, `is not ${what}`, `use e.g. "${example}"`);
    return value;
}

/** What a service's allow-list protects, for messages. */
export interface AllowListContext {
    /** e.g. `PostgreSQL` or `Redis`. */
    readonly service: string;
    /** Who must be listed, e.g. `every cluster's egress`. */
    readonly clients: string;
    /** The opt-in key next to the list, e.g. `allowInternet`. */
    readonly optInKey: string;
    /** The opt-in's value: true accepts `0.0.0.0/0`, and lists over the public bound. */
    readonly allowInternet: boolean;
}

/**
 * Reads a required, non-empty list of IPv4 CIDRs: canonical form, no duplicates, and unless the
 * opt-in key is true, no `0.0.0.0/0` and no list whose entries together cover more public
 * addresses than a /16 (`PUBLIC_BOUND_PREFIX`; private and reserved ranges count for nothing):
 * split into `0.0.0.0/1` and `128.0.0.0/1`, the internet is still the internet. Returns the valid
 * entries in the order given.
 */
export function readAllowList(reader: ObjectReader, key: string, ctx: AllowListContext): string[] {
    const path = reader.at(key);
    const fix = `list the CIDRs that may reach ${ctx.service}: ${ctx.clients}, e.g. ["203.0.113.0/24"]`;
    const list = reader.array(key, { required: true, fix });
    if (list === undefined) return [];
    if (list.length === 0) {
        reader.problems.add(path, list, "is empty", fix);
        return [];
    }
    const result: string[] = [];
    const seen = new Set<string>();
    list.forEach((value, i) => {
        const at = `${path}[${i}]`;
        const cidr = typeof value === "string" ? parseCidr(value) : undefined;
        if (cidr === undefined) {
            reader.problems.add(
                at,
                value,
                "is not an IPv4 CIDR",
                'use e.g. "203.0.113.0/24" (a single address: "/32")',
            );
        } else if (cidr.canonical !== cidr.text) {
            reader.problems.add(at, value, "has host bits set", `use "${cidr.canonical}"`);
        } else if (cidr.text === "0.0.0.0/32") {
            // An Azure PostgreSQL firewall rule from 0.0.0.0 to 0.0.0.0 means "every Azure service",
            // any Azure customer's included; it is no client's address anywhere.
            reader.problems.add(
                at,
                value,
                "is no client's address (on an Azure PostgreSQL firewall it means every Azure service, any customer's)",
                "remove it and list the clusters' egress CIDRs",
            );
        } else if (cidr.prefix === 0 && !ctx.allowInternet) {
            reader.problems.add(
                at,
                value,
                `opens ${ctx.service} to the whole internet`,
                `list the clusters' egress CIDRs instead, or set ${reader.at(ctx.optInKey)}: true to accept that`,
            );
        } else if (seen.has(cidr.text)) {
            reader.problems.add(at, value, "is listed twice", "list each CIDR once");
        } else {
            seen.add(cidr.text);
            result.push(cidr.text);
        }
    });
    const over = overBound(result.flatMap((text) => parseBlock(text) ?? []));
    if (over.length > 0 && !ctx.allowInternet) {
        reader.problems.add(
            path,
            list,
            `${result.length === 1 ? "covers" : "together cover"} ${describeOverexposure(over)}`,
            `list only the networks that must connect (private ranges, or public ones of at most ` +
                `a /${PUBLIC_BOUND_PREFIX[4]} in all), or set ${reader.at(ctx.optInKey)}: true to accept that`,
        );
    }
    return result;
}

/** Reads an optional dotted-quad IPv4 address. */
export function readIpv4(reader: ObjectReader, key: string): string | undefined {
    const value = reader.string(key);
    if (value !== undefined && (ipv4Number(value) === undefined || !isIpAddress(value))) {
        reader.problems.add(reader.at(key), value, "is not an IPv4 address", 'use e.g. "10.0.0.10"');
        return undefined;
    }
    return value;
}

/** AWS resource IDs: `vpc-…`, `subnet-…` (8 or 17 hex digits). */
export function isAwsId(kind: "vpc" | "subnet", value: string): boolean {
    return new RegExp(`^${kind}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(value);
}

/** An Azure subnet's resource ID. */
export function isAzureSubnetId(value: string): boolean {
    return /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i.test(
        value,
    );
}
