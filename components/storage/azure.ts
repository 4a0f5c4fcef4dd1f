/**
 * AzureSiteContainer: one site's blob container, in a storage account and resource group of its own
 * in the site's location.
 */
import * as resources from "@pulumi/azure-native/resources";
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { keep, siteTags } from "./bucket";

const TYPE = "quay-georep:storage:AzureSiteContainer";

/** Inputs of a site's Azure blob container; its subscription is the azure-native provider's (`opts.providers`). */
export interface AzureSiteContainerArgs {
    /** The site's Azure location, e.g. `westeurope`. */
    readonly location: pulumi.Input<string>;
    /** The site's name, as the tag `quay-georep-site`. */
    readonly site: pulumi.Input<string>;
    /** The site's state, as the tag `quay-georep-state` (the policy pack reads it). */
    readonly state: pulumi.Input<string>;
    /** Lower-case letters and digits that start the account name (the first 16; a random suffix follows). */
    readonly accountPrefix: pulumi.Input<string>;
    /** Container name (default `quay`). */
    readonly container?: pulumi.Input<string>;
    /** Storage account replication SKU (default `Standard_LRS`). */
    readonly sku?: pulumi.Input<string>;
    /** Protect the container, account and group (default true; false once the site is retired); plain: a resource option. */
    readonly protect?: boolean;
    /** Keep old blob versions (default false); plain: it decides the blob service properties resource. */
    readonly versioning?: boolean;
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

    /** Children inherit the `azure-native` and `random` providers from `opts.providers`. */
    constructor(name: string, args: AzureSiteContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const protect = args.protect ?? true;
        const versioning = args.versioning ?? false;
        const containerName = args.container ?? "quay";
        const kept = keep(this, protect);
        // Account names are global, 3-24 lower-case letters and digits: a prefix and a random suffix.
        const suffix = new random.RandomString(
            `${name}-suffix`,
            { length: 8, special: false, upper: false },
            { parent: this, protect },
        );
        const prefix = pulumi.output(args.accountPrefix).apply((p) => p.slice(0, 16));
        const group = new resources.ResourceGroup(
            `${name}-rg`,
            { location: args.location, tags: siteTags(args) },
            kept,
        );
        const account = new storage.StorageAccount(
            `${name}-account`,
            {
                accountName: pulumi.interpolate`${prefix}${suffix.result}`,
                resourceGroupName: group.name,
                location: args.location,
                kind: "StorageV2",
                sku: { name: args.sku ?? "Standard_LRS" },
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
                containerName,
                publicAccess: "None",
                metadata: siteTags(args),
            },
            kept,
        );
        if (versioning) {
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
            { parent: this },
        );

        this.accountName = account.name;
        // The configured name, resolved once the container exists (so the bundle waits for it).
        this.container = pulumi.all([containerName, container.id]).apply(([n]) => n);
        this.accountKey = pulumi.secret(keys.keys.apply((k) => k[0].value));
        this.resourceGroup = group.name;
        this.registerOutputs({
            accountName: this.accountName,
            container: this.container,
            accountKey: this.accountKey,
            resourceGroup: this.resourceGroup,
        });
    }
}
