/**
 * Writing `npm run render`'s output folder (`rendered/` by default): one folder per stack, each
 * rewritten only where its bytes change, so an unchanged render touches no file (their mtimes stay,
 * and tools watching the folder see nothing), and nothing is left that no longer belongs; and what
 * an entry of a stack's resources.json holds (the bench's replay, offline/replay.ts, reads them back).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RecordedResource, redacted } from "./runtime";

/** One entry of a stack's resources.json. */
export interface RenderedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly parent: string | null;
    readonly provider: string | null;
    /** Secrets as `<secret>` (`redacted`). */
    readonly inputs: Record<string, unknown>;
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    readonly dependsOn: readonly string[];
    readonly aliases?: readonly string[];
    readonly ignoreChanges?: readonly string[];
}

/** A recorded resource as resources.json holds it: its URN, type, parent, provider, inputs and options. */
export function renderedResource(r: RecordedResource): RenderedResource {
    return {
        urn: r.urn,
        type: r.type,
        name: r.name,
        parent: r.parent ?? null,
        provider: r.provider ?? null,
        inputs: redacted(r.inputs) as Record<string, unknown>,
        protect: r.protect,
        retainOnDelete: r.retainOnDelete,
        dependsOn: r.dependsOn,
        // Only when there are any: a render diff then shows an alias being added, and nothing else moves.
        ...(r.aliases.length > 0 ? { aliases: r.aliases } : {}),
        // Likewise: `["*"]` shows a released or lost server frozen (lib/standby.ts).
        ...(r.ignoreChanges !== undefined ? { ignoreChanges: r.ignoreChanges } : {}),
    };
}

/** The files a render may write into a stack's folder: anything else there is not the renderer's. */
export const RENDERED_FILES: readonly string[] = ["config.yaml", "outputs.json", "quayregistry.yaml", "resources.json"];

/** What writing one stack's folder changed, by file name. */
export interface WrittenStack {
    readonly written: readonly string[];
    readonly unchanged: readonly string[];
    readonly removed: readonly string[];
}

/**
 * Writes one stack's files into `target`, touching only what changes: a file that already holds
 * the same bytes is left alone (not rewritten, its mtime kept), a changed or new one is written,
 * and whatever else the folder holds (a file the stack no longer renders, e.g. `quayregistry.yaml`
 * once it has no registry, or a folder) is removed.
 */
export function writeStackFolder(target: string, files: Readonly<Record<string, string>>): WrittenStack {
    fs.mkdirSync(target, { recursive: true });
    const written: string[] = [];
    const unchanged: string[] = [];
    const removed: string[] = [];
    for (const entry of fs.readdirSync(target, { withFileTypes: true })) {
        if (entry.isFile() && Object.prototype.hasOwnProperty.call(files, entry.name)) continue;
        fs.rmSync(path.join(target, entry.name), { recursive: true, force: true });
        removed.push(entry.name);
    }
    for (const name of Object.keys(files).sort()) {
        const file = path.join(target, name);
        const bytes = Buffer.from(files[name]);
        let same = false;
        try {
            same = fs.readFileSync(file).equals(bytes);
        } catch {
            // not there yet
        }
        if (same) {
            unchanged.push(name);
        } else {
            fs.writeFileSync(file, bytes);
            written.push(name);
        }
    }
    return { written, unchanged, removed: removed.sort() };
}

/**
 * Folders of `out` left by an earlier render of a stack the project no longer has: not one of
 * `stacks`, and holding nothing but {@link RENDERED_FILES} (a folder with anything else in it is
 * not the renderer's, and stays).
 */
export function staleStackFolders(out: string, stacks: readonly string[]): string[] {
    if (!fs.existsSync(out)) return [];
    return fs
        .readdirSync(out, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !stacks.includes(e.name))
        .filter((e) => {
            const inside = fs.readdirSync(path.join(out, e.name), { withFileTypes: true });
            return inside.length > 0 && inside.every((f) => f.isFile() && RENDERED_FILES.includes(f.name));
        })
        .map((e) => e.name)
        .sort();
}
