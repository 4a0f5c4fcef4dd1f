/**
 * Values many runs of the program share in one process (the offline renderer and the tests run it
 * once per stack): a config file parsed once, a structured value's text parsed once
 * (config/load.ts), frozen with everything under them and recorded as such, so what is computed
 * from one of them may be kept for the next run (config.ts `canonicalFrozen`, sites.ts `parseSites`).
 */

/** Objects {@link freezeShared} froze with everything under them: nothing in them can change. */
const deeplyFrozen = new WeakSet<object>();

/**
 * `deepFreeze` for a value that many runs share, recording every object under it as frozen whole
 * ({@link isSharedFrozen}). Unlike `deepFreeze` (config.ts) it also goes into objects that were
 * frozen already, and it ends on a cycle. Not for the values of one run: the record costs each
 * object an identity hash, 3 to 4 times `deepFreeze`'s cost (0.25-0.38 against 0.07-0.09 ms for a
 * 100-site `Pulumi.yaml`).
 */
export function freezeShared<T>(value: T): T {
    if (value !== null && typeof value === "object" && !deeplyFrozen.has(value)) {
        // Recorded first, so a cycle ends; nothing reads the record before the outer call returns.
        deeplyFrozen.add(value);
        Object.freeze(value);
        for (const child of Object.values(value as object)) freezeShared(child);
    }
    return value;
}

/**
 * True for an object {@link freezeShared} froze: nothing in it can change, so whatever is computed
 * from it alone may be kept. Not for an object frozen on top only (`Object.freeze`), whose
 * contents can still change.
 */
export function isSharedFrozen(value: object): boolean {
    return deeplyFrozen.has(value);
}
