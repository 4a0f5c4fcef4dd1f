/**
 * RedisAzureVm: the shared Redis as one Azure VM (NIC, NSG, optional public IP) running the pinned
 * Redis image under podman.
 */
import * as compute from "@pulumi/azure-native/compute";
import * as network from "@pulumi/azure-native/network";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { renderRedisCloudInit } from "../../lib/cloudInit";
import { PUBLIC_IP_TAG, RedisServer, REDIS_PORT, VmArchitecture } from "./server";

const TYPE = "quay-georep:redis:RedisAzureVm";

/** Inputs of the Redis VM on Azure; its subscription is the azure-native provider's (`opts.providers`). */
export interface RedisAzureVmArgs {
    /** Azure location of the VM and its resource group, e.g. `westeurope`. */
    readonly location: pulumi.Input<string>;
    /** The NIC's static private IP (in `subnetId`, or a usable address of `addressSpace`). */
    readonly privateIp: pulumi.Input<string>;
    /** IPv4 CIDRs allowed to connect on 6379 (one NSG rule lists them all). */
    readonly allowedCidrs: pulumi.Input<readonly pulumi.Input<string>[]>;
    /** Fully qualified, pinned Redis image, e.g. `docker.io/library/redis:7.2.7`. */
    readonly image: pulumi.Input<string>;
    /** An existing subnet's resource ID (default: a VNet and subnet of `addressSpace` are created). */
    readonly subnetId?: pulumi.Input<string>;
    /** CIDR of the created VNet and subnet; required without `subnetId`. */
    readonly addressSpace?: pulumi.Input<string>;
    /** A static public IP, reported as `host` (default false: the private IP); plain: it decides the IP resource. */
    readonly publicIp?: boolean;
    /** VM size (default `Standard_B2s`). */
    readonly vmSize?: pulumi.Input<string>;
    /** CPU architecture of `vmSize`, which picks the Ubuntu image (default `x86_64`; Arm sizes: `arm64`). */
    readonly architecture?: pulumi.Input<VmArchitecture>;
    /** OS disk in GiB (default 30); Redis's append-only file lives on it. */
    readonly diskGb?: pulumi.Input<number>;
    /** Encryption at host (default false; needs the subscription feature `EncryptionAtHost`). */
    readonly encryptionAtHost?: pulumi.Input<boolean>;
    /**
     * Frozen (default false): in a location lost in a failover (lib/standby.ts). Every child keeps
     * its last inputs (`ignoreChanges: ["*"]`), so nothing is asked of the location.
     */
    readonly frozen?: boolean;
    /**
     * Released (default false): a standby VM no longer in config (stacks/database.ts
     * `planRedisStandby`). Frozen as above, and its protected resources are unprotected, so the next
     * run, which no longer declares it, deletes it (Redis keeps only transient data: build logs and
     * user events).
     */
    readonly release?: boolean;
}

/** Canonical's Ubuntu 24.04 LTS image (Gen2; Arm64 has its own SKU). */
export function ubuntuImage(architecture: VmArchitecture) {
    return {
        publisher: "Canonical",
        offer: "ubuntu-24_04-lts",
        sku: architecture === "arm64" ? "server-arm64" : "server",
        version: "latest",
    };
}

/**
 * A VM whose NIC has a static private IP and an NSG that admits 6379 from the configured CIDRs
 * only (Azure's default rules deny every other inbound connection, SSH included). Managed disks
 * are encrypted at rest by the platform; `encryptionAtHost` adds host-side encryption. Access is
 * through Run Command or the serial console (boot diagnostics on); SSH password logins are off.
 *
 * Protected, as on `RedisEc2`. Azure cannot change custom data in place, so a new cloud-init
 * document replaces the VM (`replaceOnChanges`), deleting the old one first because the NIC can
 * belong to one VM at a time: a reviewed step that starts with unprotecting it.
 */
export class RedisAzureVm extends pulumi.ComponentResource implements RedisServer {
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly password: pulumi.Output<string>;
    /** The resource group and VM name (for `az vm run-command invoke -g <group> -n <vm>`). */
    public readonly ids: pulumi.Output<Record<string, string>>;

    /** Children inherit the `azure-native` and `random` providers from `opts.providers`. */
    /** `ignoreChanges: ["*"]` for every child when frozen. */
    private readonly freeze: { ignoreChanges?: string[] };

    constructor(name: string, args: RedisAzureVmArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const architecture = pulumi.output(args.architecture ?? "x86_64");
        const vmSize = args.vmSize ?? "Standard_B2s";
        const diskGb = args.diskGb ?? 30;
        const encryptionAtHost = args.encryptionAtHost ?? false;
        const wantsPublicIp = args.publicIp ?? false;
        const release = args.release ?? false;
        this.freeze = args.frozen || release ? { ignoreChanges: ["*"] } : {};
        const freeze = this.freeze;

        const password = new random.RandomPassword(
            `${name}-password`,
            { length: 40, special: false },
            { parent: this, ...this.freeze },
        );
        // Azure requires a login for a Linux VM; this one is for the serial console only.
        const adminPassword = new random.RandomPassword(
            `${name}-admin-password`,
            { length: 40, special: false, minUpper: 2, minLower: 2, minNumeric: 2 },
            { parent: this, ...this.freeze },
        );
        // Protected: deleting the group would delete the VM in it (and the data on its disk).
        const group = new resources.ResourceGroup(
            `${name}-rg`,
            { location: args.location },
            { parent: this, protect: !release, ...freeze },
        );
        const local = { resourceGroupName: group.name, location: args.location };

        const subnetId = args.subnetId ?? this.createSubnet(name, args.addressSpace, local);
        const nsg = new network.NetworkSecurityGroup(
            `${name}-nsg`,
            {
                ...local,
                securityRules: [
                    {
                        name: "allow-redis",
                        description: "Redis from the Quay clusters only",
                        priority: 100,
                        direction: "Inbound",
                        access: "Allow",
                        protocol: "Tcp",
                        sourceAddressPrefixes: pulumi.output(args.allowedCidrs).apply((cidrs) => [...cidrs]),
                        sourcePortRange: "*",
                        destinationAddressPrefix: "*",
                        destinationPortRange: `${REDIS_PORT}`,
                    },
                ],
            },
            { parent: this, ...this.freeze },
        );
        // Standard SKU public IPs are closed unless an NSG rule opens them.
        const publicIp = wantsPublicIp
            ? new network.PublicIPAddress(
                  `${name}-ip`,
                  {
                      ...local,
                      sku: { name: "Standard", tier: "Regional" },
                      publicIPAllocationMethod: "Static",
                      publicIPAddressVersion: "IPv4",
                  },
                  { parent: this, ...this.freeze },
              )
            : undefined;
        const nic = new network.NetworkInterface(
            `${name}-nic`,
            {
                ...local,
                networkSecurityGroup: { id: nsg.id },
                ipConfigurations: [
                    {
                        name: "redis",
                        primary: true,
                        subnet: { id: subnetId },
                        // Static, so the bundle names an address known before the VM exists.
                        privateIPAllocationMethod: "Static",
                        privateIPAddress: args.privateIp,
                        ...(publicIp ? { publicIPAddress: { id: publicIp.id } } : {}),
                    },
                ],
            },
            { parent: this, ...this.freeze },
        );

        const customData = pulumi.secret(
            pulumi
                .all([password.result, args.image])
                .apply(([p, image]) =>
                    Buffer.from(renderRedisCloudInit({ image, password: p, port: REDIS_PORT })).toString("base64"),
                ),
        );
        const vm = new compute.VirtualMachine(
            `${name}-vm`,
            {
                ...local,
                hardwareProfile: { vmSize },
                storageProfile: {
                    imageReference: architecture.apply(ubuntuImage),
                    osDisk: {
                        createOption: "FromImage",
                        diskSizeGB: diskGb,
                        caching: "ReadWrite",
                        managedDisk: { storageAccountType: "StandardSSD_LRS" },
                        deleteOption: "Delete",
                    },
                },
                osProfile: {
                    computerName: "quay-redis",
                    adminUsername: "quayadmin",
                    adminPassword: adminPassword.result,
                    customData,
                    linuxConfiguration: { disablePasswordAuthentication: false, provisionVMAgent: true },
                },
                networkProfile: { networkInterfaces: [{ id: nic.id, primary: true }] },
                securityProfile: pulumi.all([architecture, encryptionAtHost]).apply(([arch, atHost]) => ({
                    encryptionAtHost: atHost,
                    // Trusted launch (secure boot, vTPM) is offered for x64 Gen2 images only.
                    ...(arch === "x86_64"
                        ? {
                              securityType: "TrustedLaunch",
                              uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
                          }
                        : {}),
                })),
                diagnosticsProfile: { bootDiagnostics: { enabled: true } },
                // Says redis.publicIp asked for the public address, for the policy pack (it sees no config).
                ...(wantsPublicIp ? { tags: { [PUBLIC_IP_TAG]: "true" } } : {}),
            },
            {
                parent: this,
                protect: !release,
                replaceOnChanges: ["osProfile.customData"],
                deleteBeforeReplace: true,
                ...freeze,
            },
        );

        this.host = publicIp ? publicIp.ipAddress.apply((ip) => ip ?? "") : pulumi.output(args.privateIp);
        this.port = pulumi.output(REDIS_PORT);
        this.password = pulumi.secret(password.result);
        this.ids = pulumi
            .all({ resourceGroup: group.name, vm: vm.name })
            .apply((v): Record<string, string> => ({ ...v }));
        this.registerOutputs({ host: this.host, port: this.port, password: this.password, ids: this.ids });
    }

    /** A VNet and subnet of `space` for Redis alone, when no existing subnet is given. */
    private createSubnet(
        name: string,
        space: pulumi.Input<string> | undefined,
        local: { resourceGroupName: pulumi.Output<string>; location: pulumi.Input<string> },
    ): pulumi.Output<string> {
        if (space === undefined) {
            throw new pulumi.ResourceError("RedisAzureVm needs subnetId (an existing subnet) or addressSpace", this);
        }
        const vnet = new network.VirtualNetwork(
            `${name}-vnet`,
            { ...local, addressSpace: { addressPrefixes: [space] } },
            { parent: this, ...this.freeze },
        );
        return new network.Subnet(
            `${name}-subnet`,
            {
                resourceGroupName: local.resourceGroupName,
                virtualNetworkName: vnet.name,
                addressPrefix: space,
                // New VNets get no implicit outbound access (Azure's default outbound access retirement);
                // without a public IP the VM still needs it to install podman and pull the image.
                defaultOutboundAccess: true,
            },
            { parent: this, ...this.freeze },
        ).id;
    }
}
