/**
 * Reads this stack's `quay-georep:*` config from Pulumi and hands it to the pure parser.
 * This is the only module that touches `pulumi.Config`; components never read config.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { parseConfig, PROJECT_KEYS, QuayGeorepConfig, RawConfig, SECRET_KEYS } from "./config";
import { freezeShared } from "./sharedFrozen";
import { remember } from "../lib/remember";
import { ConfigError, SecretValue } from "./validate";

// The SDK exports this from its JS but marks it @internal in its typings; it reads the same
// PULUMI_CONFIG_SECRET_KEYS list the CLI hands every program. test/sdk.test.ts pins it: an SDK
// upgrade that moves or changes it fails there.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret: (key: string) => boolean };

/**
 * Keys whose values are YAML objects or lists (Pulumi hands them over as JSON text): every
 * project-level key but the two plain strings, and the structured per-stack keys.
 */
const STRUCTURED_KEYS = new Set<string>([
    ...PROJECT_KEYS.filter((k) => k !== "hostname" && k !== "sharedStack"),
    "storagePreference",
    "components",
    "replicas",
    "storageCredentials",
]);

/** How many config files' parses {@link parseConfigFile} keeps. */
const PARSED_FILES_KEPT = 8;
const parsedFiles = new Map<string, unknown>();

/**
 * A config file's text, parsed (and frozen). `pulumi up` runs the program once per process; the
 * offline renderer and the tests run it once per stack in one process, with the same `Pulumi.yaml`
 * each time, which is then parsed once instead of twice per run (least recently used goes first: a
 * render of many stacks reads `Pulumi.yaml` in every run). The renderer reads the files with it too
 * (offline/stackConfig.ts), just before the program reads the same texts.
 */
export function parseConfigFile(text: string): { config?: Record<string, unknown> } | null {
    // Frozen all the way down: callers share the document, so none may change it.
    return remember(parsedFiles, text, PARSED_FILES_KEPT, () => freezeShared(parse(text) as unknown)) as {
        config?: Record<string, unknown>;
    } | null;
}

/** How many structured values' parses {@link parseValueText} keeps. */
const PARSED_VALUES_KEPT = 32;
const parsedValues = new Map<string, unknown>();

/**
 * A structured config value's JSON text (as the CLI passes it), parsed and frozen, kept by text:
 * the offline renderer and the tests run the program once per stack in one process, and every
 * stack gets the same text for each project-level key (`sites` grows with the sites). The same
 * frozen value then reaches every run, and `parseConfig` compares it with `Pulumi.yaml`'s once
 * (config.ts `canonicalFrozen`). Throws what `JSON.parse` throws.
 */
function parseValueText(text: string): unknown {
    return remember(parsedValues, text, PARSED_VALUES_KEPT, () => freezeShared(JSON.parse(text) as unknown));
}

/** Wraps every string leaf of a secret value so it cannot be printed by accident. */
function wrapSecret(value: unknown): unknown {
    if (typeof value === "string") return new SecretValue(value);
    if (Array.isArray(value)) return value.map(wrapSecret);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wrapSecret(v)]));
    }
    return value;
}

/**
 * Collects the raw config of namespace `project` from the CLI's flat config map: bare keys,
 * structured values parsed, values of secret keys (and of any key stored encrypted) wrapped in
 * `SecretValue`. Pure, so tests feed it the same maps the offline renderer builds.
 *
 * @param all full keys (`quay-georep:hostname`) to the string values the CLI passes
 * @param isSecret whether the CLI marked a full key as secret (stored with `--secret`)
 */
export function readRawConfig(
    project: string,
    all: Readonly<Record<string, string>>,
    isSecret: (fullKey: string) => boolean,
): { raw: RawConfig; plaintextKeys: string[]; foreignKeys: string[] } {
    const raw: Record<string, unknown> = {};
    const plaintextKeys: string[] = [];
    const foreignKeys: string[] = [];
    const prefix = `${project}:`;
    for (const [fullKey, text] of Object.entries(all)) {
        if (!fullKey.startsWith(prefix)) {
            foreignKeys.push(fullKey);
            continue;
        }
        const key = fullKey.slice(prefix.length);
        let value: unknown = text;
        if (STRUCTURED_KEYS.has(key)) {
            try {
                value = parseValueText(text);
            } catch {
                value = text; // the parser reports the wrong type with the key's name
            }
        }
        const encrypted = isSecret(fullKey);
        if (SECRET_KEYS.includes(key) || encrypted) value = wrapSecret(value);
        if (SECRET_KEYS.includes(key) && !encrypted) plaintextKeys.push(key);
        raw[key] = value;
    }
    return { raw, plaintextKeys, foreignKeys };
}

/** A config key without the project's namespace (`quay-georep:sites` → `sites`); another namespace's key as it is. */
function bareKey(project: string, key: string): string {
    return key.startsWith(`${project}:`) ? key.slice(project.length + 1) : key;
}

/**
 * The project-level values of namespace `project` as `Pulumi.yaml` declares them (bare keys): a
 * plain value, or a declaration's `value` (or `default`). Pure, given the file's text.
 */
export function projectValues(project: string, text: string): Record<string, unknown> {
    const doc = parseConfigFile(text);
    const values: Record<string, unknown> = {};
    for (const [fullKey, decl] of Object.entries(doc?.config ?? {})) {
        const key = bareKey(project, fullKey);
        if (key.includes(":")) continue; // another namespace (a provider's)
        const declared = decl !== null && typeof decl === "object" && !Array.isArray(decl);
        if (!declared) values[key] = decl;
        else if ("value" in decl) values[key] = decl.value;
        else if ("default" in decl) values[key] = decl.default;
    }
    return values;
}

/** True for a `{ secure: "v1:…" }` value, as `pulumi config set --secret` writes it. */
function isSecure(value: unknown): boolean {
    return value !== null && typeof value === "object" && !Array.isArray(value) && "secure" in value;
}

/** Paths (`a.b[0]`) of the leaves of a config value, with whether each is a `secure:` value. */
function leaves(value: unknown, path: string): { path: string; secure: boolean }[] {
    if (isSecure(value)) return [{ path, secure: true }];
    if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, `${path}[${i}]`));
    if (value !== null && typeof value === "object") {
        return Object.entries(value).flatMap(([k, v]) => leaves(v, `${path}.${k}`));
    }
    return value === undefined || value === null ? [] : [{ path, secure: false }];
}

/** {@link secureInProjectFile}'s answers, by parsed (frozen, shared) document, then project name. */
const secureInProjectOf = new WeakMap<object, Map<string, readonly string[]>>();

/**
 * Paths of the `secure:` values in a parsed `Pulumi.yaml`, declarations' `.value` left out. Walked
 * once per document: every stack of a render reads the same file, and it grows with the sites.
 */
function secureInProjectFile(project: string, doc: { config?: Record<string, unknown> }): readonly string[] {
    const byProject = secureInProjectOf.get(doc) ?? new Map<string, readonly string[]>();
    secureInProjectOf.set(doc, byProject);
    let paths = byProject.get(project);
    if (paths === undefined) {
        paths = Object.entries(doc.config ?? {}).flatMap(([key, decl]) =>
            leaves(decl, bareKey(project, key))
                .filter((l) => l.secure)
                .map((l) => l.path.replace(/\.value(?=\.|\[|$)/, "")),
        );
        byProject.set(project, paths);
    }
    return paths;
}

/**
 * Where secrets are written wrongly, from the config files' text: a `secure:` value in `Pulumi.yaml`
 * (a project file has no secrets provider to decrypt it), and a plain-text leaf under a secret key in
 * `Pulumi.<stack>.yaml` (the CLI marks a whole key secret when one leaf is, so only the file tells
 * that `storageCredentials.usstorage.secretKey` was written in plain text next to a `secure:` one).
 * Pure; key paths are bare (no `quay-georep:`).
 */
export function secretPlacement(
    project: string,
    projectText: string | undefined,
    stackText: string | undefined,
): { secureInProject: string[]; plaintextLeaves: string[] } {
    const projectDoc = projectText ? parseConfigFile(projectText) : null;
    // A document that is not a map (an empty file, a stray scalar) has no config.
    const secureInProject =
        projectDoc !== null && typeof projectDoc === "object" ? [...secureInProjectFile(project, projectDoc)] : [];
    const stackConfig = (stackText ? parseConfigFile(stackText) : null)?.config;
    const plaintextLeaves = Object.entries(stackConfig ?? {})
        .filter(([key]) => key.startsWith(`${project}:`) && SECRET_KEYS.includes(bareKey(project, key)))
        .flatMap(([key, value]) =>
            isSecure(value) || typeof value !== "object" ? [] : leaves(value, bareKey(project, key)),
        )
        .filter((l) => !l.secure)
        .map((l) => l.path);
    return { secureInProject, plaintextLeaves };
}

/**
 * The text of `Pulumi.yaml` and `Pulumi.<stack>.yaml` in the project root the CLI gives the program
 * (`pulumi.getRootDirectory()`); undefined where there is no such file (stack config kept elsewhere).
 */
function readProjectFiles(stack: string): { project?: string; stack?: string } {
    const read = (name: string) => {
        const file = path.join(pulumi.getRootDirectory(), name);
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    };
    return { project: read("Pulumi.yaml"), stack: read(`Pulumi.${stack}.yaml`) ?? read(`Pulumi.${stack}.yml`) };
}

/**
 * Loads and validates this stack's config. Invalid config ends the program with one clean message
 * listing every problem (a `RunError`: no stack trace), before any resource is registered.
 */
export function loadConfig(): QuayGeorepConfig {
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    const { raw, plaintextKeys, foreignKeys } = readRawConfig(project, pulumi.runtime.allConfig(), isConfigSecret);
    try {
        const files = readProjectFiles(stack);
        const config = parseConfig(raw, {
            project,
            stack,
            plaintextKeys,
            foreignKeys,
            projectValues: files.project === undefined ? undefined : projectValues(project, files.project),
            ...secretPlacement(project, files.project, files.stack),
        });
        for (const warning of config.warnings) void pulumi.log.warn(warning);
        return config;
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}
