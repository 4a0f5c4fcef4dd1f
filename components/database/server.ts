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

/**
 * What a created server is in its replication set (issue 14): the `primary` made from nothing (home
 * generation 0), a `replica` streaming from another server, or a replica since `promoted` to a
 * standalone server, declared with what it was created with so that nothing else changes.
 */
export type ServerRole = "primary" | "replica" | "promoted";

/**
 * The source a `replica` or `promoted` server names (undefined for a `primary`). Both it and the
 * password are required there: a replica inherits the source's master password, and the component
 * must hand it on. A missing one is a programming error (config never reaches components), hence a
 * plain Error.
 */
export function replicaSource(
    component: string,
    role: ServerRole,
    replicaOf: pulumi.Input<string> | undefined,
    source: string,
    adminPassword: pulumi.Input<string> | undefined,
): pulumi.Input<string> | undefined {
    if (role === "primary") return undefined;
    if (replicaOf === undefined) throw new Error(`${component}: role "${role}" needs replicaOf (${source})`);
    if (adminPassword === undefined) {
        throw new Error(`${component}: role "${role}" needs adminPassword (the source's master password, inherited)`);
    }
    return replicaOf;
}

/**
 * Options of every child of a server component: `protect` where the child holds data (as each
 * did before), except on a released server (`retain`), whose children are unprotected and
 * retained on delete, so the next run forgets them while the cloud keeps them. A frozen server
 * (released, or in a location lost in a failover) asks nothing of its cloud: `ignoreChanges: ["*"]`
 * resets every input to its last value (pulumi/pulumi sdk/go/common/resource/properties_path.go
 * `PropertyPath.reset`, key `"*"`), so an edited config changes nothing there.
 */
export function keepOptions(
    retain: boolean,
    protect = false,
    frozen = retain,
): { protect?: boolean; retainOnDelete?: boolean; ignoreChanges?: string[] } {
    const freeze = frozen ? { ignoreChanges: ["*"] } : {};
    if (retain) return { protect: false, retainOnDelete: true, ...freeze };
    return { ...(protect ? { protect: true } : {}), ...freeze };
}
