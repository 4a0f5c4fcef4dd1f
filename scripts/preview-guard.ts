/**
 * `npm run preview-guard -- [--allow-stateful-changes] <preview.json | ->`
 *
 * Reads the JSON that `pulumi preview --json` prints and fails when a stateful resource (a
 * database, the Redis VM, a bucket, a resource group holding one, the key that encrypts database
 * fields: `STATEFUL_RESOURCES` in policy/stateful.ts) would be deleted, replaced or turned into
 * another type. CI runs it for every stack on every pull request; a PR labelled
 * `allow-stateful-changes` passes `--allow-stateful-changes` (or sets ALLOW_STATEFUL_CHANGES=true),
 * which turns that failure into a warning listing the same resources. Deleting a resource that is
 * `retainOnDelete` and tagged `quay-georep-state: retired` (a retired site's storage, dropped from
 * config) only forgets it: allowed without the label.
 *
 * The input is Pulumi's preview digest, read in pulumi/pulumi:
 * - `display.PreviewDigest` (pkg/display/json.go): `steps` and `diagnostics`, both `omitempty`;
 *   each diagnostic has a `severity` (`diag.Severity`, sdk/go/common/diag/sink.go: `error` among them).
 * - `ShowPreviewDigest` (pkg/backend/display/json.go) always adds the root stack's step, so a
 *   preview that ran the program lists at least one step; it serialises each step's `oldState`
 *   and `newState` as `apitype.ResourceV3` (sdk/go/common/apitype/core.go: `type`, `inputs`,
 *   `outputs`, `protect`, `retainOnDelete`), secrets shown as "[secret]".
 * - `DeleteStep.Apply` (pkg/resource/deploy/step.go) skips the provider's delete for an old state
 *   that is `retainOnDelete`: the resource leaves the state and stays in the cloud.
 *
 * Exit codes: 0 nothing stateful is lost (or the override is set); 1 a stateful resource would be
 * deleted, replaced or retyped; 2 unusable input: bad usage, not JSON or not a preview digest, a
 * preview that reported errors (its steps are not the whole change), or one without steps.
 */
import * as fs from "node:fs";
// The list of what holds data lives in the policy pack, which must stay self-contained (`pulumi
// policy publish` uploads policy/ alone); the guard is not uploaded, so it imports from there.
import { normalizeType, isServerResource, RETIRED, STATE_TAG, statefulRule, taggedRetired } from "../policy/stateful";

/** The label a pull request carries to allow these changes, and the flag CI then passes. */
export const OVERRIDE_LABEL = "allow-stateful-changes";
export const OVERRIDE_FLAG = `--${OVERRIDE_LABEL}`;
export const OVERRIDE_ENV = "ALLOW_STATEFUL_CHANGES";

/**
 * Step ops that destroy the existing cloud resource (apitype.OpType in pulumi/pulumi
 * sdk/go/common/apitype). A replacement appears as `replace` and, when replacement steps are
 * shown, also as `create-replacement` and `delete-replaced` for the same URN. The `read`/`discard`
 * ops only touch resources the program reads, never owns.
 */
export const DESTRUCTIVE_OPS: readonly string[] = [
    "delete",
    "replace",
    "create-replacement",
    "delete-replaced",
    "import-replacement",
];

/** A resource's state in a step (`apitype.ResourceV3`), as far as the guard reads it. */
export interface StepState {
    readonly urn?: string;
    readonly type?: string;
    readonly retainOnDelete?: boolean;
    readonly protect?: boolean;
    readonly inputs?: Readonly<Record<string, unknown>>;
    readonly outputs?: Readonly<Record<string, unknown>>;
}

/** One step of `pulumi preview --json`, as far as the guard reads it. */
export interface PreviewStep {
    readonly op: string;
    readonly urn: string;
    readonly type?: string;
    readonly newState?: StepState;
    readonly oldState?: StepState;
    readonly replaceReasons?: readonly string[];
}

/** One diagnostic of the preview (`display.PreviewDiagnostic`). */
export interface PreviewDiagnostic {
    readonly urn?: string;
    readonly message?: string;
    readonly severity?: string;
}

/** What the guard reads from a preview digest. */
export interface Preview {
    readonly steps: readonly PreviewStep[];
    readonly diagnostics: readonly PreviewDiagnostic[];
}

/** A stateful resource the preview would delete, replace or retype. */
export interface StatefulChange {
    readonly urn: string;
    /** The type it has now (from the old state when there is one). */
    readonly type: string;
    readonly name: string;
    /** Every op seen for this URN that loses it, in order. */
    readonly ops: readonly string[];
    readonly replaceReasons: readonly string[];
    readonly loses: string;
    /** The type the step turns it into, when that differs. */
    readonly newType?: string;
    /** Only deleted from the state: `retainOnDelete` and tagged retired (or released), it stays in the cloud. */
    readonly forgotten: boolean;
    /** Why it may be forgotten: a retired site's storage, or a released database server. */
    readonly keptBecause?: "retired" | "released";
}

/** Input that is not a preview digest. */
export class MalformedPreviewError extends Error {}

/** The resource name: the URN's last `::` segment (`urn:pulumi:stack::project::type::name`). */
export function nameFromUrn(urn: string): string {
    return urn.split("::").slice(3).join("::");
}

/** The type token from the URN, whose type segment is `parentType$…$type`. */
export function typeFromUrn(urn: string): string {
    return normalizeType((urn.split("::")[2] ?? "").split("$").pop() ?? "");
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Parses `pulumi preview --json` output; throws MalformedPreviewError naming what is wrong. */
export function parsePreview(text: string): Preview {
    let doc: unknown;
    try {
        doc = JSON.parse(text);
    } catch (err) {
        throw new MalformedPreviewError(`not JSON (${(err as Error).message})`);
    }
    if (!isObject(doc)) {
        throw new MalformedPreviewError("expected a JSON object with `steps` (the output of `pulumi preview --json`)");
    }
    // Both are omitempty in the digest: absent means none.
    const steps = doc.steps ?? [];
    if (!Array.isArray(steps)) throw new MalformedPreviewError("`steps` is not an array");
    steps.forEach((step: unknown, i) => {
        if (!isObject(step) || typeof step.op !== "string" || typeof step.urn !== "string") {
            throw new MalformedPreviewError(`steps[${i}] has no string \`op\` and \`urn\``);
        }
    });
    const diagnostics = doc.diagnostics ?? [];
    if (!Array.isArray(diagnostics) || !diagnostics.every(isObject)) {
        throw new MalformedPreviewError("`diagnostics` is not an array of objects");
    }
    return { steps: steps as PreviewStep[], diagnostics };
}

/** The diagnostics of severity `error`: a preview with any did not compute the whole change. */
export function previewErrors(preview: Preview): PreviewDiagnostic[] {
    return preview.diagnostics.filter((d) => d.severity === "error");
}

/**
 * Why the old state may only be forgotten: kept in the cloud on delete and either tagged retired
 * (its inputs or outputs: a retired site's storage) or a released database server (lib/standby.ts:
 * the old primary or replica after a switchover, unprotected and retained on delete in the run
 * before; frozen by `ignoreChanges: ["*"]`, it cannot be tagged). Undefined: it would be lost.
 */
function keptBecause(state: StepState | undefined, type: string, name: string): "retired" | "released" | undefined {
    if (state?.retainOnDelete !== true) return undefined;
    if (taggedRetired(state.inputs) || taggedRetired(state.outputs)) return "retired";
    return isServerResource(type, name) && state.protect === false ? "released" : undefined;
}

/**
 * The stateful resources the steps would delete, replace or retype, one entry per URN. The type is
 * read from the old state first: the resource that exists is the one that can be lost.
 */
export function findStatefulChanges(steps: readonly PreviewStep[]): StatefulChange[] {
    const byUrn = new Map<string, StatefulChange>();
    for (const step of steps) {
        const oldType = step.oldState?.type === undefined ? undefined : normalizeType(step.oldState.type);
        const newType = step.newState?.type === undefined ? undefined : normalizeType(step.newState.type);
        const type = oldType ?? newType ?? (step.type ? normalizeType(step.type) : typeFromUrn(step.urn));
        const retyped = oldType !== undefined && newType !== undefined && oldType !== newType;
        if (!DESTRUCTIVE_OPS.includes(step.op) && !retyped) continue;
        const name = nameFromUrn(step.oldState?.urn ?? step.urn);
        const rule = statefulRule(type, name);
        if (rule === undefined) continue;
        const seen = byUrn.get(step.urn);
        const retypedTo = seen?.newType ?? (retyped ? newType : undefined);
        // Forgotten only when every step of the URN is the plain delete of a retained, retired resource.
        const kept = step.op === "delete" && !retyped ? keptBecause(step.oldState, type, name) : undefined;
        const forgotten = kept !== undefined;
        byUrn.set(step.urn, {
            urn: step.urn,
            type: seen?.type ?? type,
            name,
            ops: [...(seen?.ops ?? []), step.op],
            replaceReasons: [...new Set([...(seen?.replaceReasons ?? []), ...(step.replaceReasons ?? [])])],
            loses: rule.loses,
            ...(retypedTo === undefined ? {} : { newType: retypedTo }),
            forgotten: (seen?.forgotten ?? true) && forgotten,
            ...(kept !== undefined ? { keptBecause: kept } : {}),
        });
    }
    return [...byUrn.values()];
}

/** A change as the failure or warning message lists it: what, why, what is lost, the URN. */
export function describeChange(change: StatefulChange): string {
    const what = `${change.type} "${change.name}"`;
    const op = change.newType
        ? `change the type of ${what} to ${change.newType}`
        : `${change.ops.includes("delete") ? "delete" : "replace"} ${what}`;
    const why = change.replaceReasons.length > 0 ? ` (replaced because of: ${change.replaceReasons.join(", ")})` : "";
    return `  - ${op}${why}\n      loses ${change.loses}\n      ${change.urn}`;
}

/** A retired resource leaving the state, as the guard lists it. */
function describeForgotten(change: StatefulChange): string {
    const why =
        change.keptBecause === "released"
            ? "retainOnDelete, a released database server"
            : `retainOnDelete, tagged ${STATE_TAG}: ${RETIRED}`;
    return `  - forget ${change.type} "${change.name}" (${why})\n      ${change.urn}`;
}

/** The outcome of one run, without touching the process (for tests). */
export interface GuardResult {
    readonly code: 0 | 1 | 2;
    readonly stdout: string;
    readonly stderr: string;
}

const USAGE = `usage: preview-guard [${OVERRIDE_FLAG}] <preview.json | ->
  reads the output of \`pulumi preview --json\`; exits 0 when no stateful resource is lost, 1 when
  one would be deleted, replaced or retyped (${OVERRIDE_FLAG} or ${OVERRIDE_ENV}=true only warns),
  2 when the input is unusable (not a preview, a preview with errors or without steps)`;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Runs the guard on arguments, environment and (for `-`) standard input. */
export function runGuard(argv: readonly string[], env: NodeJS.ProcessEnv, readStdin: () => string): GuardResult {
    const flags = argv.filter((a) => a.startsWith("--"));
    const files = argv.filter((a) => !a.startsWith("--"));
    const unknown = flags.filter((f) => f !== OVERRIDE_FLAG);
    if (unknown.length > 0 || files.length !== 1) {
        const problem = unknown.length > 0 ? `unknown option ${unknown[0]}` : "expected exactly one input file";
        return { code: 2, stdout: "", stderr: `preview-guard: ${problem}\n${USAGE}\n` };
    }
    const allowed = flags.includes(OVERRIDE_FLAG) || ["true", "1"].includes((env[OVERRIDE_ENV] ?? "").toLowerCase());
    const source = files[0] === "-" ? "standard input" : files[0];
    let text: string;
    try {
        text = files[0] === "-" ? readStdin() : fs.readFileSync(files[0], "utf8");
    } catch (err) {
        return { code: 2, stdout: "", stderr: `preview-guard: cannot read ${source}: ${(err as Error).message}\n` };
    }
    let preview: Preview;
    try {
        preview = parsePreview(text);
    } catch (err) {
        if (!(err instanceof MalformedPreviewError)) throw err;
        return {
            code: 2,
            stdout: "",
            stderr: `preview-guard: ${source} is not the output of \`pulumi preview --json\`: ${err.message}\n`,
        };
    }
    const errors = previewErrors(preview);
    if (errors.length > 0) {
        const lines = errors.map((d) => `  - ${d.urn ? `${d.urn}: ` : ""}${(d.message ?? "").trim()}`).join("\n");
        return {
            code: 2,
            stdout: "",
            stderr:
                `preview-guard: the preview in ${source} reported ${plural(errors.length, "error")}, so its steps ` +
                `are not the whole change; fix the preview, then check again:\n${lines}\n`,
        };
    }
    if (preview.steps.length === 0) {
        return {
            code: 2,
            stdout: "",
            stderr:
                `preview-guard: the preview in ${source} has no steps (a preview that ran the program lists at ` +
                "least the stack itself); fix the preview, then check again\n",
        };
    }

    const changes = findStatefulChanges(preview.steps);
    const refused = changes.filter((c) => !c.forgotten);
    const forgotten = changes.filter((c) => c.forgotten);
    const kept =
        forgotten.length === 0
            ? ""
            : `preview-guard: ${plural(forgotten.length, "retired resource")} leave the state and stay in the cloud:\n` +
              `${forgotten.map(describeForgotten).join("\n")}\n`;
    if (refused.length === 0) {
        return {
            code: 0,
            stdout:
                `preview-guard: no stateful resource would be deleted or replaced (${plural(preview.steps.length, "step")} checked)\n` +
                kept,
            stderr: "",
        };
    }
    const list = refused.map(describeChange).join("\n");
    const count = plural(refused.length, "stateful resource");
    if (allowed) {
        return {
            code: 0,
            stdout: `preview-guard: allowed by ${OVERRIDE_FLAG} (PR label "${OVERRIDE_LABEL}"): ${count} will be deleted, replaced or retyped:\n${list}\n${kept}`,
            stderr: "",
        };
    }
    return {
        code: 1,
        stdout: kept,
        stderr:
            `preview-guard: ${count} would be deleted, replaced or retyped:\n${list}\n` +
            `If this is intended (and the data is backed up or migrated), label the pull request ` +
            `"${OVERRIDE_LABEL}"; the preview then passes ${OVERRIDE_FLAG}.\n`,
    };
}

if (require.main === module) {
    const result = runGuard(process.argv.slice(2), process.env, () => fs.readFileSync(0, "utf8"));
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    process.exitCode = result.code;
}
