/**
 * The one interface every PostgreSQL variant offers: where the server is and how an administrator
 * logs in. `QuayDatabases` needs nothing else to create Quay's and Clair's roles and databases.
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * A PostgreSQL server this program can log into as an administrator. The fields are Inputs so a
 * server made elsewhere (an existing one, another program's) fits as well as a created one.
 */
export interface PostgresServer {
    /**
     * Hostname clients connect to. A created server's resolves only once it accepts connections
     * (its firewall rules and server parameters exist), so whatever connects waits through it.
     */
    readonly host: pulumi.Input<string>;
    /** Port clients connect to. */
    readonly port: pulumi.Input<number>;
    /** The administrator's role. */
    readonly adminUser: pulumi.Input<string>;
    /** The administrator's password (a secret). */
    readonly adminPassword: pulumi.Input<string>;
    /** Database the administrator connects to. */
    readonly adminDatabase: pulumi.Input<string>;
    /** True only for a real PostgreSQL superuser (RDS and Azure administrators are not). */
    readonly superuser: pulumi.Input<boolean>;
    /** Major version, when known, so the provider need not ask the server during preview. */
    readonly version?: pulumi.Input<string>;
}

/** The administrator role this program creates on servers it creates. */
export const ADMIN_USER = "quayadmin";

/** Database an RDS or Azure administrator connects to. */
export const ADMIN_DATABASE = "postgres";

/**
 * The host, resolving only once every resource of `ready` (given by URN) exists, and carrying them
 * as dependencies: a resource that takes it as an input, such as the logins' PostgreSQL provider,
 * waits for them through data, as a `dependsOn` across the component boundary would. URNs rather
 * than IDs: both resolve once the resource is created, but a URN is known in a preview too, so
 * adding a CIDR leaves the host (and the logins' provider) known in that preview.
 */
export function readyHost(host: pulumi.Output<string>, ready: readonly pulumi.Output<string>[]): pulumi.Output<string> {
    return pulumi.all([host, ...ready]).apply(([value]) => value);
}
