/**
 * QuayDatabases: Quay's and Clair's roles, databases and extensions on the shared PostgreSQL,
 * created through `@pulumi/postgresql` on a provider pointed at that server.
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import type { PostgresServer } from "./server";

const TYPE = "quay-georep:database:QuayDatabases";

/** A database to create and the role that owns it and logs into it. */
export interface LoginArgs {
    /** Database name. */
    readonly name: pulumi.Input<string>;
    /** Role (user) name. */
    readonly user: pulumi.Input<string>;
}

/** Inputs of the logins. */
export interface QuayDatabasesArgs {
    /**
     * The server, and how its administrator logs in; nothing connects before `server.host`
     * resolves (a created server's host waits for its firewall rules).
     */
    readonly server: PostgresServer;
    /** Quay's database and role. */
    readonly quay: LoginArgs;
    /** Clair's database and role. */
    readonly clair: LoginArgs;
}

/** A created login, as the bundle consumes it. */
export interface CreatedLogin {
    /** Database name (resolves once the database exists). */
    readonly name: pulumi.Output<string>;
    /** Role name (resolves once the role exists). */
    readonly user: pulumi.Output<string>;
    /** Generated password (a secret). */
    readonly password: pulumi.Output<string>;
}

/**
 * For Quay and for Clair: a login role with a generated password, a database it owns, and the
 * extension each needs created **in that database** (`pg_trgm` for Quay: its pods refuse to start
 * without it; `uuid-ossp` for Clair, per quay/quay-docs). Databases are `protect`ed.
 *
 * The administrator is not a superuser on RDS or Azure; with `superuser: false` the provider grants
 * itself membership of the owner role where PostgreSQL requires it to create a database owned by
 * another role (hashicorp/terraform-provider-postgresql#18, #146: "must be member of role" on RDS).
 *
 * The PostgreSQL provider is the one provider a component still creates: it is configured from the
 * server's outputs. Passwords use the `random` provider of `opts.providers`.
 */
export class QuayDatabases extends pulumi.ComponentResource {
    /** Quay's login (`DB_URI`). */
    public readonly quay: CreatedLogin;
    /** Clair's login (`clair-config.yaml`). */
    public readonly clair: CreatedLogin;

    constructor(name: string, args: QuayDatabasesArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const server = args.server;
        const provider = new postgresql.Provider(
            `${name}-postgresql`,
            {
                host: server.host,
                port: server.port,
                username: server.adminUser,
                password: server.adminPassword,
                database: server.adminDatabase,
                superuser: server.superuser,
                sslmode: "require",
                connectTimeout: 30,
                expectedVersion: server.version,
            },
            { parent: this },
        );
        // The provider's host waits for the server's firewall rules and parameters, so these do too.
        const on = { parent: this, provider };

        const login = (who: "quay" | "clair", extension: string): CreatedLogin => {
            const password = new random.RandomPassword(
                `${name}-${who}-password`,
                // Letters and digits: the password goes into a URL and a YAML file unescaped by people.
                { length: 32, special: false },
                { parent: this },
            );
            const role = new postgresql.Role(
                `${name}-${who}-role`,
                { name: args[who].user, login: true, password: password.result },
                on,
            );
            const database = new postgresql.Database(
                `${name}-${who}-database`,
                { name: args[who].name, owner: role.name },
                { ...on, protect: true },
            );
            new postgresql.Extension(
                `${name}-${who}-${extension}`,
                { name: extension, database: database.name },
                { ...on, protect: true },
            );
            return { name: database.name, user: role.name, password: pulumi.secret(password.result) };
        };
        this.quay = login("quay", "pg_trgm");
        this.clair = login("clair", "uuid-ossp");
        this.registerOutputs({ quay: this.quay, clair: this.clair });
    }
}
