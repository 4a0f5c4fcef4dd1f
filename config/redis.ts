/**
 * `quay-georep:redis`: the shared Redis, in mode `existing`, `aws` (an EC2 VM) or `azure` (an Azure
 * VM), the VMs running the pinned image under podman.
 */
import { cidrContains, ipv4, parseCidr } from "../lib/cidr";
import {
    checkHost,
    checkRegion,
    isAwsId,
    isAzureSubnetId,
    matching,
    openModal,
    readAllowList,
    readIpv4,
} from "./serviceFields";
import { ObjectReader, Problems } from "./validate";

/** What every Redis mode has. */
interface RedisCommon {
    /** Default 6379 (fixed on a created VM). */
    readonly port: number;
    /** Connect with TLS (`ssl: true` in Quay's config; default false, always false on a created VM). */
    readonly tls: boolean;
}

/** An existing Redis that every cluster can reach. */
export interface ExistingRedis extends RedisCommon {
    readonly mode: "existing";
    readonly host: string;
    /** `redis.standby`: a Redis in the database standby's region (same password: `redisPassword`). */
    readonly standby?: ExistingRedis;
}

/** What both Redis VM modes have. */
interface RedisVm extends RedisCommon {
    /** CPU architecture, from the size: it picks the OS image. */
    readonly architecture: "x86_64" | "arm64";
    /** Fully qualified, pinned Redis image (default `docker.io/library/redis:7.2.7`). */
    readonly image: string;
    /** OS disk in GiB (default 30); Redis's append-only file lives on it. */
    readonly diskGb: number;
    /** Give the VM a public IP, and put it in the bundle (default false: the private IP is used). */
    readonly publicIp: boolean;
    /** IPv4 CIDRs allowed to connect on 6379. */
    readonly allowedCidrs: readonly string[];
}

/** A Redis VM on EC2, in an existing subnet. */
export interface AwsRedis extends RedisVm {
    readonly mode: "aws";
    readonly region: string;
    /** EC2 instance type (default `t3.small`). */
    readonly instanceType: string;
    readonly vpcId: string;
    readonly subnetId: string;
    /** A fixed private IP in the subnet; undefined lets AWS pick one. */
    readonly privateIp?: string;
    /** `redis.standby`: a second, warm VM in the database standby's region (placement from `redis.standby`). */
    readonly standby?: AwsRedis;
}

/** A Redis VM on Azure, in an existing subnet or in a VNet created for it. */
export interface AzureRedis extends RedisVm {
    readonly mode: "azure";
    readonly location: string;
    /** VM size (default `Standard_B2s`). */
    readonly vmSize: string;
    /** An existing subnet's resource ID; undefined creates a VNet with `addressSpace`. */
    readonly subnetId?: string;
    /** The created VNet's (and subnet's) CIDR (default `10.251.0.0/24`), when `subnetId` is unset. */
    readonly addressSpace?: string;
    /** The NIC's static private IP (default: the first usable address of `addressSpace`). */
    readonly privateIp: string;
    /** Encryption at host (default false; needs the subscription feature `EncryptionAtHost`). */
    readonly encryptionAtHost: boolean;
    /** `redis.standby`: a second, warm VM in the database standby's location (placement from `redis.standby`). */
    readonly standby?: AzureRedis;
}
export type RedisConfig = ExistingRedis | AwsRedis | AzureRedis;

export const DEFAULT_REDIS_IMAGE = "docker.io/library/redis:7.2.7";

/** Config keys of each Redis mode (a key of another mode is reported as such). */
export const REDIS_KEYS = {
    existing: ["mode", "host", "port", "tls", "standby"],
    aws: [
        "mode",
        "region",
        "instanceType",
        "vpcId",
        "subnetId",
        "privateIp",
        "publicIp",
        "allowedCidrs",
        "allowInternet",
        "diskGb",
        "image",
        "standby",
    ],
    azure: [
        "mode",
        "location",
        "vmSize",
        "subnetId",
        "addressSpace",
        "privateIp",
        "publicIp",
        "allowedCidrs",
        "allowInternet",
        "diskGb",
        "image",
        "encryptionAtHost",
        "standby",
    ],
} as const;

/**
 * Keys of `redis.standby` per mode: where the warm second Redis runs and who reaches it; the image,
 * disk and port are the primary VM's (the same cloud-init).
 */
export const REDIS_STANDBY_KEYS = {
    existing: ["host", "port", "tls"],
    aws: ["region", "instanceType", "vpcId", "subnetId", "privateIp", "publicIp", "allowedCidrs", "allowInternet"],
    azure: ["location", "vmSize", "subnetId", "addressSpace", "privateIp", "publicIp", "allowedCidrs", "allowInternet"],
} as const;

const REDIS_CLIENTS = { service: "Redis", clients: "every cluster's egress", optInKey: "allowInternet" };

/** Default VNets of a standby Redis VM: the first that does not overlap the primary's. */
const STANDBY_SPACES = ["10.252.0.0/24", "10.253.0.0/24"];

/** True when two IPv4 networks share an address (either undefined: false). */
function overlaps(a: string | undefined, b: string | undefined): boolean {
    const x = a === undefined ? undefined : parseCidr(a);
    const y = b === undefined ? undefined : parseCidr(b);
    return x !== undefined && y !== undefined && x.first <= y.last && y.first <= x.last;
}

/** Parses `redis`; problems are recorded, never thrown. */
export function parseRedis(top: ObjectReader, problems: Problems): RedisConfig {
    const { r, mode } = openModal(
        top,
        "redis",
        REDIS_KEYS,
        "set quay-georep:redis in Pulumi.yaml (mode: aws, azure or existing; see docs/services.md)",
    );
    let result: RedisConfig;
    if (r === undefined || mode === undefined || mode === "existing") {
        const host = r?.string("host", { required: r !== undefined, fix: "set the Redis server's hostname or IP" });
        checkHost(problems, "redis.host", host);
        result = {
            mode: "existing",
            host: host ?? "",
            port: r?.integer("port", 6379, 1, 65535) ?? 6379,
            tls: r?.boolean("tls", false) ?? false,
        };
    } else if (mode === "aws") {
        result = { mode, ...parseEc2(r), ...parseVmCommon(r, 8) };
    } else {
        result = { mode, ...parseAzureVm(r), ...parseVmCommon(r, 30) };
    }
    const standby = r === undefined ? undefined : parseRedisStandby(r, result);
    r?.done();
    return standby === undefined ? result : ({ ...result, standby } as RedisConfig);
}

/**
 * `redis.standby`: a second Redis of the same mode where the database's standby is, so a
 * switchover does not wait for a VM to boot. Quay keeps only transient data in Redis (build logs,
 * user events), so nothing is replicated: the standby starts empty and stays warm.
 */
function parseRedisStandby(r: ObjectReader, home: RedisConfig): RedisConfig | undefined {
    const s = r.object("standby", REDIS_STANDBY_KEYS[home.mode]);
    if (s === undefined) return undefined;
    const same = (key: string, value: string | undefined, homeValue: string) => {
        if (value !== undefined && value !== "" && value === homeValue) {
            s.problems.add(
                s.at(key),
                value,
                `is the primary Redis's ${key === "host" ? "server" : key} too (redis.${key}), so losing it loses both`,
                `put the standby in the database standby's ${key === "location" ? "location" : "region"}`,
            );
        }
    };
    // Placement keys the standby may leave out take the primary's value.
    const inherited = (key: string, value: unknown) => (s.has(key) ? undefined : value);
    // The VM modes' allow-list: the primary's unless the standby gives its own.
    const standbyAllowList = (): readonly string[] =>
        (inherited("allowedCidrs", "allowedCidrs" in home ? home.allowedCidrs : undefined) as
            readonly string[] | undefined) ??
        readAllowList(s, "allowedCidrs", { ...REDIS_CLIENTS, allowInternet: s.boolean("allowInternet", false) });
    let standby: RedisConfig;
    switch (home.mode) {
        case "existing": {
            const host = s.string("host", { required: true, fix: "set the standby Redis's hostname or IP" });
            checkHost(s.problems, s.at("host"), host);
            same("host", host, home.host);
            standby = {
                mode: "existing",
                host: host ?? "",
                port: s.integer("port", home.port, 1, 65535) ?? home.port,
                tls: s.boolean("tls", home.tls),
            };
            break;
        }
        case "aws": {
            const ec2 = parseEc2(s, home.instanceType);
            same("region", ec2.region, home.region);
            standby = {
                ...home,
                ...ec2,
                publicIp: s.boolean("publicIp", home.publicIp),
                allowedCidrs: standbyAllowList(),
            };
            if (ec2.privateIp === undefined) delete (standby as { privateIp?: string }).privateIp;
            break;
        }
        case "azure": {
            // Clusters reach both VMs, so their networks must not overlap: a created VNet defaults
            // to the next /24 after the primary's.
            const vm = parseAzureVm(
                s,
                home.vmSize,
                STANDBY_SPACES.find((c) => !overlaps(c, home.addressSpace)),
            );
            same("location", vm.location, home.location);
            if (
                vm.addressSpace !== undefined &&
                home.addressSpace !== undefined &&
                overlaps(vm.addressSpace, home.addressSpace)
            ) {
                s.problems.add(
                    s.at("addressSpace"),
                    vm.addressSpace,
                    `overlaps redis.addressSpace "${home.addressSpace}": every cluster reaches both VMs, so their networks must not overlap`,
                    'use a range of its own, e.g. "10.252.0.0/24"',
                );
            } else if (vm.privateIp !== "" && vm.privateIp === home.privateIp) {
                s.problems.add(
                    s.at("privateIp"),
                    vm.privateIp,
                    "is the primary Redis's address too (redis.privateIp): the bundle could not tell them apart",
                    "give the standby an address of its own network",
                );
            }
            standby = {
                ...home,
                ...vm,
                encryptionAtHost: home.encryptionAtHost,
                publicIp: s.boolean("publicIp", home.publicIp),
                allowedCidrs: standbyAllowList(),
            };
            if (vm.subnetId === undefined) delete (standby as { subnetId?: string }).subnetId;
            if (vm.addressSpace === undefined) delete (standby as { addressSpace?: string }).addressSpace;
            break;
        }
        default: {
            const unknown: never = home;
            throw new Error(`unknown redis mode in ${JSON.stringify(unknown)}`);
        }
    }
    s.done();
    const { standby: _nested, ...flat } = standby;
    return flat;
}

const IMAGE =
    /^[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?\/[a-z0-9]+([._/-][a-z0-9]+)*(:(?<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(@sha256:[a-f0-9]{64})?$/;

/** The keys both VM modes share; `minDiskGb` is the OS image's size. */
function parseVmCommon(r: ObjectReader, minDiskGb: number) {
    const image = r.string("image") ?? DEFAULT_REDIS_IMAGE;
    const match = IMAGE.exec(image);
    if (!match || (!image.includes("@sha256:") && (match.groups?.tag ?? "latest") === "latest")) {
        r.problems.add(
            r.at("image"),
            image,
            "is not a pinned, fully qualified image",
            `use e.g. "${DEFAULT_REDIS_IMAGE}" (registry host, name, and a version tag or @sha256 digest)`,
        );
    }
    const allowInternet = r.boolean("allowInternet", false);
    return {
        port: 6379,
        tls: false,
        image,
        diskGb: r.integer("diskGb", 30, minDiskGb, 4095) ?? 30,
        publicIp: r.boolean("publicIp", false),
        allowedCidrs: readAllowList(r, "allowedCidrs", { ...REDIS_CLIENTS, allowInternet }),
    };
}

/** Graviton families carry a `g` after the generation digit: t4g, m7g, c7gn, r8g, im4gn. */
const GRAVITON = /^[a-z]+[0-9]+[a-z]*g[a-z]*\./;
/** Azure Arm64 (Ampere/Cobalt) sizes carry a `p` in their features: D2ps_v5, B2pts_v2, E4pds_v6. */
const AZURE_ARM = /^Standard_[A-Z]+[0-9]+[a-z]*p[a-z]*_v[0-9]+$/;

function parseEc2(r: ObjectReader, defaultType = "t3.small") {
    const region = checkRegion(r, "region", "aws");
    const instanceType = r.string("instanceType") ?? defaultType;
    if (instanceType.startsWith("db.")) {
        r.problems.add(
            r.at("instanceType"),
            instanceType,
            "is an RDS instance class",
            'use an EC2 type, e.g. "t3.small"',
        );
    } else if (!/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/.test(instanceType)) {
        r.problems.add(r.at("instanceType"), instanceType, "is not an EC2 instance type", 'use e.g. "t3.small"');
    }
    const vpcId = r.string("vpcId", { required: true, fix: 'set the subnet\'s VPC, e.g. "vpc-0123456789abcdef0"' });
    if (vpcId !== undefined && !isAwsId("vpc", vpcId)) {
        r.problems.add(r.at("vpcId"), vpcId, "is not a VPC ID", 'use e.g. "vpc-0123456789abcdef0"');
    }
    const subnetId = r.string("subnetId", {
        required: true,
        fix: 'set the subnet the VM runs in, e.g. "subnet-0123456789abcdef0"',
    });
    if (subnetId !== undefined && !isAwsId("subnet", subnetId)) {
        r.problems.add(r.at("subnetId"), subnetId, "is not a subnet ID", 'use e.g. "subnet-0123456789abcdef0"');
    }
    const privateIp = readIpv4(r, "privateIp");
    return {
        region,
        instanceType,
        architecture: GRAVITON.test(instanceType) ? ("arm64" as const) : ("x86_64" as const),
        vpcId: vpcId ?? "",
        subnetId: subnetId ?? "",
        ...(privateIp ? { privateIp } : {}),
    };
}

function parseAzureVm(r: ObjectReader, defaultSize = "Standard_B2s", defaultSpace = "10.251.0.0/24") {
    const location = checkRegion(r, "location", "azure");
    const vmSize = matching(r, "vmSize", defaultSize, /^Standard_[A-Za-z0-9_]+$/, "an Azure VM size", "Standard_B2s");
    const subnetId = r.string("subnetId");
    if (subnetId !== undefined && !isAzureSubnetId(subnetId)) {
        r.problems.add(
            r.at("subnetId"),
            subnetId,
            "is not a subnet resource ID",
            "use /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>",
        );
    }
    let privateIp = readIpv4(r, "privateIp");
    let addressSpace: string | undefined;
    if (subnetId !== undefined) {
        if (r.has("addressSpace")) {
            r.problems.add(
                r.at("addressSpace"),
                r.raw_("addressSpace"),
                `is not used with ${r.at("subnetId")}`,
                "remove one: addressSpace sizes a VNet created for Redis, subnetId uses yours",
            );
        }
        if (privateIp === undefined && !r.has("privateIp")) {
            r.problems.add(
                r.at("privateIp"),
                undefined,
                `is required with ${r.at("subnetId")}`,
                'pick a free address in that subnet for Redis (the bundle names it), e.g. "10.1.2.10"',
            );
        }
    } else {
        addressSpace = r.string("addressSpace") ?? defaultSpace;
        const cidr = parseCidr(addressSpace);
        if (cidr === undefined || cidr.canonical !== addressSpace || cidr.prefix < 8 || cidr.prefix > 29) {
            r.problems.add(
                r.at("addressSpace"),
                addressSpace,
                "is not an IPv4 network from /8 to /29",
                `use e.g. "10.251.0.0/24"${cidr ? ` (canonical: "${cidr.canonical}")` : ""}`,
            );
        } else {
            // Azure reserves the first four addresses and the last one of every subnet.
            const firstUsable = ipv4(cidr.first + 4);
            privateIp ??= firstUsable;
            const n = parseCidr(`${privateIp}/32`)?.first ?? -1;
            if (!cidrContains(cidr, privateIp) || n < cidr.first + 4 || n >= cidr.last) {
                r.problems.add(
                    r.at("privateIp"),
                    privateIp,
                    `is not a usable address of ${r.at("addressSpace")} "${addressSpace}"`,
                    `use e.g. "${firstUsable}" (Azure reserves the first four and the last address)`,
                );
            }
        }
    }
    return {
        location,
        vmSize,
        architecture: AZURE_ARM.test(vmSize) ? ("arm64" as const) : ("x86_64" as const),
        ...(subnetId ? { subnetId } : {}),
        ...(addressSpace ? { addressSpace } : {}),
        privateIp: privateIp ?? "",
        encryptionAtHost: r.boolean("encryptionAtHost", false),
    };
}

/**
 * Where each Redis VM runs: its region (EC2) or location (Azure VM), by service location; undefined
 * for `existing`. Recorded in the shared stack's `services` output, so a later run can refuse to
 * move a VM (stacks/resolve.ts).
 */
export function redisVmPlacement(redis: RedisConfig): { home: string; standby?: string } | undefined {
    const where = (r: RedisConfig): string | undefined =>
        r.mode === "aws" ? r.region : r.mode === "azure" ? r.location : undefined;
    const home = where(redis);
    if (home === undefined) return undefined;
    const standby = redis.standby ? where(redis.standby) : undefined;
    return { home, ...(standby !== undefined ? { standby } : {}) };
}
