/**
 * Scratch folders for the tests' files (fake programs, termination logs, rendered output, project
 * copies): each a fresh `mkdtemp` under the system's temp folder, named `quay-georep-<prefix>-…`,
 * and removed with everything in it once the test file's tests are done, passed or failed.
 *
 * Removal is mocha's root hook below (`mochaHooks.afterAll`, loaded by .mocharc.js `require`): in
 * the parallel workers it runs after each file, in the own-process group once at the end of the run.
 * Where the hook is not loaded (`mocha --no-config` on one file), the process's normal exit removes
 * them instead. Before this, a run of `npm test` left about 120 folders behind in /tmp.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const made: string[] = [];

/** A fresh empty folder, removed after this test file's tests. */
export function scratchDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `quay-georep-${prefix}-`));
    if (made.length === 0) process.once("exit", removeScratchDirs);
    made.push(dir);
    return dir;
}

/** Removes every folder {@link scratchDir} made and has not removed yet; returns them. */
export function removeScratchDirs(): string[] {
    const removed = made.splice(0);
    for (const dir of removed) fs.rmSync(dir, { recursive: true, force: true });
    if (removed.length > 0) process.removeListener("exit", removeScratchDirs);
    return removed;
}

/** Mocha's root hook plugin (https://mochajs.org/#root-hook-plugins). */
export const mochaHooks = {
    afterAll(): void {
        removeScratchDirs();
    },
};
