/**
 * VM rules (the Redis VM): encrypted volumes, IMDSv2 only, and no public IP unless the stack's
 * config asked for one.
 *
 * A policy cannot read stack config (the engine sends resources, their options, policy config and
 * stack tags only; @pulumi/policy's server.js), so the program writes `redis.publicIp` where the
 * pack can see it: it tags the VM `quay-georep-public-ip: "true"` when, and only when, that config
 * is true. A public address the config did not ask for (an Elastic IP, a subnet that auto-assigns
 * one, a public IP on the NIC) then fails, whichever way it was added.
 *
 * Azure managed disks are always encrypted at rest (platform keys; Azure offers no way to turn it
 * off), so only EC2 volumes are checked.
 */
import {
    describe,
    isUnknown,
    list,
    ofTypes,
    PolicyResource,
    refersTo,
    ResourceRule,
    shown,
    StackRule,
} from "./resource";

/** Type tokens these rules read. */
export const COMPUTE_TYPES = {
    ec2Instance: "aws:ec2/instance:Instance",
    ebsVolume: "aws:ebs/volume:Volume",
    eip: "aws:ec2/eip:Eip",
    eipAssociation: "aws:ec2/eipAssociation:EipAssociation",
    vm: "azure-native:compute:VirtualMachine",
    nic: "azure-native:network:NetworkInterface",
} as const;
const T = COMPUTE_TYPES;

/** The tag the program sets on a VM whose config (`redis.publicIp: true`) asks for a public IP. */
export const PUBLIC_IP_TAG = "quay-georep-public-ip";

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !isUnknown(v);

/** EC2 root and EBS volumes are encrypted. */
export const vmVolumesEncrypted: ResourceRule = {
    name: "vm-volumes-encrypted",
    description:
        "EC2 instances encrypt their root and EBS block devices, and EBS volumes are encrypted (Azure managed disks always are).",
    types: [T.ec2Instance, T.ebsVolume],
    check(r) {
        const fix = "set it to true";
        if (r.type === T.ebsVolume) {
            const e = r.props.encrypted;
            return e === true || isUnknown(e) ? [] : [`encrypted is ${shown(e)}; ${fix}`];
        }
        const problems: string[] = [];
        const root = r.props.rootBlockDevice;
        const rootEncrypted = isObject(root) ? root.encrypted : undefined;
        if (!isUnknown(root) && rootEncrypted !== true && !isUnknown(rootEncrypted)) {
            problems.push(
                `rootBlockDevice.encrypted is ${shown(rootEncrypted)}; ${fix} ` +
                    "(unset, the account's EBS default decides; the Redis VM keeps its data on its root volume)",
            );
        }
        list(r.props.ebsBlockDevices).forEach((d, i) => {
            if (!isObject(d) || d.encrypted === true || isUnknown(d.encrypted)) return;
            problems.push(`ebsBlockDevices[${i}] ${shown(d.deviceName)} has encrypted ${shown(d.encrypted)}; ${fix}`);
        });
        return problems;
    },
};

/** EC2 instances answer instance-metadata requests with a session token only (IMDSv2). */
export const ec2Imdsv2Required: ResourceRule = {
    name: "ec2-imdsv2-required",
    description:
        'EC2 instances set metadataOptions.httpTokens "required" (IMDSv2 only) or turn the metadata endpoint off.',
    types: [T.ec2Instance],
    check(r) {
        const options = r.props.metadataOptions;
        if (isUnknown(options)) return [];
        const tokens = isObject(options) ? options.httpTokens : undefined;
        const endpoint = isObject(options) ? options.httpEndpoint : undefined;
        if (tokens === "required" || isUnknown(tokens) || endpoint === "disabled") return [];
        return [
            `metadataOptions.httpTokens is ${shown(tokens)}; set it to "required" ` +
                "(IMDSv2: a request forged through the VM cannot read its role's credentials)",
        ];
    },
};

/** True when the VM carries the tag the program sets for `redis.publicIp: true` (or while its tags are unknown). */
function publicIpConfigured(vm: PolicyResource): boolean {
    const tags = vm.props.tags;
    return isUnknown(tags) || (isObject(tags) && tags[PUBLIC_IP_TAG] === "true");
}

const CONFIGURE = `or set redis.publicIp: true (the program then tags the VM ${PUBLIC_IP_TAG}: "true")`;

/** Public addresses of EC2 instances: the instance's own flag, Elastic IPs and their associations. */
function ec2Problems(instance: PolicyResource, resources: readonly PolicyResource[]) {
    if (publicIpConfigured(instance)) return [];
    const found: { urn: string; message: string }[] = [];
    const associate = instance.props.associatePublicIpAddress;
    if (associate !== false && !isUnknown(associate)) {
        found.push({
            urn: instance.urn,
            message: `associatePublicIpAddress is ${shown(associate)}; set it to false (unset, the subnet decides), ${CONFIGURE}`,
        });
    }
    const eips = [
        ...ofTypes(resources, [T.eip]).filter((e) => refersTo(e, "instance", instance, ["id"])),
        ...ofTypes(resources, [T.eipAssociation]).filter((e) => refersTo(e, "instanceId", instance, ["id"])),
    ];
    for (const eip of eips) {
        found.push({
            urn: eip.urn,
            message: `gives ${describe(instance)} a public IP, but the instance is not tagged ${PUBLIC_IP_TAG}: "true"; remove it, ${CONFIGURE}`,
        });
    }
    return found;
}

/** Public addresses of Azure VMs: on their NICs' IP configurations, or on NICs the VM defines inline. */
function azureProblems(vm: PolicyResource, resources: readonly PolicyResource[]) {
    if (publicIpConfigured(vm)) return [];
    const found: { urn: string; message: string }[] = [];
    const publicConfigs = (configs: unknown, key: string) =>
        list(configs)
            .map((c, i) => ({ c, i }))
            .filter(({ c }) => isObject(c) && c[key] !== undefined && c[key] !== null);
    for (const nic of ofTypes(resources, [T.nic]).filter((n) => refersTo(vm, "networkProfile", n, ["id"]))) {
        for (const { i } of publicConfigs(nic.props.ipConfigurations, "publicIPAddress")) {
            found.push({
                urn: nic.urn,
                message: `ipConfigurations[${i}].publicIPAddress gives ${describe(vm)} a public IP, but the VM is not tagged ${PUBLIC_IP_TAG}: "true"; remove it, ${CONFIGURE}`,
            });
        }
    }
    const inline = (vm.props.networkProfile as Record<string, unknown> | undefined)?.networkInterfaceConfigurations;
    list(inline).forEach((n, i) => {
        for (const { i: j } of publicConfigs(isObject(n) ? n.ipConfigurations : [], "publicIPAddressConfiguration")) {
            found.push({
                urn: vm.urn,
                message: `networkProfile.networkInterfaceConfigurations[${i}].ipConfigurations[${j}].publicIPAddressConfiguration gives the VM a public IP; remove it, ${CONFIGURE}`,
            });
        }
    });
    return found;
}

/** No VM has a public IP unless its config asked for one (the tag `quay-georep-public-ip: "true"`). */
export const vmNoPublicIpUnlessConfigured: StackRule = {
    name: "vm-no-public-ip-unless-configured",
    description: `EC2 instances and Azure VMs (the Redis VM) have no public IP unless tagged ${PUBLIC_IP_TAG}: "true", which the program sets for redis.publicIp: true.`,
    check(resources) {
        return [
            ...ofTypes(resources, [T.ec2Instance]).flatMap((i) => ec2Problems(i, resources)),
            ...ofTypes(resources, [T.vm]).flatMap((vm) => azureProblems(vm, resources)),
        ];
    },
};
