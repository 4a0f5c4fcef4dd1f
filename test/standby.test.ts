/**
 * The standby's plan (lib/standby.ts), step by step as the shared stack would run it: what is
 * declared in each location, when the bundle is read-only and where it points, which checks run,
 * and every edit that is refused, with its reason.
 */
import { strict as assert } from "node:assert";
import {
    DeclaredServer,
    planStandby,
    serverName,
    StandbyInput,
    StandbyPlan,
    StandbyRecord,
    standbyRecordFrom,
} from "../lib/standby";

const BASE: StandbyInput = {
    mode: "aws",
    regions: { home: "us-east-1", standby: "eu-west-1" },
    want: "home",
    failover: false,
    last: undefined,
    notOnLastBundle: [],
    lifecycleBusy: [],
    topologyChanging: false,
    sharedStack: "us",
    runsJobs: true,
};

/** The record as the shared stack would output it: IDs of servers created this run filled in. */
function deployed(plan: StandbyPlan): StandbyRecord {
    const id = (l: string, g: number) => `arn:aws:rds:${l}:g${g}`;
    const servers = Object.fromEntries(
        Object.entries(plan.record.servers).map(([l, s]) => [
            l,
            {
                ...s,
                id: s.id ?? id(l, s.generation),
                ...(s.role !== "primary" && s.sourceId === undefined
                    ? {
                          sourceId: id(
                              l === "home" ? "standby" : "home",
                              plan.record.servers[l === "home" ? "standby" : "home"]?.generation ?? 0,
                          ),
                      }
                    : {}),
            },
        ]),
    );
    // A JSON round trip, as a StackReference returns it.
    const parsed = standbyRecordFrom(JSON.parse(JSON.stringify({ ...plan.record, servers })));
    assert.ok(parsed !== undefined && parsed !== "malformed", "the record reads back");
    return parsed;
}

function run(last: StandbyRecord | undefined, changes: Partial<StandbyInput> = {}): StandbyPlan {
    return planStandby({ ...BASE, last, ...changes });
}

const brief = (s: DeclaredServer) =>
    `${s.location}#${s.generation}:${s.role}${s.release ? ":released" : ""}${s.promotedNow ? ":promoted-now" : ""}`;

describe("standby plan", () => {
    it("a new deployment: the primary at home and a replica of it in the standby location", () => {
        const plan = run(undefined);
        assert.deepEqual(plan.servers.map(brief), ["home#0:primary", "standby#0:replica"]);
        assert.deepEqual(plan.servers[1].source, { location: "home", generation: 0 });
        assert.equal(plan.serving, "home");
        assert.equal(plan.readonly, false);
        assert.deepEqual(plan.refusals, []);
        assert.equal(serverName("quay-georep", "home", 0), "quay-georep-database");
        assert.equal(serverName("quay-georep", "standby", 2), "quay-georep-database-standby-g2");
    });

    it("without a standby: one primary, and a deployment of an older version keeps its server", () => {
        const plan = run(undefined, { regions: { home: "us-east-1" } });
        assert.deepEqual(plan.servers.map(brief), ["home#0:primary"]);
    });

    it("a planned switchover: read-only, then gate + promotion, then read-only ends and the old primary is replaced", () => {
        let last = deployed(run(undefined));
        // 1. read-only, the bundle still on home
        let plan = run(last, { want: "standby" });
        assert.deepEqual(plan.refusals, []);
        assert.equal(plan.readonly, true);
        assert.equal(plan.serving, "home");
        assert.equal(plan.gate, undefined, "no gate before every cluster is read-only");
        assert.match(plan.notes.join("\n"), /step 1 of 3: the registry goes read-only/);
        last = deployed(plan);
        assert.equal(last.phase, "readonly");

        // Clusters still on the previous bundle: nothing moves.
        plan = run(last, { want: "standby", notOnLastBundle: ["eu"] });
        assert.equal(plan.readonly, true);
        assert.equal(plan.gate, undefined);
        assert.equal(plan.serving, "home");
        assert.match(plan.notes.join("\n"), /run pulumi up -s eu, then pulumi up -s us again/);
        assert.equal(deployed(plan).phase, "readonly");

        // 2. every cluster read-only: gate, promote, verify, bundle on the standby (still read-only)
        plan = run(last, { want: "standby" });
        assert.deepEqual(plan.gate, { from: "home", to: "standby" });
        assert.equal(plan.verify, "standby");
        assert.equal(plan.serving, "standby");
        assert.equal(plan.readonly, true);
        assert.deepEqual(plan.servers.map(brief), ["home#0:primary", "standby#0:promoted:promoted-now"]);
        last = deployed(plan);
        assert.equal(last.phase, "promoted");
        assert.equal(last.epoch, 1);

        // 3. read-only ends; the old primary is released and a new replica is built at home
        plan = run(last, { want: "standby" });
        assert.equal(plan.readonly, false);
        assert.equal(plan.gate, undefined);
        assert.deepEqual(plan.servers.map(brief), ["home#0:primary:released", "home#1:replica", "standby#0:promoted"]);
        assert.deepEqual(plan.servers[1].source, { location: "standby", generation: 0 });
        last = deployed(plan);
        assert.equal(last.phase, "steady");
        assert.deepEqual(
            last.released.map((s) => s.generation),
            [0],
        );

        // The next run forgets the released server (the cloud keeps it) and names it in a note.
        plan = run(last, { want: "standby" });
        assert.deepEqual(plan.servers.map(brief), ["home#1:replica", "standby#0:promoted"]);
        assert.match(
            plan.notes.join("\n"),
            /former primary of database \(us-east-1, arn:aws:rds:home:g0\) leaves Pulumi's state/,
        );
        last = deployed(plan);
        assert.equal(last.left.length, 1);

        // Switching back is the same machine the other way; the rebuilt replica is promoted.
        last = deployed(run(last, { want: "home" }));
        plan = run(last, { want: "home" });
        assert.deepEqual(plan.gate, { from: "standby", to: "home" });
        assert.deepEqual(plan.servers.map(brief), ["home#1:promoted:promoted-now", "standby#0:promoted"]);
        last = deployed(plan);
        plan = run(last, { want: "home" });
        assert.deepEqual(plan.servers.map(brief), [
            "home#1:promoted",
            "standby#0:promoted:released",
            "standby#1:replica",
        ]);
    });

    it("a switchover called off before the promotion leaves read-only mode and changes no server", () => {
        const last = deployed(run(deployed(run(undefined)), { want: "standby" }));
        const plan = run(last, { want: "home" });
        assert.equal(plan.readonly, false);
        assert.equal(plan.serving, "home");
        assert.deepEqual(plan.servers.map(brief), ["home#0:primary", "standby#0:replica"]);
        assert.equal(deployed(plan).phase, "steady");
    });

    it("refuses to turn back after the promotion", () => {
        let last = deployed(run(undefined));
        last = deployed(run(last, { want: "standby" }));
        last = deployed(run(last, { want: "standby" }));
        const plan = run(last, { want: "home" });
        assert.equal(plan.refusals.length, 1);
        assert.match(plan.refusals[0].problem, /already promoted it/);
        assert.match(plan.refusals[0].fix, /set standby.active: true and finish the switchover/);
    });

    it("a failover promotes at once, touches nothing in the lost location, fences clusters, and rebuilds once it is back", () => {
        let last = deployed(run(undefined));
        let plan = run(last, { want: "standby", failover: true });
        assert.deepEqual(plan.refusals, []);
        assert.equal(plan.readonly, false, "no read-only phase");
        assert.equal(plan.gate, undefined, "no lag gate");
        assert.equal(plan.verify, "standby");
        assert.equal(plan.serving, "standby");
        assert.equal(plan.fenceEpoch, 1);
        const promoted = plan.servers.find((s) => s.location === "standby");
        assert.equal(promoted?.promoteOption, "Forced");
        assert.deepEqual(plan.servers.map(brief), ["home#0:primary", "standby#0:promoted:promoted-now"]);
        last = deployed(plan);
        assert.equal(last.lost, "home");

        // While the region is out: home is declared exactly as recorded, and a switch back is refused.
        plan = run(last, { want: "standby", failover: true });
        assert.deepEqual(plan.servers.map(brief), ["home#0:primary", "standby#0:promoted"]);
        // Frozen, and still promoted "Forced" (a change to Planned would update the serving server).
        assert.deepEqual(
            plan.servers.map((s) => [s.location, s.frozen, s.promoteOption]),
            [
                ["home", true, undefined],
                ["standby", false, "Forced"],
            ],
        );
        assert.match(plan.notes.join("\n"), /still marked lost/);
        const back = run(last, { want: "home", failover: false });
        assert.match(back.refusals[0]?.problem ?? "", /was lost in the failover and has no replica yet/);

        // The region is back: fence and release the stale primary, rebuild a replica there.
        plan = run(last, { want: "standby", failover: false });
        assert.deepEqual(plan.servers.map(brief), ["home#0:primary:released", "home#1:replica", "standby#0:promoted"]);
        last = deployed(plan);
        assert.equal(last.lost, undefined);
        assert.equal(plan.fenceEpoch, 1, "the fence stays until every cluster deployed the failover's bundle");
    });

    it("refuses failover with nothing to fail over, and a planned switch before the standby exists", () => {
        const last = deployed(run(undefined, { regions: { home: "us-east-1" } }));
        const noop = run(last, { failover: true });
        assert.match(noop.refusals[0]?.problem ?? "", /has nothing to fail over/);
        const early = run(last, { want: "standby" });
        assert.match(early.refusals[0]?.problem ?? "", /before its replica was deployed/);
    });

    it("waits for region-lifecycle work and refuses topology edits while switching", () => {
        const last = deployed(run(undefined));
        const busy = run(last, { want: "standby", lifecycleBusy: ["eu is draining"] });
        assert.match(busy.refusals[0]?.problem ?? "", /region lifecycle is busy: eu is draining/);
        const both = run(last, { want: "standby", topologyChanging: true });
        assert.equal(both.refusals[0]?.path, "sites");
        const noJobs = run(last, { want: "standby", runsJobs: false });
        assert.match(noJobs.refusals[0]?.fix ?? "", /lifecycleJobs: true/);
    });

    it("removing the standby releases its replica, refused while it serves", () => {
        let last = deployed(run(undefined));
        const plan = run(last, { regions: { home: "us-east-1" } });
        assert.deepEqual(plan.servers.map(brief), ["home#0:primary", "standby#0:replica:released"]);
        last = deployed(
            run(deployed(run(deployed(run(last, { want: "standby" })), { want: "standby" })), { want: "standby" }),
        );
        const refused = run(last, { want: "home", regions: { home: "us-east-1" } });
        assert.match(refused.refusals[0]?.problem ?? "", /is removed while the standby serves/);
    });

    it("moving the replica's region rebuilds it; moving the serving one is refused", () => {
        const last = deployed(run(undefined));
        const moved = run(last, { regions: { home: "us-east-1", standby: "eu-central-1" } });
        assert.deepEqual(moved.servers.map(brief), [
            "home#0:primary",
            "standby#0:replica:released",
            "standby#1:replica",
        ]);
        assert.equal(moved.servers[2].region, "eu-central-1");
        const refused = run(last, { regions: { home: "us-east-2", standby: "eu-west-1" } });
        assert.equal(refused.refusals[0]?.path, "database.region");
        assert.match(refused.refusals[0]?.problem ?? "", /would move the serving database from us-east-1/);
        // Azure's key is `location`.
        const azure = run(last, { mode: "azure", regions: { home: "eastus", standby: "eu-west-1" } });
        assert.equal(azure.refusals[0]?.path, "database.location");
    });

    it("existing servers: the gate runs, the user promotes, the next run verifies", () => {
        const input = {
            mode: "existing" as const,
            regions: { home: "db-us.example.com", standby: "db-eu.example.com" },
        };
        let last = deployed(run(undefined, input));
        let plan = run(last, { ...input, want: "standby" });
        assert.equal(plan.readonly, true);
        last = deployed(plan);
        plan = run(last, { ...input, want: "standby" });
        assert.deepEqual(plan.gate, { from: "home", to: "standby" });
        assert.equal(plan.verify, undefined);
        assert.equal(plan.serving, "home", "the bundle waits for the user's promotion");
        assert.match(
            plan.notes.join("\n"),
            /promote database\.standby yourself \(docs\/standby\.md, "Existing servers: the promotion you run"\)/,
        );
        last = deployed(plan);
        plan = run(last, { ...input, want: "standby" });
        assert.equal(plan.verify, "standby");
        assert.equal(plan.serving, "standby");
        assert.deepEqual(plan.servers, []);
    });

    it("reads back only a well-formed record", () => {
        assert.equal(standbyRecordFrom(undefined), undefined);
        assert.equal(standbyRecordFrom({ serving: "elsewhere", phase: "steady", epoch: 0 }), "malformed");
        assert.equal(standbyRecordFrom("steady"), "malformed");
    });
});

describe("standby plan: removing the standby while a location is lost", () => {
    it("is refused: releasing the lost server would call its region", () => {
        const deployedOnce = deployed(run(undefined));
        const lostStandby = { ...deployedOnce, lost: "standby" as const };
        const plan = run(lostStandby, { regions: { home: "us-east-1" } });
        assert.deepEqual(
            plan.refusals.map((r) => `${r.path}: ${r.problem}`),
            [
                "database.standby: is removed while database.standby is lost (standby.failover): releasing its server needs its region",
            ],
        );
    });
});
