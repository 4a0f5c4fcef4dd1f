/**
 * `npm run preview-guard -- [--allow-stateful-changes] <preview.json | ->`
 *
 * Reads the JSON that `pulumi preview --json` prints and fails when a stateful resource (a
 * database, the Redis VM, a bucket, the key that encrypts database fields) would be deleted or
 * replaced. CI runs it for every stack on every pull request; a PR labelled
 * `allow-stateful-changes` passes `--allow-stateful-changes` (or sets ALLOW_STATEFUL_CHANGES=true),
 * which turns the failure into a warning listing the same resources.
 *
 * The input is Pulumi's preview digest (`display.PreviewDigest` in pulumi/pulumi
 * sdk/pkg/display/json.go): `steps[]`, each with `op`, `urn` and, depending on the op, `oldState`
 * and `newState` (`apitype.ResourceV3`, whose `type` is the full type token).
 *
 * Exit codes: 0 nothing stateful is lost (or the override is set); 1 a stateful resource would be
 * deleted or replaced; 2 bad usage or input that is not a preview digest.
 */
import * as fs from "node:fs";

/** A resource type (optionally narrowed by name) whose deletion or replacement loses data. */
export interface StatefulResource {
    /** Full Pulumi type token, e.g. `aws:rds/instance:Instance`. */
    readonly type: string;
    /** Only resources whose name contains this string (default: every resource of the type). */
    readonly nameIncludes?: string;
    /** What is lost, shown in the failure message. */
    readonly loses: string;
}

/**
 * Every stateful resource this program can create, in one place so the policy pack can reuse it.
 * Tokens checked against the installed providers (`__pulumiType` in node_modules/@pulumi/*).
 * Kubernetes Secrets are deliberately absent: the bundle Secret is re-rendered from config.
 */
export const STATEFUL_RESOURCES: readonly StatefulResource[] = [
    { type: "aws:rds/instance:Instance", loses: "the shared PostgreSQL database (RDS)" },
    { type: "azure-native:dbforpostgresql:Server", loses: "the shared PostgreSQL flexible server" },
    { type: "azure-native:dbforpostgresql:SingleServer", loses: "a PostgreSQL single server" },
    { type: "postgresql:index/database:Database", loses: "a database and every table in it" },
    { type: "aws:ec2/instance:Instance", loses: "the Redis VM and its data" },
    { type: "aws:ebs/volume:Volume", loses: "a VM data disk" },
    { type: "azure-native:compute:VirtualMachine", loses: "the Redis VM and its data" },
    { type: "azure-native:compute:Disk", loses: "a VM data disk" },
    // @pulumi/aws 7: `s3.Bucket` is the bucket (BucketV2 is its deprecated alias); DirectoryBucket
    // is S3 Express One Zone.
    { type: "aws:s3/bucket:Bucket", loses: "an S3 bucket and every blob in it" },
    { type: "aws:s3/bucketV2:BucketV2", loses: "an S3 bucket and every blob in it" },
    { type: "aws:s3/directoryBucket:DirectoryBucket", loses: "an S3 directory bucket and every blob in it" },
    { type: "azure-native:storage:StorageAccount", loses: "an Azure storage account and every blob in it" },
    { type: "azure-native:storage:BlobContainer", loses: "an Azure blob container and every blob in it" },
    {
        type: "random:index/randomPassword:RandomPassword",
        nameIncludes: "database-secret-key",
        loses: "DATABASE_SECRET_KEY: every encrypted field in the database becomes unreadable",
    },
];

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

/** One step of `pulumi preview --json`, as far as the guard reads it. */
export interface PreviewStep {
    readonly op: string;
    readonly urn: string;
    readonly type?: string;
    readonly newState?: { readonly type?: string };
    readonly oldState?: { readonly type?: string };
    readonly replaceReasons?: readonly string[];
}

/** A stateful resource the preview would delete or replace. */
export interface StatefulChange {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** Every destructive op seen for this URN, in order. */
    readonly ops: readonly string[];
    readonly replaceReasons: readonly string[];
    readonly loses: string;
}

/** Input that is not a preview digest. */
export class MalformedPreviewError extends Error {}

/** The resource name: the URN's last `::` segment (`urn:pulumi:stack::project::type::name`). */
export function nameFromUrn(urn: string): string {
    return urn.split("::").slice(3).join("::");
}

/** The type token from the URN, whose type segment is `parentType$…$type`. */
export function typeFromUrn(urn: string): string {
    return (urn.split("::")[2] ?? "").split("$").pop() ?? "";
}

/** The rule that makes a resource stateful, if any. */
export function statefulRule(type: string, name: string): StatefulResource | undefined {
    return STATEFUL_RESOURCES.find(
        (r) => r.type === type && (r.nameIncludes === undefined || name.includes(r.nameIncludes)),
    );
}

/** Parses `pulumi preview --json` output; throws MalformedPreviewError naming what is wrong. */
export function parsePreview(text: string): PreviewStep[] {
    let doc: unknown;
    try {
        doc = JSON.parse(text);
    } catch (err) {
        throw new MalformedPreviewError(`not JSON (${(err as Error).message})`);
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        throw new MalformedPreviewError("expected a JSON object with `steps` (the output of `pulumi preview --json`)");
    }
    // `steps` is omitempty in the digest: a preview with nothing to show has none.
    const steps = (doc as { steps?: unknown }).steps ?? [];
    if (!Array.isArray(steps)) throw new MalformedPreviewError("`steps` is not an array");
    steps.forEach((s: unknown, i) => {
        const step = s as Record<string, unknown> | null;
        if (step === null || typeof step !== "object" || typeof step.op !== "string" || typeof step.urn !== "string") {
            throw new MalformedPreviewError(`steps[${i}] has no string \`op\` and \`urn\``);
        }
    });
    return steps as PreviewStep[];
}

/** The stateful resources the steps would delete or replace, one entry per URN. */
export function findStatefulChanges(steps: readonly PreviewStep[]): StatefulChange[] {
    const byUrn = new Map<string, StatefulChange>();
    for (const step of steps) {
        if (!DESTRUCTIVE_OPS.includes(step.op)) continue;
        const type = step.newState?.type ?? step.oldState?.type ?? step.type ?? typeFromUrn(step.urn);
        const name = nameFromUrn(step.urn);
        const rule = statefulRule(type, name);
        if (rule === undefined) continue;
        const seen = byUrn.get(step.urn);
        byUrn.set(step.urn, {
            urn: step.urn,
            type,
            name,
            ops: [...(seen?.ops ?? []), step.op],
            replaceReasons: [...new Set([...(seen?.replaceReasons ?? []), ...(step.replaceReasons ?? [])])],
            loses: rule.loses,
        });
    }
    return [...byUrn.values()];
}

/** A change as the failure or warning message lists it: what, why, what is lost, the URN. */
export function describeChange(change: StatefulChange): string {
    const op = change.ops.includes("delete") ? "delete" : "replace";
    const why = change.replaceReasons.length > 0 ? ` (replaced because of: ${change.replaceReasons.join(", ")})` : "";
    return `  - ${op} ${change.type} "${change.name}"${why}\n      loses ${change.loses}\n      ${change.urn}`;
}

/** The outcome of one run, without touching the process (for tests). */
export interface GuardResult {
    readonly code: 0 | 1 | 2;
    readonly stdout: string;
    readonly stderr: string;
}

const USAGE = `usage: preview-guard [${OVERRIDE_FLAG}] <preview.json | ->
  reads the output of \`pulumi preview --json\` and exits 1 when a stateful resource would be
  deleted or replaced; ${OVERRIDE_FLAG} (or ${OVERRIDE_ENV}=true) only warns`;

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
    let steps: PreviewStep[];
    try {
        steps = parsePreview(text);
    } catch (err) {
        if (!(err instanceof MalformedPreviewError)) throw err;
        return {
            code: 2,
            stdout: "",
            stderr: `preview-guard: ${source} is not the output of \`pulumi preview --json\`: ${err.message}\n`,
        };
    }
    const changes = findStatefulChanges(steps);
    if (changes.length === 0) {
        return {
            code: 0,
            stdout: `preview-guard: no stateful resource would be deleted or replaced (${steps.length} steps checked)\n`,
            stderr: "",
        };
    }
    const list = changes.map(describeChange).join("\n");
    const count = `${changes.length} stateful resource${changes.length === 1 ? "" : "s"}`;
    if (allowed) {
        return {
            code: 0,
            stdout: `preview-guard: allowed by ${OVERRIDE_FLAG} (PR label "${OVERRIDE_LABEL}"): ${count} will be deleted or replaced:\n${list}\n`,
            stderr: "",
        };
    }
    return {
        code: 1,
        stdout: "",
        stderr:
            `preview-guard: ${count} would be deleted or replaced:\n${list}\n` +
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
