/**
 * Validators that check rendered artefacts against the real upstream schemas:
 *
 * - Quay's `config.yaml` against `quay/config-schema.json` (Quay's own JSON schema, draft-07 style).
 * - A `QuayRegistry` object against the QuayRegistry CRD's `openAPIV3Schema`, interpreted the way the
 *   Kubernetes API server does (structural-schema extensions, unknown fields, `x-kubernetes-validations`
 *   CEL rules). The structural part is offline/manifests.ts's, shared with the validation of every
 *   Kubernetes object the program sends; the CEL rules are evaluated here.
 *
 * The schemas are the pinned upstream files of offline/manifests.ts's `UPSTREAM_SCHEMAS`, found in this order:
 * `$QUAY_GEOREP_SCHEMAS` (alone, when set), `<repo>/.schemas/` (written by `npm run schemas`), then
 * `<repo>/../shared/reference/`; each file's SHA-256 is checked when it is read. Every caller first asks
 * {@link referenceDir} (or calls {@link requireSchemas}): without the schemas a test skips visibly, except
 * under `CI=true`, where it fails, since CI must validate against the real schemas.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import { parse as parseYaml } from "yaml";
import {
    celEnv,
    celType,
    isCelError,
    parse as parseCel,
    plan,
    type CelInput,
    type CelResult,
    type CelValue,
} from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import {
    type Crd,
    findSchemaDir,
    METADATA_SCHEMA,
    newCrdAjv,
    readSchemaFile,
    schemaSearchPath,
    schemasNotFoundMessage,
    type StructuralSchema,
    structuralToJsonSchema,
    type ValidationRule,
} from "../../offline/manifests";
import { cachedValidators } from "../../offline/validatorCache";

const QUAY_CONFIG_SCHEMA_FILE = "quay/config-schema.json";
const QUAY_REGISTRY_CRD_FILE = "quay-operator/quayregistries.crd.yaml";

/**
 * What the two validators below are made from besides a schema's text, for their on-disk cache
 * (offline/validatorCache.ts `cachedValidators`, as the renderer keeps its CRD validators): this
 * file, which builds Quay's schema and the QuayRegistry's, and offline/manifests.ts, whose
 * `structuralToJsonSchema`, `METADATA_SCHEMA` and `newCrdAjv` they use; and where that module is,
 * since the QuayRegistry's compiled code requires it by its path for the CRD formats (as
 * offline/manifests.ts keys its own). Compiling them was about 0.7 s of CPU in every test worker
 * (and every single-file run) that validated a render.
 */
const VALIDATOR_CODE = (): (string | Buffer)[] => {
    const manifests = require.resolve("../../offline/manifests");
    return [fs.readFileSync(__filename), manifests, fs.readFileSync(manifests)];
};

/** The message a test prints when it skips for lack of the upstream schemas: where it looked, what to run. */
export function schemasSkipMessage(env: NodeJS.ProcessEnv = process.env): string {
    return `${schemasNotFoundMessage(env)}; skipping validation against upstream schemas`;
}

/** The message a test fails with under `CI=true` when the upstream schemas are missing. */
export function schemasRequiredMessage(env: NodeJS.ProcessEnv = process.env): string {
    return `${schemasNotFoundMessage(env)} (CI=true: a missing schema fails the test instead of skipping it)`;
}

/** {@link schemasSkipMessage} as the environment was when the tests started (for tests that print it). */
export const REFERENCE_SKIP_MESSAGE = schemasSkipMessage();

/**
 * The folder holding the upstream schemas (see the module comment for the lookup order), or `undefined` when
 * none holds all of them. Callers skip with {@link REFERENCE_SKIP_MESSAGE} on `undefined`.
 *
 * @throws Error with {@link schemasRequiredMessage} instead of returning `undefined` under `CI=true`, so that
 *   every caller's test fails rather than skips there.
 */
export function referenceDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
    const dir = findSchemaDir(schemaSearchPath(env));
    if (dir === undefined && env.CI === "true") {
        throw new Error(schemasRequiredMessage(env));
    }
    return dir;
}

/**
 * Skips the calling test, visibly, when the upstream schemas are missing; fails it under `CI=true`
 * (see {@link referenceDir}).
 */
export function requireSchemas(ctx: Mocha.Context): void {
    if (referenceDir() === undefined) {
        console.log(`      skipped: ${schemasSkipMessage()}`);
        ctx.skip();
    }
}

/** The text of one upstream schema, hash-checked; throws the skip (or CI) message when the schemas are missing. */
function readReferenceFile(file: string): { file: string; text: string } {
    const dir = referenceDir();
    if (dir === undefined) {
        throw new Error(schemasSkipMessage());
    }
    return { file: path.join(dir, file), text: readSchemaFile(dir, file) };
}

// ---------------------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------------------

type JsonObject = { [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
    return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}

/**
 * Validate what would actually be sent/written: both config.yaml (via `yaml`) and Kubernetes objects
 * (via JSON) drop `undefined` members, so an `{ overrides: undefined }` built in TypeScript is the same as
 * no `overrides` at all. A JSON round trip gives exactly that view (and a plain-data copy we may not mutate).
 */
function wireForm(value: unknown): { data: unknown } | { error: string } {
    try {
        const text = JSON.stringify(value);
        return {
            data: text === undefined ? undefined : (JSON.parse(text) as unknown),
        };
    } catch (err) {
        return {
            error: `(root): value is not JSON-serialisable: ${(err as Error).message}`,
        };
    }
}

/** JSON Pointer segment escaping, matching the `instancePath`s ajv reports. */
function pointerSegment(key: string | number): string {
    return String(key).replace(/~/g, "~0").replace(/\//g, "~1");
}

function displayPath(pointer: string): string {
    return pointer === "" ? "(root)" : pointer;
}

/** One line per ajv error: where (JSON Pointer into the document) and what, naming keys and allowed values. */
function formatAjvError(error: ErrorObject, unknownFieldHint: string): string {
    // ajv types params as Record<string, any>; read it as unknown so every use below is checked.
    const params: Record<string, unknown> = error.params;
    const where = displayPath(error.instancePath);
    switch (error.keyword) {
        case "required":
            return `${where}: missing required property "${String(params.missingProperty)}"`;
        case "additionalProperties": {
            const field = String(params.additionalProperty);
            return `${error.instancePath}/${pointerSegment(field)}: unknown field "${field}" (${unknownFieldHint})`;
        }
        case "enum": {
            const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
            return `${where}: must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")} (got ${JSON.stringify(error.data)})`;
        }
        case "const":
            return `${where}: must be ${JSON.stringify(params.allowedValue)} (got ${JSON.stringify(error.data)})`;
        case "type":
            return `${where}: must be ${String(params.type).replace(/,/g, " or ")} (got ${JSON.stringify(error.data)})`;
        default: {
            // Scalars are short enough to quote, and seeing the offending value saves a debugging round trip.
            const got = isObject(error.data) || Array.isArray(error.data) ? "" : ` (got ${JSON.stringify(error.data)})`;
            return `${where}: ${error.message ?? `failed "${error.keyword}"`}${got}`;
        }
    }
}

function formatAjvErrors(errors: ErrorObject[] | null | undefined, unknownFieldHint: string): string[] {
    // An `if` failure only says "must match then schema"; the `then` errors it wraps say what is wrong.
    return (errors ?? []).filter((e) => e.keyword !== "if").map((e) => formatAjvError(e, unknownFieldHint));
}

// ---------------------------------------------------------------------------------------------------------
// Quay config.yaml
// ---------------------------------------------------------------------------------------------------------

/**
 * Python type names used by a few properties of Quay's schema (upstream quirk, see the reference README).
 * Only `int` and `str` occur; ajv refuses to compile unknown type names at all.
 */
const PYTHON_TYPE_NAMES: Record<string, string> = {
    int: "integer",
    str: "string",
};

/** Keywords whose value is one subschema / a list of subschemas / a map of subschemas (draft-07). */
const SINGLE_SUBSCHEMA = [
    "additionalItems",
    "additionalProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
];
const LIST_SUBSCHEMAS = ["allOf", "anyOf", "oneOf"];
const MAP_SUBSCHEMAS = ["properties", "patternProperties", "definitions", "dependencies"];

/**
 * Copy of a JSON schema with Python type names mapped, touching only schema positions (never example
 * values or the ~100 keys that upstream left outside `properties`, which stay unchecked as upstream).
 */
function mapPythonTypeNames(schema: unknown): unknown {
    if (!isObject(schema)) {
        return schema;
    }
    const out: JsonObject = { ...schema };
    const mapType = (t: unknown): unknown => (typeof t === "string" ? (PYTHON_TYPE_NAMES[t] ?? t) : t);
    if (typeof out.type === "string") {
        out.type = mapType(out.type);
    } else if (Array.isArray(out.type)) {
        out.type = out.type.map(mapType);
    }
    for (const keyword of SINGLE_SUBSCHEMA) {
        if (keyword in out) out[keyword] = mapPythonTypeNames(out[keyword]);
    }
    for (const keyword of LIST_SUBSCHEMAS) {
        const value = out[keyword];
        if (Array.isArray(value)) out[keyword] = value.map(mapPythonTypeNames);
    }
    for (const keyword of MAP_SUBSCHEMAS) {
        const value = out[keyword];
        // `dependencies` values may be arrays of names; mapPythonTypeNames leaves non-objects as they are.
        if (isObject(value)) out[keyword] = mapValues(value, mapPythonTypeNames);
    }
    if (Array.isArray(out.items)) {
        out.items = out.items.map(mapPythonTypeNames);
    } else if ("items" in out) {
        out.items = mapPythonTypeNames(out.items);
    }
    return out;
}

let quayConfigValidator: ValidateFunction | undefined;

function quayConfigValidatorFor(): ValidateFunction {
    if (quayConfigValidator === undefined) {
        const { text } = readReferenceFile(QUAY_CONFIG_SCHEMA_FILE);
        quayConfigValidator = cachedValidators("test-quay-config", [text, ...VALIDATOR_CODE()], () => {
            const schema = mapPythonTypeNames(JSON.parse(text));
            // Default Ajv class = draft-07. strict off: upstream uses `x-example`/`x-reference` annotations, keeps
            // keys outside `properties` and misplaces keywords (e.g. `uniqueItems` on string items, `items` on an
            // object), all of which draft-07 ignores and strict mode would refuse. `code.source`: kept on disk.
            const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, code: { source: true } });
            return { ajv, schemas: { config: schema as JsonObject } };
        }).config;
    }
    return quayConfigValidator;
}

/**
 * Validates a parsed Quay `config.yaml` object against Quay's JSON schema (draft-07, all errors).
 *
 * @returns one human-readable line per problem (`<JSON pointer>: <message>`, naming the key), empty when
 *   valid. Note the schema does not forbid unknown keys, so only known keys' shapes are checked.
 * @throws Error with {@link REFERENCE_SKIP_MESSAGE} when the schemas are missing (see {@link referenceDir} under
 *   `CI=true`), or when a schema file is not the pinned upstream file.
 */
export function validateQuayConfig(config: unknown): string[] {
    const validate = quayConfigValidatorFor();
    const wire = wireForm(config);
    if ("error" in wire) {
        return [wire.error];
    }
    return validate(wire.data) ? [] : formatAjvErrors(validate.errors, "not a key Quay's schema knows");
}

// ---------------------------------------------------------------------------------------------------------
// QuayRegistry (CRD structural schema + CEL)
// ---------------------------------------------------------------------------------------------------------

interface LoadedCrd {
    apiVersion: string;
    kind: string;
    schema: StructuralSchema;
    validate: ValidateFunction;
}

const UNKNOWN_FIELD_HINT = "not in the CRD schema; the API server would prune or reject it";

let loadedCrd: LoadedCrd | undefined;

function quayRegistryCrd(): LoadedCrd {
    if (loadedCrd !== undefined) {
        return loadedCrd;
    }
    const { file, text } = readReferenceFile(QUAY_REGISTRY_CRD_FILE);
    const crd = parseYaml(text) as Crd;
    // The stored version is the one the operator reads back; it must also be served for us to create it.
    const version = crd.spec.versions.find((v) => v.storage === true && v.served === true);
    const schema = version?.schema?.openAPIV3Schema;
    if (version === undefined || schema === undefined) {
        throw new Error(`${file}: no served storage version with an openAPIV3Schema`);
    }
    const apiVersion = `${crd.spec.group}/${version.name}`;
    const kind = crd.spec.names.kind;

    const root = structuralToJsonSchema(schema);
    // The CRD types apiVersion/kind as plain strings, but the server routes on them: they must name this CRD.
    root.properties = {
        ...(root.properties as Record<string, JsonObject>),
        apiVersion: { const: apiVersion },
        kind: { const: kind },
        metadata: METADATA_SCHEMA,
    };
    root.required = ["apiVersion", "kind"];

    const { validate } = cachedValidators("test-quayregistry", [text, ...VALIDATOR_CODE()], () => ({
        ajv: newCrdAjv(true),
        schemas: { validate: root },
    }));
    loadedCrd = { apiVersion, kind, schema, validate };
    return loadedCrd;
}

/** Identifiers CEL reserves; Kubernetes exposes such property names as `__<name>__`. */
const CEL_RESERVED = new Set([
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
]);

/**
 * Kubernetes' escaping of declared property names for CEL (apiserver `cel.Escape`): `__`, `.`, `-`, `/`
 * become `__underscores__`, `__dot__`, `__dash__`, `__slash__`; reserved words become `__word__`; names
 * with other characters or a leading digit are not accessible (undefined).
 */
function escapeCelFieldName(name: string): string | undefined {
    if (name === "" || /^[0-9]/.test(name)) return undefined;
    if (CEL_RESERVED.has(name)) return `__${name}__`;
    if (/[^a-zA-Z0-9_.\-/]/.test(name)) return undefined;
    const escapes: Record<string, string> = {
        __: "__underscores__",
        ".": "__dot__",
        "-": "__dash__",
        "/": "__slash__",
    };
    return name.replace(/__|[.\-/]/g, (match) => escapes[match] ?? match);
}

/**
 * Converts a JSON value to a CEL input the way Kubernetes types it from the schema. Objects become `Map`s
 * (so `has(self.x)` and `self.x` work, @bufbuild/cel supports both on maps); members of objects declaring
 * `properties` are keyed by their CEL-escaped names, string maps keep raw keys (`self['a-b']`). Numbers are
 * `int` (bigint) unless the schema says `number` (double): `replicas == 1` must compare ints as in Kubernetes.
 */
function toCel(schema: StructuralSchema | undefined, value: unknown): CelInput {
    if (value === null || typeof value === "string" || typeof value === "boolean") {
        return value;
    }
    if (typeof value === "number") {
        return schema?.type !== "number" && Number.isInteger(value) ? BigInt(value) : value;
    }
    if (Array.isArray(value)) {
        return value.map((item) => toCel(schema?.items, item));
    }
    const out = new Map<string, CelInput>();
    if (isObject(value)) {
        const additional = isObject(schema?.additionalProperties) ? schema?.additionalProperties : undefined;
        for (const [key, member] of Object.entries(value)) {
            const declared = schema?.properties?.[key];
            const name = schema?.properties !== undefined ? escapeCelFieldName(key) : key;
            if (name !== undefined) out.set(name, toCel(declared ?? additional, member));
        }
    }
    return out;
}

type CelProgram = (bindings: { self: CelInput }) => CelResult;

/** Kubernetes' CEL environment includes the strings extension library; the others are not available here. */
const celEnvironment = celEnv({ funcs: strings });
const celPrograms = new Map<string, { program: CelProgram; usesOldSelf: boolean } | { error: string }>();

/** True when the parsed expression references the identifier `oldSelf` (a transition rule). */
function referencesOldSelf(node: unknown): boolean {
    if (Array.isArray(node)) return node.some(referencesOldSelf);
    if (!isObject(node)) return false;
    // protobuf-es oneof shape for an identifier: { case: "identExpr", value: { name } }.
    if (node.case === "identExpr" && isObject(node.value) && node.value.name === "oldSelf") return true;
    return Object.values(node).some(referencesOldSelf);
}

function compileCel(expression: string): { program: CelProgram; usesOldSelf: boolean } | { error: string } {
    let compiled = celPrograms.get(expression);
    if (compiled === undefined) {
        try {
            const parsed = parseCel(expression);
            compiled = {
                program: plan(celEnvironment, parsed),
                usesOldSelf: referencesOldSelf(parsed.expr),
            };
        } catch (err) {
            compiled = { error: (err as Error).message };
        }
        celPrograms.set(expression, compiled);
    }
    return compiled;
}

/** The failure message for a rule: evaluated `messageExpression`, else `message`, else Kubernetes' default. */
function ruleMessage(rule: ValidationRule, self: CelInput): string {
    if (rule.messageExpression !== undefined) {
        const compiled = compileCel(rule.messageExpression);
        if ("program" in compiled) {
            const message = compiled.program({ self });
            if (typeof message === "string" && message.trim() !== "") return message;
        }
    }
    return rule.message ?? `failed rule: ${rule.rule}`;
}

/** A CEL value for a message: a scalar as itself, anything else (list, map, message, bytes, type) by its CEL type. */
function celShown(value: CelValue): string {
    return typeof value === "object" && value !== null ? `a ${celType(value).toString()}` : String(value);
}

/** Evaluates one rule against the node value; returns an error line or undefined when it holds. */
function evaluateRule(
    rule: ValidationRule,
    schema: StructuralSchema,
    value: unknown,
    pointer: string,
): string | undefined {
    const where = displayPath(pointer) + (rule.fieldPath ?? "");
    const compiled = compileCel(rule.rule);
    if ("error" in compiled) {
        return `${where}: rule ${JSON.stringify(rule.rule)} does not parse: ${compiled.error}`;
    }
    if (compiled.usesOldSelf) {
        // Transition rules compare with the stored object and run only on update; we validate a create. With
        // optionalOldSelf they would run on create too, with oldSelf = optional.none(), which needs CEL
        // optionals this evaluator does not bind: say so rather than pass silently.
        return rule.optionalOldSelf === true
            ? `${where}: rule ${JSON.stringify(rule.rule)} uses optionalOldSelf, which this validator cannot evaluate`
            : undefined;
    }
    const self = toCel(schema, value);
    const result = compiled.program({ self });
    if (result === true) {
        return undefined;
    }
    if (result === false) {
        return `${where}: ${ruleMessage(rule, self)}`;
    }
    const detail = isCelError(result) ? result.message : `returned ${celShown(result)}, not a bool`;
    return `${where}: rule ${JSON.stringify(rule.rule)} could not be evaluated: ${detail}`;
}

/**
 * Walks schema and value together and applies what ajv cannot: every `x-kubernetes-validations` rule at
 * the node it is attached to (per item for rules under `items`, per value under `additionalProperties`),
 * and key uniqueness of `x-kubernetes-list-type: map` lists. Like the API server, absent and null values
 * are not evaluated.
 */
function walkSemantics(schema: StructuralSchema, value: unknown, pointer: string, errors: string[]): void {
    if (value === undefined || value === null) {
        return;
    }
    for (const rule of schema["x-kubernetes-validations"] ?? []) {
        const error = evaluateRule(rule, schema, value, pointer);
        if (error !== undefined) errors.push(error);
    }
    if (Array.isArray(value)) {
        const keys = schema["x-kubernetes-list-map-keys"];
        if (schema["x-kubernetes-list-type"] === "map" && keys !== undefined) {
            const seen = new Map<string, number>();
            value.forEach((item, index) => {
                const id = JSON.stringify(keys.map((k) => (isObject(item) ? item[k] : undefined)));
                const first = seen.get(id);
                if (first !== undefined)
                    errors.push(`${pointer}/${index}: duplicate entry for key ${id} (also at index ${first})`);
                else seen.set(id, index);
            });
        }
        if (schema.items !== undefined) {
            const items = schema.items;
            value.forEach((item, index) => walkSemantics(items, item, `${pointer}/${index}`, errors));
        }
    } else if (isObject(value)) {
        const additional = isObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
        for (const [key, member] of Object.entries(value)) {
            const child = schema.properties?.[key] ?? additional;
            if (child !== undefined) walkSemantics(child, member, `${pointer}/${pointerSegment(key)}`, errors);
        }
    }
}

/**
 * Validates a QuayRegistry object (apiVersion/kind/metadata/spec/status) as the API server would on create:
 * against the CRD's served storage version's `openAPIV3Schema` (structural-schema extensions honoured,
 * unknown fields rejected, metadata checked loosely), then every `x-kubernetes-validations` CEL rule found
 * in the schema, evaluated with @bufbuild/cel at the node it is attached to.
 *
 * @returns one human-readable line per problem (`<JSON pointer>: <message>`; a failing CEL rule gives its
 *   `message`), empty when valid.
 * @throws Error with {@link REFERENCE_SKIP_MESSAGE} when the schemas are missing (see {@link referenceDir} under
 *   `CI=true`), or when a schema file is not the pinned upstream file.
 */
export function validateQuayRegistry(manifest: unknown): string[] {
    const crd = quayRegistryCrd();
    const wire = wireForm(manifest);
    if ("error" in wire) {
        return [wire.error];
    }
    const errors = crd.validate(wire.data) ? [] : formatAjvErrors(crd.validate.errors, UNKNOWN_FIELD_HINT);
    walkSemantics(crd.schema, wire.data, "", errors);
    return errors;
}
