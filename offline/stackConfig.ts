/**
 * Reads `Pulumi.yaml` and `Pulumi.<stack>.yaml` and merges their config the way the Pulumi CLI
 * does: project-level values first, each overridden key by key by the stack's value. Encrypted
 * (`secure:`) values cannot be decrypted offline; they become `__secret__` and their keys are
 * marked secret, as the CLI would mark them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseConfigFile } from "../config/load";
import { SECRET_PLACEHOLDER } from "./runtime";

/** Config as the CLI hands it to the program. */
export interface StackConfig {
    readonly project: string;
    readonly stack: string;
    /** Full keys (`quay-georep:hostname`) → string values (objects as JSON). */
    readonly config: Readonly<Record<string, string>>;
    /** Full keys whose values are (or contain) secrets. */
    readonly secretKeys: readonly string[];
    /** The text of `Pulumi.yaml` (the program compares project-level values with it). */
    readonly projectFile: string;
    /** The text of `Pulumi.<stack>.yaml` (the program checks where secrets are written in it). */
    readonly stackFile?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Replaces every `{ secure: … }` with the placeholder; reports whether any was found. */
function replaceSecure(value: unknown): { value: unknown; secret: boolean } {
    if (isObject(value) && Object.keys(value).length === 1 && typeof value.secure === "string") {
        return { value: SECRET_PLACEHOLDER, secret: true };
    }
    if (Array.isArray(value)) {
        const items = value.map(replaceSecure);
        return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
    }
    if (isObject(value)) {
        const entries = Object.entries(value).map(([k, v]) => [k, replaceSecure(v)] as const);
        return {
            value: Object.fromEntries(entries.map(([k, v]) => [k, v.value])),
            secret: entries.some(([, v]) => v.secret),
        };
    }
    return { value, secret: false };
}

/** The CLI passes every value as a string; structured values as JSON. */
function toConfigString(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

/** The fully qualified key: bare project keys get the project's namespace. */
function fullKey(project: string, key: string): string {
    return key.includes(":") ? key : `${project}:${key}`;
}

/** The project file, read and parsed. */
export interface ProjectFile {
    readonly name: string;
    readonly config: Readonly<Record<string, unknown>>;
    /** Its text, as the program reads it from the project root. */
    readonly text: string;
}

/** Reads the project file (once per render: pass it on to {@link readStackConfig}). */
export function readProject(dir: string): ProjectFile {
    const text = fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8");
    const doc = parseConfigFile(text) as Record<string, unknown>;
    return { name: String(doc.name), config: isObject(doc.config) ? doc.config : {}, text };
}

/** Stack names that have a `Pulumi.<stack>.yaml` in `dir`, sorted. */
export function listStacks(dir: string): string[] {
    return fs
        .readdirSync(dir)
        .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

/** A config value as the CLI hands it over: a string, secrets replaced; and whether it held one. */
function configEntry(raw: unknown): { text: string; secret: boolean } {
    const { value, secret } = replaceSecure(raw);
    return { text: toConfigString(value), secret };
}

/** {@link projectEntries}' answers, by project file (a render reads it once and passes it to every stack). */
const projectEntriesOf = new WeakMap<ProjectFile, ReadonlyMap<string, { text: string; secret: boolean }>>();

/**
 * The project-level values as every stack of `project` starts from, by full key, in the file's
 * order. Made once per project file: `Pulumi.yaml` holds the topology (`sites`, `storage.buckets`,
 * ...), which grows with the sites, and every stack of a render merges it.
 */
function projectEntries(project: ProjectFile): ReadonlyMap<string, { text: string; secret: boolean }> {
    let entries = projectEntriesOf.get(project);
    if (entries === undefined) {
        const made = new Map<string, { text: string; secret: boolean }>();
        for (const [key, decl] of Object.entries(project.config)) {
            // A map in project config is a declaration: { value } sets a value, { default } a default.
            if (isObject(decl) && !("secure" in decl)) {
                if ("value" in decl) made.set(fullKey(project.name, key), configEntry(decl.value));
                else if ("default" in decl) made.set(fullKey(project.name, key), configEntry(decl.default));
            } else {
                made.set(fullKey(project.name, key), configEntry(decl));
            }
        }
        projectEntriesOf.set(project, (entries = made));
    }
    return entries;
}

/** Merges project and stack config for one stack; `project` is `dir`'s Pulumi.yaml, read when not given. */
export function readStackConfig(dir: string, stack: string, project: ProjectFile = readProject(dir)): StackConfig {
    const config: Record<string, string> = {};
    const secretKeys = new Set<string>();
    const set = (key: string, { text, secret }: { text: string; secret: boolean }) => {
        config[key] = text;
        if (secret) secretKeys.add(key);
        else secretKeys.delete(key);
    };
    for (const [key, entry] of projectEntries(project)) set(key, entry);
    const file = ["yaml", "yml"].map((ext) => path.join(dir, `Pulumi.${stack}.${ext}`)).find((f) => fs.existsSync(f));
    if (file === undefined) throw new Error(`no Pulumi.${stack}.yaml in ${dir}`);
    const stackFile = fs.readFileSync(file, "utf8");
    const doc = parseConfigFile(stackFile) as Record<string, unknown> | null;
    const stackConfig = isObject(doc?.config) ? doc.config : {};
    for (const [key, value] of Object.entries(stackConfig)) set(key, configEntry(value));
    return {
        project: project.name,
        stack,
        config,
        secretKeys: [...secretKeys].sort(),
        projectFile: project.text,
        stackFile,
    };
}
