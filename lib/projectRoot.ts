/**
 * The project's root folder, wherever the running file is: `pulumi up` runs the TypeScript sources
 * (`stacks/lifecycle.ts`, one folder below the root), the npm scripts and the tests run them compiled
 * into `bin/` (`bin/stacks/lifecycle.js`, two below). Files the project ships beside its code
 * (`sql/`, `Pulumi.yaml`, `test/fixtures/`, `.schemas/`) are found from here, never from `__dirname`.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The nearest folder at or above `from` that holds a package.json (`bin/` has none). */
export function findProjectRoot(from: string): string {
    for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "package.json"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no package.json in ${from} or any folder above it`);
    }
}

/** The folder with this project's package.json, Pulumi.yaml and sql/. */
export const PROJECT_ROOT = findProjectRoot(__dirname);
