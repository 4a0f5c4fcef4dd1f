/**
 * AzureSiteContainer: one site's blob container, in a storage account and resource group of its own
 * in the site's location.
 */
import { Provider } from "@pulumi/azure-native/provider";
import * as resources from "@pulumi/azure-native/resources";
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { keep, siteTags, SiteBucketArgs } from "./bucket";

const TYPE = "quay-georep:storage:AzureSiteContainer";

/** Inputs of an Azure site bucket. */
export interface AzureSiteContainerArgs extends SiteBucketArgs {
    /** Storage account replication SKU, e.g. `Standard_LRS`. */
    readonly sku: string;
    /** Container name. */
    readonly container: string;
    /** Lower-case letters and digits that start the account name (at most 16; a random suffix follows). */
    readonly accountPrefix: string;
}

/**
 * A StorageV2 account (HTTPS only, TLS 1.2 minimum, no public blob access, no cross-tenant
 * replication) and a private container. The account key, read with `listStorageAccountKeys`, is a
 * secret. The resource group, account and container are retained on delete and protected while the
 * site serves: deleting the group alone would delete the registry's blobs.
 */
export class AzureSiteContainer extends pulumi.ComponentResource {
    /** `azure_account_name`. */
    public readonly accountName: pulumi.Output<string>;
    /** `azure_container`. */
    public readonly container: pulumi.Output<string>;
    /** `azure_account_key` (a secret). */
    public readonly accountKey: pulumi.Output<string>;
    /** The resource group holding the account (retained, like the account). */
    public readonly resourceGroup: pulumi.Output<string>;

    constructor(name: string, args: AzureSiteContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = new Provider(`${name}-azure`, {}, { parent: this });
        const randomProvider = new random.Provider(`${name}-random`, {}, { parent: this });
        const kept = keep(this, provider, args.protect);
        // Account names are global, 3-24 lower-case letters and digits: a prefix and a random suffix.
        const suffix = new random.RandomString(
            `${name}-suffix`,
            { length: 8, special: false, upper: false },
            { parent: this, provider: randomProvider, protect: args.protect },
        );
        const group = new resources.ResourceGroup(`${name}-rg`, { location: args.region, tags: siteTags(args) }, kept);
        const account = new storage.StorageAccount(
            `${name}-account`,
            {
                accountName: pulumi.interpolate`${args.accountPrefix.slice(0, 16)}${suffix.result}`,
                resourceGroupName: group.name,
                location: args.region,
                kind: "StorageV2",
                sku: { name: args.sku },
                accessTier: "Hot",
                tags: siteTags(args),
                enableHttpsTrafficOnly: true,
                minimumTlsVersion: "TLS1_2",
                allowBlobPublicAccess: false,
                allowCrossTenantReplication: false,
                // Azure always encrypts at rest; declared so the policy pack (and a reader) sees it.
                encryption: {
                    keySource: "Microsoft.Storage",
                    services: { blob: { enabled: true, keyType: "Account" } },
                },
                // Quay authenticates with the account key.
                allowSharedKeyAccess: true,
                // Every cluster, in any cloud, reaches the container: access is by key, over TLS.
                publicNetworkAccess: "Enabled",
            },
            kept,
        );
        const container = new storage.BlobContainer(
            `${name}-container`,
            {
                accountName: account.name,
                resourceGroupName: group.name,
                containerName: args.container,
                publicAccess: "None",
                metadata: siteTags(args),
            },
            kept,
        );
        if (args.versioning) {
            new storage.BlobServiceProperties(
                `${name}-versioning`,
                {
                    accountName: account.name,
                    resourceGroupName: group.name,
                    blobServicesName: "default",
                    isVersioningEnabled: true,
                },
                kept,
            );
        }
        const keys = storage.listStorageAccountKeysOutput(
            { resourceGroupName: group.name, accountName: account.name },
            { parent: this, provider },
        );

        this.accountName = account.name;
        // The configured name, resolved once the container exists (so the bundle waits for it).
        this.container = container.id.apply(() => args.container);
        this.accountKey = pulumi.secret(keys.keys.apply((k) => k[0].value));
        this.resourceGroup = group.name;
        this.registerOutputs({
            accountName: this.accountName,
            container: this.container,
            resourceGroup: this.resourceGroup,
        });
    }
}
