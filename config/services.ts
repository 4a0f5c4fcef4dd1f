/**
 * Parsing of how the shared services are provided: `quay-georep:database`, `:redis`, `:storage`
 * (each in its own module, re-exported here).
 *
 * Each is a union keyed by `mode`. Mode `existing` points at services the team already runs; modes
 * `aws` and `azure` (database, redis) and `create` (storage: one bucket per site, in the site's
 * cloud and region) make this program create them. Every mode shares the keys that mean the same
 * thing (`port`, `quay`, `clair`), so code that only reads those never looks at the mode.
 */
import { DatabaseConfig, parseDatabase } from "./database";
import { parseRedis, RedisConfig } from "./redis";
import type { Site } from "./sites";
import { parseStorage, StorageConfig } from "./storage";
import type { ObjectReader, Problems } from "./validate";

export * from "./database";
export * from "./redis";
export * from "./storage";

/** Parses the three service objects; problems are recorded, never thrown. */
export function parseServices(
    top: ObjectReader,
    problems: Problems,
    sites: readonly Site[],
): { database: DatabaseConfig; redis: RedisConfig; storage: StorageConfig } {
    return {
        database: parseDatabase(top, problems),
        redis: parseRedis(top, problems),
        storage: parseStorage(top, problems, sites),
    };
}
