/**
 * The lifecycle plan: which Jobs the shared stack runs, and which stacks each one waits for.
 */
import { strict as assert } from "node:assert";
import { planLifecycle, shortHash, topologyKey } from "../lib/lifecycle";
import type { Site } from "../stacks/config";

const site = (name: string, stack: string, state: Site["state"] = "active"): Site => ({
    name,
    stack,
    cloud: "aws",
    region: "us-east-1",
    state,
    endpoint: `${name}.example.com`,
});

const US = site("usstorage", "us");
const EU = site("eustorage", "eu");
const AP = site("apstorage", "ap");

describe("lifecycle plan", () => {
    it("keys the topology by every site and its state, in config order", () => {
        assert.equal(topologyKey([US, { ...EU, state: "draining" }]), "usstorage:active,eustorage:draining");
    });

    it("needs no backfill with a single location", () => {
        assert.equal(planLifecycle([US], "us", {}, true).backfill, undefined);
    });

    it("runs the backfill for a new topology once every other running stack has deployed it", () => {
        const sites = [US, EU, AP];
        const topology = topologyKey(sites);
        const plan = planLifecycle(
            sites,
            "us",
            { eu: { role: "site", deployedTopology: topology }, ap: undefined },
            true,
        );
        assert.deepEqual(plan.backfill, { key: shortHash(topology), waitingFor: [] });
        assert.deepEqual(plan.required, ["usstorage", "eustorage", "apstorage"]);
    });

    it("runs the backfill again for the same topology when lifecycle.backfillRun is bumped", () => {
        const first = planLifecycle([US, EU], "us", {}, true).backfill?.key;
        const again = planLifecycle([US, EU], "us", {}, true, 1).backfill?.key;
        assert.equal(first, shortHash(topologyKey([US, EU])), "run 0 keeps the topology's own key");
        assert.notEqual(again, first);
        assert.equal(planLifecycle([US, EU], "us", {}, true, 1).backfill?.key, again, "stable per run number");
    });

    it("makes the backfill wait for a stack still running the previous topology", () => {
        const plan = planLifecycle(
            [US, EU, AP],
            "us",
            { eu: { role: "site", deployedTopology: "usstorage:active,eustorage:active" } },
            true,
        );
        assert.deepEqual(plan.backfill?.waitingFor, ["eu"]);
    });

    it("does not wait for a stack that was never deployed (it runs no Quay)", () => {
        const plan = planLifecycle([US, EU], "us", { eu: undefined }, true);
        assert.deepEqual(plan.backfill?.waitingFor, []);
    });

    it("waits for some cluster to run Quay when the shared stack deploys none (the schema must exist)", () => {
        const plan = planLifecycle([US, EU], "global", { us: undefined, eu: undefined }, false);
        assert.deepEqual(plan.backfill?.waitingFor, ["us", "eu"]);
    });

    it("gates each retired site on the active sites, and removes it once no cluster lists it", () => {
        const sites = [US, { ...EU, state: "retired" as const }, AP];
        const topology = topologyKey(sites);
        const ready = planLifecycle(
            sites,
            "us",
            { eu: { role: "retired" }, ap: { role: "site", deployedTopology: topology } },
            true,
        );
        assert.deepEqual(ready.gates, [{ site: "eustorage", key: "eustorage" }]);
        assert.deepEqual(ready.required, ["usstorage", "apstorage"]);
        assert.deepEqual(ready.removals, [{ site: "eustorage", key: "eustorage", waitingFor: [] }]);
    });

    it("holds util.removelocation while the retired cluster or a survivor still has the old bundle", () => {
        const sites = [US, { ...EU, state: "retired" as const }, AP];
        const old = "usstorage:active,eustorage:draining,apstorage:active";
        const plan = planLifecycle(
            sites,
            "us",
            { eu: { role: "site", deployedTopology: old }, ap: { role: "site", deployedTopology: old } },
            true,
        );
        assert.deepEqual(plan.removals[0].waitingFor, ["ap", "eu"]);
    });
});
