/**
 * A small least-recently-used memo, for what one process computes again and again from the same
 * key: the offline renderer and the tests run the program once per stack in one process, and every
 * run parses the same config texts (config/load.ts); the tests also keep their program runs.
 */

/**
 * Remembers `make()` under `key` in `cache`, which keeps the `max` most recently used entries. A
 * value of `undefined` is not remembered (it is made again).
 */
export function remember<T>(cache: Map<string, T>, key: string, max: number, make: () => T): T {
    let value = cache.get(key);
    if (value === undefined) {
        value = make();
    } else {
        cache.delete(key); // re-inserted below: the most recently used entry comes last
    }
    cache.set(key, value);
    if (cache.size > max) cache.delete(cache.keys().next().value as string);
    return value;
}
