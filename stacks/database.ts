/**
 * The shared PostgreSQL and Redis of the shared stack, in one or two locations (`database` /
 * `redis`, and `database.standby` / `redis.standby`): the servers the standby's plan declares
 * (lib/standby.ts), the logins on the serving one, and the record later runs are judged against.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { LoginInput } from "../components/configBundle";
import { RdsPostgres } from "../components/database/aws";
import { FlexiblePostgres } from "../components/database/azure";
import { QuayDatabases } from "../components/database/logins";
import { ADMIN_DATABASE, ADMIN_USER, PostgresServer } from "../components/database/server";
import { DATABASE_CA, postgresTls, postgresUrl } from "../lib/quayConfig";
import { RedisEc2 } from "../components/redis/aws";
import { RedisAzureVm } from "../components/redis/azure";
import { DeclaredServer, serverName, ServerRecord, ServiceLocation, StandbyPlan, StandbyRecord } from "../lib/standby";
import type { QuayGeorepConfig, SharedSecrets } from "../config/config";
import type { DatabaseConfig, RedisConfig } from "../config/services";
import type { SecretValue } from "../config/validate";
import type { StackProviders } from "./providers";
import { flexibleArgs, rdsArgs, redisAzureArgs, redisEc2Args } from "./serviceArgs";

/** A server the shared stack runs or points at, as the bundle and the switchover Jobs need it. */
export interface ServerEndpoint {
    readonly host: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    readonly ids?: pulumi.Output<Record<string, string>>;
}

/** The shared PostgreSQL: the serving server and its logins, and where each location's server is. */
export interface SharedDatabase extends ServerEndpoint {
    readonly quay: LoginInput;
    readonly clair: LoginInput;
    /** Per location with a server this run: where it is (hosts of created servers resolve once they accept connections). */
    readonly locations: Readonly<Partial<Record<ServiceLocation, ServerEndpoint>>>;
    /** The `standby` record with the IDs and hosts of the servers as created (resolves once they exist). */
    readonly record: pulumi.Output<StandbyRecord>;
}

/** A config secret as a Pulumi secret Output. */
function secret(value: SecretValue | undefined): pulumi.Output<string> {
    if (value === undefined) throw new Error("a required secret was not validated");
    return pulumi.secret(value.reveal());
}

/** The database config of a location (the standby's is a whole config of its own: config/database.ts). */
function configOf(db: DatabaseConfig, location: ServiceLocation): DatabaseConfig | undefined {
    return location === "home" ? db : db.standby;
}

type CreatedServer = (RdsPostgres | FlexiblePostgres) & PostgresServer;

/**
 * The administrator password of every created server: replicas inherit their source's, so one
 * password serves the primary and every replica built from it, whichever location serves. It
 * outlives any one server (the first primary is released after a switchover), so it lives at the
 * stack's top level; the alias keeps the value generated when it was the first primary's child.
 */
function adminPassword(cfg: QuayGeorepConfig, providers: StackProviders): pulumi.Output<string> {
    const db = cfg.database;
    const name = `${cfg.project}-database-admin-password`;
    const parentType = db.mode === "aws" ? "quay-georep:database:RdsPostgres" : "quay-georep:database:FlexiblePostgres";
    const password = new random.RandomPassword(
        name,
        // Letters and digits (RDS refuses '/', '@', '"' and spaces); Azure wants three character classes.
        db.mode === "aws"
            ? { length: 40, special: false }
            : { length: 40, special: false, minUpper: 2, minLower: 2, minNumeric: 2 },
        {
            provider: providers.random(),
            aliases: [{ parent: pulumi.createUrn(`${cfg.project}-database`, parentType) }],
        },
    );
    return pulumi.secret(password.result);
}

/**
 * How the switchover's checks log in, known before any server is declared (the lag gate must
 * exist before the promotion it guards): the administrator of created servers (one password for
 * all of them), an existing server's admin, or Quay's own role. Replicas have the same roles.
 */
export interface DatabaseAccess {
    readonly user: string;
    /** A secret. */
    readonly password: pulumi.Output<string>;
    /** The database it connects to. */
    readonly database: string;
}

/** The access of this config; for created servers it declares their administrator password. */
export function databaseAccess(
    cfg: QuayGeorepConfig,
    secrets: SharedSecrets,
    providers: StackProviders,
): DatabaseAccess {
    const db = cfg.database;
    if (db.mode !== "existing") {
        return { user: ADMIN_USER, password: adminPassword(cfg, providers), database: ADMIN_DATABASE };
    }
    return db.admin !== undefined
        ? { user: db.admin.user, password: secret(secrets.databaseAdminPassword), database: db.admin.database }
        : { user: db.quay.user, password: secret(secrets.databasePassword), database: db.quay.name };
}

/** A libpq URL for the switchover's `psql` (TLS as Quay's own: `verify-full` against the bundle's CA path when set). */
export function accessUrl(
    cfg: QuayGeorepConfig,
    access: DatabaseAccess,
    host: pulumi.Input<string>,
    port: pulumi.Input<number>,
): pulumi.Output<string> {
    return pulumi.secret(
        pulumi
            .all([host, port, access.password])
            .apply(([h, p, password]) =>
                postgresUrl(
                    h,
                    p,
                    { name: access.database, user: access.user, password },
                    postgresTls(cfg.database.caCertificate, DATABASE_CA.quayPath),
                ),
            ),
    );
}

/** Declares one server of the plan with its location's config and its region's provider. */
function declareServer(
    cfg: QuayGeorepConfig,
    s: DeclaredServer,
    source: pulumi.Input<string> | undefined,
    password: pulumi.Output<string>,
    providers: StackProviders,
    promoteAfter: readonly pulumi.Resource[],
): CreatedServer {
    const db = cfg.database;
    const name = serverName(cfg.project, s.location, s.generation);
    // A released or lost server keeps its recorded region; its other inputs are ignored (`retain`).
    const config = configOf(db, s.location) ?? db;
    const common = {
        role: s.role,
        ...(source !== undefined ? { replicaOf: source } : {}),
        adminPassword: password,
        retain: s.release,
        frozen: s.frozen,
        ...(s.promotedNow ? { promoteAfter: [...promoteAfter] } : {}),
    };
    if (config.mode === "aws") {
        return new RdsPostgres(
            name,
            { ...rdsArgs(config), ...common },
            { providers: [providers.aws(s.region), providers.random()] },
        );
    }
    if (config.mode === "azure") {
        return new FlexiblePostgres(
            name,
            {
                ...flexibleArgs({ ...config, location: s.region }),
                ...common,
                ...(s.promoteOption !== undefined ? { promoteOption: s.promoteOption } : {}),
            },
            { providers: [providers.azure(), providers.random()] },
        );
    }
    throw new Error(`mode ${config.mode} creates no server`);
}

/** The source ID of a server: its source declared in this run, else the one recorded. */
function sourceId(
    s: DeclaredServer,
    declared: ReadonlyMap<string, CreatedServer>,
    mode: "aws" | "azure",
): pulumi.Input<string> | undefined {
    if (s.source === undefined) return undefined;
    if (s.source.id !== undefined) return s.source.id;
    const from = declared.get(`${s.source.location}#${s.source.generation}`);
    if (from === undefined) throw new Error(`no source declared for ${s.location}#${s.generation}`);
    return idOf(from, mode);
}

/** The ID a replica names its source by: the ARN on RDS (a cross-region replica needs it), the resource ID on Azure. */
function idOf(server: CreatedServer, mode: "aws" | "azure"): pulumi.Output<string> {
    return server.ids.apply((ids) => (mode === "aws" ? ids.arn : ids.id));
}

/**
 * Declares the servers of the plan, the logins on the serving one, and the next record. Order:
 * sources first (a replica names its source's ID), so the plan's servers are created in
 * dependency order whatever their locations.
 */
export function deployDatabase(
    cfg: QuayGeorepConfig,
    secrets: SharedSecrets,
    providers: StackProviders,
    plan: StandbyPlan,
    access: DatabaseAccess,
    promoteAfter: readonly pulumi.Resource[] = [],
): SharedDatabase {
    const db = cfg.database;
    if (db.mode === "existing") return existingDatabase(cfg, secrets, providers, plan);
    const mode = db.mode;
    const password = access.password;
    const declared = new Map<string, CreatedServer>();
    const key = (s: { location: ServiceLocation; generation: number }) => `${s.location}#${s.generation}`;
    // Servers with no source (or a recorded one) first, then the replicas of servers declared here.
    const ordered = [...plan.servers].sort((a, b) => rank(a) - rank(b));
    for (const s of ordered) {
        declared.set(key(s), declareServer(cfg, s, sourceId(s, declared, mode), password, providers, promoteAfter));
    }
    const serving = plan.record.servers[plan.serving];
    const server = serving && declared.get(key(serving));
    if (server === undefined) throw new Error(`no server serves ${plan.serving}`);
    const logins = new QuayDatabases(
        `${cfg.project}-database-logins`,
        { server, quay: db.quay, clair: db.clair },
        { providers: [providers.random()] },
    );
    const locations: Partial<Record<ServiceLocation, ServerEndpoint>> = {};
    for (const location of ["home", "standby"] as const) {
        const current = plan.record.servers[location];
        const s = current && declared.get(key(current));
        if (s) locations[location] = { host: s.host, port: s.port, ids: s.ids };
    }
    return {
        host: server.host,
        port: server.port,
        ids: server.ids,
        quay: logins.quay,
        clair: logins.clair,
        locations,
        record: recordWithIds(plan.record, declared, mode),
    };
}

/** Sources before replicas: a server whose source is declared in this run comes after it. */
function rank(s: DeclaredServer): number {
    return s.source === undefined || s.source.id !== undefined ? 0 : 1;
}

/** The record, with the ID, host and source ID of every current server filled in from what was declared. */
function recordWithIds(
    record: StandbyRecord,
    declared: ReadonlyMap<string, CreatedServer>,
    mode: "aws" | "azure",
): pulumi.Output<StandbyRecord> {
    const filled = (s: ServerRecord | undefined): pulumi.Output<ServerRecord | undefined> => {
        if (s === undefined) return pulumi.output(undefined);
        const server = declared.get(`${s.location}#${s.generation}`);
        if (server === undefined) return pulumi.output(s);
        const from = declared.get(
            `${s.location === "home" ? "standby" : "home"}#${record.servers[s.location === "home" ? "standby" : "home"]?.generation ?? -1}`,
        );
        return pulumi
            .all([
                idOf(server, mode),
                pulumi.output(server.host),
                s.role === "primary" || s.sourceId !== undefined ? undefined : from && idOf(from, mode),
            ])
            .apply(([id, host, source]) => ({
                ...s,
                id,
                host,
                ...(s.sourceId !== undefined ? {} : source !== undefined ? { sourceId: source } : {}),
            }));
    };
    return pulumi.all([filled(record.servers.home), filled(record.servers.standby)]).apply(([home, standby]) => ({
        ...record,
        servers: { ...(home ? { home } : {}), ...(standby ? { standby } : {}) },
    }));
}

/** An existing server (and standby): the logins on the serving one, created when an admin is given. */
function existingDatabase(
    cfg: QuayGeorepConfig,
    secrets: SharedSecrets,
    providers: StackProviders,
    plan: StandbyPlan,
): SharedDatabase {
    const db = cfg.database;
    if (db.mode !== "existing") throw new Error("not an existing database");
    const serving = configOf(db, plan.serving) ?? db;
    const endpoint = (d: DatabaseConfig | undefined): ServerEndpoint | undefined =>
        d && d.mode === "existing" ? { host: d.host, port: d.port } : undefined;
    const locations = { home: endpoint(db), ...(db.standby ? { standby: endpoint(db.standby) } : {}) };
    const record = pulumi.output(plan.record);
    if (serving.mode !== "existing") throw new Error("not an existing database");
    if (db.admin === undefined) {
        // Roles made by the team: their passwords are config secrets (a replica has the same roles).
        const login = (l: typeof db.quay, password: SecretValue | undefined): LoginInput => ({
            ...l,
            password: secret(password),
        });
        return {
            host: serving.host,
            port: serving.port,
            quay: login(db.quay, secrets.databasePassword),
            clair: login(db.clair, secrets.clairDatabasePassword),
            locations,
            record,
        };
    }
    const server: PostgresServer = {
        host: serving.host,
        port: serving.port,
        adminUser: db.admin.user,
        adminPassword: secret(secrets.databaseAdminPassword),
        adminDatabase: db.admin.database,
        superuser: db.admin.superuser,
    };
    const logins = new QuayDatabases(
        `${cfg.project}-database-logins`,
        { server, quay: db.quay, clair: db.clair },
        { providers: [providers.random()] },
    );
    return { host: server.host, port: server.port, quay: logins.quay, clair: logins.clair, locations, record };
}

/** A Redis of one location. */
export interface SharedRedis extends ServerEndpoint {
    readonly tls: boolean;
    readonly password: pulumi.Input<string>;
}

/**
 * What this run does with the standby Redis VM, judged against the one the last run declared
 * (`services.redis.standbyVm`). A VM standby removed from config is not dropped at once: it is
 * protected, so Pulumi would stop at its deletion after the rest of the run was applied. It is
 * declared once more as deployed, frozen and unprotected (`release`); the next run no longer
 * declares it and Pulumi deletes it. Redis keeps only transient data, so nothing is lost.
 */
export type RedisStandbyStep =
    | { readonly kind: "configured" }
    | { readonly kind: "release"; readonly config: RedisConfig; readonly note: string }
    | { readonly kind: "deleted"; readonly note: string }
    | {
          readonly kind: "refused";
          readonly path: string;
          readonly value: unknown;
          readonly problem: string;
          readonly fix: string;
      };

/** What a step tells the user (the shared stack logs it and exports it in `lifecyclePending`). */
export function redisStandbyNotes(step: RedisStandbyStep | undefined): string[] {
    return step?.kind === "release" || step?.kind === "deleted" ? [step.note] : [];
}

/** Where a Redis VM config runs, for messages. */
function vmWhere(config: Readonly<Record<string, unknown>>): string {
    const where = config.mode === "azure" ? config.location : config.region;
    return typeof where === "string" ? where : "its region";
}

export function planRedisStandby(
    redis: RedisConfig,
    last: { readonly config: Readonly<Record<string, unknown>>; readonly released: boolean } | undefined,
): RedisStandbyStep {
    const configured = redis.standby !== undefined && redis.standby.mode !== "existing";
    if (last === undefined) return { kind: "configured" };
    if (last.released) {
        return configured
            ? {
                  kind: "refused",
                  path: "redis.standby",
                  value: "<set>",
                  problem: `is back while the last run released the standby Redis VM in ${vmWhere(last.config)}, which this run deletes`,
                  fix: "run pulumi up once without database.standby and redis.standby, then add them again",
              }
            : {
                  kind: "deleted",
                  note: `the released standby Redis VM in ${vmWhere(last.config)} is deleted in this run (Redis keeps only transient data)`,
              };
    }
    // Still configured, or Redis changed mode (refused in stacks/resolve.ts): nothing to release.
    if (configured || last.config.mode !== redis.mode) return { kind: "configured" };
    return {
        kind: "release",
        config: last.config as unknown as RedisConfig,
        note: `redis.standby was removed: the standby Redis VM in ${vmWhere(last.config)} is unprotected in this run and deleted by the next one (run pulumi up again; Redis keeps only transient data)`,
    };
}

/** The Redis of each configured location, warm; the bundle points at the serving one. */
export function deployRedis(
    cfg: QuayGeorepConfig,
    secrets: SharedSecrets,
    providers: StackProviders,
    lost?: ServiceLocation,
    standbyStep: RedisStandbyStep = { kind: "configured" },
): Partial<Record<ServiceLocation, SharedRedis>> {
    const one = (redis: RedisConfig, location: ServiceLocation, release = false): SharedRedis => {
        // In a location lost in a failover, nothing may be asked of its region (not even an AMI lookup).
        const frozen = location === lost;
        switch (redis.mode) {
            case "existing":
                // One password for both: `redisPassword`.
                return { host: redis.host, port: redis.port, tls: redis.tls, password: secret(secrets.redisPassword) };
            case "aws":
            case "azure": {
                const name = location === "home" ? `${cfg.project}-redis` : `${cfg.project}-redis-standby`;
                const vm =
                    redis.mode === "aws"
                        ? new RedisEc2(
                              name,
                              { ...redisEc2Args(redis), frozen, release },
                              {
                                  providers: [providers.aws(redis.region), providers.random()],
                              },
                          )
                        : new RedisAzureVm(
                              name,
                              { ...redisAzureArgs(redis), frozen, release },
                              {
                                  providers: [providers.azure(), providers.random()],
                              },
                          );
                return { host: vm.host, port: vm.port, tls: redis.tls, password: vm.password, ids: vm.ids };
            }
            default: {
                const unknown: never = redis;
                throw new Error(`unknown redis mode in ${JSON.stringify(unknown)}`);
            }
        }
    };
    if (standbyStep.kind === "release") one(standbyStep.config, "standby", true);
    const home = one(cfg.redis, "home");
    // An existing Redis without a standby serves both locations.
    const standby = cfg.redis.standby ? one(cfg.redis.standby, "standby") : cfg.database.standby ? home : undefined;
    return { home, ...(standby ? { standby } : {}) };
}
