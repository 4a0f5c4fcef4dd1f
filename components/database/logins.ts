/**
 * QuayDatabases: Quay's and Clair's roles, databases and extensions on the shared PostgreSQL,
 * created through `@pulumi/postgresql` on a provider pointed at that server.
 */
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import type { DatabaseLogin } from "../../config/services";
import type { PostgresServer } from "./server";

const TYPE = "quay-georep:database:QuayDatabases";

/** Inputs of the logins. */
export interface QuayDatabasesArgs {
    /** The server, and how its administrator logs in. */
    readonly server: PostgresServer;
    /** Quay's database and role. */
    readonly quay: DatabaseLogin;
    /** Clair's database and role. */
    readonly clair: DatabaseLogin;
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
        const randomProvider = new random.Provider(`${name}-random`, {}, { parent: this });
        // Nothing can connect before the firewall rules and server parameters exist.
        const after = { parent: this, provider, dependsOn: [...server.ready] };

        const login = (who: "quay" | "clair", extension: string): CreatedLogin => {
            const password = new random.RandomPassword(
                `${name}-${who}-password`,
                // Letters and digits: the password goes into a URL and a YAML file unescaped by people.
                { length: 32, special: false },
                { parent: this, provider: randomProvider },
            );
            const role = new postgresql.Role(
                `${name}-${who}-role`,
                { name: args[who].user, login: true, password: password.result },
                after,
            );
            const database = new postgresql.Database(
                `${name}-${who}-database`,
                { name: args[who].name, owner: role.name },
                { ...after, protect: true },
            );
            new postgresql.Extension(
                `${name}-${who}-${extension}`,
                { name: extension, database: database.name },
                { ...after, protect: true },
            );
            return { name: database.name, user: role.name, password: pulumi.secret(password.result) };
        };
        this.quay = login("quay", "pg_trgm");
        this.clair = login("clair", "uuid-ossp");
        this.registerOutputs({ quayDatabase: this.quay.name, clairDatabase: this.clair.name });
    }
}
