/**
 * What is deployed, and what the next `pulumi up` may change: pure logic over the config's sites
 * and the last deployed outputs of the stacks (read through StackReferences, `stacks/deployed.ts`).
 *
 * The shared stack records every site it deployed (`sites` output: cloud, region, state, where its
 * blobs are). Judged against that record, an edit is either a safe step or refused:
 * - a site missing from config is retired exactly as `state: retired` would be: drained first, then
 *   gated, dropped, and removed (`util.removelocation`), each step once the previous one is deployed
 *   everywhere; the record drops it only after the removal was verified;
 * - `active → retired` drains first, for the same reason;
 * - a deployed location ID whose cloud, region, bucket or stack would change is refused: the database
 *   places every blob in the deployed bucket, and a new empty one would silently lose them all.
 *
 * Why steps wait for every stack: a replication worker copies a blob only to the locations of its own
 * config, then drops the queue item (quay/quay `workers/storagereplication.py`), so a step relied upon
 * while some cluster still runs the previous bundle can silently skip a location.
 */
import type { Cloud, Site, SiteState } from "./domain";

/** Where a site's blobs are (no secrets): enough to tell whether an edit would point elsewhere. */
export interface StorageRecord {
    /** `create` (this program's bucket) or `existing` (the team's). */
    readonly mode: "create" | "existing";
    /** Prefix inside the bucket. */
    readonly storagePath: string;
    /** S3 bucket (existing). */
    readonly bucket?: string;
    /** Azure account (existing) and container (both modes). */
    readonly accountName?: string;
    readonly container?: string;
    /** S3-compatible or non-public Azure endpoint (existing). */
    readonly endpointUrl?: string;
}

/** One site as the shared stack deployed it (its `sites` output). */
export interface SiteRecord {
    readonly name: string;
    readonly stack: string;
    readonly cloud: Cloud;
    readonly region: string;
    readonly state: SiteState;
    readonly endpoint: string;
    readonly storage: StorageRecord;
    /** `util.removelocation` ran and was verified (retired sites only). */
    readonly removed?: boolean;
}

/** A stack's last deployed outputs; `role` undefined means never deployed (or unreadable). */
export interface StackRecord {
    readonly role?: string;
    /** The shared stack this stack was deployed with (absent before this version). */
    readonly sharedStack?: string;
    /** Site stacks: the site and the topology key of the bundle their pods run. */
    readonly site?: string;
    readonly deployedTopology?: string;
    /** Shared stack: the topology key of its bundle, its site records, the last backfilled topology. */
    readonly topology?: string;
    readonly sites?: readonly SiteRecord[];
    readonly backfilledTopology?: string;
    /** Shared stack: the SHA-256 of its last bundle. */
    readonly bundleSha256?: string;
    /** Stacks running a site: the SHA-256 of the bundle their pods run (verified by the rollout check). */
    readonly deployedBundleSha256?: string;
    /** Shared stack: its `standby` output as read (lib/standby.ts `standbyRecordFrom` parses it). */
    readonly standby?: unknown;
    /** Stacks running a site: the standby epoch of the bundle their pods run (absent: 0). */
    readonly deployedEpoch?: number;
    /**
     * Shared stack: the mode of the database and of Redis its last run deployed (its `services`
     * output), so that a mode change is judged against what holds the data.
     */
    readonly serviceModes?: Readonly<Partial<Record<"database" | "redis", string>>>;
    /** Shared stack: the region or location of each Redis VM its last run deployed (`services.redis.placement`). */
    readonly redisPlacement?: Readonly<Partial<Record<"home" | "standby", string>>>;
    /**
     * Shared stack: the standby Redis VM its last run declared (`services.redis.standbyVm`): its
     * config as deployed, and whether that run released it (unprotected, to be deleted next).
     */
    readonly redisStandbyVm?: { readonly config: Readonly<Record<string, unknown>>; readonly released: boolean };
    /**
     * Shared stack: the database hosts its last bundle named (`services.database.host`, the serving
     * one, and `services.locations.database.<location>.host`).
     */
    readonly databaseHosts?: { readonly serving?: string; readonly home?: string; readonly standby?: string };
    /** Shared stack: the PostgreSQL version its created servers run (`services.database.version`). */
    readonly databaseVersion?: string;
}

/** A site as this run deploys it. */
export interface EffectiveSite extends Site {
    /** What config asks for: its state, or `removed` when the site is no longer listed. */
    readonly desired: SiteState | "removed";
    /** The state the shared stack last deployed, if it did. */
    readonly last?: SiteState;
    /** Where its blobs are. */
    readonly storage: StorageRecord;
    /** `util.removelocation` was verified in an earlier run. */
    readonly removed: boolean;
}

/** A refused edit, in the shape of every config problem: key path, value, what is wrong, the fix. */
export interface Refusal {
    readonly path: string;
    readonly value: unknown;
    readonly problem: string;
    readonly fix: string;
}

/** What the shared stack deploys this run. */
export interface TopologyPlan {
    /** Every site in the bundle or still to be removed, config order first, then removed sites. */
    readonly sites: readonly EffectiveSite[];
    /** Per retiring site: the locations that must hold every blob before the bundle drops it. */
    readonly gates: readonly { readonly site: string; readonly required: readonly string[] }[];
    /** What happens and what to run next, for `lifecyclePending` and the preview log. */
    readonly notes: readonly string[];
    readonly refusals: readonly Refusal[];
}

/**
 * The topology key: `name:state` of each site in order. Readable in a preview, and equal across
 * stacks exactly when they deployed the same topology.
 */
export function topologyKey(sites: readonly Pick<Site, "name" | "state">[]): string {
    return sites.map((s) => `${s.name}:${s.state}`).join(",");
}

/** Sites (name and state) from a topology key. */
export function parseTopologyKey(key: string | undefined): { name: string; state: SiteState }[] {
    if (!key) return [];
    return key.split(",").map((part) => {
        const [name, state] = part.split(":");
        return { name, state: state as SiteState };
    });
}

/**
 * The shared stack's record of what it deployed. Outputs of a version before site records carry
 * only the topology key: sites then have no cloud or region, which `resolveTopology` refuses to guess.
 */
export function recordedSites(last: StackRecord | undefined): readonly (SiteRecord | LegacySite)[] | undefined {
    if (last?.sites !== undefined) return last.sites;
    if (last?.topology === undefined) return undefined;
    return parseTopologyKey(last.topology).map((s) => ({ ...s, legacy: true as const }));
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function storageRecord(v: unknown): StorageRecord | undefined {
    if (v === null || typeof v !== "object") return undefined;
    const o = v as Record<string, unknown>;
    if ((o.mode !== "create" && o.mode !== "existing") || typeof o.storagePath !== "string") return undefined;
    const optional = ["bucket", "accountName", "container", "endpointUrl"] as const;
    return {
        mode: o.mode,
        storagePath: o.storagePath,
        ...Object.fromEntries(optional.filter((k) => typeof o[k] === "string").map((k) => [k, o[k] as string])),
    };
}

function siteRecord(v: unknown): SiteRecord | undefined {
    if (v === null || typeof v !== "object") return undefined;
    const o = v as Record<string, unknown>;
    const storage = storageRecord(o.storage);
    const state = o.state;
    if (
        typeof o.name !== "string" ||
        typeof o.stack !== "string" ||
        (o.cloud !== "aws" && o.cloud !== "azure") ||
        typeof o.region !== "string" ||
        (state !== "active" && state !== "draining" && state !== "retired") ||
        storage === undefined
    ) {
        return undefined;
    }
    return {
        name: o.name,
        stack: o.stack,
        cloud: o.cloud,
        region: o.region,
        state,
        endpoint: str(o.endpoint) ?? "",
        storage,
        ...(o.removed === true ? { removed: true } : {}),
    };
}

/**
 * A stack's record from its outputs as a StackReference returns them; undefined when the stack was
 * never deployed (no `role`). Malformed site records are dropped whole (the stack then reads as
 * one of a version before site records: its topology key still names every site).
 */
export function recordFromOutputs(outputs: Readonly<Record<string, unknown>>): StackRecord | undefined {
    const role = str(outputs.role);
    if (role === undefined) return undefined;
    const sites = Array.isArray(outputs.sites) ? outputs.sites.map(siteRecord) : undefined;
    const valid = sites?.every((s) => s !== undefined) ? sites : undefined;
    const record: StackRecord = {
        role,
        sharedStack: str(outputs.sharedStack),
        site: str(outputs.site),
        deployedTopology: str(outputs.deployedTopology),
        topology: str(outputs.topology),
        sites: valid,
        backfilledTopology: str(outputs.backfilledTopology),
        bundleSha256: str(outputs.bundleSha256),
        deployedBundleSha256: str(outputs.deployedBundleSha256),
        standby: outputs.standby ?? undefined,
        deployedEpoch: typeof outputs.deployedEpoch === "number" ? outputs.deployedEpoch : undefined,
        serviceModes: serviceModesOf(outputs.services),
        redisPlacement: redisPlacementOf(outputs.services),
        redisStandbyVm: redisStandbyVmOf(outputs.services),
        databaseHosts: databaseHostsOf(outputs.services),
        databaseVersion: databaseVersionOf(outputs.services),
    };
    return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/** The value at `path` inside an output read back as JSON (undefined where an object is missing). */
function at(value: unknown, ...path: string[]): unknown {
    let here = value;
    for (const key of path)
        here = here !== null && typeof here === "object" ? (here as Record<string, unknown>)[key] : undefined;
    return here;
}

/** The string fields of `keys` (each at its path), or undefined when none is a string. */
function strings<K extends string>(
    value: unknown,
    paths: Readonly<Record<K, readonly string[]>>,
): Partial<Record<K, string>> | undefined {
    const found = Object.entries(paths).flatMap(([key, path]) => {
        const v = str(at(value, ...(path as string[])));
        return v === undefined ? [] : [[key, v] as const];
    });
    return found.length > 0 ? (Object.fromEntries(found) as Partial<Record<K, string>>) : undefined;
}

/** `services.database.mode` and `services.redis.mode` of a shared stack's outputs, where present. */
function serviceModesOf(services: unknown): StackRecord["serviceModes"] {
    return strings(services, { database: ["database", "mode"], redis: ["redis", "mode"] });
}

/** `services.redis.placement` of a shared stack's outputs, where present. */
function redisPlacementOf(services: unknown): StackRecord["redisPlacement"] {
    return strings(at(services, "redis", "placement"), { home: ["home"], standby: ["standby"] });
}

/** `services.redis.standbyVm` of a shared stack's outputs, where present and well formed. */
function redisStandbyVmOf(services: unknown): StackRecord["redisStandbyVm"] {
    const config = at(services, "redis", "standbyVm", "config");
    if (config === null || typeof config !== "object" || Array.isArray(config)) return undefined;
    return {
        config: config as Record<string, unknown>,
        released: at(services, "redis", "standbyVm", "released") === true,
    };
}

/** `services.database.version` of a shared stack's outputs, where present. */
function databaseVersionOf(services: unknown): string | undefined {
    return str(at(services, "database", "version"));
}

/** The database hosts of a shared stack's `services` output, where present. */
function databaseHostsOf(services: unknown): StackRecord["databaseHosts"] {
    return strings(services, {
        serving: ["database", "host"],
        home: ["locations", "database", "home", "host"],
        standby: ["locations", "database", "standby", "host"],
    });
}

/** A site known only from an old topology key. */
export interface LegacySite {
    readonly name: string;
    readonly state: SiteState;
    readonly legacy: true;
}

function isLegacy(r: SiteRecord | LegacySite): r is LegacySite {
    return "legacy" in r;
}

/** Stacks that run (or ran) Quay with some bundle of `sites`: every non-retired site's stack but the shared one. */
export function runningStacks(sites: readonly Pick<Site, "stack" | "state">[], sharedStack: string): string[] {
    return [...new Set(sites.filter((s) => s.state !== "retired" && s.stack !== sharedStack).map((s) => s.stack))];
}

/** Running stacks that deployed something other than `topology` (never-deployed ones run no Quay). */
export function staleStacks(
    stacks: readonly string[],
    topology: string,
    deployed: Readonly<Record<string, StackRecord | undefined>>,
): string[] {
    return stacks.filter((stack) => {
        const d = deployed[stack];
        return d?.role !== undefined && d.role !== "retired" && d.deployedTopology !== topology;
    });
}

/** What `resolveTopology` reads. */
export interface TopologyInput {
    /** Sites as configured, in config order. */
    readonly sites: readonly Site[];
    /** Where each configured site's blobs would be, from the storage config. */
    readonly storageOf: (site: Site) => StorageRecord | undefined;
    /** The shared stack's name. */
    readonly sharedStack: string;
    /** The shared stack's own last outputs. */
    readonly last: StackRecord | undefined;
    /** Every other stack's last outputs, by stack name. */
    readonly deployed: Readonly<Record<string, StackRecord | undefined>>;
    /** `sites[i]` paths by site name, for messages. */
    readonly paths?: Readonly<Record<string, string>>;
}

/**
 * Edits that would misplace deployed data, for any stack: a deployed location whose cloud, region,
 * bucket or stack would change. Judged against the shared stack's record.
 */
export function refusedEdits(input: Omit<TopologyInput, "deployed">): Refusal[] {
    const refusals: Refusal[] = [];
    const recorded = recordedSites(input.last) ?? [];
    input.sites.forEach((site, i) => {
        const r = recorded.find((x) => x.name === site.name);
        if (r === undefined || isLegacy(r)) return;
        const path = input.paths?.[site.name] ?? `sites[${i}]`;
        if (r.state === "retired" && site.state !== "retired") {
            refusals.push({
                path: `${path}.state`,
                value: site.state,
                problem: `cannot bring back location ${site.name}: it was retired (dropped from every bundle${r.removed ? " and removed from the database" : ""})`,
                fix: "keep it retired (or remove it from sites); to serve that region again, add a site with a new name",
            });
        }
        const rename = `to move location ${site.name}, add a site with a new name and retire this one (docs/runbook.md)`;
        for (const key of ["cloud", "region", "stack"] as const) {
            if (site[key] !== r[key]) {
                refusals.push({
                    path: `${path}.${key}`,
                    value: site[key],
                    problem: `would move deployed location ${site.name} from ${key} "${r[key]}"; the database places its blobs where they are, and ${key === "stack" ? "that stack's cluster runs it" : "a new bucket would be empty"}`,
                    fix: `keep "${r[key]}"; ${rename}`,
                });
            }
        }
        const storage = input.storageOf(site);
        if (storage !== undefined && site.cloud === r.cloud && !sameStorage(storage, r.storage)) {
            refusals.push({
                path: storage.mode === "existing" ? `storage.buckets.${site.name}` : "storage",
                value: describeStorage(storage),
                problem: `would point deployed location ${site.name} away from ${describeStorage(r.storage)}, where the database says its blobs are`,
                fix: `restore it; ${rename}`,
            });
        }
    });
    return refusals;
}

function sameStorage(a: StorageRecord, b: StorageRecord): boolean {
    const keys = ["mode", "storagePath", "bucket", "accountName", "container", "endpointUrl"] as const;
    return keys.every((k) => a[k] === b[k]);
}

/** A storage record in a message. */
export function describeStorage(s: StorageRecord): string {
    const where = s.bucket ?? [s.accountName, s.container].filter(Boolean).join("/");
    return `${s.mode === "create" ? "the created bucket" : "bucket"}${where ? ` ${where}` : ""} at ${s.storagePath}`;
}

/**
 * The sites this run deploys, for the shared stack: each configured site in the state it may take
 * now, followed by deployed sites no longer configured (retired step by step until removed).
 */
export function resolveTopology(input: TopologyInput): TopologyPlan {
    const refusals = refusedEdits(input);
    const notes: string[] = [];
    const recorded = recordedSites(input.last);
    const byName = new Map((recorded ?? []).map((r) => [r.name, r]));
    const lastTopology = input.last?.topology;
    const lastSites = parseTopologyKey(lastTopology);
    const lastActive = lastSites.filter((s) => s.state === "active").map((s) => s.name);
    // Stacks that may still run the last bundle: the recorded sites' and the configured ones'.
    const stacksOfLast = runningStacks([...recordedSitesWithStack(recorded), ...input.sites], input.sharedStack);
    const staleForLast = staleStacks(stacksOfLast, lastTopology ?? "", input.deployed);
    // Sites active before and after: the only places a retiring site's blobs can be proven to be.
    const survivors = input.sites.filter((s) => s.state === "active" && lastActive.includes(s.name));
    const drainDone =
        lastTopology !== undefined && input.last?.backfilledTopology === lastTopology && staleForLast.length === 0;
    const up = (stacks: readonly string[]) => stacks.map((s) => `pulumi up -s ${s}`).join(", then ");

    const next = (name: string, desired: SiteState | "removed"): SiteState | undefined => {
        const last = byName.get(name)?.state;
        // Bringing back a retired location is refused by `refusedEdits`.
        if (last === "retired" && (desired === "active" || desired === "draining")) return undefined;
        if (desired === "active" || desired === "draining") return desired;
        // Retired, or no longer configured.
        switch (last) {
            case undefined:
            case "retired":
                return "retired";
            case "active":
                notes.push(
                    `${name} drains first (it leaves the default locations, every storage preference and the entry point, and stays readable): ` +
                        `deploy this, then every site stack, then pulumi up -s ${input.sharedStack} again (the backfill), then once more to retire it`,
                );
                return "draining";
            case "draining":
                if (!drainDone) {
                    notes.push(
                        staleForLast.length > 0
                            ? `${name} retires once every cluster runs the drained bundle: run ${up(staleForLast)}, then pulumi up -s ${input.sharedStack} again`
                            : `${name} retires once the backfill of the drained topology has run: run pulumi up -s ${input.sharedStack} again`,
                    );
                    return "draining";
                }
                if (survivors.length === 0) {
                    notes.push(`${name} retires once another site that was already active stays active`);
                    return "draining";
                }
                return "retired";
            default: {
                const unknown: never = last;
                throw new Error(`unknown state ${String(unknown)}`);
            }
        }
    };

    const sites: EffectiveSite[] = [];
    input.sites.forEach((site) => {
        const state = next(site.name, site.state);
        const r = byName.get(site.name);
        const storage = input.storageOf(site);
        if (state === undefined || storage === undefined) return;
        sites.push({
            ...site,
            state,
            desired: site.state,
            last: r?.state,
            storage: r && !isLegacy(r) ? r.storage : storage,
            removed: r !== undefined && !isLegacy(r) && r.removed === true,
        });
    });
    for (const r of recorded ?? []) {
        if (input.sites.some((s) => s.name === r.name)) continue;
        if (isLegacy(r)) {
            if (r.state === "retired") continue;
            refusals.push({
                path: "sites",
                value: r.name,
                problem: `is deployed (the shared stack's last topology lists it) but no longer configured, and that stack's outputs predate the site records this version keeps, so its cloud and region are unknown`,
                fix: `put ${r.name} back in sites as it was for one pulumi up -s ${input.sharedStack}, then remove it`,
            });
            continue;
        }
        if (r.removed) continue; // removal verified: the record and the bucket leave the state
        const state = next(r.name, "removed") as SiteState;
        notes.push(
            `${r.name} is no longer in quay-georep:sites: it is retired as state: retired would be (drained, gated, dropped from the bundle, util.removelocation, then forgotten); this run deploys it ${state}`,
        );
        sites.push({ ...r, state, desired: "removed", last: r.state, removed: false });
    }

    // A retiring site's blobs must be in every site that was already active and stays active:
    // a site added in this run is empty until its backfill, which waits for this bundle.
    const gates: { site: string; required: string[] }[] = [];
    const active = sites.filter((s) => s.state === "active").map((s) => s.name);
    for (const s of sites.filter((x) => x.state === "retired" && (x.last === "active" || x.last === "draining"))) {
        const required = active.filter((n) => lastActive.includes(n));
        gates.push({ site: s.name, required });
    }
    return { sites, gates, notes, refusals };
}

/** Records that know their stack (legacy ones are skipped: their stacks are read from config). */
function recordedSitesWithStack(recorded: readonly (SiteRecord | LegacySite)[] | undefined): SiteRecord[] {
    return (recorded ?? []).filter((r): r is SiteRecord => !isLegacy(r));
}
