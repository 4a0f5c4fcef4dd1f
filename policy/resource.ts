/**
 * The one resource shape every rule reads, and small pure helpers over it.
 *
 * Both callers build this shape: the policy pack from what the Pulumi engine sends (`pack.ts`), the
 * tests from what the mock runtime recorded (`offline.ts`). Rules never see either source, so the
 * same rule judges a real preview and an offline run alike.
 */

/** A value the engine does not know yet (an output of a resource not created, during preview). */
export class Unknown {
    /** Printed in messages and JSON. */
    toJSON(): string {
        return "(unknown during preview)";
    }
}

/** The one `Unknown` instance. */
export const UNKNOWN = new Unknown();

/** True for a value not known yet. */
export function isUnknown(value: unknown): value is Unknown {
    return value instanceof Unknown;
}

/** One resource as the rules see it. */
export interface PolicyResource {
    /** Full type token, e.g. `aws:rds/instance:Instance`. */
    readonly type: string;
    /** Logical name (the last URN segment). */
    readonly name: string;
    readonly urn: string;
    /**
     * Properties with secrets in plain text (policies see secret values) and `UNKNOWN` where the
     * engine has no value yet. Resource rules get inputs; stack rules get inputs offline and the
     * engine's outputs in the pack (a superset of the inputs for every type checked here).
     */
    readonly props: Readonly<Record<string, unknown>>;
    /** The `protect` option; `undefined` when the source cannot tell. */
    readonly protect?: boolean;
    /** The `retainOnDelete` option; offline only (policies are not told it). */
    readonly retainOnDelete?: boolean;
    /** The `ignoreChanges` option (`["*"]`: every input kept at its last value). */
    readonly ignoreChanges?: readonly string[];
    /** Top-level property → URNs of the resources its value came from (stack rules only). */
    readonly propertyDependencies?: Readonly<Record<string, readonly string[]>>;
}

/** A broken rule: which policy, which resource (absent: the stack as a whole), and why. */
export interface Violation {
    readonly policy: string;
    readonly urn?: string;
    readonly message: string;
}

/** Policy config, per policy name (what `--policy-pack-config` holds). */
export type PolicyConfig = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** The JSON schema of one policy config key. */
export interface ConfigProperty {
    readonly type: "string" | "boolean" | "number";
    readonly pattern?: string;
    readonly description?: string;
}

/** A rule over one resource at a time: the pack runs it before the resource is created or updated. */
export interface ResourceRule {
    readonly name: string;
    readonly description: string;
    /** Type tokens the rule applies to. */
    readonly types: readonly string[];
    /** Messages for every problem of this resource (empty: it passes). */
    check(resource: PolicyResource, config: Readonly<Record<string, unknown>>): string[];
}

/** A rule over the whole stack (resources that refer to each other): the pack runs it after a preview or update. */
export interface StackRule {
    readonly name: string;
    readonly description: string;
    /** Config keys the rule reads, each with its JSON schema (set with `--policy-pack-config`). */
    readonly configSchema?: Readonly<Record<string, ConfigProperty>>;
    /** Every problem in the stack, each with the URN of the resource at fault where there is one. */
    check(resources: readonly PolicyResource[], config: Readonly<Record<string, unknown>>): Omit<Violation, "policy">[];
}

/** A property at a dotted path (`spec.components`); `undefined` when any step is missing or unknown. */
export function at(value: unknown, path: string): unknown {
    let current = value;
    for (const key of path.split(".")) {
        if (current === null || typeof current !== "object" || isUnknown(current)) return undefined;
        current = (current as Record<string, unknown>)[key];
    }
    return current;
}

/** The value as a list (an absent value is an empty list; an unknown one is `[UNKNOWN]`). */
export function list(value: unknown): unknown[] {
    if (Array.isArray(value)) return value;
    return value === undefined || value === null ? [] : [value];
}

/** The resources of the given types. */
export function ofTypes(resources: readonly PolicyResource[], types: readonly string[]): PolicyResource[] {
    return resources.filter((r) => types.includes(r.type));
}

/** Every string inside a value (a list of IDs, an `{ id }` object …). */
export function strings(value: unknown): string[] {
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(strings);
    if (value !== null && typeof value === "object" && !isUnknown(value)) return Object.values(value).flatMap(strings);
    return [];
}

/**
 * True when `from`'s property `property` refers to `to`: the engine recorded the dependency, or
 * the property holds a known name or ID of `to` (`toKeys`: the properties of `to` that carry it).
 */
export function refersTo(
    from: PolicyResource,
    property: string,
    to: PolicyResource,
    toKeys: readonly string[],
): boolean {
    if (from.propertyDependencies?.[property]?.includes(to.urn)) return true;
    const names = toKeys.map((k) => to.props[k]).filter((v): v is string => typeof v === "string" && v !== "");
    return strings(from.props[property]).some((s) => names.includes(s));
}

/** `type "name"` for messages about another resource than the one reported. */
export function describe(resource: PolicyResource): string {
    return `${resource.type} "${resource.name}"`;
}

/** A property value as messages show it: `not set`, or its JSON (`false`, `"TLS1_0"`). */
export function shown(value: unknown): string {
    return value === undefined ? "not set" : JSON.stringify(value);
}
