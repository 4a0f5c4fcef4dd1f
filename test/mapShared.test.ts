/** lib/mapShared.ts: an array map that returns the array itself when nothing changes. */
import { strict as assert } from "node:assert";
import { mapArrayShared } from "../lib/mapShared";

describe("mapArrayShared", () => {
    it("returns the array itself when every item comes back as it is", () => {
        const items = [1, "a", { b: 2 }, null];
        assert.equal(
            mapArrayShared(items, (x) => x),
            items,
        );
        assert.deepEqual(
            mapArrayShared([], () => 1),
            [],
        );
    });

    it("copies from the first change on, keeping the items before it and leaving the array given alone", () => {
        const kept = { k: 1 };
        const items = [kept, 2, 3, 4];
        const out = mapArrayShared(items, (x) => (x === 3 || x === 4 ? `${String(x)}!` : x));
        assert.deepEqual(out, [kept, 2, "3!", "4!"]);
        assert.notEqual(out, items);
        assert.equal(out[0], kept);
        assert.deepEqual(items, [kept, 2, 3, 4]);
        assert.deepEqual(
            mapArrayShared([1, 2], (x) => (x === 1 ? 0 : x)),
            [0, 2],
        );
    });
});
