/**
 * The pack's rules on an offline run: turns what the mock runtime recorded (`offline/runtime.ts`)
 * into `PolicyResource`s, as the engine would describe the same program, and checks them. It lives
 * outside `policy/` because it needs the offline runtime, and the pack, uploaded on its own by
 * `pulumi policy publish`, imports nothing from outside its folder (this direction is fine).
 *
 * The engine tells a policy which resources each property's value came from. The mock runtime
 * records values only, but every value it makes up names its resource: an ID is `<name>-id` and an
 * output only the cloud knows is `(known after apply: <name>.<property>)`. Finding those names in a
 * property gives the same dependencies back.
 */
import { checkResources, PolicyConfig, PolicyResource, strings, Violation } from "../policy/rules";
import { normalizeType } from "../policy/stateful";
import { computedPlaceholder, plain, RecordedResource, RunResult } from "./runtime";

/** The ID the mock runtime gives a custom resource (`runProgram`'s `newResource`). */
const mockId = (name: string) => `${name}-id`;

/** The start of every placeholder for an output of the named resource. */
const placeholderPrefix = (name: string) => computedPlaceholder(name, "").slice(0, -1);

/** Top-level property → URNs of the custom resources whose made-up values it holds. */
function dependenciesOf(inputs: Record<string, unknown>, custom: readonly RecordedResource[], self: string) {
    const result: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(inputs)) {
        const texts = strings(value);
        const urns = custom
            .filter((r) => r.urn !== self)
            .filter((r) => texts.some((t) => t === mockId(r.name) || t.includes(placeholderPrefix(r.name))))
            .map((r) => r.urn);
        if (urns.length > 0) result[key] = urns;
    }
    return result;
}

/** The recorded resources as the rules see them: secrets in plain text, options, dependencies. */
export function fromRecorded(resources: readonly RecordedResource[]): PolicyResource[] {
    const custom = resources.filter((r) => r.custom);
    return resources.map((r) => {
        const props = plain(r.inputs) as Record<string, unknown>;
        return {
            type: normalizeType(r.type),
            name: r.name,
            urn: r.urn,
            props,
            protect: r.protect,
            retainOnDelete: r.retainOnDelete,
            ...(r.ignoreChanges !== undefined ? { ignoreChanges: r.ignoreChanges } : {}),
            propertyDependencies: dependenciesOf(props, custom, r.urn),
        };
    });
}

/** Every rule of the pack on one offline run of a stack. */
export function checkRun(result: RunResult, config: PolicyConfig = {}): Violation[] {
    return checkResources(fromRecorded(result.resources), config);
}
