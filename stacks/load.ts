/**
 * Reads this stack's `quay-georep:*` config from Pulumi and hands it to the pure parser.
 * This is the only module that touches `pulumi.Config`; components never read config.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { parseConfig, QuayGeorepConfig, RawConfig, SECRET_KEYS } from "./config";
import { ConfigError, SecretValue } from "./validate";

// The SDK exports this from its JS but marks it @internal in its typings; it reads the same
// PULUMI_CONFIG_SECRET_KEYS list the CLI hands every program.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/** Keys whose values are YAML objects or lists (Pulumi hands them over as JSON text). */
const STRUCTURED_KEYS = new Set([
    "sites",
    "database",
    "redis",
    "storage",
    "quay",
    "loadBalancer",
    "lifecycle",
    "operator",
    "storagePreference",
    "components",
    "replicas",
    "storageCredentials",
]);

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
): { raw: RawConfig; plaintextKeys: string[] } {
    const raw: Record<string, unknown> = {};
    const plaintextKeys: string[] = [];
    const prefix = `${project}:`;
    for (const [fullKey, text] of Object.entries(all)) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        let value: unknown = text;
        if (STRUCTURED_KEYS.has(key)) {
            try {
                value = JSON.parse(text);
            } catch {
                value = text; // the parser reports the wrong type with the key's name
            }
        }
        const encrypted = isSecret(fullKey);
        if (SECRET_KEYS.includes(key) || encrypted) value = wrapSecret(value);
        if (SECRET_KEYS.includes(key) && !encrypted) plaintextKeys.push(key);
        raw[key] = value;
    }
    return { raw, plaintextKeys };
}

/**
 * The project-level values of namespace `project` as `Pulumi.yaml` declares them (bare keys): a
 * plain value, or a declaration's `value` (or `default`). Pure, given the file's text.
 */
export function projectValues(project: string, text: string): Record<string, unknown> {
    const doc = parse(text) as { config?: Record<string, unknown> } | null;
    const values: Record<string, unknown> = {};
    for (const [fullKey, decl] of Object.entries(doc?.config ?? {})) {
        const key = fullKey.startsWith(`${project}:`) ? fullKey.slice(project.length + 1) : fullKey;
        if (key.includes(":")) continue; // another namespace (a provider's)
        const declared = decl !== null && typeof decl === "object" && !Array.isArray(decl);
        if (!declared) values[key] = decl;
        else if ("value" in decl) values[key] = (decl as { value: unknown }).value;
        else if ("default" in decl) values[key] = (decl as { default: unknown }).default;
    }
    return values;
}

/**
 * `Pulumi.yaml`'s project-level values, from the project root the CLI gives the program
 * (`pulumi.getRootDirectory()`); undefined when there is no such file to compare with.
 */
function readProjectValues(project: string): Record<string, unknown> | undefined {
    const file = path.join(pulumi.getRootDirectory(), "Pulumi.yaml");
    if (!fs.existsSync(file)) return undefined;
    return projectValues(project, fs.readFileSync(file, "utf8"));
}

/**
 * Loads and validates this stack's config. Invalid config ends the program with one clean message
 * listing every problem (a `RunError`: no stack trace), before any resource is registered.
 */
export function loadConfig(): QuayGeorepConfig {
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    const { raw, plaintextKeys } = readRawConfig(project, pulumi.runtime.allConfig(), isConfigSecret);
    try {
        const config = parseConfig(raw, { project, stack, plaintextKeys, projectValues: readProjectValues(project) });
        for (const warning of config.warnings) pulumi.log.warn(warning);
        return config;
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}
