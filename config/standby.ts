/**
 * `quay-georep:standby`: which location's database and Redis serve, the one edit of a switchover.
 * `active: false` (the default): the primary location (`database`, `redis`) serves; `active: true`:
 * the standby location (`database.standby`, `redis.standby`) does. `failover: true` says the
 * location being left is lost: the switch skips read-only mode and the lag gate, and nothing there
 * is touched until it is set back to false (docs/standby.md).
 */
import type { DatabaseConfig } from "./database";
import type { RedisConfig } from "./redis";
import { ObjectReader, Problems } from "./validate";

/** The two places the shared services can be. */
export type ServiceLocation = "home" | "standby";

/** The `standby` key. */
export interface StandbySettings {
    /** The standby location serves (default false). */
    readonly active: boolean;
    /** The location being left is lost: no read-only phase, no lag gate, nothing touched there (default false). */
    readonly failover: boolean;
    /** The location whose database and Redis the config asks to serve. */
    readonly serving: ServiceLocation;
}

/** Parses `standby` and checks it against the services; problems are recorded, never thrown. */
export function parseStandbySettings(
    top: ObjectReader,
    problems: Problems,
    services: { database: DatabaseConfig; redis: RedisConfig },
): StandbySettings {
    const s = top.object("standby", ["active", "failover"]);
    const active = s?.boolean("active", false) ?? false;
    const failover = s?.boolean("failover", false) ?? false;
    s?.done();
    const { database, redis } = services;
    if (active && database.standby === undefined) {
        problems.add(
            "standby.active",
            true,
            "asks the standby to serve, but database.standby is not set",
            "configure database.standby (and redis.standby) and deploy it first, or set standby.active: false",
        );
    }
    if (failover && database.standby === undefined) {
        problems.add(
            "standby.failover",
            true,
            "has no standby to fail over to",
            "remove it, or configure database.standby",
        );
    }
    // A switchover moves both: a Redis left in the lost region stops every cluster as surely as the database.
    if (database.standby !== undefined && redis.standby === undefined && redis.mode !== "existing") {
        problems.add(
            "redis.standby",
            undefined,
            `is required with database.standby (the Redis VM in ${redis.mode === "aws" ? redis.region : redis.location} would stop every cluster when that region is lost)`,
            `add redis.standby in ${database.mode === "aws" ? database.standby.region : database.mode === "azure" ? database.standby.location : "the standby's region"} (see docs/standby.md)`,
        );
    }
    if (redis.standby !== undefined && database.standby === undefined) {
        problems.add(
            "redis.standby",
            "<set>",
            "is set without database.standby: the switchover moves both together",
            "add database.standby, or remove redis.standby",
        );
    }
    return { active, failover, serving: active ? "standby" : "home" };
}
