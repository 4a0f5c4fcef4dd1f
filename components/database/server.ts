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
function replicaSource(
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
function keepOptions(
    retain: boolean,
    protect = false,
    frozen = retain,
): { protect?: boolean; retainOnDelete?: boolean; ignoreChanges?: string[] } {
    const freeze = frozen ? { ignoreChanges: ["*"] } : {};
    if (retain) return { protect: false, retainOnDelete: true, ...freeze };
    return { ...(protect ? { protect: true } : {}), ...freeze };
}

/** What the created servers (RdsPostgres, FlexiblePostgres) are told of their place in a switchover. */
export interface CreatedServerArgs {
    /** `primary` (default), `replica` of `replicaOf`, or a replica since `promoted` to standalone. */
    readonly role?: ServerRole;
    /** The source server (each cloud names it its own way); replica and promoted only. */
    readonly replicaOf?: pulumi.Input<string>;
    /** A primary's administrator password (default: one generated here); required for a replica, which inherits it. */
    readonly adminPassword?: pulumi.Input<string>;
    /**
     * Released (default false): every child unprotected and retained on delete, and no ingress
     * (AWS) or firewall (Azure) rules: the fence.
     */
    readonly retain?: boolean;
    /**
     * Frozen (default: `retain`): every child keeps its last inputs (`ignoreChanges: ["*"]`), so
     * nothing is asked of a lost region, and a released server's edited config changes nothing.
     */
    readonly frozen?: boolean;
}

/**
 * How a created server's component starts: its role, the source it names (`replicaSource`, where
 * `sourceIs` says what `replicaOf` must be), whether it is released, and the options of each of its
 * children (`keepOptions`, `keep(true)` where the child holds data).
 */
export function createdServer(
    component: string,
    args: CreatedServerArgs,
    sourceIs: string,
): {
    role: ServerRole;
    source: pulumi.Input<string> | undefined;
    retain: boolean;
    keep: (protect?: boolean) => ReturnType<typeof keepOptions>;
} {
    const role = args.role ?? "primary";
    const source = replicaSource(component, role, args.replicaOf, sourceIs, args.adminPassword);
    const retain = args.retain ?? false;
    return { role, source, retain, keep: (protect) => keepOptions(retain, protect, args.frozen ?? retain) };
}
