/**
 * Maps that keep what they do not change: the array itself when `f` returns every item as it is,
 * else a new array, the items before the first change copied over. For walks over large values
 * that mostly change nothing (offline/runtime.ts `redacted`, offline/render.ts `sortedJson`).
 */
export function mapArrayShared(items: readonly unknown[], f: (item: unknown) => unknown): readonly unknown[] {
    let copy: unknown[] | undefined;
    for (let i = 0; i < items.length; i++) {
        const item = items[i];
        const r = f(item);
        if (copy === undefined && r !== item) copy = items.slice(0, i);
        copy?.push(r);
    }
    return copy ?? items;
}
