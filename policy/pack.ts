/**
 * The rules as `@pulumi/policy` policies: what the engine sends becomes a `PolicyResource`, what a
 * rule finds is reported back. Kept apart from `index.ts` (which serves the pack as soon as it is
 * loaded) so tests can call these policies directly.
 *
 * What a policy sees: a resource rule gets the resource's inputs and options (`protect` included;
 * `retainOnDelete` is not sent) but no dependencies; a stack rule gets every resource's outputs,
 * options and property dependencies, but neither the stack's outputs nor another stack's. Secret
 * values arrive in plain text. Values not known during preview would throw when read: they are
 * read once here and become `UNKNOWN`, which rules skip (the pack runs again on `pulumi up`).
 * Type tokens lose their azure-native API version (`normalizeType`), so rules name one token per type.
 */
import * as policy from "@pulumi/policy";
import type {
    Policies,
    PolicyResource as EngineResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import { PolicyResource, RESOURCE_RULES, ResourceRule, STACK_RULES, StackRule, UNKNOWN } from "./rules";
import { normalizeType } from "./stateful";

/** Thrown by @pulumi/policy on reading an unknown value; exported at runtime, missing from its typings. */
const { UnknownValueError } = policy as unknown as { UnknownValueError: new (...args: never[]) => Error };

/** Reads one property of an engine value: its plain value, or `UNKNOWN`. */
function read(container: unknown, key: string | number): unknown {
    try {
        return settle((container as Record<string | number, unknown>)[key]);
    } catch (err) {
        if (err instanceof UnknownValueError) return UNKNOWN;
        throw err;
    }
}

/** A copy of an engine value (props behind @pulumi/policy's unknown-checking proxy) with `UNKNOWN` for each unknown. */
export function settle(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return Array.from({ length: value.length }, (_, i) => read(value, i));
    return Object.fromEntries(Object.keys(value).map((k) => [k, read(value, k)]));
}

/** A resource under validation (inputs and options), as the rules see it. */
export function fromValidationArgs(args: ResourceValidationArgs): PolicyResource {
    const props = settle(args.props) as Record<string, unknown>;
    return {
        type: normalizeType(args.type),
        name: args.name,
        urn: args.urn,
        props,
        protect: args.opts.protect,
        ignoreChanges: args.opts.ignoreChanges,
    };
}

/** A resource of the stack (outputs, options and property dependencies), as the rules see it. */
export function fromStackResource(r: EngineResource): PolicyResource {
    const propertyDependencies = Object.fromEntries(
        Object.entries(r.propertyDependencies).map(([k, deps]) => [k, deps.map((d) => d.urn)]),
    );
    const props = settle(r.props) as Record<string, unknown>;
    return {
        type: normalizeType(r.type),
        name: r.name,
        urn: r.urn,
        props,
        protect: r.opts.protect,
        ignoreChanges: r.opts.ignoreChanges,
        propertyDependencies,
    };
}

/** A resource rule as a `validateResource` policy. */
export function resourcePolicy(rule: ResourceRule): ResourceValidationPolicy {
    return {
        name: rule.name,
        description: rule.description,
        validateResource: (args, reportViolation) => {
            if (!rule.types.includes(normalizeType(args.type))) return;
            for (const message of rule.check(fromValidationArgs(args), args.getConfig())) reportViolation(message);
        },
    };
}

/** A stack rule as a `validateStack` policy, with its config schema. */
export function stackPolicy(rule: StackRule): StackValidationPolicy {
    return {
        name: rule.name,
        description: rule.description,
        ...(rule.configSchema ? { configSchema: { properties: { ...rule.configSchema } } } : {}),
        validateStack: (args, reportViolation) => {
            const resources = args.resources.map(fromStackResource);
            for (const v of rule.check(resources, args.getConfig())) reportViolation(v.message, v.urn);
        },
    };
}

/** Every policy of the pack. */
export const POLICIES: Policies = [...RESOURCE_RULES.map(resourcePolicy), ...STACK_RULES.map(stackPolicy)];
