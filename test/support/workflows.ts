/**
 * Helpers for test/workflows.test.ts: load a GitHub Actions workflow, find its jobs and steps,
 * check its `${{ }}` expressions against GitHub's expression syntax and context-availability
 * rules, and run an `actions/github-script` step's script against a fake GitHub API.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

/** A parsed workflow (loosely typed: the tests assert the shape). */
export type Workflow = Record<string, unknown>;
export type Job = Record<string, unknown>;
export type Step = Record<string, unknown>;

export const WORKFLOW_DIR = path.resolve(__dirname, "..", "..", ".github", "workflows");

/** Parses `.github/workflows/<file>` with the `yaml` package (YAML 1.2: `on` stays a string). */
export function loadWorkflow(file: string): Workflow {
    return parse(fs.readFileSync(path.join(WORKFLOW_DIR, file), "utf8")) as Workflow;
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

/** `actions/checkout@v7` → `actions/checkout`. */
export function actionName(step: Step): string | undefined {
    return typeof step.uses === "string" ? step.uses.split("@")[0] : undefined;
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
                get: async (p: { pull_number: number }) => {
                    if (p.pull_number !== pr.number) throw new Error(`no PR #${p.pull_number}`);
                    return { data: { number: pr.number, head: { sha: pr.headSha } } };
                },
            },
            issues: {
                listComments: async () => ({ data: pr.comments }),
                createComment: async (p: { issue_number: number; body: string }) => {
                    run.created.push({ issue_number: p.issue_number, body: p.body });
                    return { data: { id: 999, html_url: "https://example/c/999" } };
                },
                updateComment: async (p: { comment_id: number; body: string }) => {
                    run.updated.push({ comment_id: p.comment_id, body: p.body });
                    return { data: {} };
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
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
        ...args: string[]
    ) => (...values: unknown[]) => Promise<unknown>;
    const fn = new AsyncFunction("require", "github", "context", "core", "process", script);
    await fn(require, github, { repo }, core, { env });
    return run;
}
