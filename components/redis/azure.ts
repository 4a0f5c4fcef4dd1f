/**
 * RedisAzureVm: the shared Redis as one Azure VM (NIC, NSG, optional public IP) running the pinned
 * Redis image under podman.
 */
import * as compute from "@pulumi/azure-native/compute";
import * as network from "@pulumi/azure-native/network";
import { Provider } from "@pulumi/azure-native/provider";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { renderRedisCloudInit } from "../../lib/cloudInit";
import type { AzureRedis } from "../../config/services";
import { PUBLIC_IP_TAG, RedisServer, REDIS_PORT } from "./server";

const TYPE = "quay-georep:redis:RedisAzureVm";

/** The `redis` config of mode `azure` (each field is documented on `AzureRedis`). */
export type RedisAzureVmArgs = Omit<AzureRedis, "mode" | "port" | "tls">;

/** Canonical's Ubuntu 24.04 LTS image (Gen2; Arm64 has its own SKU). */
export function ubuntuImage(architecture: "x86_64" | "arm64") {
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

    constructor(name: string, args: RedisAzureVmArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = new Provider(`${name}-azure`, {}, { parent: this });
        const randomProvider = new random.Provider(`${name}-random`, {}, { parent: this });
        const password = new random.RandomPassword(
            `${name}-password`,
            { length: 40, special: false },
            { parent: this, provider: randomProvider },
        );
        // Azure requires a login for a Linux VM; this one is for the serial console only.
        const adminPassword = new random.RandomPassword(
            `${name}-admin-password`,
            { length: 40, special: false, minUpper: 2, minLower: 2, minNumeric: 2 },
            { parent: this, provider: randomProvider },
        );
        // Protected: deleting the group would delete the VM in it (and the data on its disk).
        const group = new resources.ResourceGroup(
            `${name}-rg`,
            { location: args.location },
            { parent: this, provider, protect: true },
        );
        const local = { resourceGroupName: group.name, location: args.location };

        const subnetId = args.subnetId ?? this.createSubnet(name, args, local, provider);
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
                        sourceAddressPrefixes: [...args.allowedCidrs],
                        sourcePortRange: "*",
                        destinationAddressPrefix: "*",
                        destinationPortRange: `${REDIS_PORT}`,
                    },
                ],
            },
            { parent: this, provider },
        );
        // Standard SKU public IPs are closed unless an NSG rule opens them.
        const publicIp = args.publicIp
            ? new network.PublicIPAddress(
                  `${name}-ip`,
                  {
                      ...local,
                      sku: { name: "Standard", tier: "Regional" },
                      publicIPAllocationMethod: "Static",
                      publicIPAddressVersion: "IPv4",
                  },
                  { parent: this, provider },
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
            { parent: this, provider },
        );

        const customData = pulumi.secret(
            password.result.apply((p) =>
                Buffer.from(renderRedisCloudInit({ image: args.image, password: p, port: REDIS_PORT })).toString(
                    "base64",
                ),
            ),
        );
        const vm = new compute.VirtualMachine(
            `${name}-vm`,
            {
                ...local,
                hardwareProfile: { vmSize: args.vmSize },
                storageProfile: {
                    imageReference: ubuntuImage(args.architecture),
                    osDisk: {
                        createOption: "FromImage",
                        diskSizeGB: args.diskGb,
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
                securityProfile: {
                    encryptionAtHost: args.encryptionAtHost,
                    // Trusted launch (secure boot, vTPM) is offered for x64 Gen2 images only.
                    ...(args.architecture === "x86_64"
                        ? {
                              securityType: "TrustedLaunch",
                              uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
                          }
                        : {}),
                },
                diagnosticsProfile: { bootDiagnostics: { enabled: true } },
                // Says redis.publicIp asked for the public address, for the policy pack (it sees no config).
                ...(args.publicIp ? { tags: { [PUBLIC_IP_TAG]: "true" } } : {}),
            },
            {
                parent: this,
                provider,
                protect: true,
                replaceOnChanges: ["osProfile.customData"],
                deleteBeforeReplace: true,
            },
        );

        this.host = publicIp ? publicIp.ipAddress.apply((ip) => ip ?? "") : pulumi.output(args.privateIp);
        this.port = pulumi.output(REDIS_PORT);
        this.password = pulumi.secret(password.result);
        this.ids = pulumi
            .all({ resourceGroup: group.name, vm: vm.name })
            .apply((v): Record<string, string> => ({ ...v }));
        this.registerOutputs({ host: this.host, ids: this.ids });
    }

    /** A VNet and subnet for Redis alone, when no existing subnet is given. */
    private createSubnet(
        name: string,
        args: RedisAzureVmArgs,
        local: { resourceGroupName: pulumi.Output<string>; location: string },
        provider: Provider,
    ): pulumi.Output<string> {
        const space = args.addressSpace as string;
        const vnet = new network.VirtualNetwork(
            `${name}-vnet`,
            { ...local, addressSpace: { addressPrefixes: [space] } },
            { parent: this, provider },
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
            { parent: this, provider },
        ).id;
    }
}
