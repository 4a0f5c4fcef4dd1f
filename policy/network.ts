/**
 * Network rules: nothing on the internet reaches PostgreSQL (5432), Redis (6379), the database
 * server or the Redis VM. Reads AWS security groups (inline `ingress`, `ec2.SecurityGroupRule`,
 * `vpc.SecurityGroupIngressRule`), Azure NSGs (inline `securityRules`, `network.SecurityRule`) and
 * Azure PostgreSQL firewall rules.
 *
 * "The internet" is judged by what sources cover, not how they are written: `0.0.0.0/0`, a tag
 * such as `Internet`, or CIDRs whose union covers more public addresses than a /16 of IPv4 or a
 * /48 of IPv6 (`PUBLIC_BOUND_PREFIX` in `cidr.ts`, private and reserved ranges not counted), so
 * `0.0.0.0/1` plus `128.0.0.0/1` is refused like `0.0.0.0/0`.
 */
import { breadth, describeOverexposure } from "./cidr";
import { describe, isUnknown, list, ofTypes, PolicyResource, refersTo, ResourceRule, StackRule } from "./resource";

/** Type tokens these rules read. */
export const NETWORK_TYPES = {
    securityGroup: "aws:ec2/securityGroup:SecurityGroup",
    securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
    ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    rdsInstance: "aws:rds/instance:Instance",
    ec2Instance: "aws:ec2/instance:Instance",
    nsg: "azure-native:network:NetworkSecurityGroup",
    nsgRule: "azure-native:network:SecurityRule",
    nic: "azure-native:network:NetworkInterface",
    vm: "azure-native:compute:VirtualMachine",
    firewallRule: "azure-native:dbforpostgresql:FirewallRule",
    singleServerFirewallRule: "azure-native:dbforpostgresql:SingleServerFirewallRule",
    postgresServer: "azure-native:dbforpostgresql:Server",
    singleServer: "azure-native:dbforpostgresql:SingleServer",
} as const;
const T = NETWORK_TYPES;

/** The ports that must never face the internet, and what listens there. */
export const SERVICE_PORTS: readonly (readonly [number, string])[] = [
    [5432, "PostgreSQL"],
    [6379, "Redis"],
];

const FIX = "admit only the Quay clusters' CIDRs";

/** An inclusive TCP port range. */
interface PortRange {
    readonly from: number;
    readonly to: number;
}
const ALL_PORTS: PortRange = { from: 0, to: 65535 };

/** One inbound allow rule, reduced to what the rules judge. */
interface Ingress {
    /** Where inside the resource (`ingress[0] `), empty for a resource that is one rule. */
    readonly where: string;
    /** Known source CIDRs, prefixes or tags. */
    readonly sources: readonly string[];
    /** TCP ports admitted; `undefined` while unknown. */
    readonly tcp: readonly PortRange[] | undefined;
}

/**
 * True for a source meaning "anyone": an IPv4 or IPv6 prefix of length 0 (`0.0.0.0/0`, `::/0`),
 * Azure's `*` and `Internet` (`Any` too, which some tools write), or its `AzureCloud` tag (with or
 * without a region): every Azure-hosted address, other tenants' included.
 */
export function isInternet(source: string): boolean {
    const s = source.trim().toLowerCase();
    return (
        ["*", "internet", "any", "azurecloud"].includes(s) ||
        s.startsWith("azurecloud.") ||
        /^[0-9.]+\/0$/.test(s) ||
        /^[0-9a-f:]+\/0$/.test(s)
    );
}

/** A few sources for a message: `a, b, c and 253 more`. */
function some(sources: readonly string[]): string {
    return sources.length <= 4
        ? sources.join(", ")
        : `${sources.slice(0, 3).join(", ")} and ${sources.length - 3} more`;
}

/** TCP ports of an AWS rule: protocol `-1`/`all` admits every port and protocol. */
function awsTcp(protocol: unknown, from: unknown, to: unknown): PortRange[] | undefined {
    if (typeof protocol !== "string" && typeof protocol !== "number") return undefined;
    const p = String(protocol).toLowerCase();
    if (p === "-1" || p === "all") return [ALL_PORTS];
    if (p !== "tcp" && p !== "6") return [];
    return typeof from === "number" && typeof to === "number" ? [{ from, to }] : undefined;
}

/** TCP ports of an Azure rule: `*` or `N` or `N-M`, in `destinationPortRange(s)`. */
function azureTcp(protocol: unknown, range: unknown, ranges: unknown): PortRange[] | undefined {
    if (typeof protocol !== "string") return undefined;
    if (!["*", "tcp"].includes(protocol.toLowerCase())) return [];
    const specs = [...list(range), ...list(ranges)];
    if (specs.some((s) => typeof s !== "string")) return undefined;
    return (specs as string[]).flatMap((s): PortRange[] => {
        if (s.trim() === "*") return [ALL_PORTS];
        const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(s);
        return m ? [{ from: Number(m[1]), to: Number(m[2] ?? m[1]) }] : [];
    });
}

const knownStrings = (...values: unknown[]) => values.flatMap(list).filter((v): v is string => typeof v === "string");

/** An AWS ingress block (inline or a rule resource's own properties). */
function awsIngress(where: string, p: Readonly<Record<string, unknown>>): Ingress {
    return {
        where,
        sources: knownStrings(p.cidrBlocks, p.ipv6CidrBlocks, p.cidrIpv4, p.cidrIpv6),
        tcp: awsTcp(p.protocol ?? p.ipProtocol, p.fromPort, p.toPort),
    };
}

/** An Azure security rule, when it is an inbound allow (inline or a rule resource's own properties). */
function azureIngress(where: string, p: Readonly<Record<string, unknown>>): Ingress[] {
    const props = (p.properties ?? p) as Readonly<Record<string, unknown>>;
    const direction = props.direction;
    const access = props.access;
    if (typeof direction !== "string" || typeof access !== "string") return [];
    if (direction.toLowerCase() !== "inbound" || access.toLowerCase() !== "allow") return [];
    return [
        {
            where,
            sources: knownStrings(props.sourceAddressPrefix, props.sourceAddressPrefixes),
            tcp: azureTcp(props.protocol, props.destinationPortRange, props.destinationPortRanges),
        },
    ];
}

/** Every inbound allow rule a resource declares. */
export function ingressOf(r: PolicyResource): Ingress[] {
    const inline = (key: string) => list(r.props[key]).map((e, i) => ({ e, i }));
    const isObject = (e: unknown): e is Record<string, unknown> => e !== null && typeof e === "object" && !isUnknown(e);
    switch (r.type) {
        case T.securityGroup:
            return inline("ingress").flatMap(({ e, i }) => (isObject(e) ? [awsIngress(`ingress[${i}] `, e)] : []));
        case T.securityGroupRule:
            return r.props.type === "ingress" ? [awsIngress("", r.props)] : [];
        case T.ingressRule:
            return [awsIngress("", r.props)];
        case T.nsg:
            return inline("securityRules").flatMap(({ e, i }) => {
                if (!isObject(e)) return [];
                const name = typeof e.name === "string" ? ` "${e.name}"` : "";
                return azureIngress(`securityRules[${i}]${name} `, e);
            });
        case T.nsgRule:
            return azureIngress("", r.props);
        default:
            return [];
    }
}

/** `"ingress[0] admits"`, `"ingress[0], ingress[1] together admit"`, `"admits"` (a resource that is one rule). */
function admit(entries: readonly Ingress[]): string {
    const named = entries.map((i) => i.where.trim()).filter((w) => w !== "");
    return `${named.length > 0 ? `${named.join(", ")} ` : ""}${entries.length > 1 ? "together admit" : "admits"}`;
}

/**
 * When the entries' sources together cover more public addresses than the bound: `<who> admit(s)
 * <sources>` and `<how many>` (tags are `isInternet`'s: an entry with one is reported as such).
 */
function tooBroad(entries: readonly Ingress[]): { admits: string; sources: string; covers: string } | undefined {
    if (entries.some((i) => i.sources.some(isInternet))) return undefined;
    const { sources, over } = breadth(entries.flatMap((i) => i.sources));
    if (over.length === 0) return undefined;
    const contributing = entries.filter((i) => breadth(i.sources).sources.length > 0);
    return { admits: admit(contributing), sources: some(sources), covers: describeOverexposure(over) };
}

/** A firewall rule's range as a source (`start-end`); `undefined` while unknown. */
function firewallRange(r: PolicyResource): string | undefined {
    const { startIpAddress: start, endIpAddress: end } = r.props;
    return typeof start === "string" && typeof end === "string" ? `${start}-${end}` : undefined;
}

/**
 * Azure PostgreSQL firewall rules that open the server to everyone, to all of Azure, or to more
 * public addresses than the bound (the range is counted as it is, not cut into CIDRs).
 */
function firewallProblems(r: PolicyResource): string[] {
    const range = firewallRange(r);
    if (range === "0.0.0.0-255.255.255.255") {
        return [`admits every IPv4 address (0.0.0.0-255.255.255.255) to PostgreSQL; ${FIX}`];
    }
    if (range === "0.0.0.0-0.0.0.0") {
        return [
            `admits every Azure-hosted address, other tenants' included (0.0.0.0-0.0.0.0 is Azure's ` +
                `"allow Azure services" rule) to PostgreSQL; ${FIX}`,
        ];
    }
    const { over } = breadth(range === undefined ? [] : [range]);
    return over.length > 0 ? [`admits ${range} to PostgreSQL: ${describeOverexposure(over)}; ${FIX}`] : [];
}

/** True when a TCP range admits `port`. */
const opens = (ingress: Ingress, port: number) => ingress.tcp?.some((r) => r.from <= port && port <= r.to) ?? false;

/** No rule of any kind admits the internet on 5432 or 6379. */
export const noInternetToPostgresOrRedis: ResourceRule = {
    name: "no-internet-ingress-to-postgres-or-redis",
    description:
        "No security group, NSG or PostgreSQL firewall rule admits the internet on 5432 or 6379: 0.0.0.0/0, ::/0, " +
        "Internet, * or AzureCloud, or sources that together cover more public addresses than a /16 of IPv4 or a " +
        "/48 of IPv6.",
    types: [
        T.securityGroup,
        T.securityGroupRule,
        T.ingressRule,
        T.nsg,
        T.nsgRule,
        T.firewallRule,
        T.singleServerFirewallRule,
    ],
    check(r) {
        if (r.type === T.firewallRule || r.type === T.singleServerFirewallRule) return firewallProblems(r);
        const problems: string[] = [];
        const all = ingressOf(r);
        for (const ingress of all) {
            for (const source of ingress.sources.filter(isInternet)) {
                for (const [port, service] of SERVICE_PORTS) {
                    if (opens(ingress, port)) {
                        problems.push(`${ingress.where}admits ${source} on port ${port} (${service}); ${FIX}`);
                    }
                }
            }
        }
        // Split into CIDRs, in one entry or several, the internet is still the internet.
        for (const [port, service] of SERVICE_PORTS) {
            const broad = tooBroad(all.filter((i) => opens(i, port)));
            if (broad) {
                problems.push(`${broad.admits} ${broad.sources} on port ${port} (${service}): ${broad.covers}; ${FIX}`);
            }
        }
        return problems;
    },
};

/** Security groups and NSGs in front of a server or VM, each with what it guards. */
function guards(resources: readonly PolicyResource[]): Map<PolicyResource, PolicyResource[]> {
    const result = new Map<PolicyResource, PolicyResource[]>();
    const add = (guard: PolicyResource, host: PolicyResource) =>
        result.set(guard, [...(result.get(guard) ?? []), host]);
    for (const host of ofTypes(resources, [T.rdsInstance, T.ec2Instance])) {
        for (const sg of ofTypes(resources, [T.securityGroup])) {
            if (
                refersTo(host, "vpcSecurityGroupIds", sg, ["id"]) ||
                refersTo(host, "securityGroups", sg, ["id", "name"])
            ) {
                add(sg, host);
            }
        }
    }
    for (const vm of ofTypes(resources, [T.vm])) {
        for (const nic of ofTypes(resources, [T.nic]).filter((n) => refersTo(vm, "networkProfile", n, ["id"]))) {
            for (const nsg of ofTypes(resources, [T.nsg])) {
                if (refersTo(nic, "networkSecurityGroup", nsg, ["id"])) add(nsg, vm);
            }
        }
    }
    return result;
}

/** True when `r` is the group `guard` itself or a rule resource added to it. */
function belongsTo(r: PolicyResource, guard: PolicyResource): boolean {
    return (
        guard === r ||
        refersTo(r, "securityGroupId", guard, ["id"]) ||
        refersTo(r, "networkSecurityGroupName", guard, ["name", "networkSecurityGroupName"])
    );
}

/**
 * The firewall rules of each PostgreSQL server, together over the bound while none is refused
 * alone (the resource rule reports those): the program makes one small rule per allowed CIDR.
 */
function firewallUnions(resources: readonly PolicyResource[]): { urn: string; message: string }[] {
    const servers = ofTypes(resources, [T.postgresServer, T.singleServer]);
    const groups = new Map<string, { urn: string; whose: string; rules: PolicyResource[] }>();
    for (const rule of ofTypes(resources, [T.firewallRule, T.singleServerFirewallRule])) {
        const server = servers.find((s) => refersTo(rule, "serverName", s, ["name", "serverName"]));
        const name = rule.props.serverName;
        if (server === undefined && typeof name !== "string") continue;
        // A server the stack does not hold: its rules are grouped by resource group and name.
        const key = server?.urn ?? `${String(rule.props.resourceGroupName)}/${String(name)}`;
        const whose = server ? "its firewall rules" : `the firewall rules of server "${String(name)}"`;
        const group = groups.get(key) ?? { urn: server?.urn ?? rule.urn, whose, rules: [] };
        groups.set(key, { ...group, rules: [...group.rules, rule] });
    }
    return [...groups.values()].flatMap(({ urn, whose, rules }) => {
        if (rules.some((r) => firewallProblems(r).length > 0)) return [];
        const { sources, over } = breadth(rules.flatMap((r) => firewallRange(r) ?? []));
        if (over.length === 0) return [];
        const covers = describeOverexposure(over);
        return [{ urn, message: `${whose} together admit ${some(sources)} to PostgreSQL: ${covers}; ${FIX}` }];
    });
}

/**
 * Nothing on the internet reaches the database server or a VM (the Redis VM), on any port: no
 * rule of a group in front of one admits it, alone or with the group's other rules; and a
 * PostgreSQL server's firewall rules do not add up to it.
 */
export const noInternetToServices: StackRule = {
    name: "no-internet-ingress-to-shared-services",
    description:
        "No rule of a security group or NSG in front of the RDS instance, an EC2 instance or an Azure VM (the Redis " +
        "VM) admits the internet, on any port, alone or with the group's other rules, and the firewall rules of an " +
        "Azure PostgreSQL server do not add up to it: 0.0.0.0/0, ::/0, Internet, * or AzureCloud, or more public " +
        "addresses than a /16 of IPv4 or a /48 of IPv6.",
    check(resources) {
        const guarded = guards(resources);
        const violations: { urn: string; message: string }[] = [];
        const rulesOf = new Map<PolicyResource, PolicyResource[]>();
        for (const r of ofTypes(resources, [T.securityGroup, T.securityGroupRule, T.ingressRule, T.nsg, T.nsgRule])) {
            const mine = [...guarded.keys()].filter((guard) => belongsTo(r, guard));
            mine.forEach((guard) => rulesOf.set(guard, [...(rulesOf.get(guard) ?? []), r]));
            const hosts = new Set(mine.flatMap((guard) => guarded.get(guard) ?? []));
            for (const ingress of ingressOf(r)) {
                for (const source of ingress.sources.filter(isInternet)) {
                    for (const host of hosts) {
                        const message = `${ingress.where}admits ${source} to ${describe(host)}; ${FIX}`;
                        violations.push({ urn: r.urn, message });
                    }
                }
                const broad = tooBroad([ingress]);
                if (broad === undefined) continue;
                for (const host of hosts) {
                    const message = `${broad.admits} ${broad.sources} to ${describe(host)}: ${broad.covers}; ${FIX}`;
                    violations.push({ urn: r.urn, message });
                }
            }
        }
        // Entries each within the bound can add up past it across the group's rules.
        for (const [guard, hosts] of guarded) {
            const entries = (rulesOf.get(guard) ?? []).flatMap(ingressOf);
            const broad = entries.some((i) => tooBroad([i])) ? undefined : tooBroad(entries);
            if (broad === undefined) continue;
            for (const host of new Set(hosts)) {
                const message = `its rules together admit ${broad.sources} to ${describe(host)}: ${broad.covers}; ${FIX}`;
                violations.push({ urn: guard.urn, message });
            }
        }
        return [...violations, ...firewallUnions(resources)];
    },
};
