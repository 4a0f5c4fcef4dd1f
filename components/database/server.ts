/**
 * The one interface every PostgreSQL variant offers: where the server is and how an administrator
 * logs in. `QuayDatabases` needs nothing else to create Quay's and Clair's roles and databases.
 */
import type * as pulumi from "@pulumi/pulumi";

/** A PostgreSQL server this program can log into as an administrator. */
export interface PostgresServer {
    /** Hostname clients connect to. */
    readonly host: pulumi.Output<string>;
    /** Port clients connect to. */
    readonly port: pulumi.Output<number>;
    /** The administrator's role. */
    readonly adminUser: pulumi.Output<string>;
    /** The administrator's password (a secret). */
    readonly adminPassword: pulumi.Output<string>;
    /** Database the administrator connects to. */
    readonly adminDatabase: string;
    /** True only for a real PostgreSQL superuser (RDS and Azure administrators are not). */
    readonly superuser: boolean;
    /** Major version, when known, so the provider need not ask the server during preview. */
    readonly version?: string;
    /** Resources that must exist before anyone connects (firewall rules, server parameters). */
    readonly ready: readonly pulumi.Resource[];
    /** How to find the server in its cloud (e.g. `identifier`; `resourceGroup` and `server`), for people. */
    readonly ids?: pulumi.Output<Record<string, string>>;
}

/** The administrator role this program creates on servers it creates. */
export const ADMIN_USER = "quayadmin";
