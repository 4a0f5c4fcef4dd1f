/**
 * FlexiblePostgres: the shared PostgreSQL as an Azure Database for PostgreSQL flexible server,
 * public access limited by firewall rules to the configured CIDRs, TLS required; a primary, or
 * (issue 14) a read replica of one in another location.
 */
import * as dbforpostgresql from "@pulumi/azure-native/dbforpostgresql";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { cidrRange, cidrSlug } from "../../lib/cidr";
import {
    ADMIN_DATABASE,
    ADMIN_USER,
    CreatedServerArgs,
    createdServer,
    PostgresServer,
    readyHost,
    ServerRole,
} from "./server";

const TYPE = "quay-georep:database:FlexiblePostgres";

/** Inputs of the flexible server; its subscription is the azure-native provider's (`opts.providers`). */
export interface FlexiblePostgresArgs extends CreatedServerArgs {
    /** Azure location of the server and its resource group, e.g. `westeurope`. */
    readonly location: pulumi.Input<string>;
    /** IPv4 CIDRs given firewall rules; plain: one rule each, named by the CIDR. */
    readonly allowedCidrs: readonly string[];
    /** PostgreSQL major version (default `17`). */
    readonly version?: pulumi.Input<string>;
    /** Compute size (default `Standard_D2ds_v5`). */
    readonly skuName?: pulumi.Input<string>;
    /** Tier of that size: `Burstable` (`Standard_B*`), `GeneralPurpose` (default), `MemoryOptimized`. */
    readonly tier?: pulumi.Input<"Burstable" | "GeneralPurpose" | "MemoryOptimized">;
    /** Storage in GiB, one of the sizes Azure offers (default 128). */
    readonly storageGb?: pulumi.Input<number>;
    /** Days of backups, 7-35 (default 7). */
    readonly backupRetentionDays?: pulumi.Input<number>;
    /** Geo-redundant backups (default false; fixed at creation). */
    readonly geoRedundantBackup?: pulumi.Input<boolean>;
    /** A zone-redundant standby (default false; not on the Burstable tier). */
    readonly highAvailability?: pulumi.Input<boolean>;
    /** The source server's resource ID; replica and promoted only. */
    readonly replicaOf?: pulumi.Input<string>;
    /** How a `promoted` server was promoted: `Planned` (default: waits for the replica to catch up) or `Forced`. */
    readonly promoteOption?: "Planned" | "Forced";
    /** Resources the promotion waits for (the lag gate); only with `role: "promoted"`. */
    readonly promoteAfter?: pulumi.Input<pulumi.Resource>[];
}

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
 * A `replica` (`createMode: Replica`) has its own group in its own location, and the same
 * parameters and rules (a replica has its own). A `promoted` one keeps every input it was created
 * with and adds the `replica` block that promotes it to a standalone server: `createMode` only
 * matters at creation (write-only in API 2025-08-01, the SDK's) and `sourceServerResourceId` "is
 * returned only when the target server is a read replica" (server.d.ts), so changing either could
 * only ask for another server. A `retain`ed (released) server loses its firewall rules: the fence.
 *
 * The server accepts one change at a time ("ServerIsBusy" otherwise, e.g.
 * hashicorp/terraform-provider-azurerm#28298, Azure/ResourceModules#3324), so parameters and
 * firewall rules are applied in a chain, each after the one before.
 */
export class FlexiblePostgres extends pulumi.ComponentResource implements PostgresServer {
    /** The server's FQDN; resolves once its parameters and every firewall rule are in place. */
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly adminUser: pulumi.Output<string>;
    /** The administrator password in use (a secret): generated, given, or (replicas) the source's. */
    public readonly adminPassword: pulumi.Output<string>;
    public readonly adminDatabase: pulumi.Output<string>;
    public readonly superuser: pulumi.Output<boolean>;
    public readonly version: pulumi.Output<string>;
    /** The resource group, the server name and the server's resource `id` (what a replica names). */
    public readonly ids: pulumi.Output<Record<string, string>>;
    /** What the server is in its replication set. */
    public readonly role: pulumi.Output<ServerRole>;

    /** Children inherit the `azure-native` and `random` providers from `opts.providers`. */
    constructor(name: string, args: FlexiblePostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const { role, source, retain, keep } = createdServer(
            `FlexiblePostgres ${name}`,
            args,
            "the source server's resource ID",
        );
        const version = args.version ?? "17";
        const skuName = args.skuName ?? "Standard_D2ds_v5";
        const tier = args.tier ?? "GeneralPurpose";
        const storageGb = args.storageGb ?? 128;
        const backupRetentionDays = args.backupRetentionDays ?? 7;
        const geoRedundantBackup = args.geoRedundantBackup ?? false;
        const highAvailability = args.highAvailability ?? false;
        const promoteOption = args.promoteOption ?? "Planned";
        // A flag as Azure spells it: `on` when set, `Disabled` otherwise.
        const flag = (value: pulumi.Input<boolean>, on: string) =>
            pulumi.output(value).apply((v) => (v ? on : "Disabled"));

        const password =
            args.adminPassword === undefined
                ? new random.RandomPassword(
                      `${name}-admin-password`,
                      // Azure wants three of: upper, lower, digit, symbol; letters and digits keep the URL simple.
                      { length: 40, special: false, minUpper: 2, minLower: 2, minNumeric: 2 },
                      { parent: this, ...keep() },
                  ).result
                : pulumi.secret(args.adminPassword);
        // Deleting the group would delete the server in it.
        const group = new resources.ResourceGroup(
            `${name}-rg`,
            { location: args.location },
            { parent: this, ...keep(true) },
        );
        const common = {
            resourceGroupName: group.name,
            location: args.location,
            version,
            sku: { name: skuName, tier },
            storage: { storageSizeGB: storageGb, autoGrow: "Enabled" },
            backup: { backupRetentionDays, geoRedundantBackup: flag(geoRedundantBackup, "Enabled") },
            // A read replica cannot have high availability (Azure's read replica considerations), and a
            // promoted one keeps the replica's settings: `highAvailability` is the home primary's only.
            highAvailability: { mode: role === "primary" ? flag(highAvailability, "ZoneRedundant") : "Disabled" },
            network: { publicNetworkAccess: "Enabled" },
            authConfig: { passwordAuth: "Enabled", activeDirectoryAuth: "Disabled" },
        };
        const serverArgs: dbforpostgresql.ServerArgs =
            source === undefined
                ? {
                      ...common,
                      administratorLogin: ADMIN_USER,
                      administratorLoginPassword: password,
                      createMode: "Create",
                  }
                : {
                      ...common,
                      // No administrator: "Name of the login designated as the first password based
                      // administrator ... Once set to a given value, it cannot be changed for the rest
                      // of the life of a server" (dbforpostgresql/server.d.ts): a replica has its source's.
                      createMode: "Replica",
                      // "Required when 'createMode' is ... 'Replica'" (server.d.ts).
                      sourceServerResourceId: source,
                      // "Read replica properties of a server. Required only in case that you want to
                      // promote a server" (server.d.ts); enums in types/enums/dbforpostgresql.
                      replica:
                          role === "promoted" ? { promoteMode: "Standalone", promoteOption, role: "None" } : undefined,
                  };
        const server = new dbforpostgresql.Server(`${name}-server`, serverArgs, {
            parent: this,
            ...keep(true),
            ...(args.promoteAfter !== undefined ? { dependsOn: args.promoteAfter } : {}),
        });

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
                        { parent: this, dependsOn: [after], ...keep() },
                    ),
            );
        const extensions = setting("extensions", "azure.extensions", AZURE_EXTENSIONS);
        const tls = setting("require-tls", "require_secure_transport", "on");
        // A released server gets none: deleting them is the fence.
        const rules = (retain ? [] : args.allowedCidrs).map((cidr) => {
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
                        { parent: this, dependsOn: [after], ...(args.frozen ? { ignoreChanges: ["*"] } : {}) },
                    ),
            );
        });

        // Nothing can connect before the parameters and firewall rules exist: whoever connects waits
        // through the host (see `readyHost`).
        const ready = [server, extensions, tls, ...rules].map((r) => r.urn);
        this.host = readyHost(server.fullyQualifiedDomainName, ready);
        this.port = pulumi.output(5432);
        this.adminUser = pulumi.output(ADMIN_USER);
        this.adminPassword = pulumi.secret(password);
        this.adminDatabase = pulumi.output(ADMIN_DATABASE);
        this.superuser = pulumi.output(false);
        this.version = pulumi.output(version);
        this.ids = pulumi
            .all({ resourceGroup: group.name, server: server.name, id: server.id })
            .apply((v): Record<string, string> => ({ ...v }));
        this.role = pulumi.output(role);
        this.registerOutputs({
            host: this.host,
            port: this.port,
            adminUser: this.adminUser,
            adminPassword: this.adminPassword,
            adminDatabase: this.adminDatabase,
            superuser: this.superuser,
            version: this.version,
            ids: this.ids,
            role: this.role,
        });
    }
}
