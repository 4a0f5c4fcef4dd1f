/**
 * What the shared stack deploys, judged against what it deployed last: each lifecycle step in
 * order, removed sites retired like `state: retired`, and the edits refused because they would
 * misplace data. Pure: sites and records in, a plan out.
 */
import { strict as assert } from "node:assert";
import {
    recordFromOutputs,
    refusedEdits,
    resolveTopology,
    SiteRecord,
    StackRecord,
    StorageRecord,
    topologyKey,
    TopologyInput,
} from "../lib/topology";
import type { Site } from "../config/config";

const STORAGE: StorageRecord = { mode: "create", storagePath: "/datastorage/registry" };

const site = (name: string, stack: string, state: Site["state"] = "active"): Site => ({
    name,
    stack,
    cloud: "aws",
    region: "us-east-1",
    state,
    endpoint: `${name}.example.com`,
});
const record = (s: Site, extra: Partial<SiteRecord> = {}): SiteRecord => ({ ...s, storage: STORAGE, ...extra });

const US = site("usstorage", "us");
const EU = site("eustorage", "eu");
const AP = site("apstorage", "ap");

/** The shared stack's outputs after deploying `sites` (backfilled when `backfilled`). */
function last(sites: SiteRecord[], backfilled = true): StackRecord {
    const topology = topologyKey(sites);
    return { role: "shared+site", topology, sites, ...(backfilled ? { backfilledTopology: topology } : {}) };
}

function resolve(
    sites: Site[],
    lastRecord: StackRecord | undefined,
    deployed: TopologyInput["deployed"] = {},
): ReturnType<typeof resolveTopology> {
    return resolveTopology({ sites, storageOf: () => STORAGE, sharedStack: "us", last: lastRecord, deployed });
}

const states = (p: ReturnType<typeof resolveTopology>) => p.sites.map((s) => `${s.name}:${s.state}`);

describe("topology: a site leaving", () => {
    const everywhere = (t: string) => ({ eu: { role: "site", deployedTopology: t } });

    it("drains an active site first when its config says retired", () => {
        const before = last([record(US), record(EU)]);
        const p = resolve([US, { ...EU, state: "retired" }], before, everywhere(before.topology as string));
        assert.deepEqual(states(p), ["usstorage:active", "eustorage:draining"]);
        assert.deepEqual(p.gates, []);
        assert.match(p.notes[0], /^eustorage drains first/);
    });

    it("drains a site removed from config exactly like one set to retired", () => {
        const before = last([record(US), record(EU)]);
        const p = resolve([US], before, everywhere(before.topology as string));
        assert.deepEqual(states(p), ["usstorage:active", "eustorage:draining"]);
        assert.equal(p.sites[1].desired, "removed");
        assert.equal(p.sites[1].region, "us-east-1", "reconstructed from the record");
    });

    it("keeps it draining until every cluster runs the drained bundle", () => {
        const drained = last([record(US), record(EU, { state: "draining" })]);
        const p = resolve([US], drained, {
            eu: { role: "site", deployedTopology: "usstorage:active,eustorage:active" },
        });
        assert.deepEqual(states(p), ["usstorage:active", "eustorage:draining"]);
        assert.match(
            p.notes.join("\n"),
            /eustorage retires once every cluster runs the drained bundle: run pulumi up -s eu/,
        );
    });

    it("keeps it draining until the drained topology's backfill has run", () => {
        const drained = last([record(US), record(EU, { state: "draining" })], false);
        const p = resolve([US], drained, everywhere(drained.topology as string));
        assert.deepEqual(states(p), ["usstorage:active", "eustorage:draining"]);
        assert.match(p.notes.join("\n"), /retires once the backfill of the drained topology has run/);
    });

    it("then retires it behind a gate on the sites that were active and stay active", () => {
        const drained = last([record(US), record(EU, { state: "draining" })]);
        const p = resolve([US], drained, everywhere(drained.topology as string));
        assert.deepEqual(states(p), ["usstorage:active", "eustorage:retired"]);
        assert.deepEqual(p.gates, [{ site: "eustorage", required: ["usstorage"] }]);
    });

    it("does not require a site added in the same run to hold the retiring site's blobs (its backfill waits for this bundle)", () => {
        const drained = last([record(US), record(EU, { state: "draining" })]);
        const p = resolve([US, AP], drained, everywhere(drained.topology as string));
        assert.deepEqual(states(p), ["usstorage:active", "apstorage:active", "eustorage:retired"]);
        assert.deepEqual(p.gates, [{ site: "eustorage", required: ["usstorage"] }]);
    });

    it("gates only once: a site already retired is not gated again", () => {
        const retired = last([record(US), record(EU, { state: "retired" })]);
        const p = resolve([US, { ...EU, state: "retired" }], retired);
        assert.deepEqual(p.gates, []);
        assert.deepEqual(states(p), ["usstorage:active", "eustorage:retired"]);
    });

    it("forgets a removed site once its removal was verified, but keeps a listed one", () => {
        const removed = last([record(US), record(EU, { state: "retired", removed: true })]);
        assert.deepEqual(states(resolve([US], removed)), ["usstorage:active"]);
        const listed = resolve([US, { ...EU, state: "retired" }], removed);
        assert.deepEqual(states(listed), ["usstorage:active", "eustorage:retired"]);
        assert.equal(listed.sites[1].removed, true);
    });

    it("forgets nothing it never deployed, and drops nothing from a first deployment", () => {
        assert.deepEqual(states(resolve([US, EU], undefined)), ["usstorage:active", "eustorage:active"]);
    });
});

describe("topology: edits refused against what is deployed", () => {
    const deployed = last([record(US), record(EU)]);
    const refused = (sites: Site[], storage: StorageRecord = STORAGE, lastRecord: StackRecord = deployed) =>
        refusedEdits({ sites, storageOf: () => storage, sharedStack: "us", last: lastRecord }).map(
            (r) => `${r.path}: ${JSON.stringify(r.value)} ${r.problem}; ${r.fix}`,
        );

    it("refuses moving a deployed location to another cloud, region or stack", () => {
        assert.deepEqual(refused([US, { ...EU, cloud: "azure", region: "westeurope", stack: "eu2" }]), [
            'sites[1].cloud: "azure" would move deployed location eustorage from cloud "aws"; the database places its blobs where they are, and a new bucket would be empty; keep "aws"; to move location eustorage, add a site with a new name and retire this one (docs/runbook.md)',
            'sites[1].region: "westeurope" would move deployed location eustorage from region "us-east-1"; the database places its blobs where they are, and a new bucket would be empty; keep "us-east-1"; to move location eustorage, add a site with a new name and retire this one (docs/runbook.md)',
            'sites[1].stack: "eu2" would move deployed location eustorage from stack "eu"; the database places its blobs where they are, and that stack\'s cluster runs it; keep "eu"; to move location eustorage, add a site with a new name and retire this one (docs/runbook.md)',
        ]);
    });

    it("refuses pointing a deployed location at another bucket or prefix", () => {
        const moved: StorageRecord = { mode: "create", storagePath: "/elsewhere" };
        assert.deepEqual(refused([US, EU], moved), [
            'storage: "the created bucket at /elsewhere" would point deployed location usstorage away from the created bucket at /datastorage/registry, where the database says its blobs are; restore it; to move location usstorage, add a site with a new name and retire this one (docs/runbook.md)',
            'storage: "the created bucket at /elsewhere" would point deployed location eustorage away from the created bucket at /datastorage/registry, where the database says its blobs are; restore it; to move location eustorage, add a site with a new name and retire this one (docs/runbook.md)',
        ]);
    });

    it("refuses bringing back a retired location", () => {
        const retired = last([record(US), record(EU, { state: "retired", removed: true })]);
        assert.deepEqual(refused([US, EU], STORAGE, retired), [
            'sites[1].state: "active" cannot bring back location eustorage: it was retired (dropped from every bundle and removed from the database); keep it retired (or remove it from sites); to serve that region again, add a site with a new name',
        ]);
    });

    it("accepts every edit of a site never deployed, and the endpoint of a deployed one", () => {
        assert.deepEqual(
            refused([US, { ...EU, endpoint: "router2.example.com" }, { ...AP, cloud: "azure", region: "westeurope" }]),
            [],
        );
    });
});

describe("topology: records read back from stack outputs", () => {
    it("reads a record as the shared stack exported it", () => {
        const sites = [record(US), record(EU, { state: "retired", removed: true })];
        assert.deepEqual(recordFromOutputs({ role: "shared+site", topology: "t", sites, extra: 1 }), {
            role: "shared+site",
            topology: "t",
            sites,
        });
    });

    it("reads a stack without outputs as never deployed", () => {
        assert.equal(recordFromOutputs({}), undefined);
    });

    it("falls back to the topology key when a site record is malformed, and refuses to guess a removed site's cloud", () => {
        const r = recordFromOutputs({
            role: "shared",
            topology: "usstorage:active,eustorage:active",
            sites: [{ name: "x" }],
        });
        assert.equal(r?.sites, undefined);
        const p = resolve([US], r);
        assert.match(
            p.refusals.map((x) => `${x.path}: ${x.problem}`).join("\n"),
            /^sites: is deployed \(the shared stack's last topology lists it\) but no longer configured, and that stack's outputs predate the site records/,
        );
    });
});
