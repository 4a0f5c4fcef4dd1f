/**
 * Pure logic of the database standby: which servers exist in the two locations (`home`:
 * `database`/`redis`; `standby`: `database.standby`/`redis.standby`), which one the bundle points
 * at, and the next step of a switchover, judged against what the shared stack recorded (its
 * `standby` output) and whether every cluster runs the last bundle.
 *
 * A planned switchover from S to T, each step in its own `pulumi up` of the shared stack, each
 * only once every cluster runs the bundle of the step before (the site stacks report the bundle
 * their pods run, `deployedBundleSha256`, only after their rollout check):
 * 1. `readonly`: the bundle stays on S with `REGISTRY_STATE: readonly`, so no cluster writes
 *    (quay/quay data/readreplica.py: every insert, update and delete raises ReadOnlyModeException);
 * 2. `promoted`: the lag gate proves T replayed everything S wrote, T is promoted (RDS: its
 *    `replicateSourceDb` removed; Azure: `replica.promoteMode: Standalone`; existing: by the user
 *    between two runs, phase `gated`), verified to accept writes, and the bundle points at T
 *    (database and Redis), still read-only;
 * 3. `steady`: read-only ends; S's server, which cannot become a replica, is released (fenced:
 *    its ingress rules deleted; unprotected and retained, so the next run forgets it and the
 *    cloud keeps it) and a new replica of T is created in S's location.
 * A failover (the location being left is lost) does step 2 at once with a forced promotion and no
 * gate, and touches nothing in the lost location until `failover` is set back to false.
 */
import type { Refusal } from "./topology";

/** The two places the shared database and Redis can be. */
export type ServiceLocation = "home" | "standby";

/** Where a switchover stands. */
export type SwitchPhase = "steady" | "readonly" | "gated" | "promoted";

/** What a server was created as, and whether it was promoted since. */
export type ServerRole = "primary" | "replica" | "promoted";

/** One server of a location, as the shared stack declared it. */
export interface ServerRecord {
    readonly location: ServiceLocation;
    /** 0 for the first server of the location, then one more for every server rebuilt there. */
    readonly generation: number;
    readonly role: ServerRole;
    /** Its region (RDS), location (Azure). */
    readonly region: string;
    /** Its ARN (RDS) or resource ID (Azure), once created. */
    readonly id?: string;
    /** The hostname clients connect to, once created (the lag gate reaches a replica by it). */
    readonly host?: string;
    /** The server it replicates (or replicated, once promoted): ARN or resource ID. */
    readonly sourceId?: string;
    /** How it was promoted (Azure keeps it as an input): `Planned` after a lag gate, `Forced` in a failover. */
    readonly promoteOption?: "Planned" | "Forced";
}

/** The shared stack's `standby` output: what later runs are judged against. */
export interface StandbyRecord {
    /** The location whose database and Redis the bundle points at. */
    readonly serving: ServiceLocation;
    readonly phase: SwitchPhase;
    /** The location a switchover in progress moves to. */
    readonly target?: ServiceLocation;
    /** A location lost in a failover and not yet restored (nothing there is touched). */
    readonly lost?: ServiceLocation;
    /** One more each time the serving database changes. */
    readonly epoch: number;
    /** The epoch of the last failover: a cluster whose stack has not deployed it since is kept out of the entry point. */
    readonly failoverEpoch?: number;
    /** The current server of each location (created modes only). */
    readonly servers: Readonly<Partial<Record<ServiceLocation, ServerRecord>>>;
    /** Servers released in the last run (fenced, unprotected, retained): the next run forgets them. */
    readonly released: readonly ServerRecord[];
    /** Servers forgotten by the state and left in the cloud, with deletion protection, for a person to delete. */
    readonly left: readonly ServerRecord[];
}

/** A server this run declares. */
export interface DeclaredServer {
    readonly location: ServiceLocation;
    readonly generation: number;
    readonly role: ServerRole;
    /** Where it runs. */
    readonly region: string;
    /** The server it replicates: the one declared this run in that location, or a recorded ID. */
    readonly source?: { readonly location: ServiceLocation; readonly generation: number; readonly id?: string };
    /** Azure's promotion option for a server promoted this run (or before). */
    readonly promoteOption?: "Planned" | "Forced";
    /** Released: no ingress rules (fenced), unprotected, retained on delete. */
    readonly release: boolean;
    /** Nothing may change in its cloud: released, or in a location lost in a failover. */
    readonly frozen: boolean;
    /** Promoted in this run, after the lag gate (planned) or at once (failover). */
    readonly promotedNow: boolean;
}

/** What the planner reads. */
export interface StandbyInput {
    readonly mode: "aws" | "azure" | "existing";
    /** Where each configured location is (region, Azure location, or host); no standby: `standby` undefined. */
    readonly regions: Readonly<{ home: string; standby?: string }>;
    /** The location config asks to serve (`standby.active`). */
    readonly want: ServiceLocation;
    /** `standby.failover`. */
    readonly failover: boolean;
    /** The shared stack's last record; undefined: never recorded (home serves, one server). */
    readonly last: StandbyRecord | undefined;
    /** Stacks running Quay whose pods do not run the shared stack's last bundle yet. */
    readonly notOnLastBundle: readonly string[];
    /** Region-lifecycle work in progress (a planned switch waits for it), as sentences. */
    readonly lifecycleBusy: readonly string[];
    /** This run changes the sites' topology. */
    readonly topologyChanging: boolean;
    /** The shared stack's name, for the notes. */
    readonly sharedStack: string;
    /** The shared stack runs Jobs in its cluster (`lifecycleJobs`), needed by the gate and the checks. */
    readonly runsJobs: boolean;
}

/** What this run does. */
export interface StandbyPlan {
    /** The location whose database and Redis the bundle points at. */
    readonly serving: ServiceLocation;
    /** The bundle carries `REGISTRY_STATE: readonly` (and the read-only service key). */
    readonly readonly: boolean;
    /** The lag gate that must pass before the promotion: the server of `from` is the primary, `to`'s the replica. */
    readonly gate?: { readonly from: ServiceLocation; readonly to: ServiceLocation };
    /** The location whose server must be verified to accept writes before the bundle points at it. */
    readonly verify?: ServiceLocation;
    /** Servers to declare (none in mode existing). */
    readonly servers: readonly DeclaredServer[];
    /** The next record, without the IDs of servers created in this run (the caller fills them). */
    readonly record: StandbyRecord;
    /** Clusters whose stacks have not deployed this epoch stay out of the entry point; undefined: no fence. */
    readonly fenceEpoch?: number;
    /** What happens and what to run next. */
    readonly notes: readonly string[];
    readonly refusals: readonly Refusal[];
}

const other = (l: ServiceLocation): ServiceLocation => (l === "home" ? "standby" : "home");

/** How a location is named in messages: by its config key. */
export function locationKey(l: ServiceLocation): string {
    return l === "home" ? "database" : "database.standby";
}

/** A fresh deployment's record: home serves, nothing switched. */
export function initialRecord(): StandbyRecord {
    return { serving: "home", phase: "steady", epoch: 0, servers: {}, released: [], left: [] };
}

/**
 * The Pulumi resource name of a server: generation 0 keeps the names the program always used
 * (`<project>-database`, and `<project>-database-standby` for the standby), later ones add `-g<n>`.
 */
export function serverName(project: string, location: ServiceLocation, generation: number): string {
    const base = location === "home" ? `${project}-database` : `${project}-database-standby`;
    return generation === 0 ? base : `${base}-g${generation}`;
}

/** The highest generation a location has used (current, released or left), -1 if none. */
function lastGeneration(record: StandbyRecord, location: ServiceLocation): number {
    const all = [record.servers[location], ...record.released, ...record.left].filter(
        (s): s is ServerRecord => s !== undefined && s.location === location,
    );
    return Math.max(-1, ...all.map((s) => s.generation));
}

const up = (stacks: readonly string[]) => stacks.map((s) => `pulumi up -s ${s}`).join(", then ");

/**
 * Plans this run of the shared stack. Pure: the same input gives the same plan; refusals are
 * returned (the caller reports them with every other problem before registering anything).
 */
export function planStandby(input: StandbyInput): StandbyPlan {
    const last = input.last ?? initialRecord();
    const notes: string[] = [];
    const refusals: Refusal[] = [];
    const refuse = (path: string, value: unknown, problem: string, fix: string) =>
        refusals.push({ path, value, problem, fix });
    const created = input.mode !== "existing";
    const configured = input.regions.standby !== undefined;
    const serving = last.serving;
    const waitForClusters = (what: string) =>
        notes.push(
            `${what} once every cluster runs the current bundle: run ${up(input.notOnLastBundle)}, then pulumi up -s ${input.sharedStack} again`,
        );

    // The servers as last recorded; each branch below decides what this run declares.
    let next: Omit<StandbyRecord, "servers" | "released" | "left"> = {
        serving: last.serving,
        phase: last.phase,
        ...(last.target !== undefined ? { target: last.target } : {}),
        ...(last.lost !== undefined ? { lost: last.lost } : {}),
        epoch: last.epoch,
        ...(last.failoverEpoch !== undefined ? { failoverEpoch: last.failoverEpoch } : {}),
    };
    const nextServers: Partial<Record<ServiceLocation, ServerRecord>> = { ...last.servers };
    const released: ServerRecord[] = [];
    // Released last run: not declared now, so Pulumi forgets them and the cloud keeps them.
    const left = [...last.left, ...last.released];
    for (const s of last.released) {
        notes.push(
            `the ${s.role === "primary" ? "former primary" : "former server"} of ${locationKey(s.location)} (${s.region}${s.id ? `, ${s.id}` : ""}) ` +
                'leaves Pulumi\'s state in this run and stays in the cloud, fenced (no ingress) and with deletion protection: delete it by hand once you no longer need it (docs/standby.md, "Old servers")',
        );
    }
    let readonly = false;
    let gate: StandbyPlan["gate"];
    let verify: ServiceLocation | undefined;
    const promotedNow = new Set<ServiceLocation>();
    const release = new Set<ServiceLocation>();
    let promoteOption: "Planned" | "Forced" = "Planned";

    const startsOrContinuesSwitch = input.want !== serving || last.phase !== "steady";
    // Servers are created only from the home location's serving primary: a record of existing
    // servers (none recorded) that serves from its standby, switches or has lost one cannot
    // become created servers.
    const recordsNoServer = input.last !== undefined && Object.keys(last.servers).length === 0;
    if (created && recordsNoServer && (serving !== "home" || last.phase !== "steady" || last.lost !== undefined)) {
        refuse(
            "database.mode",
            input.mode,
            `creates servers while the registry runs on ${serving === "home" ? "database" : "database.standby"}'s existing server${last.phase !== "steady" ? ` in the middle of a switchover (phase ${last.phase})` : ""}${last.lost !== undefined ? ` with ${locationKey(last.lost)} lost` : ""}`,
            'keep database.mode "existing" until the home location serves again in phase steady (standby.active: false, standby.failover: false), then change the mode',
        );
        return { serving, readonly: last.phase !== "steady", servers: [], record: last, notes, refusals };
    }
    if (!configured) {
        // No standby in config: fine while none was deployed; a deployed one is released, never deleted.
        if (serving === "standby" || last.phase !== "steady") {
            refuse(
                "database.standby",
                undefined,
                `is removed while ${serving === "standby" ? "the standby serves" : `a switchover is in progress (phase ${last.phase})`}`,
                serving === "standby"
                    ? "keep database.standby; to run from one location again, switch back first (standby.active: false), then remove it"
                    : "put database.standby back until the switchover finished",
            );
        } else if (last.lost !== undefined) {
            // Releasing fences the server: its rules are deleted, a call to the lost region.
            refuse(
                "database.standby",
                undefined,
                `is removed while ${locationKey(last.lost)} is lost (standby.failover): releasing its server needs its region`,
                "put database.standby back; once the region is back, set standby.failover: false (its server is rebuilt), then remove it",
            );
        } else if (last.servers.standby !== undefined && created) {
            release.add("standby");
            notes.push(
                "database.standby was removed: its replica is released (fenced, unprotected, kept in the cloud); the next run forgets it",
            );
        }
    } else if (input.failover && input.want === serving && last.lost === undefined && last.phase !== "steady") {
        if (input.topologyChanging) {
            refuse(
                "sites",
                "<changed>",
                "change while the database switches locations (both change the bundle every cluster must roll to, step by step)",
                "change sites in a later run; or revert the sites edit",
            );
            return { serving, readonly: true, servers: [], record: last, notes, refusals };
        }
        // A location lost in the middle of a switchover: before the promotion the target is lost
        // (the switchover is called off: the serving database never changed); after it, the old
        // primary's location is (the switchover ends: the new primary serves). Either way the lost
        // location is frozen like a failover's, and rebuilt once standby.failover is false again.
        const lost = last.phase === "promoted" ? other(serving) : (last.target ?? other(serving));
        next = {
            ...next,
            phase: "steady",
            target: undefined,
            lost,
            // After the promotion, clusters that have not deployed its bundle name the old primary:
            // they stay out of the entry point until they do (as after a failover).
            ...(last.phase === "promoted" ? { failoverEpoch: last.epoch } : {}),
        };
        notes.push(
            last.phase === "promoted"
                ? `switchover to ${locationKey(serving)} ends with ${locationKey(lost)} lost: read-only mode ends; nothing in ${locationKey(lost)} is touched until standby.failover is set back to false; clusters that have not deployed the promoted bundle stay out of the entry point until their stack is deployed`
                : `switchover to ${locationKey(lost)} called off with ${locationKey(lost)} lost: read-only mode ends, ${locationKey(serving)} serves as before; nothing in ${locationKey(lost)} is touched until standby.failover is set back to false (its replica is then rebuilt)`,
        );
    } else if (input.failover && input.want === serving && last.lost === undefined) {
        refuse(
            "standby.failover",
            true,
            `has nothing to fail over: ${locationKey(serving)} already serves and no location is lost`,
            "set standby.failover: false (it is only for switching away from a lost location)",
        );
    } else if (startsOrContinuesSwitch && input.topologyChanging) {
        refuse(
            "sites",
            "<changed>",
            "change while the database switches locations (both change the bundle every cluster must roll to, step by step)",
            "finish the switchover first, then change sites; or revert the sites edit",
        );
    } else if (startsOrContinuesSwitch && !input.runsJobs) {
        refuse(
            "standby.active",
            input.want === "standby",
            "needs the shared stack's cluster to run the switchover's checks (lag gate, verification of the new primary)",
            `set quay-georep:lifecycleJobs: true on stack "${input.sharedStack}" (with its kubeContext or kubeconfig)`,
        );
    } else if (input.failover && input.want !== serving) {
        // Failover: the location being left is lost. One run: promote at once, point the bundle there.
        const target = input.want;
        if (!canPromote(last, target, created)) {
            refuse(
                "standby.failover",
                true,
                `cannot fail over to ${locationKey(target)}: it has no replica of the serving database to promote${last.lost === target ? " (that location was lost itself and has not been rebuilt)" : ""}`,
                "restore the lost location's region and set standby.failover: false to rebuild, or restore from backups (docs/standby.md)",
            );
        } else {
            promoteOption = "Forced";
            if (created) promotedNow.add(target);
            verify = target;
            next = {
                ...next,
                serving: target,
                phase: "steady",
                target: undefined,
                lost: serving,
                epoch: last.epoch + 1,
                failoverEpoch: last.epoch + 1,
            };
            notes.push(
                `failover: ${locationKey(target)} is promoted now, without read-only mode or lag gate (writes ${locationKey(serving)} had not yet shipped are lost: docs/standby.md, "What a failover can lose", says how to measure them), and the bundle points at it; ` +
                    `nothing in ${locationKey(serving)} is touched until standby.failover is set back to false`,
                `every cluster stays out of the entry point until its stack deployed the new bundle: run pulumi up -s <stack> for each site, then pulumi up -s ${input.sharedStack} again`,
            );
        }
    } else if (last.lost !== undefined && !input.failover) {
        // The lost location is back: fence and release its stale server, rebuild a replica there.
        const lost = last.lost;
        if (input.want !== serving) {
            refuse(
                "standby.active",
                input.want === "standby",
                `asks ${locationKey(input.want)} to serve, but it was lost in the failover and has no replica yet`,
                `keep standby.active: ${serving === "standby"} for this run (it rebuilds ${locationKey(lost)}), then switch`,
            );
        } else {
            next = { ...next, lost: undefined };
            if (created) release.add(lost);
            notes.push(
                `${locationKey(lost)} is back: ${created ? "its stale server is fenced and released, and a new replica of the serving database is created there" : "make it a standby of the serving server again (docs/standby.md) before any switch back"}`,
            );
        }
    } else if (last.lost !== undefined && input.failover && input.want === serving) {
        notes.push(
            `${locationKey(last.lost)} is still marked lost (standby.failover: true): nothing there is touched; once its region is back, set standby.failover: false to fence its old server and rebuild a replica there`,
        );
    } else if (last.phase === "steady" && input.want !== serving) {
        // A planned switch starts: read-only first.
        if (input.lifecycleBusy.length > 0) {
            refuse(
                "standby.active",
                input.want === "standby",
                `cannot start a switchover while the region lifecycle is busy: ${input.lifecycleBusy.join("; ")}`,
                "finish that first (lifecyclePending says what to run), then switch",
            );
        } else if (!canPromote(last, input.want, created) || (created && last.servers[input.want] === undefined)) {
            refuse(
                "standby.active",
                input.want === "standby",
                `asks ${locationKey(input.want)} to serve before its replica was deployed`,
                `deploy ${locationKey(input.want)} first (pulumi up -s ${input.sharedStack} with the switch off), then switch`,
            );
        } else {
            readonly = true;
            next = { ...next, phase: "readonly", target: input.want };
            notes.push(
                `switchover to ${locationKey(input.want)}, step 1 of 3: the registry goes read-only (pulls work, pushes and every other write are refused); ` +
                    `deploy every site stack, then pulumi up -s ${input.sharedStack} again (lag gate, promotion)`,
            );
        }
    } else if (last.phase === "readonly" || last.phase === "gated") {
        const target = last.target ?? other(serving);
        if (input.want === serving) {
            // Called off before the promotion: nothing changed in the database; read-only ends.
            next = { ...next, phase: "steady", target: undefined };
            notes.push(
                `switchover to ${locationKey(target)} called off before the promotion: the registry leaves read-only mode`,
            );
        } else if (input.notOnLastBundle.length > 0) {
            readonly = true;
            waitForClusters(`switchover to ${locationKey(target)}: the lag gate and the promotion run`);
        } else if (last.phase === "readonly" && !created) {
            // Existing servers: the gate runs now; the user promotes between this run and the next.
            readonly = true;
            gate = { from: serving, to: target };
            next = { ...next, phase: "gated" };
            notes.push(
                `switchover to ${locationKey(target)}, step 2 of 3: the lag gate runs; once it passed, promote ${locationKey(target)} yourself (docs/standby.md, "Existing servers: the promotion you run"), then pulumi up -s ${input.sharedStack} again`,
            );
        } else {
            readonly = true;
            if (created) {
                gate = { from: serving, to: target };
                promotedNow.add(target);
            }
            verify = target;
            next = { ...next, serving: target, phase: "promoted", epoch: last.epoch + 1 };
            notes.push(
                `switchover to ${locationKey(target)}, step 2 of 3: ${created ? `the lag gate runs, then the replica in ${locationKey(target)} is promoted and verified` : `the promoted server of ${locationKey(target)} is verified to accept writes`}, and the bundle points at it (still read-only); ` +
                    `deploy every site stack, then pulumi up -s ${input.sharedStack} again`,
            );
        }
    } else if (last.phase === "promoted") {
        const from = other(serving);
        if (input.want !== serving) {
            refuse(
                "standby.active",
                input.want === "standby",
                `asks ${locationKey(input.want)} to serve again, but the switchover to ${locationKey(serving)} already promoted it`,
                `set standby.active: ${serving === "standby"} and finish the switchover (pulumi up -s ${input.sharedStack}); then switch back as a new switchover`,
            );
        } else if (input.notOnLastBundle.length > 0) {
            readonly = true;
            waitForClusters(`switchover to ${locationKey(serving)}: read-only mode ends`);
        } else {
            next = { ...next, phase: "steady", target: undefined };
            if (created) release.add(from);
            notes.push(
                `switchover to ${locationKey(serving)}, step 3 of 3: read-only mode ends${created ? `; the old primary in ${locationKey(from)} is fenced and released, and a new replica of the new primary is created there` : `; make ${locationKey(from)} a standby of the new primary (docs/standby.md) before switching back`}`,
            );
        }
    }

    // What exists now, location by location.
    const servers: DeclaredServer[] = [];
    if (created && refusals.length === 0) {
        const servingNow = next.serving;
        const recordOf = (l: ServiceLocation) => last.servers[l];
        for (const location of ["home", "standby"] as const) {
            const region = input.regions[location];
            const current = recordOf(location);
            const isServing = location === servingNow;
            if (release.has(location) && current !== undefined) {
                servers.push({
                    location,
                    generation: current.generation,
                    role: current.role,
                    region: current.region,
                    ...(current.sourceId !== undefined ? { source: sourceOf(last, current) } : {}),
                    release: true,
                    frozen: true,
                    promotedNow: false,
                });
                released.push(current);
                delete nextServers[location];
            } else if (current !== undefined && next.lost === location) {
                // Lost: declared exactly as recorded, so nothing there is asked of its region.
                servers.push({ ...asRecorded(last, current), frozen: true });
                continue;
            } else if (current !== undefined && region !== undefined && current.region !== region) {
                if (isServing || location === last.serving) {
                    refuse(
                        `database.${location === "home" ? "" : "standby."}${input.mode === "azure" ? "location" : "region"}`,
                        region,
                        `would move the ${isServing ? "serving" : "primary"} database from ${current.region}`,
                        `keep "${current.region}"; to move it, switch to the other location first, then change this one (its replica is rebuilt there)`,
                    );
                    continue;
                }
                // The replica's location moved: release the old one, build a new one where config says.
                servers.push({ ...asRecorded(last, current), release: true, frozen: true });
                released.push(current);
                delete nextServers[location];
                notes.push(
                    `${locationKey(location)} moves from ${current.region} to ${region}: the old replica is fenced and released, a new one is created`,
                );
            } else if (current !== undefined) {
                const promoted = promotedNow.has(location);
                const role: ServerRole = promoted ? "promoted" : current.role;
                // The option it was promoted with stays its input (Azure's `replica.promoteOption`): a
                // later run must not turn a forced promotion into a planned one, an update of the server.
                const option = promoted ? promoteOption : current.promoteOption;
                servers.push({
                    ...asRecorded(last, current),
                    role,
                    promotedNow: promoted,
                    ...(role === "promoted" ? { promoteOption: option ?? "Planned" } : {}),
                });
                nextServers[location] = {
                    ...current,
                    role,
                    ...(role === "promoted" ? { promoteOption: option ?? "Planned" } : {}),
                };
                continue;
            }
            if (region === undefined) continue;
            // No server here (yet, or any more): the first one, or a rebuilt replica of the serving one.
            if (next.lost === location) continue;
            const generation = lastGeneration(last, location) + 1;
            if (
                isServing &&
                last.servers[location] === undefined &&
                lastGeneration(last, location) === -1 &&
                location === "home"
            ) {
                servers.push({
                    location,
                    generation,
                    role: "primary",
                    region,
                    release: false,
                    frozen: false,
                    promotedNow: false,
                });
                nextServers[location] = { location, generation, role: "primary", region };
            } else if (!isServing) {
                servers.push({
                    location,
                    generation,
                    role: "replica",
                    region,
                    source: { location: servingNow, generation: nextServers[servingNow]?.generation ?? 0 },
                    release: false,
                    frozen: false,
                    promotedNow: false,
                });
                nextServers[location] = { location, generation, role: "replica", region };
            }
        }
    }
    if (refusals.length > 0) {
        return { serving, readonly: last.phase !== "steady", servers: [], record: last, notes, refusals };
    }
    const { target: _target, lost: _lost, ...scalars } = next;
    const record: StandbyRecord = {
        ...scalars,
        ...(next.phase !== "steady" && next.target !== undefined ? { target: next.target } : {}),
        ...(next.lost !== undefined ? { lost: next.lost } : {}),
        servers: nextServers,
        released,
        left,
    };
    return {
        serving: next.serving,
        readonly,
        ...(gate ? { gate } : {}),
        ...(verify ? { verify } : {}),
        servers,
        record,
        ...(next.failoverEpoch !== undefined ? { fenceEpoch: next.failoverEpoch } : {}),
        notes,
        refusals,
    };
}

/** A location has a replica of the serving database that can be promoted (or, for existing servers, one is configured). */
function canPromote(last: StandbyRecord, target: ServiceLocation, created: boolean): boolean {
    if (last.lost === target) return false;
    if (!created) return true;
    const server = last.servers[target];
    return server !== undefined && server.role === "replica";
}

/** The source of a recorded server: its location's current server when that is still it, else the recorded ID. */
function sourceOf(last: StandbyRecord, s: ServerRecord): DeclaredServer["source"] {
    const from = other(s.location);
    const current = last.servers[from];
    return {
        location: from,
        generation: current?.generation ?? -1,
        ...(s.sourceId !== undefined ? { id: s.sourceId } : {}),
    };
}

/** A recorded server declared as it was. */
function asRecorded(last: StandbyRecord, s: ServerRecord): DeclaredServer {
    return {
        location: s.location,
        generation: s.generation,
        role: s.role,
        region: s.region,
        ...(s.sourceId !== undefined ? { source: sourceOf(last, s) } : {}),
        release: false,
        frozen: false,
        promotedNow: false,
    };
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const isLocation = (v: unknown): v is ServiceLocation => v === "home" || v === "standby";

function serverRecord(v: unknown): ServerRecord | undefined {
    if (v === null || typeof v !== "object") return undefined;
    const o = v as Record<string, unknown>;
    if (
        !isLocation(o.location) ||
        typeof o.generation !== "number" ||
        (o.role !== "primary" && o.role !== "replica" && o.role !== "promoted") ||
        typeof o.region !== "string"
    ) {
        return undefined;
    }
    return {
        location: o.location,
        generation: o.generation,
        role: o.role,
        region: o.region,
        ...(str(o.id) !== undefined ? { id: str(o.id) } : {}),
        ...(str(o.host) !== undefined ? { host: str(o.host) } : {}),
        ...(o.promoteOption === "Planned" || o.promoteOption === "Forced" ? { promoteOption: o.promoteOption } : {}),
        ...(str(o.sourceId) !== undefined ? { sourceId: str(o.sourceId) } : {}),
    };
}

/**
 * The record from the shared stack's `standby` output as a StackReference returns it; undefined
 * when absent (a stack of a version before the standby: home serves). A malformed record is an
 * error, never a guess: the caller refuses to run on it.
 */
export function standbyRecordFrom(v: unknown): StandbyRecord | undefined | "malformed" {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "object") return "malformed";
    const o = v as Record<string, unknown>;
    const phases: readonly unknown[] = ["steady", "readonly", "gated", "promoted"];
    const list = (x: unknown) => (Array.isArray(x) ? x.map(serverRecord) : []);
    const servers = (o.servers ?? {}) as Record<string, unknown>;
    const released = list(o.released);
    const left = list(o.left);
    const home = servers.home === undefined ? undefined : serverRecord(servers.home);
    const standby = servers.standby === undefined ? undefined : serverRecord(servers.standby);
    if (
        !isLocation(o.serving) ||
        !phases.includes(o.phase) ||
        typeof o.epoch !== "number" ||
        (o.target !== undefined && !isLocation(o.target)) ||
        (o.lost !== undefined && !isLocation(o.lost)) ||
        (servers.home !== undefined && home === undefined) ||
        (servers.standby !== undefined && standby === undefined) ||
        released.includes(undefined) ||
        left.includes(undefined)
    ) {
        return "malformed";
    }
    return {
        serving: o.serving,
        phase: o.phase as SwitchPhase,
        ...(isLocation(o.target) ? { target: o.target } : {}),
        ...(isLocation(o.lost) ? { lost: o.lost } : {}),
        epoch: o.epoch,
        ...(typeof o.failoverEpoch === "number" ? { failoverEpoch: o.failoverEpoch } : {}),
        servers: { ...(home ? { home } : {}), ...(standby ? { standby } : {}) },
        released: released as ServerRecord[],
        left: left as ServerRecord[],
    };
}
