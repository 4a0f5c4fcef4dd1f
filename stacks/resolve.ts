/**
 * The config judged against what is deployed: which sites this stack deploys, in which state, and
 * which edits are refused. Pure (plain data in, plain data out), run after the last deployed
 * outputs are read and before any resource is registered; refusals end the program with the
 * usual one-line-per-problem message (`ConfigError`).
 */
import type { StorageConfig } from "../config/storage";
import { planStandby, ServiceLocation, StandbyPlan, StandbyRecord, standbyRecordFrom } from "../lib/standby";
import {
    EffectiveSite,
    recordedSites,
    refusedEdits,
    resolveTopology,
    runningStacks,
    StackRecord,
    StorageRecord,
    topologyKey,
    TopologyPlan,
} from "../lib/topology";
import type { DatabaseConfig } from "../config/database";
import { redisVmPlacement } from "../config/redis";
import type { QuayGeorepConfig, Site } from "../config/config";
import { changedServiceModes, DeployedState } from "./deployed";
import { planRedisStandby, redisStandbyNotes, RedisStandbyStep } from "./database";
import { ConfigError, Problems } from "../config/validate";

/** What this stack deploys, given what is deployed. */
export interface Resolution {
    /** The shared stack's plan (its sites in the states this run deploys); shared stack only. */
    readonly topology?: TopologyPlan;
    /** The site whose cluster this stack deploys, in the state the bundle gives it. */
    readonly site?: Site;
    /** Its `QUAY_DISTRIBUTED_STORAGE_PREFERENCE`. */
    readonly storagePreference: readonly string[];
    /** Site stacks: the topology key of the shared stack's bundle they deploy. */
    readonly sharedTopology?: string;
    /** Site stacks: the standby epoch of the shared stack's bundle they deploy. */
    readonly sharedEpoch: number;
    /** Shared stack: the database standby's plan for this run (lib/standby.ts). */
    readonly standby?: StandbyPlan;
    /** Shared stack: what this run does with the standby Redis VM (stacks/database.ts). */
    readonly redisStandby?: RedisStandbyStep;
    /** What happens and what to run next (logged; the shared stack exports them). */
    readonly notes: readonly string[];
}

/** Where a configured site's blobs would be, from the storage config (no secrets). */
export function storageRecordOf(storage: StorageConfig, site: Site): StorageRecord | undefined {
    if (storage.mode === "create") {
        const b = storage.buckets[site.name];
        if (b === undefined) return undefined;
        return {
            mode: "create",
            storagePath: b.storagePath,
            ...(site.cloud === "azure" ? { container: storage.azure.container } : {}),
        };
    }
    const b = storage.buckets[site.name];
    if (b === undefined) return undefined;
    const endpoint = b.endpointUrl ? { endpointUrl: b.endpointUrl } : {};
    return b.cloud === "aws"
        ? { mode: "existing", storagePath: b.storagePath, bucket: b.bucket, ...endpoint }
        : {
              mode: "existing",
              storagePath: b.storagePath,
              accountName: b.accountName,
              container: b.container,
              ...endpoint,
          };
}

/**
 * The shared stack's last record, as every stack reads it: its own, for the shared stack; a new
 * shared stack (after `sharedStack` moved and the state with it) takes the old one's, where the
 * topology's history is.
 */
function sharedRecord(cfg: QuayGeorepConfig, deployed: DeployedState): StackRecord | undefined {
    if (!cfg.stack.isShared) return deployed.stacks[cfg.sharedStack];
    const self = deployed.self;
    if (self?.topology !== undefined) return self;
    const previous = self?.sharedStack;
    return previous !== undefined && previous !== cfg.stack.name ? deployed.stacks[previous] : self;
}

/**
 * Resolves this stack's deployment.
 *
 * @throws ConfigError listing every refused edit
 */
export function resolveDeployment(cfg: QuayGeorepConfig, deployed: DeployedState): Resolution {
    const problems = new Problems();
    const paths = Object.fromEntries(cfg.sites.map((s, i) => [s.name, `sites[${i}]`]));
    const storageOf = (site: Site) => storageRecordOf(cfg.storage, site);
    const last = sharedRecord(cfg, deployed);
    movedSharedStack(cfg, deployed, problems);
    if (cfg.stack.isShared) {
        changedModes(cfg, deployed, problems);
        movedRedisVms(cfg, deployed, problems);
    }

    let topology: TopologyPlan | undefined;
    if (cfg.stack.isShared) {
        topology = resolveTopology({
            sites: cfg.sites,
            storageOf,
            sharedStack: cfg.sharedStack,
            last,
            deployed: deployed.stacks,
            paths,
        });
        checkSharedTopology(cfg, topology.sites, problems);
    }
    const refusals =
        topology?.refusals ?? refusedEdits({ sites: cfg.sites, storageOf, sharedStack: cfg.sharedStack, last, paths });
    for (const r of refusals) problems.add(r.path, r.value, r.problem, r.fix);

    const standby = topology ? planSharedStandby(cfg, deployed, last, topology, problems) : undefined;
    const redisStandby = cfg.stack.isShared ? planRedisStandby(cfg.redis, deployed.self?.redisStandbyVm) : undefined;
    if (redisStandby?.kind === "refused")
        problems.add(redisStandby.path, redisStandby.value, redisStandby.problem, redisStandby.fix);
    const site = ownSite(cfg, deployed, topology, problems);
    const bundleSites = topology?.sites ?? recordedSites(last) ?? [];
    const active = bundleSites.filter((s) => s.state === "active").map((s) => s.name);
    const storagePreference = preference(cfg, site, active, problems);
    if (problems.all.length > 0) throw new ConfigError(problems.all, cfg.stack.name);
    const sharedStandby = standbyRecordFrom(last?.standby);
    return {
        topology,
        site,
        storagePreference,
        sharedTopology: cfg.stack.isShared ? undefined : last?.topology,
        sharedEpoch: typeof sharedStandby === "object" ? sharedStandby.epoch : 0,
        ...(standby ? { standby } : {}),
        ...(redisStandby ? { redisStandby } : {}),
        notes: [...(topology?.notes ?? []), ...(standby?.notes ?? []), ...redisStandbyNotes(redisStandby)],
    };
}

/** Where a service location is: its region (RDS), location (Azure) or host (existing). */
function placeOf(db: DatabaseConfig): string {
    return db.mode === "aws" ? db.region : db.mode === "azure" ? db.location : db.host;
}

/**
 * The standby's step for this run of the shared stack, judged against its record and against
 * whether every cluster runs the last bundle (lib/standby.ts).
 */
function planSharedStandby(
    cfg: QuayGeorepConfig,
    deployed: DeployedState,
    last: StackRecord | undefined,
    topology: TopologyPlan,
    problems: Problems,
): StandbyPlan | undefined {
    const record = standbyRecordFrom(last?.standby);
    if (record === "malformed") {
        problems.add(
            "standby",
            "<deployed record>",
            `cannot be judged: the shared stack's standby output is not one this version reads`,
            `check pulumi stack output standby -s ${cfg.sharedStack}; restore it with the version that wrote it`,
        );
        return undefined;
    }
    const db = cfg.database;
    const sites = topology.sites;
    const key = topologyKey(sites);
    const configured = sites.filter((s) => s.state !== "retired").length;
    // The record's stack: this one, or the shared stack before `sharedStack` moved (its state with it).
    const recordStack =
        deployed.self?.topology !== undefined ? cfg.stack.name : (deployed.self?.sharedStack ?? cfg.stack.name);
    if (recordStack !== cfg.stack.name && record !== undefined && record.phase !== "steady") {
        problems.add(
            "sharedStack",
            cfg.sharedStack,
            `moves the shared stack from "${recordStack}" while a database switchover is in progress (phase ${record.phase}): the new shared stack has not verified that every cluster runs the switchover's bundle`,
            `set sharedStack back to "${recordStack}" and finish the switchover there (or call it off: standby.active back), then move the shared stack`,
        );
    }
    // Clusters that must run the last bundle before a step: every stack running Quay but this one
    // (its own site was verified in its last run, or that run failed and left the record as it
    // was). The last bundle is the record's: after a move, the old shared stack's.
    const lastSha = last?.bundleSha256;
    const notOnLastBundle =
        lastSha === undefined
            ? []
            : runningStacks(sites, recordStack).filter((stack) => {
                  const d = stack === cfg.stack.name ? deployed.self : deployed.stacks[stack];
                  return d?.role !== undefined && d.role !== "retired" && d.deployedBundleSha256 !== lastSha;
              });
    const busy = [
        ...sites.filter((s) => s.state === "draining").map((s) => `${s.name} is draining`),
        ...sites
            .filter((s) => s.state === "retired" && !s.removed)
            .map((s) => `${s.name} waits for util.removelocation`),
        ...(configured > 1 && last?.topology !== undefined && last.backfilledTopology !== last.topology
            ? [`the backfill of topology "${last.topology}" has not run`]
            : []),
    ];
    if (db.mode === "existing" && typeof record === "object") existingHostEdits(cfg, last, record, problems);
    // A major version upgrade with a replica: RDS and Azure upgrade a primary in place, but a replica
    // is upgraded with (and only with) its source, and the replica's parameter group family would
    // follow the new version while its engine does not (docs/standby.md, "Upgrading PostgreSQL").
    const servers = typeof record === "object" ? record.servers : {};
    if (
        db.mode !== "existing" &&
        last?.databaseVersion !== undefined &&
        last.databaseVersion !== db.version &&
        (db.standby !== undefined || Object.keys(servers).length > 1)
    ) {
        problems.add(
            "database.version",
            db.version,
            `upgrades PostgreSQL from ${last.databaseVersion} while the database has a standby: a replica is upgraded only with its source, and its parameter group would follow the new version while its engine does not`,
            `keep "${last.databaseVersion}"; to upgrade, remove database.standby and redis.standby first (docs/standby.md, "Removing the standby"), upgrade, then add them again`,
        );
    }
    const plan = planStandby({
        mode: db.mode,
        regions: { home: placeOf(db), ...(db.standby ? { standby: placeOf(db.standby) } : {}) },
        want: cfg.standby.serving,
        failover: cfg.standby.failover,
        last: record,
        notOnLastBundle,
        lifecycleBusy: busy,
        topologyChanging: last?.topology !== undefined && last.topology !== key,
        sharedStack: cfg.sharedStack,
        runsJobs: cfg.stack.lifecycleJobs,
    });
    for (const r of plan.refusals) problems.add(r.path, r.value, r.problem, r.fix);
    return plan;
}

/**
 * Existing servers: the program cannot see which server is which, only their hosts, so the hosts
 * the bundle and the switchover's checks last used are held to. While a switchover or a failover
 * is under way neither host may change (the lag gate and the verification judged those servers);
 * with a standby, the serving location's host may not change at all: a bundle naming another
 * server, unchecked, could point every cluster at a stale copy (say the old primary after a
 * switchover, with the hosts "tidied" back). Without a standby, `database.host` stays free.
 */
function existingHostEdits(
    cfg: QuayGeorepConfig,
    last: StackRecord | undefined,
    record: StandbyRecord,
    problems: Problems,
): void {
    const hosts = last?.databaseHosts;
    const db = cfg.database;
    // Only hosts of existing servers recorded as such (a mode change is judged by changedModes).
    if (hosts === undefined || db.mode !== "existing" || last?.serviceModes?.database !== "existing") return;
    const busy = record.phase !== "steady" || record.lost !== undefined;
    const configured: Record<ServiceLocation, string | undefined> = {
        home: db.host,
        standby: db.standby?.mode === "existing" ? db.standby.host : undefined,
    };
    const recorded: Record<ServiceLocation, string | undefined> = {
        home: hosts.home ?? (record.serving === "home" ? hosts.serving : undefined),
        standby: hosts.standby ?? (record.serving === "standby" ? hosts.serving : undefined),
    };
    for (const location of ["home", "standby"] as const) {
        const before = recorded[location];
        const now = configured[location];
        if (before === undefined || now === undefined || before === now) continue;
        const serves = location === record.serving;
        if (!busy && !(serves && (db.standby !== undefined || hosts.standby !== undefined))) continue;
        const key = location === "home" ? "database.host" : "database.standby.host";
        problems.add(
            key,
            now,
            busy
                ? `changes while ${record.lost !== undefined ? `${record.lost === "home" ? "database" : "database.standby"} is lost (standby.failover)` : `a switchover is under way (phase ${record.phase})`}: its checks judged "${before}"`
                : `would point every cluster at another server than the one serving ("${before}"), unchecked`,
            busy
                ? `keep "${before}" until the switchover or failover has finished`
                : `keep "${before}"; to move the registry to another server, make it the standby (the other location's host may change while it does not serve) and switch (docs/standby.md)`,
        );
    }
}

/** What a created service is, for messages, and the component type of its servers. */
const CREATED_SERVICE: Record<"database" | "redis", Record<string, { what: string; type: string }>> = {
    database: {
        aws: { what: "RDS PostgreSQL server", type: "quay-georep:database:RdsPostgres" },
        azure: { what: "Azure flexible server", type: "quay-georep:database:FlexiblePostgres" },
    },
    redis: {
        aws: { what: "Redis EC2 VM", type: "quay-georep:redis:RedisEc2" },
        azure: { what: "Redis Azure VM", type: "quay-georep:redis:RedisAzureVm" },
    },
};

/**
 * Refuses a mode change of a service the shared stack created (`database.mode: aws` to `azure` or
 * `existing`, and the same for `redis`) while its state still holds that service. Applied, the
 * edit would point every cluster's bundle at another server and then fail on the protected old
 * one (pulumi/pulumi pkg/resource/deploy: deletes are generated in `performPostSteps`, after the
 * program registered everything, by step_generator.go `GenerateDeletes`; step.go `DeleteStep.Apply`
 * then fails with `deleteProtectedError`), leaving
 * the registry half moved, on a database without its data. Moving is deliberate: copy the data,
 * take the old server out of the state, then change the mode; the state, not the outputs, decides,
 * so the refusal ends with `pulumi state delete`.
 */
function changedModes(cfg: QuayGeorepConfig, deployed: DeployedState, problems: Problems): void {
    for (const { service, was, now } of changedServiceModes(cfg, deployed.self)) {
        const created = CREATED_SERVICE[service][was];
        const held = (deployed.ownServices ?? []).filter((urn) => urn.split("::")[2] === created.type);
        const unread = deployed.ownServices === undefined;
        if (!unread && held.length === 0) continue;
        const what = created.what;
        problems.add(
            `${service}.mode`,
            now,
            `would drop the ${what} this stack created (${service}.mode "${was}")${service === "database" ? ", which holds the registry's data," : ""} and point every cluster at another ${service === "database" ? "database" : "Redis"}; its servers are protected, so pulumi up would fail only after the bundle had changed`,
            unread
                ? `keep ${service}.mode "${was}"; this stack's state could not be read to check what it still holds (${deployed.unreadable[cfg.stack.name] ?? "no answer"})`
                : `keep ${service}.mode "${was}"; to move deliberately, ${service === "database" ? "copy the data to the new server first, then " : ""}take its servers out of the state (they stay in the cloud): pulumi state delete --target-dependents --force -y ${held.map((u) => `'${u}'`).join(" ")}; then run again (docs/services.md, "Changing a service's mode")`,
        );
    }
}

/**
 * Refuses moving a deployed Redis VM to another region or location. Pulumi would replace the VM, a
 * protected resource: the engine refuses that only when the VM registers (pulumi/pulumi
 * step_generator.go `continueStepsFromDiff`, "unable to replace resource … marked for protection"),
 * while the steps of resources registered before it run, and the database standby's checks tie the
 * standby VM's region to the replica's. Removing the standby and adding it again elsewhere is the
 * way (docs/standby.md, "Removing the standby").
 */
function movedRedisVms(cfg: QuayGeorepConfig, deployed: DeployedState, problems: Problems): void {
    const was = deployed.self?.redisPlacement;
    const now = redisVmPlacement(cfg.redis);
    if (was === undefined || now === undefined || deployed.self?.serviceModes?.redis !== cfg.redis.mode) return;
    const key = cfg.redis.mode === "azure" ? "location" : "region";
    for (const location of ["home", "standby"] as const) {
        const before = was[location];
        const after = now[location];
        if (before === undefined || after === undefined || before === after) continue;
        problems.add(
            location === "home" ? `redis.${key}` : `redis.standby.${key}`,
            after,
            `would move the ${location === "home" ? "" : "standby "}Redis VM deployed in ${before}: Pulumi would replace a protected VM, and stop at it part way through the run (steps already under way are applied)`,
            location === "home"
                ? `keep "${before}"; a Redis VM does not move between regions`
                : `keep "${before}"; to move the standby, remove database.standby and redis.standby first (docs/standby.md, "Removing the standby"), then add them in the new ${key}`,
        );
    }
}

/**
 * Refuses a `sharedStack` that is not the stack holding the shared services: a new shared stack
 * would create a second, empty set (a new database, a new `DATABASE_SECRET_KEY`) and point every
 * cluster at it. Their state must be moved first (`pulumi state move`, which takes children along).
 */
function movedSharedStack(cfg: QuayGeorepConfig, deployed: DeployedState, problems: Problems): void {
    for (const [stack, urns] of Object.entries(deployed.holders)) {
        if (urns.length === 0) continue;
        problems.add(
            "sharedStack",
            cfg.sharedStack,
            `is not the stack that holds the shared services: stack "${stack}" still has ${urns.length} of them in its state (${urns
                .map((u) => u.split("::").slice(-1)[0])
                .join(", ")})`,
            `move them first: pulumi state move --source ${stack} --dest ${cfg.sharedStack} --include-parents ${urns
                .map((u) => `'${u}'`)
                .join(
                    " ",
                )}; then pulumi up -s ${cfg.sharedStack}, then every other stack (docs/runbook.md, "Moving the shared stack"); or set sharedStack back to "${stack}"`,
        );
    }
    for (const [stack, reason] of Object.entries(deployed.unreadable)) {
        problems.add(
            "sharedStack",
            cfg.sharedStack,
            `cannot be checked: stack "${stack}" was the shared stack and its state cannot be read (${reason})`,
            `make its state readable with this stack's credentials, or set sharedStack back to "${stack}"`,
        );
    }
}

/** Refusals only the shared stack can judge: its own site, and who runs the lifecycle Jobs. */
function checkSharedTopology(cfg: QuayGeorepConfig, sites: readonly EffectiveSite[], problems: Problems): void {
    for (const s of sites.filter((x) => x.desired === "removed" && x.stack === cfg.stack.name)) {
        problems.add(
            "sites",
            s.name,
            `is the shared stack's own site and cannot be removed (its cluster runs the gate and util.removelocation)`,
            "first make another stack the shared stack (quay-georep:sharedStack), deploy it, then remove this site",
        );
    }
    const leaving = sites.filter((s) => s.desired === "removed" && !s.removed).map((s) => s.name);
    if (!cfg.stack.lifecycleJobs && leaving.length > 0) {
        problems.add(
            "lifecycleJobs",
            false,
            `leaves nobody to retire ${leaving.join(", ")} (no longer in sites)`,
            `set quay-georep:lifecycleJobs: true on stack "${cfg.stack.name}" (with its kubeContext or kubeconfig)`,
        );
    }
    // A site that left `sites` while its blobs are still read needs its bucket entry until retired.
    const storage = cfg.storage;
    if (storage.mode === "existing") {
        for (const s of sites.filter((x) => x.desired === "removed" && x.state !== "retired")) {
            if (storage.buckets[s.name] === undefined) {
                problems.add(
                    `storage.buckets.${s.name}`,
                    undefined,
                    `is required while ${s.name} drains (it left sites, but clusters still read its blobs from that bucket)`,
                    `keep the entry (and its storageCredentials) until ${s.name} is retired`,
                );
            }
            const creds = cfg.secrets?.storageCredentials[s.name] ?? {};
            if (s.cloud === "azure" && creds.accountKey === undefined) {
                problems.add(
                    `storageCredentials.${s.name}`,
                    undefined,
                    `is required while ${s.name} drains (clusters still read its blobs with it)`,
                    `keep its accountKey until ${s.name} is retired`,
                );
            }
        }
        const known = new Set([...cfg.sites.map((s) => s.name), ...sites.map((s) => s.name)]);
        for (const name of Object.keys(storage.buckets).filter((n) => !known.has(n))) {
            problems.add(`storage.buckets.${name}`, name, "is not a site", `use one of: ${[...known].join(", ")}`);
        }
    }
}

/**
 * The site this stack deploys: for a site stack, whatever the shared stack's bundle gives its site
 * (the shared stack deploys first, and may hold a site back in `draining` while it retires); for
 * the shared stack, its own site as planned.
 */
function ownSite(
    cfg: QuayGeorepConfig,
    deployed: DeployedState,
    topology: TopologyPlan | undefined,
    problems: Problems,
): Site | undefined {
    const me = cfg.stack.name;
    const configured = cfg.sites.find((s) => s.stack === me && s.state !== "retired");
    const toSite = (s: Site): Site => ({
        name: s.name,
        stack: s.stack,
        cloud: s.cloud,
        region: s.region,
        state: s.state,
        endpoint: s.endpoint,
    });
    if (topology !== undefined) {
        const mine = topology.sites.find((s) => s.stack === me && s.state !== "retired");
        return mine && toSite(mine);
    }
    const recorded = recordedSites(deployed.stacks[cfg.sharedStack]);
    const shared = cfg.sharedStack;
    // A stack that deploys no site, never did, and is not the shared stack is a mistake.
    const stray = () => {
        if (configured !== undefined || deployed.self !== undefined || cfg.sites.some((s) => s.stack === me)) return;
        problems.add(
            "sites",
            cfg.sites.map((s) => s.stack),
            `names no site deployed by stack "${me}", and "${me}" is not the shared stack "${shared}"`,
            `add a site with stack: ${me} to quay-georep:sites in Pulumi.yaml, or select another stack`,
        );
    };
    if (recorded === undefined) {
        if (configured !== undefined) {
            problems.add(
                "sharedStack",
                shared,
                `has not deployed a bundle yet, so stack "${me}" has none for ${configured.name}`,
                `run "pulumi up -s ${shared}" first, then this stack`,
            );
        }
        stray();
        return undefined;
    }
    // Records before site records name no stacks: match this stack's configured site by name.
    const mine = recorded.find(
        (r) => ("stack" in r ? r.stack === me : r.name === configured?.name) && r.state !== "retired",
    );
    if (configured !== undefined && !recorded.some((r) => r.name === configured.name)) {
        problems.add(
            "sites",
            configured.name,
            `is not in the shared stack "${shared}"'s bundle yet (it lists ${recorded.map((r) => r.name).join(", ") || "nothing"})`,
            `run "pulumi up -s ${shared}" first, then this stack`,
        );
        return undefined;
    }
    if (mine === undefined) {
        stray();
        return undefined;
    }
    if ("cloud" in mine) return toSite(mine);
    // An old record: cloud, region and endpoint come from config.
    return configured && toSite({ ...configured, state: mine.state });
}

/** The stack's storage preference: explicit (checked against the bundle), or its site then the other active ones. */
function preference(
    cfg: QuayGeorepConfig,
    site: Site | undefined,
    active: readonly string[],
    problems: Problems,
): readonly string[] {
    if (site === undefined) return [];
    if (!cfg.stack.explicitPreference) {
        return site.state === "active" ? [site.name, ...active.filter((n) => n !== site.name)] : active;
    }
    cfg.stack.storagePreference.forEach((name, i) => {
        if (!active.includes(name)) {
            problems.add(
                `storagePreference[${i}]`,
                name,
                `is not an active location of the shared stack "${cfg.sharedStack}"'s bundle (${active.join(", ")})`,
                `run "pulumi up -s ${cfg.sharedStack}" first, or remove it`,
            );
        }
    });
    return cfg.stack.storagePreference;
}
