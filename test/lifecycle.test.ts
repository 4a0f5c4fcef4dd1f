/**
 * The lifecycle plan: which Jobs the shared stack runs for the sites it deploys, and which stacks
 * each one waits for.
 */
import { strict as assert } from "node:assert";
import { planLifecycle, shortHash } from "../lib/lifecycle";
import { EffectiveSite, topologyKey, TopologyPlan } from "../lib/topology";
import type { Site } from "../config/config";

const site = (name: string, stack: string, state: Site["state"] = "active"): EffectiveSite => ({
    name,
    stack,
    cloud: "aws",
    region: "us-east-1",
    state,
    endpoint: `${name}.example.com`,
    desired: state,
    last: state,
    storage: { mode: "create", storagePath: "/datastorage/registry" },
    removed: false,
});

const US = site("usstorage", "us");
const EU = site("eustorage", "eu");
const AP = site("apstorage", "ap");

/** A topology plan of these sites, gating the given ones on the given locations. */
const plan = (sites: EffectiveSite[], gates: TopologyPlan["gates"] = []) => ({ sites, gates });

describe("lifecycle plan", () => {
    it("keys the topology by every site and its state, in config order", () => {
        assert.equal(topologyKey([US, { ...EU, state: "draining" }]), "usstorage:active,eustorage:draining");
    });

    it("needs no backfill with a single location", () => {
        assert.equal(planLifecycle(plan([US]), "us", {}, true).backfill, undefined);
    });

    it("runs the backfill for a new topology once every other running stack has deployed it", () => {
        const sites = [US, EU, AP];
        const topology = topologyKey(sites);
        const p = planLifecycle(
            plan(sites),
            "us",
            { eu: { role: "site", deployedTopology: topology }, ap: undefined },
            true,
        );
        assert.deepEqual(p.backfill, { key: shortHash(topology), waitingFor: [] });
        assert.deepEqual(p.required, ["usstorage", "eustorage", "apstorage"]);
    });

    it("runs the backfill again for the same topology when lifecycle.backfillRun is bumped", () => {
        const first = planLifecycle(plan([US, EU]), "us", {}, true).backfill?.key;
        const again = planLifecycle(plan([US, EU]), "us", {}, true, 1).backfill?.key;
        assert.equal(first, shortHash(topologyKey([US, EU])), "run 0 keeps the topology's own key");
        assert.notEqual(again, first);
        assert.equal(planLifecycle(plan([US, EU]), "us", {}, true, 1).backfill?.key, again, "stable per run number");
    });

    it("makes the backfill wait for a stack still running the previous topology", () => {
        const p = planLifecycle(
            plan([US, EU, AP]),
            "us",
            { eu: { role: "site", deployedTopology: "usstorage:active,eustorage:active" } },
            true,
        );
        assert.deepEqual(p.backfill?.waitingFor, ["eu"]);
    });

    it("does not wait for a stack that was never deployed (it runs no Quay)", () => {
        assert.deepEqual(planLifecycle(plan([US, EU]), "us", { eu: undefined }, true).backfill?.waitingFor, []);
    });

    it("waits for some cluster to run Quay when the shared stack deploys none (the schema must exist)", () => {
        const p = planLifecycle(plan([US, EU]), "global", { us: undefined, eu: undefined }, false);
        assert.deepEqual(p.backfill?.waitingFor, ["us", "eu"]);
    });

    it("gates each retiring site on the locations the topology names, and removes it once no cluster lists it", () => {
        const sites = [US, { ...EU, state: "retired" as const, last: "retired" as const }, AP];
        const topology = topologyKey(sites);
        const ready = planLifecycle(
            plan(sites, [{ site: "eustorage", required: ["usstorage"] }]),
            "us",
            { eu: { role: "retired" }, ap: { role: "site", deployedTopology: topology } },
            true,
        );
        assert.deepEqual(ready.gates, [{ site: "eustorage", key: "eustorage", required: ["usstorage"] }]);
        assert.deepEqual(ready.required, ["usstorage", "apstorage"]);
        assert.deepEqual(ready.removals, [{ site: "eustorage", key: "eustorage", waitingFor: [] }]);
    });

    it("holds util.removelocation while the retired cluster or a survivor still has the old bundle", () => {
        const sites = [US, { ...EU, state: "retired" as const }, AP];
        const old = "usstorage:active,eustorage:draining,apstorage:active";
        const p = planLifecycle(
            plan(sites),
            "us",
            { eu: { role: "site", deployedTopology: old }, ap: { role: "site", deployedTopology: old } },
            true,
        );
        assert.deepEqual(p.removals[0].waitingFor, ["ap", "eu"]);
    });

    it("never removes a location again once its removal was verified", () => {
        const sites = [US, { ...EU, state: "retired" as const, removed: true }];
        assert.deepEqual(planLifecycle(plan(sites), "us", { eu: { role: "retired" } }, true).removals, []);
    });
});
