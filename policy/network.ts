/**
 * Network rules: nothing on the internet reaches PostgreSQL (5432), Redis (6379), the database
 * server or the Redis VM. Reads AWS security groups (inline `ingress`, `ec2.SecurityGroupRule`,
 * `vpc.SecurityGroupIngressRule`), Azure NSGs (inline `securityRules`, `network.SecurityRule`) and
 * Azure PostgreSQL firewall rules.
 */
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
 * True for a source meaning "anyone": an IPv4 or IPv6 prefix of length 0 (`0.0.0.0/0`, `::/0`), or
 * Azure's `*` and `Internet` (`Any` too, which some tools write).
 */
export function isInternet(source: string): boolean {
    const s = source.trim().toLowerCase();
    return ["*", "internet", "any"].includes(s) || /^[0-9.]+\/0$/.test(s) || /^[0-9a-f:]+\/0$/.test(s);
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

/** Azure PostgreSQL firewall rules that open the server to everyone, or to all of Azure. */
function firewallProblems(r: PolicyResource): string[] {
    const start = r.props.startIpAddress;
    const end = r.props.endIpAddress;
    if (start === "0.0.0.0" && end === "255.255.255.255") {
        return [`admits every IPv4 address (0.0.0.0-255.255.255.255) to PostgreSQL; ${FIX}`];
    }
    if (start === "0.0.0.0" && end === "0.0.0.0") {
        return [
            `admits every Azure-hosted address, other tenants' included (0.0.0.0-0.0.0.0 is Azure's ` +
                `"allow Azure services" rule) to PostgreSQL; ${FIX}`,
        ];
    }
    return [];
}

/** No rule of any kind admits the internet on 5432 or 6379. */
export const noInternetToPostgresOrRedis: ResourceRule = {
    name: "no-internet-ingress-to-postgres-or-redis",
    description:
        "No security group, NSG or PostgreSQL firewall rule admits 0.0.0.0/0 (or ::/0, or every address) on 5432 or 6379.",
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
        for (const ingress of ingressOf(r)) {
            for (const source of ingress.sources.filter(isInternet)) {
                for (const [port, service] of SERVICE_PORTS) {
                    if (ingress.tcp?.some((range) => range.from <= port && port <= range.to)) {
                        problems.push(`${ingress.where}admits ${source} on port ${port} (${service}); ${FIX}`);
                    }
                }
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

/** Nothing on the internet reaches the database server or a VM (the Redis VM), on any port. */
export const noInternetToServices: StackRule = {
    name: "no-internet-ingress-to-shared-services",
    description:
        "No rule of a security group or NSG in front of the RDS instance, an EC2 instance or an Azure VM (the Redis VM) admits the internet, on any port.",
    check(resources) {
        const guarded = guards(resources);
        const violations: { urn: string; message: string }[] = [];
        for (const r of ofTypes(resources, [T.securityGroup, T.securityGroupRule, T.ingressRule, T.nsg, T.nsgRule])) {
            const hosts = [...guarded].flatMap(([guard, hostsOf]) => {
                const mine =
                    guard === r ||
                    refersTo(r, "securityGroupId", guard, ["id"]) ||
                    refersTo(r, "networkSecurityGroupName", guard, ["name", "networkSecurityGroupName"]);
                return mine ? hostsOf : [];
            });
            for (const ingress of ingressOf(r)) {
                for (const source of ingress.sources.filter(isInternet)) {
                    for (const host of new Set(hosts)) {
                        const message = `${ingress.where}admits ${source} to ${describe(host)}; ${FIX}`;
                        violations.push({ urn: r.urn, message });
                    }
                }
            }
        }
        return violations;
    },
};
