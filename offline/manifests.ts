/**
 * Every Kubernetes object the program registers, as the API server would receive it, checked against
 * its schema: Kubernetes' own kinds with the validators kubernetes-models generates from Kubernetes'
 * OpenAPI schema, CRD-backed kinds (OLM, Quay) with ajv against the CRD's `openAPIV3Schema`, and all of
 * them against the ObjectMeta rules the API server applies in code (names, labels, annotations).
 *
 * Used by the tests and the offline renderer, so it reads nothing from `test/`. The CRDs are pinned
 * upstream files ({@link UPSTREAM_SCHEMAS}), found by {@link findSchemaDir}: `$QUAY_GEOREP_SCHEMAS`, else
 * `.schemas/` (written by `npm run schemas`), else `../shared/reference/`. Without them the CRD-backed
 * kinds are listed as not validated and the caller decides whether that fails (CI) or warns (the renderer).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { _, type ErrorObject, type FormatDefinition, type ValidateFunction } from "ajv";
import { parse as parseYaml } from "yaml";
import { PROJECT_ROOT } from "../lib/projectRoot";
// One module per kind: a group's index would load every kind's validator.
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { AUTONAME_SUFFIX, plain, RecordedResource, SECRET_PLACEHOLDER } from "./runtime";
import { cachedValidators } from "./validatorCache";

type JsonObject = { [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------------------
// The object a resource sends
// ---------------------------------------------------------------------------------------------------------

export { AUTONAME_SUFFIX } from "./runtime";

/** Stands in for a value known only after apply, where the field needs a DNS-1123 name (or any string). */
export const UNKNOWN_NAME = "placeholder";

/** Pulumi Kubernetes tokens that are not Kubernetes objects (components and Helm releases). */
const NOT_OBJECTS = /^kubernetes:(helm\.sh|yaml|kustomize)[/:]/;

const COMPUTED = /^\(known after apply: .*\)$/s;

function isUnknown(value: unknown): value is string {
    return typeof value === "string" && (value === SECRET_PLACEHOLDER || COMPUTED.test(value));
}

/** JSON Pointer segment escaping, matching the `instancePath`s ajv reports. */
function pointerSegment(key: string | number): string {
    return String(key).replace(/~/g, "~0").replace(/\//g, "~1");
}

/** `apiVersion` and `kind` from a type token: `kubernetes:core/v1:Secret` → `v1`, `Secret`. */
function typeMeta(type: string): { apiVersion: string; kind: string } | undefined {
    const match = /^kubernetes:([^:]+\/[^:/]+):([A-Za-z0-9]+)$/.exec(type);
    if (match === null || NOT_OBJECTS.test(type)) return undefined;
    const [group, version] = match[1].split("/");
    return { apiVersion: group === "core" ? version : `${group}/${version}`, kind: match[2] };
}

/** Maps whose values are base64 (`""` stands in for an unknown one) or free text, by kind. */
const DATA_FIELDS: Readonly<Record<string, Readonly<Record<string, "base64" | "text">>>> = {
    "v1/Secret": { data: "base64", stringData: "text" },
    "v1/ConfigMap": { data: "text", binaryData: "base64" },
};

/** A manifest and the JSON Pointers where it holds a stand-in for a value not known offline. */
interface BuiltManifest {
    readonly manifest: JsonObject & { apiVersion: string; kind: string; metadata: JsonObject };
    readonly standIns: ReadonlySet<string>;
}

function build(r: RecordedResource): BuiltManifest | undefined {
    const meta = typeMeta(r.type);
    if (meta === undefined) return undefined;
    const standIns = new Set<string>();
    // What the provider serialises: secrets unwrapped, undefined members gone.
    const inputs = JSON.parse(JSON.stringify(plain(r.inputs) ?? {})) as JsonObject;
    const replace = (value: unknown, pointer: string, standIn: string): unknown => {
        if (isUnknown(value)) {
            standIns.add(pointer);
            return standIn;
        }
        if (Array.isArray(value)) return value.map((v, i) => replace(v, `${pointer}/${i}`, standIn));
        if (isObject(value)) {
            return Object.fromEntries(
                Object.entries(value).map(([k, v]) => [k, replace(v, `${pointer}/${pointerSegment(k)}`, standIn)]),
            );
        }
        return value;
    };
    const key = `${meta.apiVersion}/${meta.kind}`;
    const manifest: JsonObject = { ...inputs, ...meta };
    for (const [field, value] of Object.entries(manifest)) {
        const data = DATA_FIELDS[key]?.[field];
        if (data !== undefined && !isObject(value)) {
            // Redacted or unknown as a whole (a secret map): an empty map is what validates.
            standIns.add(`/${field}`);
            manifest[field] = {};
        } else if (field !== "apiVersion" && field !== "kind") {
            manifest[field] = replace(value, `/${pointerSegment(field)}`, data === "base64" ? "" : UNKNOWN_NAME);
        }
    }
    const metadata: JsonObject = isObject(manifest.metadata) ? manifest.metadata : {};
    if (metadata.name === undefined && metadata.generateName === undefined) {
        metadata.name = `${r.name}-${AUTONAME_SUFFIX}`;
        metadata.annotations = { ...(isObject(metadata.annotations) ? metadata.annotations : {}) };
        (metadata.annotations as JsonObject)["pulumi.com/autonamed"] = "true";
    }
    manifest.metadata = metadata;
    return { manifest: manifest as BuiltManifest["manifest"], standIns };
}

/**
 * The Kubernetes object a `kubernetes:*` resource would send: apiVersion and kind from its type token,
 * secrets unwrapped, values known only after apply replaced by a valid stand-in ({@link UNKNOWN_NAME},
 * or `""` in base64 data; a redacted or unknown secret map by `{}`), and Pulumi's autoname
 * (`<resource name>-` {@link AUTONAME_SUFFIX}, annotated `pulumi.com/autonamed`) when `metadata.name`
 * and `metadata.generateName` are absent.
 *
 * @returns undefined for other providers' resources, the Kubernetes provider itself and Helm/YAML components.
 */
export function manifestOf(r: RecordedResource): object | undefined {
    return build(r)?.manifest;
}

// ---------------------------------------------------------------------------------------------------------
// ObjectMeta rules the API server applies in code (apimachinery validation), not in the OpenAPI schema
// ---------------------------------------------------------------------------------------------------------

/** A problem found in one object: a Kubernetes field path (empty for the object itself) and why. */
interface Finding {
    readonly field: string;
    readonly reason: string;
}

interface NameRule {
    readonly max: number;
    readonly pattern: RegExp;
    /** What the pattern means, in words. */
    readonly shape: string;
    /** Why the limit is below the pattern's own, when it is. */
    readonly why?: string;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_SHAPE =
    "a lowercase RFC 1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit)";
const SUBDOMAIN: NameRule = {
    max: 253,
    pattern: DNS1123_SUBDOMAIN,
    shape: "a lowercase RFC 1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)",
};
const LABEL: NameRule = { max: 63, pattern: DNS1123_LABEL, shape: LABEL_SHAPE };
/** RBAC names are path segments (`ValidateRBACName`): anything but `.`, `..`, `/` and `%`. */
const PATH_SEGMENT: NameRule = {
    max: 253,
    pattern: /^(?!\.\.?$)[^/%]+$/,
    shape: "a path segment (not '.' or '..', no '/' or '%')",
};

/** Name rules by `<apiVersion>/<kind>`; every other kind's name is a DNS-1123 subdomain. */
const NAME_RULES: Readonly<Record<string, NameRule>> = {
    "v1/Namespace": LABEL,
    // ValidateServiceName is a DNS-1035 label: it must also start with a letter.
    "v1/Service": {
        max: 63,
        pattern: /^[a-z]([-a-z0-9]*[a-z0-9])?$/,
        shape: "a lowercase RFC 1035 label (lower-case letters, digits and '-', starting with a letter and ending with a letter or digit)",
    },
    // The API server takes a subdomain of at most 63; Kubernetes' Job docs ask for a DNS label, which
    // pod hostnames (derived from the Job's name) need.
    "batch/v1/Job": {
        ...LABEL,
        why: "the Job controller puts the name in the batch.kubernetes.io/job-name label, whose values are at most 63",
    },
    "batch/v1/CronJob": {
        ...SUBDOMAIN,
        max: 52,
        why: "the CronJob controller appends 11 characters to name its Jobs",
    },
    "rbac.authorization.k8s.io/v1/Role": PATH_SEGMENT,
    "rbac.authorization.k8s.io/v1/RoleBinding": PATH_SEGMENT,
    "rbac.authorization.k8s.io/v1/ClusterRole": PATH_SEGMENT,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": PATH_SEGMENT,
};

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME_SHAPE =
    "a qualified name: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
/** Total size of all annotations (`TotalAnnotationSizeLimitB`). */
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** apimachinery `IsQualifiedName`: `[prefix/]name`. */
function isQualifiedName(key: string): boolean {
    const parts = key.split("/");
    if (parts.length > 2) return false;
    const name = parts[parts.length - 1];
    if (name.length > 63 || !QUALIFIED_NAME_PART.test(name)) return false;
    if (parts.length === 1) return true;
    return parts[0].length > 0 && parts[0].length <= 253 && DNS1123_SUBDOMAIN.test(parts[0]);
}

/** Kubernetes field path of a member (`metadata.labels[app.kubernetes.io/name]`, `containers[0]`). */
function child(parent: string, key: string | number): string {
    if (typeof key === "number") return `${parent}[${key}]`;
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return parent === "" ? key : `${parent}.${key}`;
    return `${parent}[${key}]`;
}

function checkName(value: unknown, field: string, rule: NameRule): Finding[] {
    if (typeof value !== "string") return [];
    const found: Finding[] = [];
    if (value.length > rule.max) {
        const why = rule.why === undefined ? "" : `: ${rule.why}`;
        found.push({ field, reason: `must be no more than ${rule.max} characters (got ${value.length})${why}` });
    }
    if (!rule.pattern.test(value))
        found.push({ field, reason: `must be ${rule.shape} (got ${JSON.stringify(value)})` });
    return found;
}

/** Labels and annotations of one ObjectMeta (the object's own, or a template's). */
function checkLabelsAndAnnotations(metadata: JsonObject, at: string): Finding[] {
    const found: Finding[] = [];
    const labelsAt = child(at, "labels");
    for (const [key, value] of Object.entries(isObject(metadata.labels) ? metadata.labels : {})) {
        if (!isQualifiedName(key)) {
            found.push({ field: labelsAt, reason: `key ${JSON.stringify(key)} must be ${QUALIFIED_NAME_SHAPE}` });
        }
        if (typeof value === "string" && (value.length > 63 || !LABEL_VALUE.test(value))) {
            found.push({
                // Map keys always in brackets, as the API server writes them (`metadata.labels[app]`).
                field: `${labelsAt}[${key}]`,
                reason: `must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, or empty (got ${JSON.stringify(value)})`,
            });
        }
    }
    const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
    const annotationsAt = child(at, "annotations");
    let bytes = 0;
    for (const [key, value] of Object.entries(annotations)) {
        // ValidateAnnotations lower-cases the key first: upper-case annotation keys are allowed.
        if (!isQualifiedName(key.toLowerCase())) {
            found.push({ field: annotationsAt, reason: `key ${JSON.stringify(key)} must be ${QUALIFIED_NAME_SHAPE}` });
        }
        bytes += Buffer.byteLength(key) + (typeof value === "string" ? Buffer.byteLength(value) : 0);
    }
    if (bytes > ANNOTATIONS_MAX_BYTES) {
        found.push({
            field: annotationsAt,
            reason: `must have at most ${ANNOTATIONS_MAX_BYTES} bytes in all (got ${bytes})`,
        });
    }
    return found;
}

/** Nested ObjectMeta of Kubernetes' own kinds (pod templates, job templates): every member named `metadata`. */
function nestedMetadata(value: unknown, at: string, found: Finding[]): void {
    if (Array.isArray(value)) value.forEach((v, i) => nestedMetadata(v, child(at, i), found));
    if (!isObject(value)) return;
    for (const [key, member] of Object.entries(value)) {
        const here = child(at, key);
        if (key === "metadata" && isObject(member)) found.push(...checkLabelsAndAnnotations(member, here));
        nestedMetadata(member, here, found);
    }
}

function checkMetadata(manifest: BuiltManifest["manifest"], key: string, builtIn: boolean): Finding[] {
    const metadata = manifest.metadata;
    const found = [
        ...checkName(metadata.name, "metadata.name", NAME_RULES[key] ?? SUBDOMAIN),
        ...checkName(metadata.namespace, "metadata.namespace", LABEL),
        ...checkLabelsAndAnnotations(metadata, "metadata"),
    ];
    if (builtIn) {
        for (const [field, value] of Object.entries(manifest)) {
            if (field !== "metadata") nestedMetadata(value, field, found);
        }
    }
    return found;
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes' own kinds (kubernetes-models: Kubernetes 1.33's OpenAPI schema, compiled to ajv validators)
// ---------------------------------------------------------------------------------------------------------

/** A kubernetes-models class: `new Model(obj).validate()` throws an ajv `ValidationError`. */
type Model = new (data: never) => { validate(): void };

/** Kubernetes' own kinds the program may create, by `<apiVersion>/<kind>`; add one line per new kind. */
const BUILT_IN: Readonly<Record<string, Model>> = {
    "v1/Namespace": Namespace,
    "v1/Secret": Secret,
    "v1/ConfigMap": ConfigMap,
    "v1/ServiceAccount": ServiceAccount,
    "v1/Service": Service,
    "batch/v1/Job": Job,
    "batch/v1/CronJob": CronJob,
    "rbac.authorization.k8s.io/v1/Role": Role,
    "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
    "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
};

function builtInErrors(model: Model, manifest: JsonObject): ErrorObject[] {
    try {
        new model(manifest as never).validate();
        return [];
    } catch (err) {
        const errors = (err as { errors?: unknown }).errors;
        if (!Array.isArray(errors)) throw err;
        return errors as ErrorObject[];
    }
}

// ---------------------------------------------------------------------------------------------------------
// CRD structural schemas (also used by test/support/schemas.ts, which adds the CEL rules)
// ---------------------------------------------------------------------------------------------------------

/** One `x-kubernetes-validations` entry. */
export interface ValidationRule {
    rule: string;
    message?: string;
    messageExpression?: string;
    fieldPath?: string;
    reason?: string;
    optionalOldSelf?: boolean;
}

/** The subset of a Kubernetes structural schema (OpenAPI v3.0 + x-kubernetes-*) this module interprets. */
export interface StructuralSchema {
    type?: string;
    properties?: Record<string, StructuralSchema>;
    items?: StructuralSchema;
    additionalProperties?: StructuralSchema | boolean;
    allOf?: StructuralSchema[];
    anyOf?: StructuralSchema[];
    oneOf?: StructuralSchema[];
    not?: StructuralSchema;
    nullable?: boolean;
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: boolean | number;
    exclusiveMaximum?: boolean | number;
    "x-kubernetes-int-or-string"?: boolean;
    "x-kubernetes-preserve-unknown-fields"?: boolean;
    "x-kubernetes-embedded-resource"?: boolean;
    "x-kubernetes-list-type"?: "atomic" | "set" | "map";
    "x-kubernetes-list-map-keys"?: string[];
    "x-kubernetes-validations"?: ValidationRule[];
    [keyword: string]: unknown;
}

/** One version of a CustomResourceDefinition. */
export interface CrdVersion {
    name: string;
    served?: boolean;
    storage?: boolean;
    schema?: { openAPIV3Schema?: StructuralSchema };
}

/** The parts of a CustomResourceDefinition read here. */
export interface Crd {
    spec: { group: string; names: { kind: string }; versions: CrdVersion[] };
}

/** Value keywords copied unchanged from a structural schema into the JSON schema given to ajv. */
const VALUE_KEYWORDS = [
    "type",
    "enum",
    "format",
    "minimum",
    "maximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "required",
];

function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
    return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}

/**
 * `metadata` is `type: object` with nothing else in every CRD: the API server validates it itself. Check it
 * loosely, the way it will be checked there: name/namespace are strings (DNS subdomain / label), labels and
 * annotations are string maps; other ObjectMeta fields are allowed.
 */
export const METADATA_SCHEMA: JsonObject = {
    type: "object",
    properties: {
        name: {
            type: "string",
            pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            maxLength: 253,
        },
        generateName: { type: "string" },
        namespace: {
            type: "string",
            pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            maxLength: 63,
        },
        labels: { type: "object", additionalProperties: { type: "string" } },
        annotations: { type: "object", additionalProperties: { type: "string" } },
    },
};

/**
 * Translates a structural schema node into a draft-07 JSON schema with the API server's semantics:
 * - `x-kubernetes-int-or-string`: integer or string (the generated `anyOf` restating that is dropped so a
 *   mismatch gives one error, not three);
 * - `nullable`: `null` added to the type (without it, the server prunes nulls, i.e. we must not send them);
 * - `x-kubernetes-preserve-unknown-fields`: unknown members allowed; otherwise any member not in
 *   `properties` (or `additionalProperties`) is an error, because the server would drop it;
 * - `x-kubernetes-embedded-resource`: apiVersion/kind/metadata implied;
 * - `x-kubernetes-list-type: set`: items unique (list-type `map` keys are checked by the caller);
 * - OpenAPI 3.0 boolean `exclusiveMinimum`/`exclusiveMaximum` become draft-07 numbers;
 * - `x-kubernetes-map-type`, `description`, `default` and other annotations are dropped.
 */
export function structuralToJsonSchema(node: StructuralSchema): JsonObject {
    const out: JsonObject = {};
    for (const keyword of VALUE_KEYWORDS) {
        if (node[keyword] !== undefined) out[keyword] = node[keyword];
    }
    if (node.exclusiveMinimum === true && node.minimum !== undefined) {
        delete out.minimum;
        out.exclusiveMinimum = node.minimum;
    }
    if (node.exclusiveMaximum === true && node.maximum !== undefined) {
        delete out.maximum;
        out.exclusiveMaximum = node.maximum;
    }
    const properties: Record<string, JsonObject> = node.properties
        ? mapValues(node.properties, structuralToJsonSchema)
        : {};
    if (node["x-kubernetes-embedded-resource"] === true) {
        properties.apiVersion ??= { type: "string" };
        properties.kind ??= { type: "string" };
        properties.metadata ??= METADATA_SCHEMA;
    }
    if (Object.keys(properties).length > 0) out.properties = properties;
    if (node.items !== undefined) out.items = structuralToJsonSchema(node.items);
    if (typeof node.additionalProperties === "boolean") {
        out.additionalProperties = node.additionalProperties;
    } else if (node.additionalProperties !== undefined) {
        out.additionalProperties = structuralToJsonSchema(node.additionalProperties);
    }
    for (const keyword of ["allOf", "anyOf", "oneOf"] as const) {
        const branches = node[keyword];
        if (branches !== undefined) out[keyword] = branches.map(structuralToJsonSchema);
    }
    if (node.not !== undefined) out.not = structuralToJsonSchema(node.not);

    if (node["x-kubernetes-int-or-string"] === true) {
        out.type = ["integer", "string"];
        const anyOf = node.anyOf;
        if (anyOf?.every((branch) => Object.keys(branch).every((k) => k === "type"))) delete out.anyOf;
    }
    const isObjectNode = out.type === "object" || node.properties !== undefined;
    if (
        isObjectNode &&
        node["x-kubernetes-preserve-unknown-fields"] !== true &&
        out.additionalProperties === undefined
    ) {
        // Also covers `type: object` with no properties at all: the server prunes every member of it.
        out.additionalProperties = false;
    }
    if (node["x-kubernetes-list-type"] === "set") out.uniqueItems = true;
    if (node.nullable === true) {
        if (typeof out.type === "string") out.type = [out.type, "null"];
        else if (Array.isArray(out.type)) out.type = [...(out.type as unknown[]), "null"];
        if (Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
    }
    return out;
}

const INT32 = 2 ** 31;
/** RFC 3339 date-time, which is what the API server's `date-time` format accepts. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * The formats the reference CRDs use, as ajv checks them. Range checks only: `type: integer` already
 * reports non-integers. int64 beyond 2^53 cannot be exact in JS, so anything outside the safe range is
 * refused rather than silently rounded. Exported for the cached validators, which require them from here.
 */
export const CRD_FORMATS: Readonly<Record<string, FormatDefinition<number> | FormatDefinition<string>>> = {
    int32: { type: "number", validate: (n: number) => !Number.isInteger(n) || (n >= -INT32 && n < INT32) },
    int64: { type: "number", validate: (n: number) => !Number.isInteger(n) || Number.isSafeInteger(n) },
    "date-time": { type: "string", validate: (s: string) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)) },
};

/**
 * An ajv instance for schemas from {@link structuralToJsonSchema}: all errors, strict (the translated schema
 * only carries keywords chosen here), union types (from nullable and int-or-string), verbose (errors carry
 * the offending value). Only the formats the reference CRDs use are registered, so a new upstream format
 * fails loudly at compile time instead of being skipped. `cacheable`: keeps each validator's source, for
 * the validator cache (the generated module requires {@link CRD_FORMATS} from this file).
 */
export function newCrdAjv(cacheable = false): Ajv {
    const code = cacheable ? { source: true, formats: _`require(${__filename}).CRD_FORMATS` } : undefined;
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true, code });
    for (const [name, format] of Object.entries(CRD_FORMATS)) ajv.addFormat(name, format);
    return ajv;
}

// ---------------------------------------------------------------------------------------------------------
// Locating the upstream schemas
// ---------------------------------------------------------------------------------------------------------

/** One upstream schema file: where it sits in a schema folder, and the pinned upstream file it is made from. */
export interface UpstreamSchema {
    /** Path inside a schema folder (laid out as `../shared/reference/`). */
    readonly file: string;
    /** SHA-256 (hex) of that file: a copy with any other hash is refused. */
    readonly sha256: string;
    /** The GitHub repository, `<owner>/<name>`. */
    readonly repo: string;
    /** The pinned commit of that repository. */
    readonly commit: string;
    /** The upstream file's path in the repository. */
    readonly path: string;
    /** SHA-256 of the upstream file itself (equal to `sha256` for a file copied unchanged). */
    readonly upstreamSha256: string;
    /**
     * When set, the upstream file is a Python module and `file` is this variable of it, dumped as JSON with
     * `json.dumps(value, indent=2, ensure_ascii=False)` and a newline. Default: `file` is the upstream file.
     */
    readonly pythonVariable?: string;
}

/**
 * Every upstream schema the tests and the renderer read, pinned by commit and SHA-256 (the provenance is
 * also in `../shared/reference/README.md`). `npm run schemas` (scripts/fetch-schemas.ts) downloads exactly
 * these; bumping one means changing its commit and both hashes here.
 */
export const UPSTREAM_SCHEMAS: readonly UpstreamSchema[] = [
    {
        file: "quay-operator/quayregistries.crd.yaml",
        sha256: "ea94a06d03429841e8ceb99b5d8ca7db1d5504045575552a09849b8d7cba2625",
        repo: "quay/quay-operator",
        commit: "328d8864f528a87c2f6cdc3022058e42a546aa9b",
        path: "bundle/manifests/quayregistries.crd.yaml",
        upstreamSha256: "ea94a06d03429841e8ceb99b5d8ca7db1d5504045575552a09849b8d7cba2625",
    },
    {
        file: "quay/config-schema.json",
        sha256: "bf9463313ce0f3a80aae07c521ce494d617ab32b29402d441ba38608653edbbf",
        repo: "quay/quay",
        commit: "ffba0c70e2d8d522290a4fbbaa704dbf2fc37f34",
        path: "util/config/schema.py",
        upstreamSha256: "f60c792953732d2333a514bc7becfbfd265b9bc1a86b49ca2d244768267bc3de",
        pythonVariable: "CONFIG_SCHEMA",
    },
    {
        file: "olm/operators.coreos.com_subscriptions.yaml",
        sha256: "ef3f881564f0a89e8a637cb417d7a4d3e9c465099d34bf27db2187f603cadd59",
        repo: "operator-framework/api",
        commit: "3048ccdc52d1858783800c6d40305357aff66c8c",
        path: "crds/operators.coreos.com_subscriptions.yaml",
        upstreamSha256: "ef3f881564f0a89e8a637cb417d7a4d3e9c465099d34bf27db2187f603cadd59",
    },
    {
        file: "olm/operators.coreos.com_operatorgroups.yaml",
        sha256: "dbde712a47a115c4522728645cc02eba6e099f17c3d17dda84dbafcf6fd2935c",
        repo: "operator-framework/api",
        commit: "3048ccdc52d1858783800c6d40305357aff66c8c",
        path: "crds/operators.coreos.com_operatorgroups.yaml",
        upstreamSha256: "dbde712a47a115c4522728645cc02eba6e099f17c3d17dda84dbafcf6fd2935c",
    },
];

/** Environment variable naming the one schema folder to use instead of the default lookup. */
export const SCHEMAS_ENV = "QUAY_GEOREP_SCHEMAS";

const REPOSITORY_DIR = PROJECT_ROOT;

/** Where `npm run schemas` writes the schemas: `<repo>/.schemas` (git-ignored). */
export const FETCHED_SCHEMAS_DIR = path.join(REPOSITORY_DIR, ".schemas");

/** The reference folder beside the repository (`<repo>/../shared/reference`), for machines without internet. */
export const SHARED_REFERENCE_DIR = path.resolve(REPOSITORY_DIR, "..", "shared", "reference");

/**
 * The folders to look in, in order: `$QUAY_GEOREP_SCHEMAS` alone when it is set (an explicit choice must not
 * fall back silently to another copy), else `<repo>/.schemas`, then `<repo>/../shared/reference`.
 */
export function schemaSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
    const chosen = env[SCHEMAS_ENV];
    return chosen !== undefined && chosen !== "" ? [path.resolve(chosen)] : [FETCHED_SCHEMAS_DIR, SHARED_REFERENCE_DIR];
}

/** True when `dir` holds every file of {@link UPSTREAM_SCHEMAS} (their hashes are checked when read). */
export function isCompleteSchemaDir(dir: string): boolean {
    return UPSTREAM_SCHEMAS.every(({ file }) => fs.existsSync(path.join(dir, file)));
}

/** The first folder of `searchPath` that holds every upstream schema, or undefined when none does. */
export function findSchemaDir(searchPath: readonly string[] = schemaSearchPath()): string | undefined {
    return searchPath.find(isCompleteSchemaDir);
}

/** Why {@link findSchemaDir} found nothing and what to do about it: the folders searched, the command to run. */
export function schemasNotFoundMessage(env: NodeJS.ProcessEnv = process.env): string {
    const searched = schemaSearchPath(env);
    const fix =
        searched.length === 1
            ? `point ${SCHEMAS_ENV} at a complete copy, or unset it and run \`npm run schemas\``
            : `run \`npm run schemas\` to download them into ${FETCHED_SCHEMAS_DIR}, or provide ${SHARED_REFERENCE_DIR}`;
    const where = searched.length === 1 ? `${searched[0]} (${SCHEMAS_ENV})` : searched.join(" or ");
    return `upstream schemas not found: no complete set in ${where}; ${fix}`;
}

function sha256Of(bytes: Buffer): string {
    return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Reads one upstream schema file from a schema folder, refusing it unless its SHA-256 is the pinned one: a
 * validator built from an edited or outdated schema would prove nothing.
 *
 * @param file a `file` of {@link UPSTREAM_SCHEMAS}, e.g. `quay/config-schema.json`.
 * @throws Error naming the file, both hashes and the fix when the content is not the pinned one.
 */
export function readSchemaFile(dir: string, file: string): string {
    const pinned = UPSTREAM_SCHEMAS.find((s) => s.file === file);
    if (pinned === undefined) {
        throw new Error(`${file} is not an upstream schema; pin it in UPSTREAM_SCHEMAS (offline/manifests.ts)`);
    }
    const full = path.join(dir, file);
    const bytes = fs.readFileSync(full);
    const actual = sha256Of(bytes);
    if (actual !== pinned.sha256) {
        throw new Error(
            `${full}: SHA-256 is ${actual}, not the pinned ${pinned.sha256} (${pinned.repo} ${pinned.path} at ` +
                `${pinned.commit}); refusing a modified or stale copy: delete it and run \`npm run schemas\``,
        );
    }
    return bytes.toString("utf8");
}

// ---------------------------------------------------------------------------------------------------------
// Loading the CRDs
// ---------------------------------------------------------------------------------------------------------

/** The CRDs this program's custom resources need (files of {@link UPSTREAM_SCHEMAS}), with the kinds each serves. */
const CRD_FILES: readonly { readonly file: string; readonly kinds: readonly string[] }[] = [
    { file: "olm/operators.coreos.com_subscriptions.yaml", kinds: ["operators.coreos.com/v1alpha1/Subscription"] },
    {
        file: "olm/operators.coreos.com_operatorgroups.yaml",
        kinds: ["operators.coreos.com/v1/OperatorGroup", "operators.coreos.com/v1alpha2/OperatorGroup"],
    },
    { file: "quay-operator/quayregistries.crd.yaml", kinds: ["quay.redhat.com/v1/QuayRegistry"] },
];

/** Schemas for the CRD-backed kinds, from {@link loadManifestSchemas}. */
export interface ManifestSchemas {
    /** A validator per served version of each CRD found, by `<apiVersion>/<kind>`. */
    readonly crds: ReadonlyMap<string, ValidateFunction>;
    /** CRD-backed kinds whose CRD file is absent, by `<apiVersion>/<kind>`, to the path looked for. */
    readonly missing: ReadonlyMap<string, string>;
    /** One line per absent CRD file, `not validated: <path> missing`: not problems; the caller decides. */
    readonly notValidated: readonly string[];
}

/** The JSON schema of one served version: its schema, with apiVersion and kind pinned and ObjectMeta left to us. */
function versionSchema(schema: StructuralSchema, apiVersion: string, kind: string): JsonObject {
    const root = structuralToJsonSchema(schema);
    root.properties = {
        ...(root.properties as Record<string, JsonObject>),
        apiVersion: { const: apiVersion },
        kind: { const: kind },
        // Checked by checkMetadata, with the API server's own rules and messages.
        metadata: { type: "object" },
    };
    root.required = [...new Set(["apiVersion", "kind", ...((root.required as string[] | undefined) ?? [])])];
    return root;
}

/**
 * The validators of one CRD file's served versions, by `<apiVersion>/<kind>`. Compiling them is most of a
 * render's time, so they are kept compiled on disk (see offline/validatorCache.ts), by the file's pinned
 * SHA-256 (the text was checked against it) and this module's own code, which makes the schemas.
 */
function crdValidators(full: string, text: string, pinnedSha256: string): Readonly<Record<string, ValidateFunction>> {
    return cachedValidators("crd", [pinnedSha256, __filename, fs.readFileSync(__filename)], () => {
        const crd = parseYaml(text) as Crd;
        const kind = crd.spec.names.kind;
        const schemas: Record<string, JsonObject> = {};
        for (const version of crd.spec.versions.filter((v) => v.served === true)) {
            const schema = version.schema?.openAPIV3Schema;
            if (schema === undefined) throw new Error(`${full}: version ${version.name} has no openAPIV3Schema`);
            const apiVersion = `${crd.spec.group}/${version.name}`;
            schemas[`${apiVersion}/${kind}`] = versionSchema(schema, apiVersion, kind);
        }
        return { ajv: newCrdAjv(true), schemas };
    });
}

/**
 * Reads and compiles the CRDs of the program's custom resources (OLM Subscription and OperatorGroup, the
 * QuayRegistry) from `referenceDir`. A missing file is not an error: its kinds are listed in `missing` and
 * `notValidated`, and {@link validateManifests} skips their schema (not their ObjectMeta rules). A file
 * whose SHA-256 is not the pinned one is an error (see {@link readSchemaFile}).
 *
 * @param referenceDir a folder laid out as `../shared/reference/` (default: the one {@link findSchemaDir}
 *   finds, else the first folder searched, so the missing files are named where they were looked for).
 * @throws Error when a CRD file is present but not the pinned upstream file.
 */
export function loadManifestSchemas(referenceDir: string = findSchemaDir() ?? schemaSearchPath()[0]): ManifestSchemas {
    const crds = new Map<string, ValidateFunction>();
    const missing = new Map<string, string>();
    const notValidated: string[] = [];
    for (const { file, kinds } of CRD_FILES) {
        const full = path.join(referenceDir, file);
        if (!fs.existsSync(full)) {
            for (const kind of kinds) missing.set(kind, full);
            notValidated.push(`not validated: ${full} missing`);
            continue;
        }
        const text = readSchemaFile(referenceDir, file);
        const pinned = UPSTREAM_SCHEMAS.find((s) => s.file === file) as UpstreamSchema;
        for (const [key, validate] of Object.entries(crdValidators(full, text, pinned.sha256))) crds.set(key, validate);
    }
    return { crds, missing, notValidated };
}

// ---------------------------------------------------------------------------------------------------------
// Rules a CRD documents but does not enforce
// ---------------------------------------------------------------------------------------------------------

/** Closed sets a CRD's description states but its schema leaves open, by `<apiVersion>/<kind>`. */
const DOCUMENTED_ENUMS: Readonly<Record<string, readonly { path: readonly string[]; values: readonly string[] }[]>> = {
    // "Approval is the user approval policy for an InstallPlan. It must be one of "Automatic" or "Manual"."
    "operators.coreos.com/v1alpha1/Subscription": [
        { path: ["spec", "installPlanApproval"], values: ["Automatic", "Manual"] },
    ],
};

function checkDocumentedEnums(manifest: JsonObject, key: string): Finding[] {
    const found: Finding[] = [];
    for (const { path: at, values } of DOCUMENTED_ENUMS[key] ?? []) {
        let value: unknown = manifest;
        for (const segment of at) value = isObject(value) ? value[segment] : undefined;
        if (value !== undefined && !values.includes(value as string)) {
            found.push({
                field: at.reduce(child, ""),
                reason: `must be one of ${values.map((v) => JSON.stringify(v)).join(", ")} (got ${JSON.stringify(value)}): the CRD documents only these values, though its schema does not enforce them`,
            });
        }
    }
    return found;
}

// ---------------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------------

/** Resolves a JSON Pointer in `root` to a Kubernetes field path, and the value there. */
function locate(root: unknown, pointer: string): { field: string; value: unknown } {
    let field = "";
    let value = root;
    for (const raw of pointer === "" ? [] : pointer.slice(1).split("/")) {
        const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
        if (Array.isArray(value)) {
            field = child(field, Number(segment));
            value = value[Number(segment)];
        } else {
            field = child(field, segment);
            value = isObject(value) ? value[segment] : undefined;
        }
    }
    return { field, value };
}

const FORMATS: Readonly<Record<string, string>> = {
    byte: "base64 data",
    quantity: "a quantity (e.g. 500m, 1Gi)",
    int32: "a 32-bit integer",
    int64: "a 64-bit integer",
    "date-time": "an RFC 3339 date-time",
};

/** What `minLength`/`maxItems`/… count. */
const COUNTED: Readonly<Record<string, string>> = { Length: "characters", Items: "items", Properties: "members" };

/** What one ajv error requires, in words (without the value). */
function requirement(error: ErrorObject): string {
    const params: Record<string, unknown> = error.params;
    switch (error.keyword) {
        case "type":
            return String(params.type)
                .split(",")
                .map((t) => (t === "null" ? t : `${/^[aeiou]/.test(t) ? "an" : "a"} ${t}`))
                .join(" or ");
        case "format":
            return FORMATS[String(params.format)] ?? `a valid ${String(params.format)}`;
        case "enum":
            return `one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
        case "const":
            return JSON.stringify(params.allowedValue);
        case "pattern":
            return `a match for ${String(params.pattern)}`;
        case "maxLength":
        case "maxItems":
        case "maxProperties":
            return `no more than ${String(params.limit)} ${COUNTED[error.keyword.slice(3)]}`;
        case "minLength":
        case "minItems":
        case "minProperties":
            return `at least ${String(params.limit)} ${COUNTED[error.keyword.slice(3)]}`;
        case "maximum":
        case "minimum":
        case "exclusiveMaximum":
        case "exclusiveMinimum":
            return `${String(params.comparison)} ${String(params.limit)}`;
        case "uniqueItems":
            return `without duplicates (items ${String(params.j)} and ${String(params.i)} are equal)`;
        default:
            return `valid for "${error.keyword}" ${JSON.stringify(params)}`;
    }
}

/**
 * One finding per failing field. Where a field may take one of several shapes (`oneOf`/`anyOf`, e.g.
 * int-or-string, quantity), ajv reports each failed branch and then the union: those become one finding
 * naming the shapes.
 */
function schemaFindings(errors: readonly ErrorObject[], manifest: unknown, standIns: ReadonlySet<string>): Finding[] {
    const unions = new Set(
        errors.filter((e) => e.keyword === "oneOf" || e.keyword === "anyOf").map((e) => e.instancePath),
    );
    const found: Finding[] = [];
    const alternatives = new Map<string, string[]>();
    for (const error of errors) {
        const params: Record<string, unknown> = error.params;
        let pointer = error.instancePath;
        if (error.keyword === "required") pointer += `/${pointerSegment(String(params.missingProperty))}`;
        if (error.keyword === "additionalProperties")
            pointer += `/${pointerSegment(String(params.additionalProperty))}`;
        // A stand-in for a value known only after apply cannot be judged: it may not even be a string.
        if ([...standIns].some((u) => pointer === u || pointer.startsWith(`${u}/`))) continue;
        if (error.keyword === "if" || error.keyword === "oneOf" || error.keyword === "anyOf") continue;
        const { field, value } = locate(manifest, pointer);
        if (unions.has(error.instancePath)) {
            const list = alternatives.get(error.instancePath) ?? [];
            alternatives.set(error.instancePath, [...list, requirement(error)]);
        } else if (error.keyword === "required") {
            found.push({ field, reason: "is required" });
        } else if (error.keyword === "additionalProperties") {
            found.push({ field, reason: "is not a field of the schema (the API server would prune or refuse it)" });
        } else {
            found.push({ field, reason: `must be ${requirement(error)} (got ${JSON.stringify(value)})` });
        }
    }
    for (const [pointer, shapes] of alternatives) {
        const { field, value } = locate(manifest, pointer);
        found.push({ field, reason: `must be ${[...new Set(shapes)].join(" or ")} (got ${JSON.stringify(value)})` });
    }
    return found;
}

/**
 * Validates every Kubernetes object among `resources` (see {@link manifestOf}) as the API server would on
 * create: Kubernetes' own kinds against Kubernetes' OpenAPI schema (kubernetes-models), CRD-backed kinds
 * against their CRD's `openAPIV3Schema` (structure only: the QuayRegistry's CEL rules are checked by
 * test/support/schemas.ts), all of them against the ObjectMeta rules: `metadata.name` a DNS-1123 subdomain
 * of at most 253 characters, a DNS-1123 label for Namespaces and Jobs, a DNS-1035 label for Services, at
 * most 52 characters for CronJobs, a path segment for RBAC kinds; label keys and values, annotation keys.
 * A kind with no schema here is a problem; a CRD-backed kind whose CRD is missing is skipped (see
 * {@link ManifestSchemas.notValidated}).
 *
 * @returns one line per problem, `<type> <resource name> (<kind> <metadata.name>): <field path> <reason>`;
 *   empty when every object is valid.
 */
export function validateManifests(resources: readonly RecordedResource[], schemas: ManifestSchemas): string[] {
    const problems: string[] = [];
    for (const r of resources) {
        const built = build(r);
        if (built === undefined) continue;
        const { manifest, standIns } = built;
        const key = `${manifest.apiVersion}/${manifest.kind}`;
        const model = BUILT_IN[key];
        const crd = schemas.crds.get(key);
        const found = checkMetadata(manifest, key, model !== undefined);
        if (model !== undefined) {
            found.push(...schemaFindings(builtInErrors(model, manifest), manifest, standIns));
        } else if (crd !== undefined) {
            if (!crd(manifest)) found.push(...schemaFindings(crd.errors ?? [], manifest, standIns));
        } else if (!schemas.missing.has(key)) {
            found.push({ field: "", reason: `no schema known for ${key}; name one in offline/manifests.ts` });
        }
        found.push(...checkDocumentedEnums(manifest, key));
        const name = typeof manifest.metadata.name === "string" ? manifest.metadata.name : "(generated name)";
        const prefix = `${r.type} ${r.name} (${manifest.kind} ${name}): `;
        const lines = found.map((f) => prefix + (f.field === "" ? f.reason : `${f.field} ${f.reason}`));
        problems.push(...new Set(lines));
    }
    return problems;
}
