/**
 * Helpers for test/workflows.test.ts: load a GitHub Actions workflow, find its jobs and steps,
 * read its `uses:` pins with their version comments, check its `${{ }}` expressions against
 * GitHub's expression syntax and context-availability rules, know the inputs of the actions it may
 * use, run a `run:` script with bash, and run an `actions/github-script` step's script against a
 * fake GitHub API.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isScalar, parse, parseDocument, visit } from "yaml";
import { PROJECT_ROOT } from "../../lib/projectRoot";

/** A parsed workflow (loosely typed: the tests assert the shape). */
export type Workflow = Record<string, unknown>;
export type Job = Record<string, unknown>;
export type Step = Record<string, unknown>;

export const WORKFLOW_DIR = path.join(PROJECT_ROOT, ".github", "workflows");

/** The workflow files in `.github/workflows/`, sorted. */
export function listWorkflows(): string[] {
    return fs
        .readdirSync(WORKFLOW_DIR)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort();
}

/** The text of `.github/workflows/<file>` (comments included: pins carry their version there). */
export function readWorkflowText(file: string): string {
    return fs.readFileSync(path.join(WORKFLOW_DIR, file), "utf8");
}

/** Parses `.github/workflows/<file>` with the `yaml` package (YAML 1.2: `on` stays a string). */
export function loadWorkflow(file: string): Workflow {
    return parse(readWorkflowText(file)) as Workflow;
}

/** One `uses:` of a workflow text and the comment on its line (`# v7.0.1` → `v7.0.1`). */
export interface Pin {
    readonly uses: string;
    readonly comment: string | undefined;
}

/** Every `uses:` value of a workflow (steps and reusable-workflow jobs) with its line comment. */
export function pinsIn(text: string): Pin[] {
    const pins: Pin[] = [];
    visit(parseDocument(text), {
        Pair(_, pair) {
            if (isScalar(pair.key) && pair.key.value === "uses" && isScalar(pair.value)) {
                pins.push({ uses: String(pair.value.value), comment: pair.value.comment?.trim() });
            }
        },
    });
    return pins;
}

/** A deep copy, for tests that change one thing and expect a check to fail. */
export function clone<T>(value: T): T {
    return structuredClone(value);
}

export function jobsOf(wf: Workflow): Record<string, Job> {
    return (wf.jobs ?? {}) as Record<string, Job>;
}

export function stepsOf(job: Job | undefined): Step[] {
    return ((job?.steps ?? []) as Step[]).filter((s) => s !== null && typeof s === "object");
}

export function withOf(step: Step | undefined): Record<string, unknown> {
    return (step?.with ?? {}) as Record<string, unknown>;
}

/** `actions/checkout@<sha>` → `actions/checkout` (owner and repository, lower case as GitHub treats them). */
export function actionName(step: Step): string | undefined {
    return typeof step.uses === "string" ? step.uses.split("@")[0].toLowerCase() : undefined;
}

/** What an action's `action.yml` declares, at the release the workflows pin. */
export interface ActionSpec {
    /** The release tag whose action.yml this is (its major must be the pinned one's). */
    readonly release: string;
    /** Every input it declares. */
    readonly inputs: readonly string[];
    /** The inputs it marks `required: true`. */
    readonly required: readonly string[];
}

/**
 * The remote actions the workflows may use, with the inputs of their `action.yml` at the tag the
 * workflows pin (read from each action's repository at that tag). A step naming an action missing
 * here, an input it does not declare, or a pin on another major fails the workflow tests: when
 * Dependabot moves a pin to a new major, read that major's action.yml and update its entry.
 */
export const ACTIONS: Readonly<Record<string, ActionSpec>> = {
    "actions/checkout": {
        release: "v7.0.1",
        inputs: [
            "repository",
            "ref",
            "token",
            "ssh-key",
            "ssh-known-hosts",
            "ssh-strict",
            "ssh-user",
            "persist-credentials",
            "path",
            "clean",
            "filter",
            "sparse-checkout",
            "sparse-checkout-cone-mode",
            "fetch-depth",
            "fetch-tags",
            "show-progress",
            "lfs",
            "submodules",
            "set-safe-directory",
            "github-server-url",
            "allow-unsafe-pr-checkout",
        ],
        required: [],
    },
    "actions/setup-node": {
        release: "v7.0.0",
        inputs: [
            "node-version",
            "node-version-file",
            "architecture",
            "check-latest",
            "registry-url",
            "scope",
            "token",
            "cache",
            "package-manager-cache",
            "cache-dependency-path",
            "mirror",
            "mirror-token",
        ],
        required: [],
    },
    "actions/upload-artifact": {
        release: "v7.0.0",
        inputs: [
            "name",
            "path",
            "if-no-files-found",
            "retention-days",
            "compression-level",
            "overwrite",
            "include-hidden-files",
            "archive",
        ],
        required: ["path"],
    },
    "actions/download-artifact": {
        release: "v8.0.1",
        inputs: [
            "name",
            "artifact-ids",
            "path",
            "pattern",
            "merge-multiple",
            "github-token",
            "repository",
            "run-id",
            "skip-decompress",
            "digest-mismatch",
        ],
        required: [],
    },
    "actions/github-script": {
        release: "v8.0.0",
        inputs: [
            "script",
            "github-token",
            "debug",
            "user-agent",
            "previews",
            "result-encoding",
            "retries",
            "retry-exempt-status-codes",
            "base-url",
        ],
        required: ["script"],
    },
    "aws-actions/configure-aws-credentials": {
        release: "v6.2.3",
        inputs: [
            "aws-region",
            "aws-profile",
            "overwrite-aws-profile",
            "role-to-assume",
            "aws-access-key-id",
            "aws-secret-access-key",
            "aws-session-token",
            "web-identity-token-file",
            "role-chaining",
            "audience",
            "http-proxy",
            "no-proxy",
            "mask-aws-account-id",
            "role-duration-seconds",
            "role-external-id",
            "role-session-name",
            "role-skip-session-tagging",
            "transitive-tag-keys",
            "inline-session-policy",
            "managed-session-policies",
            "output-credentials",
            "output-env-credentials",
            "unset-current-credentials",
            "disable-retry",
            "retry-max-attempts",
            "special-characters-workaround",
            "use-existing-credentials",
            "allowed-account-ids",
            "force-skip-oidc",
            "action-timeout-s",
            "custom-tags",
            "sts-endpoint",
        ],
        required: ["aws-region"],
    },
    "azure/login": {
        release: "v3.0.1",
        inputs: [
            "creds",
            "client-id",
            "tenant-id",
            "subscription-id",
            "enable-AzPSSession",
            "environment",
            "allow-no-subscriptions",
            "audience",
            "auth-type",
        ],
        required: [],
    },
    "pulumi/actions": {
        release: "v7.0.0",
        inputs: [
            "command",
            "stack-name",
            "pulumi-version",
            "pulumi-version-file",
            "work-dir",
            "comment-on-pr",
            "comment-on-pr-number",
            "comment-on-summary",
            "github-token",
            "cloud-url",
            "secrets-provider",
            "parallel",
            "message",
            "config-map",
            "expect-no-changes",
            "diff",
            "replace",
            "exclude",
            "exclude-dependents",
            "target",
            "target-dependents",
            "policyPacks",
            "policyPackConfigs",
            "refresh",
            "upsert",
            "remove",
            "edit-pr-comment",
            "color",
            "exclude-protected",
            "plan",
            "suppress-outputs",
            "suppress-progress",
            "always-include-summary",
            "continue-on-error",
            "log-verbosity",
            "log-flow",
            "debug",
        ],
        required: [],
    },
};

/** A step's or job's string field (`run`, `if`); "" when absent or not a string. */
export function textOf(value: unknown): string {
    return typeof value === "string" ? value : "";
}

/** The steps that use an action (by name, any version). */
export function stepsUsing(job: Job | undefined, action: string): Step[] {
    return stepsOf(job).filter((s) => actionName(s) === action);
}

/** Index of the first step whose `run` matches, or -1. */
export function runIndex(job: Job | undefined, pattern: RegExp): number {
    return stepsOf(job).findIndex((s) => typeof s.run === "string" && pattern.test(s.run));
}

const STEP_CONTEXTS = [
    "github",
    "needs",
    "strategy",
    "matrix",
    "job",
    "runner",
    "env",
    "vars",
    "secrets",
    "steps",
    "inputs",
];

/**
 * Which contexts each workflow key may use: GitHub's "Context availability" table
 * (docs.github.com, Actions → Reference → Contexts), for the keys these workflows use.
 */
export const CONTEXTS: Readonly<Record<string, readonly string[]>> = {
    "run-name": ["github", "inputs", "vars"],
    concurrency: ["github", "inputs", "vars"],
    env: ["github", "secrets", "inputs", "vars"],
    "jobs.*.if": ["github", "needs", "vars", "inputs"],
    "jobs.*.name": ["github", "needs", "strategy", "matrix", "vars", "inputs"],
    "jobs.*.runs-on": ["github", "needs", "strategy", "matrix", "vars", "inputs"],
    "jobs.*.environment": ["github", "needs", "strategy", "matrix", "vars", "inputs"],
    "jobs.*.concurrency": ["github", "needs", "strategy", "matrix", "vars", "inputs"],
    "jobs.*.timeout-minutes": ["github", "needs", "strategy", "matrix", "vars", "inputs"],
    "jobs.*.continue-on-error": ["github", "needs", "strategy", "matrix", "vars", "inputs"],
    "jobs.*.strategy": ["github", "needs", "vars", "inputs"],
    "jobs.*.env": ["github", "needs", "strategy", "matrix", "vars", "secrets", "inputs"],
    "jobs.*.steps.if": STEP_CONTEXTS.filter((c) => c !== "secrets"),
    "jobs.*.steps.name": STEP_CONTEXTS,
    "jobs.*.steps.run": STEP_CONTEXTS,
    "jobs.*.steps.env": STEP_CONTEXTS,
    "jobs.*.steps.with": STEP_CONTEXTS,
    "jobs.*.steps.working-directory": STEP_CONTEXTS,
    "jobs.*.steps.continue-on-error": STEP_CONTEXTS,
    "jobs.*.steps.timeout-minutes": STEP_CONTEXTS,
};

const FUNCTIONS = new Set([
    "contains",
    "startsWith",
    "endsWith",
    "format",
    "join",
    "toJSON",
    "fromJSON",
    "hashFiles",
    "success",
    "always",
    "cancelled",
    "failure",
]);

/** Problems in one expression (the text inside `${{ }}`, or a whole `if:`). */
export function expressionProblems(expr: string, allowed: readonly string[]): string[] {
    const problems: string[] = [];
    // Strings are single-quoted ('' escapes a quote); a double quote is a syntax error.
    const unquoted = expr.replace(/'(?:[^']|'')*'/g, "''");
    if (unquoted.includes('"')) problems.push(`double-quoted string in \`${expr}\` (only 'single' quotes work)`);
    if ((unquoted.match(/'/g) ?? []).length % 2 !== 0) problems.push(`unterminated string in \`${expr}\``);
    let depth = 0;
    for (const ch of unquoted) {
        depth += ch === "(" ? 1 : ch === ")" ? -1 : 0;
        if (depth < 0) break;
    }
    if (depth !== 0) problems.push(`unbalanced parentheses in \`${expr}\``);
    for (const m of unquoted.matchAll(/(?<![.\w-])([A-Za-z_][\w-]*)(\s*\()?/g)) {
        const [, name, call] = m;
        if (call) {
            if (!FUNCTIONS.has(name)) problems.push(`unknown function ${name}() in \`${expr}\``);
        } else if (!["true", "false", "null"].includes(name) && !allowed.includes(name)) {
            problems.push(`context "${name}" is not available here (\`${expr}\`); allowed: ${allowed.join(", ")}`);
        }
    }
    return problems;
}

/** Every `${{ }}` in a value (strings nested in maps and lists), or the whole value for `if:`. */
function expressionsIn(value: unknown, isIf: boolean): string[] {
    if (typeof value === "string") {
        const inline = [...value.matchAll(/\$\{\{([\s\S]*?)\}\}/g)].map((m) => m[1].trim());
        if (isIf && inline.length === 0) return [value];
        return inline;
    }
    if (Array.isArray(value)) return value.flatMap((v) => expressionsIn(v, false));
    if (value !== null && typeof value === "object")
        return Object.values(value).flatMap((v) => expressionsIn(v, false));
    return [];
}

/** Strings nested in a value, to find a `${{` left unclosed. */
function stringsIn(value: unknown): string[] {
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(stringsIn);
    if (value !== null && typeof value === "object") return Object.values(value).flatMap(stringsIn);
    return [];
}

/** Checks every expression of a workflow where it appears; `${{` left unclosed is reported too. */
export function workflowExpressionProblems(wf: Workflow): string[] {
    const problems: string[] = [];
    const check = (where: string, key: string, value: unknown) => {
        const allowed = CONTEXTS[key];
        if (allowed === undefined) return;
        for (const text of stringsIn(value)) {
            if (text.split("${{").length - 1 !== [...text.matchAll(/\$\{\{[\s\S]*?\}\}/g)].length) {
                problems.push(`${where}: unclosed \${{ in ${JSON.stringify(text)}`);
            }
        }
        for (const expr of expressionsIn(value, key.endsWith(".if"))) {
            problems.push(...expressionProblems(expr, allowed).map((p) => `${where}: ${p}`));
        }
    };
    for (const key of ["run-name", "concurrency", "env"]) check(key, key, wf[key]);
    for (const [id, job] of Object.entries(jobsOf(wf))) {
        for (const [key, value] of Object.entries(job)) check(`jobs.${id}.${key}`, `jobs.*.${key}`, value);
        stepsOf(job).forEach((step, i) => {
            for (const [key, value] of Object.entries(step)) {
                check(`jobs.${id}.steps[${i}].${key}`, `jobs.*.steps.${key}`, value);
            }
        });
    }
    return problems;
}

/** How a `run:` script ended: its exit status, what it printed and what it wrote to the job summary. */
export interface ScriptResult {
    readonly status: number;
    readonly output: string;
    readonly summary: string;
}

/**
 * Runs a step's `run:` script the way a Linux runner does (`bash --noprofile --norc -eo pipefail`)
 * with the given environment on top of this process's, in a fresh temporary directory (also its
 * RUNNER_TEMP; GITHUB_STEP_SUMMARY is a file there); `bin` holds fake commands (name → bash script
 * body) put first on PATH.
 */
export function runBash(script: string, env: Record<string, string>, bin: Record<string, string> = {}): ScriptResult {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "workflow-run-"));
    try {
        const binDir = path.join(dir, "bin");
        fs.mkdirSync(binDir);
        for (const [name, body] of Object.entries(bin)) {
            fs.writeFileSync(path.join(binDir, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
        }
        const file = path.join(dir, "step.sh");
        fs.writeFileSync(file, script);
        const summary = path.join(dir, "summary.md");
        fs.writeFileSync(summary, "");
        const result = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", file], {
            cwd: dir,
            env: {
                ...process.env,
                RUNNER_TEMP: dir,
                GITHUB_STEP_SUMMARY: summary,
                ...env,
                PATH: `${binDir}:${process.env.PATH ?? ""}`,
            },
            encoding: "utf8",
        });
        return {
            status: result.status ?? -1,
            output: `${result.stdout ?? ""}${result.stderr ?? ""}`,
            summary: fs.readFileSync(summary, "utf8"),
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** What a fake GitHub API saw while a github-script script ran. */
export interface ScriptRun {
    readonly created: { issue_number: number; body: string }[];
    readonly updated: { comment_id: number; body: string }[];
    readonly failed: string[];
    readonly notices: string[];
}

/** A comment as the issues API returns it. */
export interface FakeComment {
    readonly id: number;
    readonly body: string;
    readonly user: { readonly login: string };
}

/**
 * Runs an actions/github-script `script` the way the action does (an async function body with
 * `require`, `github`, `context` and `core` in scope), against an in-memory PR and its comments.
 */
export async function runGithubScript(
    script: string,
    env: Record<string, string>,
    pr: { number: number; headSha: string; comments: FakeComment[] },
): Promise<ScriptRun> {
    const run: ScriptRun = { created: [], updated: [], failed: [], notices: [] };
    const repo = { owner: "example", repo: "quay-georep" };
    const github = {
        rest: {
            pulls: {
                get: (p: { pull_number: number }) => {
                    if (p.pull_number !== pr.number) return Promise.reject(new Error(`no PR #${p.pull_number}`));
                    return Promise.resolve({ data: { number: pr.number, head: { sha: pr.headSha } } });
                },
            },
            issues: {
                listComments: () => Promise.resolve({ data: pr.comments }),
                createComment: (p: { issue_number: number; body: string }) => {
                    run.created.push({ issue_number: p.issue_number, body: p.body });
                    return Promise.resolve({ data: { id: 999, html_url: "https://example/c/999" } });
                },
                updateComment: (p: { comment_id: number; body: string }) => {
                    run.updated.push({ comment_id: p.comment_id, body: p.body });
                    return Promise.resolve({ data: {} });
                },
            },
        },
        paginate: async (fn: (p: unknown) => Promise<{ data: unknown[] }>, params: unknown) => (await fn(params)).data,
    };
    const core = {
        setFailed: (m: string) => run.failed.push(m),
        notice: (m: string) => run.notices.push(m),
        info: () => undefined,
    };
    // eslint-disable-next-line @typescript-eslint/require-await -- AsyncFunction is reachable only through an async function
    const AsyncFunction = (async () => undefined).constructor as new (
        ...args: string[]
    ) => (...values: unknown[]) => Promise<unknown>;
    const fn = new AsyncFunction("require", "github", "context", "core", "process", script);
    await fn(require, github, { repo }, core, { env });
    return run;
}
