/**
 * Loads the Pulumi SDK, in the offline runtime's processes, without its function serialization
 * until something calls it.
 *
 * `@pulumi/pulumi`'s `runtime/index.js` requires `runtime/closure/serializeClosure` and
 * `runtime/closure/codePaths` when the SDK loads, for `pulumi.runtime.serializeFunction` and
 * `computeCodePaths`: what turns a JavaScript function into code for a Lambda or a dynamic
 * provider. They bring the TypeScript compiler (`typescript-shim` → `parseFunction`) and npm's
 * `@npmcli/arborist` (`codePaths`, to find a function's packages). This program serializes no
 * function, and offline runs never reach either: loading them is about two thirds of loading the
 * SDK (measured in docs/benchmark.md). The SDK's maintainers say the same: `dynamic/index.js`
 * loads `../runtime/closure/serializeClosure` only when called ("as its dependencies are slow to
 * load"), and pulumi/pulumi#10185 made the SDK import `typescript` only where needed for the same
 * reason.
 *
 * Here, before the SDK loads, each of the two modules gets a stand-in in Node's module cache: an
 * object with the real module's exports (the names below, pinned against the real modules by
 * test/sdk.test.ts), each a function that loads the real module on its first call and calls
 * through. `runtime/index.js` copies those functions into `pulumi.runtime`, so they work as before,
 * only later. The modules have no side effects when they load (nothing but declarations; their
 * `v8` helpers set V8 flags, and load only inside a call).
 *
 * `pulumi up` never loads this: Pulumi's Node.js language host runs `index.ts`, which imports
 * nothing from offline/. Importing it once the SDK is loaded changes nothing.
 */
import * as fs from "node:fs";
import Module from "node:module";
import * as path from "node:path";

/** The deferred modules, by path inside the `@pulumi/pulumi` package, and the names each exports. */
export const DEFERRED: Readonly<Record<string, readonly string[]>> = {
    "runtime/closure/serializeClosure.js": ["serializeFunction", "serializeFunctionAsync"],
    "runtime/closure/codePaths.js": ["computeCodePaths", "findWorkspaceRoot", "packageArchivePath"],
};

/** The SDK module whose load requires the deferred ones. */
const SDK_RUNTIME = "runtime/index.js";

/**
 * Puts the stand-ins in the module cache for the `@pulumi/pulumi` that `from` resolves. Returns the
 * real files deferred; none when the SDK is not found, is loaded already, or lacks either file.
 */
export function deferClosureSerialization(from: string = __dirname): string[] {
    let root: string;
    try {
        root = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [from] }));
    } catch {
        return []; // no SDK here: nothing to defer
    }
    if (require.cache[path.join(root, SDK_RUNTIME)] !== undefined) return [];
    const deferred = Object.entries(DEFERRED).map(([rel, names]) => [path.join(root, rel), names] as const);
    if (deferred.some(([f]) => require.cache[f] !== undefined || !fs.existsSync(f))) return [];
    for (const [file, names] of deferred) {
        const standIn = new Module(file, module);
        standIn.filename = file;
        standIn.loaded = true;
        let real: Record<string, (...args: unknown[]) => unknown> | undefined;
        const load = () => {
            if (real === undefined) {
                // The real module replaces the stand-in in the cache: later requires get it directly.
                if (require.cache[file] === standIn) delete require.cache[file];
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                real = require(file) as Record<string, (...args: unknown[]) => unknown>;
            }
            return real;
        };
        const exports: Record<string, unknown> = {};
        Object.defineProperty(exports, "__esModule", { value: true });
        for (const name of names) {
            exports[name] = function (this: unknown, ...args: unknown[]) {
                return load()[name].apply(this, args);
            };
        }
        standIn.exports = exports;
        require.cache[file] = standIn;
    }
    return deferred.map(([file]) => file);
}

deferClosureSerialization();
