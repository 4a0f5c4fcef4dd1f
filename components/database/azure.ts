/**
 * FlexiblePostgres: the shared PostgreSQL as an Azure Database for PostgreSQL flexible server,
 * public access limited by firewall rules to the configured CIDRs, TLS required.
 */
import * as dbforpostgresql from "@pulumi/azure-native/dbforpostgresql";
import { Provider } from "@pulumi/azure-native/provider";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { cidrRange, cidrSlug } from "../../lib/cidr";
import type { AzureDatabase } from "../../config/services";
import { ADMIN_USER, PostgresServer } from "./server";

const TYPE = "quay-georep:database:FlexiblePostgres";

/** The `database` config of mode `azure` (each field is documented on `AzureDatabase`). */
export type FlexiblePostgresArgs = Omit<AzureDatabase, "mode" | "quay" | "clair">;

/**
 * Extensions Quay and Clair create, allow-listed in `azure.extensions` (without it `CREATE
 * EXTENSION` fails): `pg_trgm` for Quay, `uuid-ossp` for Clair (quay/quay-docs: "the Postgres
 * `uuid-ossp` module ... is required by Clair").
 */
export const AZURE_EXTENSIONS = "PG_TRGM,UUID-OSSP";

/**
 * A flexible server in its own resource group, with server parameters `azure.extensions` and
 * `require_secure_transport`, and one firewall rule per configured CIDR. The server and its
 * resource group are `protect`ed.
 *
 * The server accepts one change at a time ("ServerIsBusy" otherwise, e.g.
 * hashicorp/terraform-provider-azurerm#28298, Azure/ResourceModules#3324), so parameters and
 * firewall rules are applied in a chain, each after the one before.
 */
export class FlexiblePostgres extends pulumi.ComponentResource implements PostgresServer {
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly adminUser: pulumi.Output<string>;
    public readonly adminPassword: pulumi.Output<string>;
    public readonly adminDatabase = "postgres";
    public readonly superuser = false;
    public readonly version: string;
    public readonly ready: readonly pulumi.Resource[];
    /** The resource group and server name. */
    public readonly ids: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: FlexiblePostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = new Provider(`${name}-azure`, {}, { parent: this });
        const randomProvider = new random.Provider(`${name}-random`, {}, { parent: this });
        // Azure wants three of: upper, lower, digit, symbol; letters and digits keep the URL simple.
        const password = new random.RandomPassword(
            `${name}-admin-password`,
            { length: 40, special: false, minUpper: 2, minLower: 2, minNumeric: 2 },
            { parent: this, provider: randomProvider },
        );
        // Deleting the group would delete the server in it.
        const group = new resources.ResourceGroup(
            `${name}-rg`,
            { location: args.location },
            { parent: this, provider, protect: true },
        );
        const server = new dbforpostgresql.Server(
            `${name}-server`,
            {
                resourceGroupName: group.name,
                location: args.location,
                version: args.version,
                sku: { name: args.skuName, tier: args.tier },
                storage: { storageSizeGB: args.storageGb, autoGrow: "Enabled" },
                backup: {
                    backupRetentionDays: args.backupRetentionDays,
                    geoRedundantBackup: args.geoRedundantBackup ? "Enabled" : "Disabled",
                },
                highAvailability: { mode: args.highAvailability ? "ZoneRedundant" : "Disabled" },
                network: { publicNetworkAccess: "Enabled" },
                authConfig: { passwordAuth: "Enabled", activeDirectoryAuth: "Disabled" },
                administratorLogin: ADMIN_USER,
                administratorLoginPassword: password.result,
                createMode: "Create",
            },
            { parent: this, provider, protect: true },
        );

        let previous: pulumi.Resource = server;
        const chained = <T extends pulumi.Resource>(make: (after: pulumi.Resource) => T): T => {
            const resource = make(previous);
            previous = resource;
            return resource;
        };
        const setting = (key: string, configurationName: string, value: string) =>
            chained(
                (after) =>
                    new dbforpostgresql.Configuration(
                        `${name}-${key}`,
                        {
                            resourceGroupName: group.name,
                            serverName: server.name,
                            configurationName,
                            value,
                            source: "user-override",
                        },
                        { parent: this, provider, dependsOn: [after] },
                    ),
            );
        const extensions = setting("extensions", "azure.extensions", AZURE_EXTENSIONS);
        const tls = setting("require-tls", "require_secure_transport", "on");
        const rules = args.allowedCidrs.map((cidr) => {
            const { start, end } = cidrRange(cidr);
            return chained(
                (after) =>
                    new dbforpostgresql.FirewallRule(
                        `${name}-allow-${cidrSlug(cidr)}`,
                        {
                            resourceGroupName: group.name,
                            serverName: server.name,
                            firewallRuleName: `allow-${cidrSlug(cidr)}`,
                            startIpAddress: start,
                            endIpAddress: end,
                        },
                        { parent: this, provider, dependsOn: [after] },
                    ),
            );
        });

        this.host = server.fullyQualifiedDomainName;
        this.port = pulumi.output(5432);
        this.adminUser = pulumi.output(ADMIN_USER);
        this.adminPassword = pulumi.secret(password.result);
        this.version = args.version;
        this.ready = [server, extensions, tls, ...rules];
        this.ids = pulumi
            .all({ resourceGroup: group.name, server: server.name })
            .apply((v): Record<string, string> => ({ ...v }));
        this.registerOutputs({ host: this.host, ids: this.ids });
    }
}
