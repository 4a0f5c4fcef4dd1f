/**
 * The GitHub Actions workflows, parsed and checked: triggers and permissions, the PR checks, the
 * render diff and its comment, the per-stack preview with the policy pack and the stateful guard,
 * the deploy order, and drift detection. Across all of them: the one required check of each PR
 * workflow (always runs, fails unless every job it needs passed, so neither a label nor a skip
 * turns it green), every action pinned to a commit SHA with its version in a comment and its inputs
 * checked against that version's action.yml, cloud credentials by OIDC only (`id-token: write` only
 * where a login happens, the read-only identity outside the deploy environments, no long-lived
 * key), runners, and the Node and Pulumi CLI versions pinned in one file each. Stacks come from the
 * repository (Pulumi.<stack>.yaml, sharedStack), so adding a stack file without adding it to the
 * workflows fails here. Each check is a function returning problems; the last block changes one
 * thing at a time and expects a problem.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { listStacks, readStackConfig } from "../offline/stackConfig";
import { OVERRIDE_FLAG, OVERRIDE_LABEL } from "../scripts/preview-guard";
import { PROJECT_DIR } from "./mocks";
import {
    ACTIONS,
    actionName,
    clone,
    Job,
    jobsOf,
    listWorkflows,
    loadWorkflow,
    pinsIn,
    readWorkflowText,
    runBash,
    runIndex,
    Step,
    stepsOf,
    stepsUsing,
    textOf,
    withOf,
    Workflow,
    workflowExpressionProblems,
} from "./support/workflows";

/** The stacks the workflows must cover, as the renderer derives them. */
interface Stacks {
    readonly all: readonly string[];
    readonly shared: string;
}

function repoStacks(): Stacks {
    const all = listStacks(PROJECT_DIR);
    const cfg = readStackConfig(PROJECT_DIR, all[0]);
    return { all, shared: cfg.config[`${cfg.project}:sharedStack`] ?? "us" };
}

const POLICY_PACK = "policy";
/** The job each pull-request workflow ends with: the one check branch protection requires. */
const REQUIRED_JOB = "required";
const PULUMI_VERSION_FILE = ".pulumi-version";
const NODE_VERSION_FILE = ".node-version";
const BACKEND_URL = "${{ vars.PULUMI_BACKEND_URL }}";
/** Jobs that reach the clouds and clusters run where the repository says (a runner in their network). */
const CLOUD_RUNNER = "${{ vars.PULUMI_RUNNER || 'ubuntu-latest' }}";
/** Every other job stays on GitHub-hosted runners: fork code must never reach a self-hosted one. */
const HOSTED_RUNNER = "ubuntu-latest";
const AWS_LOGIN = "aws-actions/configure-aws-credentials";
const AZURE_LOGIN = "azure/login";
/** The only stored secret a workflow may read (and only with the passphrase secrets provider). */
const ALLOWED_SECRETS = ["PULUMI_CONFIG_PASSPHRASE"];
/** Long-lived cloud keys and the variables that carry them: credentials come by OIDC instead. */
const LONG_LIVED_KEYS =
    /\b(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|ARM_CLIENT_SECRET|ARM_CLIENT_CERTIFICATE\w*|AZURE_CLIENT_SECRET|AZURE_CREDENTIALS)\b/;
/** A `run:` script that calls the Pulumi CLI (as a command: at a line's start, after `$(`, `;`, `&`, `|`). */
const PULUMI_RUN = /(^\s*|\$\(|[;&|]\s*)pulumi\s/m;

/** A cloud identity: the repository or environment variables naming its AWS role and Azure app. */
interface Identity {
    readonly name: string;
    readonly awsRole: string;
    readonly azureClient: string;
}
/** Previews and drift: repository variables; its trust accepts `pull_request` and main only. */
const READ_ONLY: Identity = {
    name: "read-only",
    awsRole: "AWS_PREVIEW_ROLE_ARN",
    azureClient: "AZURE_PREVIEW_CLIENT_ID",
};
/** Deploys: each stack environment's variables; its trust accepts `environment:<stack>` only. */
const DEPLOY: Identity = { name: "deploy", awsRole: "AWS_DEPLOY_ROLE_ARN", azureClient: "AZURE_DEPLOY_CLIENT_ID" };

const sameSet = (a: readonly unknown[], b: readonly unknown[]) =>
    JSON.stringify([...a].map(String).sort()) === JSON.stringify([...b].map(String).sort());
const matrixOf = (job: Job | undefined) =>
    ((job?.strategy as Record<string, unknown>)?.matrix as Record<string, unknown>)?.stack;
const major = (version: string) => version.replace(/^v/, "").split(".")[0];

/** Problems common to the pulumi/actions steps that run against the real state. */
function pulumiStepProblems(where: string, step: Step | undefined, command: string, env: unknown): string[] {
    if (step === undefined) return [`${where}: no pulumi/actions step`];
    const p: string[] = [];
    const w = withOf(step);
    if (w.command !== command) p.push(`${where}: command is ${String(w.command)}, expected ${command}`);
    if (w["cloud-url"] !== BACKEND_URL) p.push(`${where}: cloud-url is not ${BACKEND_URL}`);
    // Plan against what exists, not the last saved state (docs/ci.md, "Drift and pulumi refresh").
    if (w.refresh !== true) p.push(`${where}: refresh is not true`);
    if (w.policyPacks !== POLICY_PACK) p.push(`${where}: policyPacks is not ${POLICY_PACK}`);
    const passphrase = (env as Record<string, unknown> | undefined)?.PULUMI_CONFIG_PASSPHRASE;
    if (passphrase !== "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}") {
        p.push(`${where}: PULUMI_CONFIG_PASSPHRASE is not taken from the secret`);
    }
    return p;
}

/** pull-request.yml: triggers, permissions, checks and render diff; no label events. */
function pullRequestProblems(wf: Workflow): string[] {
    const p: string[] = [];
    const on = wf.on as Record<string, { types?: string[] }>;
    if (!sameSet(Object.keys(on ?? {}), ["pull_request"]))
        p.push("trigger: only pull_request (never pull_request_target)");
    if (!sameSet(on?.pull_request?.types ?? [], ["opened", "synchronize", "reopened"])) {
        p.push("trigger: pull_request types must be opened, synchronize, reopened (label events are preview.yml's)");
    }
    if (JSON.stringify(wf.permissions) !== '{"contents":"read"}')
        p.push("permissions: workflow default is not read-only");
    const jobs = jobsOf(wf);

    const checks = jobs.checks;
    const order = [
        /^npm ci\b/,
        /^npm run lint$/,
        /^npm run build$/,
        /^sudo bash \.ci\/postgres\.sh$/,
        /^sudo bash \.ci\/postgres-standby\.sh$/,
        /^sudo bash \.ci\/cloud-init\.sh$/,
        /^sudo bash \.ci\/redis\.sh$/,
        /^npm run schemas -- --if-missing$/,
        /^npm test$/,
    ];
    const at = order.map((re) => runIndex(checks, re));
    if (at.some((i) => i < 0))
        p.push(
            `checks: install, lint, type-check, PostgreSQL, PostgreSQL standby pair, cloud-init, redis-server, schemas and test steps missing`,
        );
    else if (at.some((i, n) => n > 0 && i <= at[n - 1])) p.push("checks: steps out of order");
    if (checks?.permissions !== undefined) p.push("checks: must not widen permissions");

    const render = jobs["render-diff"];
    const checkout = stepsUsing(render, "actions/checkout")[0];
    if (Number(withOf(checkout)["fetch-depth"]) < 2) p.push("render-diff: checkout needs fetch-depth 2 for the base");
    if (runIndex(render, /git worktree add .*HEAD\^1/) < 0) p.push("render-diff: no base worktree at HEAD^1");
    const renders = stepsOf(render).filter((s) => /npm run --silent render -- --out/.test(String(s.run)));
    const inBase = renders.filter((s) => /\/base$/.test(String(s["working-directory"])));
    if (renders.length !== 2 || inBase.length !== 1) p.push("render-diff: render once in the base, once in the head");
    const head = renders.find((s) => !inBase.includes(s));
    if (head !== undefined && !/--deployed "\$OUT\/base"/.test(String(head.run)))
        p.push("render-diff: the head's render must read the base's as deployed (--deployed \"$OUT/base\")");
    if (runIndex(render, /diff -ruN base head/) < 0) p.push("render-diff: no diff -ruN of the rendered trees");
    if (runIndex(render, /PR_NUMBER.*> comment\/pr-number/s) < 0) p.push("render-diff: PR number not recorded");
    const upload = stepsUsing(render, "actions/upload-artifact")[0];
    if (withOf(upload).name !== "render-diff") p.push("render-diff: artifact render-diff not uploaded");
    if (render?.permissions !== undefined) p.push("render-diff: must not widen permissions (it runs PR code)");
    return p;
}

/** preview.yml: label events, the gate, the preview per stack with the policy pack, the guard. */
function previewProblems(wf: Workflow, stacks: Stacks): string[] {
    const p: string[] = [];
    const on = wf.on as Record<string, { types?: string[] }>;
    if (!sameSet(Object.keys(on ?? {}), ["pull_request"]))
        p.push("trigger: only pull_request (never pull_request_target)");
    for (const t of ["opened", "synchronize", "reopened", "labeled", "unlabeled"]) {
        if (!on?.pull_request?.types?.includes(t)) p.push(`trigger: pull_request type ${t} missing`);
    }
    if (JSON.stringify(wf.permissions) !== '{"contents":"read"}')
        p.push("permissions: workflow default is not read-only");

    const preview = jobsOf(wf).preview;
    const gate = String(preview?.if);
    if (
        !/vars\.\w+ == 'true'/.test(gate) ||
        !gate.includes("github.event.pull_request.head.repo.full_name == github.repository") ||
        !gate.includes("github.actor != 'dependabot[bot]'")
    ) {
        p.push("preview: not gated on a repository variable, same-repository PRs and runs not Dependabot's");
    }
    if (JSON.stringify(preview?.permissions) !== '{"contents":"read","id-token":"write","pull-requests":"write"}') {
        p.push("preview: permissions must be contents read, id-token write, pull-requests write");
    }
    if (preview?.environment !== undefined)
        p.push("preview: must not name an environment (those hold the deploy identity)");
    const matrix = matrixOf(preview);
    if (!Array.isArray(matrix) || !sameSet(matrix, stacks.all)) {
        p.push(`preview: matrix ${JSON.stringify(matrix)} is not the stacks ${JSON.stringify(stacks.all)}`);
    }
    const pulumiAt = stepsOf(preview).findIndex((s) => actionName(s) === "pulumi/actions");
    const pulumi = stepsOf(preview)[pulumiAt];
    p.push(...pulumiStepProblems("preview", pulumi, "preview", { ...(wf.env as object), ...(preview?.env as object) }));
    const w = withOf(pulumi);
    if (w["stack-name"] !== "${{ matrix.stack }}") p.push("preview: stack-name is not the matrix stack");
    if (w["comment-on-pr"] !== true) p.push("preview: comment-on-pr is not true");
    if (w.diff !== true) p.push("preview: diff is not true");

    const guardAt = runIndex(preview, /npm run --silent preview-guard/);
    const guard = stepsOf(preview)[guardAt];
    const guardEnv = (guard?.env ?? {}) as Record<string, string>;
    if (guard === undefined || guardAt < pulumiAt) p.push("preview: no guard step after the preview");
    else {
        const run = String(guard.run);
        // The guard judges the plan the deploy will run: refreshed, like `pulumi up --refresh`.
        if (!/pulumi preview --stack "\$STACK" --refresh --json > "\$RUNNER_TEMP\/preview\.json"/.test(run)) {
            p.push("preview: the guard does not read `pulumi preview --refresh --json` of the stack");
        }
        if (guardEnv.STACK !== "${{ matrix.stack }}") p.push("preview: the guard's STACK is not the matrix stack");
        if (!run.includes(OVERRIDE_FLAG)) p.push(`preview: the guard never passes ${OVERRIDE_FLAG}`);
        const label = `contains(github.event.pull_request.labels.*.name, '${OVERRIDE_LABEL}')`;
        if (!Object.values(guardEnv).some((v) => v.includes(label))) p.push(`preview: override not tied to ${label}`);
        // A site stack's preview checks its bundle Secret against the shared stack's hash.
        if (guardEnv.SHARED_STACK !== stacks.shared)
            p.push(`preview: the guard's SHARED_STACK is not ${stacks.shared}`);
        if (
            !run.includes('pulumi stack output --stack "$SHARED_STACK" bundleSha256') ||
            !run.includes("--policy-pack-config") ||
            !run.includes('"${policy[@]}"')
        ) {
            p.push("preview: site stacks do not get the shared stack's bundleSha256 as policy config");
        }
    }
    return p;
}

/** render-diff-comment.yml: workflow_run, least privilege, never runs PR code. */
function commentProblems(wf: Workflow, pr: Workflow): string[] {
    const p: string[] = [];
    const on = (wf.on ?? {}) as Record<string, { workflows?: string[]; types?: string[] }>;
    if (!sameSet(Object.keys(on), ["workflow_run"])) p.push("trigger: only workflow_run");
    if (!sameSet(on.workflow_run?.workflows ?? [], [String(pr.name)]))
        p.push(`trigger: not the "${String(pr.name)}" runs`);
    if (!sameSet(on.workflow_run?.types ?? [], ["completed"])) p.push("trigger: types must be [completed]");
    if (JSON.stringify(wf.permissions) !== "{}") p.push("permissions: workflow default must be none");
    const job = jobsOf(wf).comment;
    if (JSON.stringify(job?.permissions) !== '{"actions":"read","pull-requests":"write"}') {
        p.push("comment: permissions must be actions read, pull-requests write");
    }
    if (stepsUsing(job, "actions/checkout").length > 0) p.push("comment: must not check out code");
    if (stepsOf(job).some((s) => s.run !== undefined)) p.push("comment: must not run shell steps");
    const download = withOf(stepsUsing(job, "actions/download-artifact")[0]);
    const upload = withOf(stepsUsing(jobsOf(pr)["render-diff"], "actions/upload-artifact")[0]);
    if (download.name !== upload.name) p.push("comment: downloads another artifact than render-diff uploads");
    if (download["run-id"] !== "${{ github.event.workflow_run.id }}")
        p.push("comment: not the triggering run's artifact");
    if (stepsUsing(job, "actions/github-script").length !== 1) p.push("comment: no github-script step");
    return p;
}

/** deploy.yml: push to main, the shared stack first, every other stack after it, environments. */
function deployProblems(wf: Workflow, stacks: Stacks): string[] {
    const p: string[] = [];
    const on = (wf.on ?? {}) as Record<string, { branches?: string[] }>;
    if (!sameSet(Object.keys(on), ["push"]) || !sameSet(on.push?.branches ?? [], ["main"])) {
        p.push("trigger: only push to main");
    }
    if (JSON.stringify(wf.permissions) !== '{"contents":"read"}') p.push("permissions: not read-only");
    const concurrency = wf.concurrency as Record<string, unknown> | undefined;
    if (concurrency?.["cancel-in-progress"] !== false) p.push("concurrency: a running pulumi up must not be cancelled");

    const deployed = new Map<string, { id: string; job: Job }>();
    const jobs = jobsOf(wf);
    for (const [id, job] of Object.entries(jobs)) {
        const step = stepsUsing(job, "pulumi/actions")[0];
        p.push(...pulumiStepProblems(`jobs.${id}`, step, "up", { ...(wf.env as object), ...(job.env as object) }));
        const name = String(withOf(step)["stack-name"]);
        const matrix = matrixOf(job);
        const list = name === "${{ matrix.stack }}" ? (Array.isArray(matrix) ? matrix.map(String) : []) : [name];
        const environment = list.length === 1 && name !== "${{ matrix.stack }}" ? name : "${{ matrix.stack }}";
        if (job.environment !== environment) p.push(`jobs.${id}: environment is not ${environment}`);
        for (const stack of list) {
            if (deployed.has(stack)) p.push(`stack ${stack} is deployed twice`);
            deployed.set(stack, { id, job });
        }
    }
    if (!sameSet([...deployed.keys()], stacks.all)) {
        p.push(
            `deployed stacks ${JSON.stringify([...deployed.keys()])} are not the stacks ${JSON.stringify(stacks.all)}`,
        );
    }
    const shared = deployed.get(stacks.shared);
    if (shared === undefined) p.push(`the shared stack ${stacks.shared} is not deployed`);
    else {
        // Site stacks enforce the bundle rule with the hash the shared stack's `pulumi up` output.
        const hashOut = (shared.job.outputs as Record<string, string> | undefined)?.bundleSha256 ?? "";
        const upId = stepsUsing(shared.job, "pulumi/actions")[0]?.id;
        if (typeof upId !== "string" || hashOut !== `\${{ steps.${upId}.outputs.bundleSha256 }}`) {
            p.push(`the shared stack's job does not output bundleSha256 from its pulumi up step`);
        }
        for (const [stack, { id, job }] of deployed) {
            if (stack === stacks.shared) continue;
            const w = withOf(stepsUsing(job, "pulumi/actions")[0]);
            const writes = stepsOf(job).some(
                (s) =>
                    textOf(s.run).includes('"$RUNNER_TEMP/policy-config.json"') &&
                    JSON.stringify(s.env ?? {}).includes(`needs.${shared.id}.outputs.bundleSha256`),
            );
            if (!writes || w.policyPackConfigs !== "${{ runner.temp }}/policy-config.json") {
                p.push(`jobs.${id}: ${stack} does not pass the shared stack's bundleSha256 as policy config`);
            }
        }
        if (shared.job.needs !== undefined) p.push(`the shared stack ${stacks.shared} must go first (no needs)`);
        if (withOf(stepsUsing(shared.job, "pulumi/actions")[0])["stack-name"] !== stacks.shared) {
            p.push(`the shared stack ${stacks.shared} must have a job of its own`);
        }
        for (const [stack, { id, job }] of deployed) {
            if (stack !== stacks.shared && ![job.needs].flat().includes(shared.id)) {
                p.push(`jobs.${id}: ${stack} must need ${shared.id} (the shared stack first)`);
            }
        }
    }
    return p;
}

/** Runs the drift step's script against a fake `pulumi` ending with each status it must tell apart. */
function driftScriptProblems(where: string, script: string): string[] {
    const p: string[] = [];
    const run = (status: number) =>
        runBash(
            script,
            { STACK: "us" },
            { pulumi: `echo "pulumi $*"; echo "  ~ Secret bundle <changed>"; exit ${status}` },
        );
    const clean = run(0);
    if (clean.status !== 0 || !/no drift/.test(clean.summary))
        p.push(`${where}: a preview without changes does not pass with "no drift" in the job summary`);
    if (!/pulumi preview --stack us\b.*--refresh.*--expect-no-changes/.test(clean.output))
        p.push(`${where}: the CLI is not called as pulumi preview --stack <stack> --refresh --expect-no-changes`);
    const drift = run(7);
    if (drift.status === 0) p.push(`${where}: drift (the CLI's exit 7) does not fail the run`);
    if (!/\bDRIFT\b/.test(drift.summary) || !drift.summary.includes("Secret bundle &lt;changed&gt;"))
        p.push(`${where}: drift is not reported in the job summary with the diff (HTML-escaped)`);
    const error = run(255);
    if (error.status === 0 || !/\bERROR\b/.test(error.summary))
        p.push(`${where}: a failing preview is not reported as an error, apart from drift`);
    return p;
}

/** drift.yml: scheduled, every stack, read-only, `preview --refresh --expect-no-changes`, reported. */
function driftProblems(wf: Workflow, stacks: Stacks): string[] {
    const p: string[] = [];
    const on = (wf.on ?? {}) as Record<string, unknown>;
    if (!sameSet(Object.keys(on), ["schedule", "workflow_dispatch"]))
        p.push("trigger: schedule and workflow_dispatch only");
    const crons = ((on.schedule ?? []) as { cron?: string }[]).map((s) => String(s?.cron ?? ""));
    if (crons.length === 0 || crons.some((c) => c.trim().split(/\s+/).length !== 5))
        p.push("trigger: no cron schedule (five fields)");
    if (JSON.stringify(wf.permissions) !== '{"contents":"read"}')
        p.push("permissions: workflow default is not read-only");
    const entries = Object.entries(jobsOf(wf));
    if (entries.length !== 1) return [...p, "jobs: one drift job, a matrix over the stacks"];
    const [id, job] = entries[0];
    const where = `jobs.${id}`;
    const matrix = matrixOf(job);
    if (!Array.isArray(matrix) || !sameSet(matrix, stacks.all)) {
        p.push(`${where}: matrix ${JSON.stringify(matrix)} is not the stacks ${JSON.stringify(stacks.all)}`);
    }
    if ((job.strategy as Record<string, unknown>)?.["fail-fast"] !== false)
        p.push(`${where}: fail-fast must be false (one stack's drift must not hide another's)`);
    if (job.environment !== undefined) p.push(`${where}: no environment (drift uses the read-only identity)`);
    const step = stepsOf(job)[runIndex(job, /pulumi preview/)];
    if (step === undefined) return [...p, `${where}: no pulumi preview step`];
    const line = String(step.run)
        .split("\n")
        .find((l) => /pulumi preview/.test(l));
    for (const flag of ['--stack "$STACK"', "--refresh", "--expect-no-changes"]) {
        if (!line?.includes(flag)) p.push(`${where}: pulumi preview without ${flag}`);
    }
    if ((step.env as Record<string, unknown> | undefined)?.STACK !== "${{ matrix.stack }}")
        p.push(`${where}: STACK is not the matrix stack`);
    if (!String(step.run).includes("$GITHUB_STEP_SUMMARY")) p.push(`${where}: no job summary`);
    p.push(...driftScriptProblems(where, String(step.run)));
    return p;
}

/**
 * A pull-request workflow's one required check: the job REQUIRED_JOB, which always runs, needs
 * every other job, and fails unless each succeeded (a needed job with an `if:` may be skipped only
 * while that same condition, repeated in the check's env, is false). GitHub counts a skipped job as
 * passed, so this is the job branch protection requires; its script is run here for every outcome.
 */
function requiredCheckProblems(wf: Workflow): string[] {
    if (!Object.keys(wf.on ?? {}).includes("pull_request")) return [];
    const jobs = jobsOf(wf);
    const required = jobs[REQUIRED_JOB];
    if (required === undefined) return [`no "${REQUIRED_JOB}" job: the one check branch protection requires`];
    const p: string[] = [];
    const where = `jobs.${REQUIRED_JOB}`;
    const cond = textOf(required.if)
        .replace(/^\$\{\{\s*|\s*\}\}$/g, "")
        .trim();
    if (cond !== "always()") p.push(`${where}: if must be always() (a skipped required check counts as passed)`);
    const needs = [required.needs ?? []].flat().map(String);
    for (const id of Object.keys(jobs)) {
        if (id !== REQUIRED_JOB && !needs.includes(id)) p.push(`${where}: does not need ${id}`);
    }
    const step = stepsOf(required).find((s) => typeof s.run === "string");
    if (step === undefined) return [...p, `${where}: no step checks the results`];
    const env = (step.env ?? {}) as Record<string, unknown>;
    if (env.RESULTS !== "${{ join(needs.*.result, ' ') }}")
        p.push(`${where}: RESULTS is not every needed job's result`);
    let flag: string | undefined;
    for (const id of needs.filter((n) => jobs[n]?.if !== undefined)) {
        const entry = Object.entries(env).find(([, v]) => v === `\${{ ${String(jobs[id].if)} }}`);
        if (entry === undefined) p.push(`${where}: ${id}'s if is not repeated word for word in the check's env`);
        else flag = entry[0];
    }
    const status = (results: string[], expected = true) =>
        runBash(String(step.run), { RESULTS: results.join(" "), ...(flag ? { [flag]: String(expected) } : {}) }).status;
    const all = (result: string) => needs.map(() => result);
    if (status(all("success")) !== 0) p.push(`${where}: fails when every needed job succeeded`);
    for (const bad of ["failure", "cancelled", "skipped"]) {
        needs.forEach((id, i) => {
            const results = all("success");
            results[i] = bad;
            if (status(results) === 0) p.push(`${where}: passes when ${id} ended ${bad}`);
        });
    }
    if (status([]) === 0) p.push(`${where}: passes when no job reported a result`);
    if (flag !== undefined) {
        if (status(all("skipped"), false) !== 0) p.push(`${where}: fails when the jobs were skipped on purpose`);
        if (status(all("failure"), false) === 0) p.push(`${where}: passes a failure when ${flag} is false`);
    }
    return p;
}

/** A label event must run the same jobs as a push: no job's `if:` reads the event's action or label. */
function labelProblems(wf: Workflow): string[] {
    return Object.entries(jobsOf(wf))
        .filter(([, job]) => /github\.event\.(action|label)\b/.test(textOf(job.if)))
        .map(([id]) => `jobs.${id}: its if reads the event's action or label, so a label event can skip it`);
}

/** Cloud credentials by OIDC only, `id-token: write` exactly where a login happens, the right identity. */
function identityProblems(wf: Workflow): string[] {
    const p: string[] = [];
    const top = wf.permissions;
    if (typeof top !== "object" || top === null || "id-token" in top) {
        p.push("permissions: the workflow default must be a map without id-token (that goes on the jobs that log in)");
    }
    const text = JSON.stringify(wf);
    const key = LONG_LIVED_KEYS.exec(text);
    if (key !== null) p.push(`a long-lived cloud key is referenced (${key[1]}): credentials come by OIDC`);
    const secrets = new Set([...text.matchAll(/secrets\.(\w+)/g)].map((m) => m[1]));
    for (const name of secrets) {
        if (!ALLOWED_SECRETS.includes(name)) p.push(`secret ${name} is read: the only stored secret is the passphrase`);
    }
    for (const [id, job] of Object.entries(jobsOf(wf))) {
        const where = `jobs.${id}`;
        const aws = stepsUsing(job, AWS_LOGIN);
        const azure = stepsUsing(job, AZURE_LOGIN);
        const logins = aws.length + azure.length;
        const perms = job.permissions;
        if (typeof perms === "string") p.push(`${where}: permissions ${perms}: list them`);
        const oidc = (perms as Record<string, unknown> | undefined)?.["id-token"] === "write";
        if (oidc && logins === 0) p.push(`${where}: id-token: write without a cloud login`);
        if (!oidc && logins > 0) p.push(`${where}: a cloud login without id-token: write`);
        const pulumi =
            stepsUsing(job, "pulumi/actions").some((s) => withOf(s).command !== undefined) ||
            runIndex(job, PULUMI_RUN) >= 0;
        if (pulumi && (aws.length !== 1 || azure.length !== 1)) {
            p.push(`${where}: runs Pulumi against the real state without one AWS and one Azure login`);
        }
        if (logins === 0) continue;
        const [identity, other] = job.environment !== undefined ? [DEPLOY, READ_ONLY] : [READ_ONLY, DEPLOY];
        for (const name of [other.awsRole, other.azureClient]) {
            if (JSON.stringify(job).includes(`vars.${name}`)) {
                p.push(`${where}: uses the ${other.name} identity (${name}); this job gets the ${identity.name} one`);
            }
        }
        for (const step of aws) {
            const w = withOf(step);
            if (w["role-to-assume"] !== `\${{ vars.${identity.awsRole} }}`)
                p.push(`${where}: the AWS login does not assume vars.${identity.awsRole}`);
            for (const k of ["aws-access-key-id", "aws-secret-access-key", "aws-session-token"]) {
                if (k in w) p.push(`${where}: the AWS login takes ${k} instead of OIDC`);
            }
        }
        for (const step of azure) {
            const w = withOf(step);
            if (w["client-id"] !== `\${{ vars.${identity.azureClient} }}`)
                p.push(`${where}: the Azure login is not vars.${identity.azureClient}`);
            if (w["tenant-id"] === undefined || w["subscription-id"] === undefined)
                p.push(`${where}: the Azure login needs tenant-id and subscription-id`);
            if ("creds" in w) p.push(`${where}: the Azure login takes creds (a client secret) instead of OIDC`);
        }
        // The azure-native provider exchanges the job's OIDC token itself, as the same identity.
        const env = { ...(wf.env as object), ...(job.env as object) } as Record<string, unknown>;
        if (
            azure.length > 0 &&
            (env.ARM_USE_OIDC !== "true" || env.ARM_CLIENT_ID !== `\${{ vars.${identity.azureClient} }}`)
        ) {
            p.push(
                `${where}: azure-native is not given ARM_USE_OIDC "true" and ARM_CLIENT_ID vars.${identity.azureClient}`,
            );
        }
    }
    return p;
}

/** Jobs that reach the clouds run on the repository's runner; every other job on GitHub-hosted ones. */
function runnerProblems(wf: Workflow): string[] {
    const p: string[] = [];
    for (const [id, job] of Object.entries(jobsOf(wf))) {
        const cloud = stepsUsing(job, AWS_LOGIN).length + stepsUsing(job, AZURE_LOGIN).length > 0;
        const runsOn = JSON.stringify(job["runs-on"]);
        if (cloud && job["runs-on"] !== CLOUD_RUNNER) {
            p.push(`jobs.${id}: reaches the clouds and clusters but runs on ${runsOn}, not ${CLOUD_RUNNER}`);
        }
        if (!cloud && job["runs-on"] !== HOSTED_RUNNER) {
            p.push(`jobs.${id}: needs no cloud, so it stays on ${HOSTED_RUNNER} (GitHub-hosted), not ${runsOn}`);
        }
    }
    return p;
}

/** Node from .node-version, the Pulumi CLI from .pulumi-version, installed before it is called. */
function toolVersionProblems(wf: Workflow): string[] {
    const p: string[] = [];
    for (const [id, job] of Object.entries(jobsOf(wf))) {
        for (const step of stepsUsing(job, "actions/setup-node")) {
            const w = withOf(step);
            if (w["node-version-file"] !== NODE_VERSION_FILE || "node-version" in w) {
                p.push(`jobs.${id}: setup-node does not read node-version-file ${NODE_VERSION_FILE}`);
            }
        }
        const installs = stepsOf(job).flatMap((s, i) => (actionName(s) === "pulumi/actions" ? [i] : []));
        for (const i of installs) {
            const w = withOf(stepsOf(job)[i]);
            if (w["pulumi-version-file"] !== PULUMI_VERSION_FILE || "pulumi-version" in w) {
                p.push(`jobs.${id}: pulumi/actions does not read pulumi-version-file ${PULUMI_VERSION_FILE}`);
            }
        }
        const calls = runIndex(job, PULUMI_RUN);
        if (calls >= 0 && !installs.some((i) => i < calls)) {
            p.push(`jobs.${id}: calls the Pulumi CLI before pulumi/actions installed the pinned one`);
        }
        if (stepsOf(job).some((s) => /get\.pulumi\.com/.test(textOf(s.run)))) {
            p.push(`jobs.${id}: installs the Pulumi CLI another way than pulumi/actions and ${PULUMI_VERSION_FILE}`);
        }
    }
    return p;
}

/** Every remote action is a known one, given only inputs its action.yml declares, and its required ones. */
function actionInputProblems(wf: Workflow): string[] {
    const p: string[] = [];
    for (const [id, job] of Object.entries(jobsOf(wf))) {
        for (const step of stepsOf(job)) {
            const name = actionName(step);
            if (name === undefined || name.startsWith("./") || name.startsWith("docker:")) continue;
            const spec = ACTIONS[name];
            if (spec === undefined) {
                p.push(`jobs.${id}: ${name} is not in ACTIONS (test/support/workflows.ts): add its action.yml inputs`);
                continue;
            }
            const given = Object.keys(withOf(step));
            for (const input of given.filter((k) => !spec.inputs.includes(k))) {
                p.push(`jobs.${id}: ${input} is not an input of ${name} ${spec.release}`);
            }
            for (const input of spec.required.filter((k) => !given.includes(k))) {
                p.push(`jobs.${id}: ${name} requires ${input}`);
            }
        }
    }
    return p;
}

/** Every workflow: valid expressions, no event data in scripts, labels, identities, runners, versions. */
function commonProblems(wf: Workflow): string[] {
    const p = workflowExpressionProblems(wf);
    if (JSON.stringify(wf).includes("pull_request_target")) p.push("pull_request_target is used");
    for (const [id, job] of Object.entries(jobsOf(wf))) {
        for (const step of stepsOf(job)) {
            if (/\$\{\{[^}]*github\.event/.test(textOf(step.run))) {
                p.push(`jobs.${id}: event data spliced into a run script (pass it through env)`);
            }
        }
    }
    return [
        ...p,
        ...labelProblems(wf),
        ...identityProblems(wf),
        ...runnerProblems(wf),
        ...toolVersionProblems(wf),
        ...actionInputProblems(wf),
    ];
}

/** Every `uses:` of a remote action is `owner/repo@<40 hex>  # vX.Y.Z`, on the major ACTIONS records. */
function pinProblems(text: string): string[] {
    const p: string[] = [];
    for (const { uses, comment } of pinsIn(text)) {
        if (uses.startsWith("./") || uses.startsWith("docker://")) continue;
        const m = /^([\w.-]+\/[\w.-]+)(\/[^@]+)?@([0-9a-f]{40})$/.exec(uses);
        if (m === null) {
            p.push(`${uses} is not pinned to a full commit SHA`);
            continue;
        }
        if (comment === undefined || !/^v\d+\.\d+\.\d+$/.test(comment)) {
            p.push(`${uses} has no version comment (# vX.Y.Z)`);
            continue;
        }
        const spec = ACTIONS[m[1].toLowerCase()];
        if (spec !== undefined && major(comment) !== major(spec.release)) {
            p.push(`${m[1]} ${comment} is not on ${spec.release}'s major: check its action.yml and update ACTIONS`);
        }
    }
    return p;
}

/** One commit per action across every workflow (Dependabot moves them together). */
function pinConsistencyProblems(texts: readonly string[]): string[] {
    const seen = new Map<string, Set<string>>();
    for (const text of texts) {
        for (const { uses, comment } of pinsIn(text)) {
            const [name, ref] = uses.split("@");
            const key = name.toLowerCase();
            seen.set(key, (seen.get(key) ?? new Set()).add(`${ref} # ${comment ?? ""}`));
        }
    }
    return [...seen]
        .filter(([, refs]) => refs.size > 1)
        .map(([name, refs]) => `${name} is pinned to ${refs.size} commits: ${[...refs].join(", ")}`);
}

/** The pinned versions and what they must agree with. */
interface Versions {
    /** The contents of .pulumi-version. */
    readonly cli: string;
    /** @pulumi/pulumi per package.json that has it. */
    readonly sdks: Readonly<Record<string, string>>;
    /** The contents of .node-version. */
    readonly node: string;
    /** The `node` package package.json installs. */
    readonly nodePackage: string;
    /** docs/deploying.md. */
    readonly deploying: string;
}

function readVersions(): Versions {
    const read = (file: string) => fs.readFileSync(path.join(PROJECT_DIR, file), "utf8");
    const pkg = (file: string) =>
        JSON.parse(read(file)) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    const sdks: Record<string, string> = {};
    for (const file of ["package.json", "policy/package.json"]) {
        if (!fs.existsSync(path.join(PROJECT_DIR, file))) continue;
        const sdk = pkg(file).dependencies?.["@pulumi/pulumi"];
        if (sdk !== undefined) sdks[file] = sdk;
    }
    const exists = (file: string) => fs.existsSync(path.join(PROJECT_DIR, file));
    return {
        cli: exists(PULUMI_VERSION_FILE) ? read(PULUMI_VERSION_FILE) : "",
        sdks,
        node: exists(NODE_VERSION_FILE) ? read(NODE_VERSION_FILE) : "",
        nodePackage: pkg("package.json").devDependencies?.node ?? "",
        deploying: read("docs/deploying.md"),
    };
}

/** Negative, zero or positive as semantic version a is older than, equal to or newer than b. */
function compareVersions(a: string, b: string): number {
    const parts = (v: string) =>
        v
            .replace(/^[\^~v]/, "")
            .split(".")
            .map(Number);
    const [x, y] = [parts(a), parts(b)];
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
}

/** .pulumi-version is one exact CLI version not older than the SDK; .node-version is the `node` package. */
function versionProblems(v: Versions): string[] {
    const p: string[] = [];
    const cli = v.cli.trim();
    if (!/^\d+\.\d+\.\d+$/.test(cli) || v.cli !== `${cli}\n`)
        p.push(`${PULUMI_VERSION_FILE}: ${JSON.stringify(v.cli)} is not one exact version (x.y.z and a newline)`);
    else {
        for (const [file, sdk] of Object.entries(v.sdks)) {
            if (compareVersions(cli, sdk) < 0)
                p.push(`${PULUMI_VERSION_FILE}: CLI ${cli} is older than @pulumi/pulumi ${sdk} in ${file}`);
        }
    }
    if (v.node.trim() !== v.nodePackage || !/^\d+\.\d+\.\d+$/.test(v.nodePackage)) {
        p.push(
            `${NODE_VERSION_FILE}: ${JSON.stringify(v.node)} is not the node package's ${v.nodePackage} (package.json)`,
        );
    }
    if (!v.deploying.includes(PULUMI_VERSION_FILE))
        p.push(`docs/deploying.md: does not install the Pulumi CLI at the version in ${PULUMI_VERSION_FILE}`);
    return p;
}

/** .github/dependabot.yml: GitHub Actions and npm (the root and policy/), on a schedule. */
function dependabotProblems(cfg: Record<string, unknown> | undefined): string[] {
    const p: string[] = [];
    if (cfg?.version !== 2) p.push("dependabot: version is not 2");
    const updates = (cfg?.updates ?? []) as Record<string, unknown>[];
    const wanted: [string, string][] = [
        ["github-actions", "/"],
        ["npm", "/"],
    ];
    if (fs.existsSync(path.join(PROJECT_DIR, "policy", "package.json"))) wanted.push(["npm", "/policy"]);
    for (const [ecosystem, directory] of wanted) {
        const u = updates.find((x) => x["package-ecosystem"] === ecosystem && x.directory === directory);
        if (u === undefined) p.push(`dependabot: no ${ecosystem} updates for ${directory}`);
        else if ((u.schedule as Record<string, unknown> | undefined)?.interval === undefined)
            p.push(`dependabot: ${ecosystem} ${directory} has no schedule`);
    }
    return p;
}

const stacks = repoStacks();
const FILES = ["deploy.yml", "drift.yml", "preview.yml", "pull-request.yml", "render-diff-comment.yml"];
const texts: Record<string, string> = Object.fromEntries(FILES.map((f) => [f, readWorkflowText(f)]));
const pr = loadWorkflow("pull-request.yml");
const preview = loadWorkflow("preview.yml");
const comment = loadWorkflow("render-diff-comment.yml");
const deploy = loadWorkflow("deploy.yml");
const drift = loadWorkflow("drift.yml");
const workflows: Record<string, Workflow> = {
    "deploy.yml": deploy,
    "drift.yml": drift,
    "preview.yml": preview,
    "pull-request.yml": pr,
    "render-diff-comment.yml": comment,
};
const dependabotFile = path.join(PROJECT_DIR, ".github", "dependabot.yml");
const dependabot = fs.existsSync(dependabotFile)
    ? (parse(fs.readFileSync(dependabotFile, "utf8")) as Record<string, unknown>)
    : undefined;

describe("workflows", () => {
    it(`enforce ${POLICY_PACK}/, which is a Pulumi policy pack`, function () {
        const dir = path.join(PROJECT_DIR, POLICY_PACK);
        if (!fs.existsSync(dir)) {
            // The pack lands separately; the workflows already name it.
            console.log(`      skipped: ${dir} does not exist yet`);
            this.skip();
        }
        assert.ok(fs.existsSync(path.join(dir, "PulumiPolicy.yaml")), `${dir} has no PulumiPolicy.yaml`);
    });

    it("cover the repository's stacks, the shared one first", () => {
        assert.ok(
            stacks.all.includes(stacks.shared),
            `shared stack ${stacks.shared} has no Pulumi.${stacks.shared}.yaml`,
        );
    });

    it("are the files checked here (a new workflow gets checks of its own)", () => {
        assert.deepEqual(listWorkflows(), FILES);
    });

    it("pull-request.yml: checks and render diff on base and head, for every PR, never on a label", () => {
        assert.deepEqual(pullRequestProblems(pr), []);
    });

    it("preview.yml: preview per stack with policy, refresh and guard, re-run on every label", () => {
        assert.deepEqual(previewProblems(preview, stacks), []);
    });

    it("render-diff-comment.yml: comments from a workflow_run without running PR code", () => {
        assert.deepEqual(commentProblems(comment, pr), []);
    });

    it("deploy.yml: the shared stack first, then the others, each behind its environment, refreshed", () => {
        assert.deepEqual(deployProblems(deploy, stacks), []);
    });

    it("drift.yml: every stack daily, preview --refresh --expect-no-changes, drift fails and is summarized", () => {
        assert.deepEqual(driftProblems(drift, stacks), []);
    });

    for (const file of ["pull-request.yml", "preview.yml"]) {
        it(`${file}: one required check that always runs and fails unless every job it needs passed`, () => {
            assert.deepEqual(requiredCheckProblems(workflows[file]), []);
        });
    }

    for (const file of FILES) {
        it(`${file}: valid expressions, no script injection, OIDC only where it logs in, runners, versions, inputs`, () => {
            assert.deepEqual(commonProblems(workflows[file]), []);
        });
        it(`${file}: every action pinned to a commit SHA with its version in a comment`, () => {
            assert.deepEqual(pinProblems(texts[file]), []);
        });
    }

    it("pin each action to one commit across the workflows", () => {
        assert.deepEqual(pinConsistencyProblems(Object.values(texts)), []);
    });

    it(`take the Pulumi CLI from ${PULUMI_VERSION_FILE} and Node from ${NODE_VERSION_FILE}, which agree with package.json`, () => {
        assert.deepEqual(versionProblems(readVersions()), []);
    });

    it("are kept up to date by Dependabot, with the npm packages (root and policy/)", () => {
        assert.deepEqual(dependabotProblems(dependabot), []);
    });
});

describe("workflow checks catch drift", () => {
    const job = (wf: Workflow, id: string) => jobsOf(wf)[id];
    const step = (wf: Workflow, id: string, pattern: RegExp) =>
        stepsOf(job(wf, id)).find((s) => pattern.test(String(s.uses ?? s.run ?? s.name)))!;
    const runStep = (wf: Workflow, id: string) => stepsOf(job(wf, id)).find((s) => typeof s.run === "string")!;

    const cases: [string, (s: Stacks) => string[], RegExp][] = [
        ["a new stack file", () => previewProblems(preview, { ...stacks, all: [...stacks.all, "ap"] }), /matrix/],
        [
            "a new stack file (deploy)",
            () => deployProblems(deploy, { ...stacks, all: [...stacks.all, "ap"] }),
            /deployed/,
        ],
        [
            "a new stack file (drift)",
            () => driftProblems(drift, { ...stacks, all: [...stacks.all, "ap"] }),
            /jobs\.drift: matrix/,
        ],
        ["another shared stack", () => deployProblems(deploy, { ...stacks, shared: "eu" }), /must go first|own/],
        [
            "pull_request_target",
            () => {
                const wf = clone(pr);
                wf.on = { pull_request_target: {} };
                return [...pullRequestProblems(wf), ...commonProblems(wf)];
            },
            /pull_request_target/,
        ],
        [
            "no test step",
            () => {
                const wf = clone(pr);
                job(wf, "checks").steps = stepsOf(job(wf, "checks")).filter((s) => s.run !== "npm test");
                return pullRequestProblems(wf);
            },
            /checks: .*missing/,
        ],
        [
            "no upstream schemas for the tests",
            () => {
                const wf = clone(pr);
                job(wf, "checks").steps = stepsOf(job(wf, "checks")).filter(
                    (s) => !/npm run schemas/.test(String(s.run)),
                );
                return pullRequestProblems(wf);
            },
            /checks: .*schemas.*missing/,
        ],
        [
            "a head render that ignores what the base deployed",
            () => {
                const wf = clone(pr);
                for (const step of stepsOf(job(wf, "render-diff"))) {
                    if (typeof step.run === "string") step.run = step.run.replace(/ --deployed "\$OUT\/base"/, "");
                }
                return pullRequestProblems(wf);
            },
            /render-diff: the head's render must read the base's as deployed/,
        ],
        [
            "no primary/standby pair for the failover scripts' tests",
            () => {
                const wf = clone(pr);
                job(wf, "checks").steps = stepsOf(job(wf, "checks")).filter(
                    (s) => s.run !== "sudo bash .ci/postgres-standby.sh",
                );
                return pullRequestProblems(wf);
            },
            /checks: .*PostgreSQL standby pair.*missing/,
        ],
        [
            "no redis-server for the Redis test",
            () => {
                const wf = clone(pr);
                job(wf, "checks").steps = stepsOf(job(wf, "checks")).filter((s) => s.run !== "sudo bash .ci/redis.sh");
                return pullRequestProblems(wf);
            },
            /checks: .*redis-server.*missing/,
        ],
        [
            "comment-on-pr off",
            () => {
                const wf = clone(preview);
                withOf(step(wf, "preview", /^pulumi\/actions/))["comment-on-pr"] = false;
                return previewProblems(wf, stacks);
            },
            /comment-on-pr/,
        ],
        [
            "no policy pack on deploy",
            () => {
                const wf = clone(deploy);
                delete withOf(step(wf, "sites", /^pulumi\/actions/)).policyPacks;
                return deployProblems(wf, stacks);
            },
            /policyPacks/,
        ],
        [
            "site deploys without the shared stack's hash",
            () => {
                const wf = clone(deploy);
                delete withOf(step(wf, "sites", /^pulumi\/actions/)).policyPackConfigs;
                return deployProblems(wf, stacks);
            },
            /bundleSha256 as policy config/,
        ],
        [
            "site previews without the shared stack's hash",
            () => {
                const wf = clone(preview);
                const guard = step(wf, "preview", /preview-guard/);
                guard.run = String(guard.run).replace(' "${policy[@]}"', "");
                return previewProblems(wf, stacks);
            },
            /bundleSha256 as policy config/,
        ],
        [
            "sites not after the shared stack",
            () => {
                const wf = clone(deploy);
                delete job(wf, "sites").needs;
                return deployProblems(wf, stacks);
            },
            /must need/,
        ],
        [
            "guard without the override",
            () => {
                const wf = clone(preview);
                const guard = step(wf, "preview", /preview-guard/);
                guard.run = String(guard.run).replace(/.*allow-stateful-changes.*\n/, "");
                return previewProblems(wf, stacks);
            },
            /never passes/,
        ],
        [
            "an unclosed expression",
            () => {
                const wf = clone(deploy);
                job(wf, "sites").environment = "${{ matrix.stack }";
                return commonProblems(wf);
            },
            /unclosed/,
        ],
        [
            "a double-quoted expression string",
            () => {
                const wf = clone(preview);
                wf.concurrency = { group: "x", "cancel-in-progress": '${{ github.event.action == "synchronize" }}' };
                return commonProblems(wf);
            },
            /double-quoted/,
        ],
        [
            "runner context in a job's env",
            () => {
                const wf = clone(pr);
                job(wf, "render-diff").env = { OUT: "${{ runner.temp }}/x" };
                return commonProblems(wf);
            },
            /context "runner" is not available/,
        ],
        [
            "secrets in a job's if",
            () => {
                const wf = clone(preview);
                job(wf, "preview").if = "secrets.PULUMI_CONFIG_PASSPHRASE != ''";
                return commonProblems(wf);
            },
            /context "secrets" is not available/,
        ],
        [
            "a checkout in the comment workflow",
            () => {
                const wf = clone(comment);
                (job(wf, "comment").steps as Step[]).unshift({ uses: "actions/checkout@v7" });
                return commonProblems(wf).concat(commentProblems(wf, pr));
            },
            /must not check out/,
        ],

        // The required check: labels, skips, always().
        [
            "a label that skips the checks (the old pull-request.yml)",
            () => {
                const wf = clone(pr);
                (wf.on as Record<string, { types: string[] }>).pull_request.types.push("labeled", "unlabeled");
                job(wf, "checks").if =
                    "(github.event.action != 'labeled' && github.event.action != 'unlabeled') || github.event.label.name == 'allow-stateful-changes'";
                return [...pullRequestProblems(wf), ...commonProblems(wf)];
            },
            /jobs\.checks: its if reads the event's action or label, so a label event can skip it/,
        ],
        [
            "label events on pull-request.yml",
            () => {
                const wf = clone(pr);
                (wf.on as Record<string, { types: string[] }>).pull_request.types.push("labeled");
                return pullRequestProblems(wf);
            },
            /trigger: pull_request types must be opened, synchronize, reopened/,
        ],
        [
            "a preview skipped on an unrelated label",
            () => {
                const wf = clone(preview);
                job(wf, "preview").if = `${String(job(wf, "preview").if)} && github.event.label.name != 'docs'`;
                return [...commonProblems(wf), ...requiredCheckProblems(wf)];
            },
            /jobs\.preview: its if reads the event's action or label/,
        ],
        [
            "a required check that can be skipped",
            () => {
                const wf = clone(pr);
                delete job(wf, REQUIRED_JOB).if;
                return requiredCheckProblems(wf);
            },
            /jobs\.required: if must be always\(\)/,
        ],
        [
            "a required check that does not need the render diff",
            () => {
                const wf = clone(pr);
                job(wf, REQUIRED_JOB).needs = ["checks"];
                return requiredCheckProblems(wf);
            },
            /jobs\.required: does not need render-diff/,
        ],
        [
            "a required check that passes a skipped job",
            () => {
                const wf = clone(pr);
                const check = runStep(wf, REQUIRED_JOB);
                check.run = String(check.run).replace('[ "$result" != success ]', '[ "$result" = failure ]');
                return requiredCheckProblems(wf);
            },
            /jobs\.required: passes when checks ended skipped/,
        ],
        [
            "no required check",
            () => {
                const wf = clone(pr);
                delete jobsOf(wf)[REQUIRED_JOB];
                return requiredCheckProblems(wf);
            },
            /no "required" job/,
        ],
        [
            "a preview check that does not repeat the preview's condition",
            () => {
                const wf = clone(preview);
                const check = runStep(wf, REQUIRED_JOB);
                (check.env as Record<string, string>).PREVIEWS = "${{ vars.PULUMI_PREVIEW == 'true' }}";
                return requiredCheckProblems(wf);
            },
            /jobs\.required: preview's if is not repeated word for word/,
        ],
        [
            "a preview check that passes skipped previews when they should have run",
            () => {
                const wf = clone(preview);
                const check = runStep(wf, REQUIRED_JOB);
                check.run = String(check.run).replace(' && [ "$PREVIEWS" = false ]', "");
                return requiredCheckProblems(wf);
            },
            /jobs\.required: passes when preview ended skipped/,
        ],

        // Pins.
        [
            "an action on a major tag",
            () =>
                pinProblems(
                    texts["pull-request.yml"].replace(
                        /actions\/checkout@[0-9a-f]{40} # v[\d.]+/,
                        "actions/checkout@v7",
                    ),
                ),
            /actions\/checkout@v7 is not pinned to a full commit SHA/,
        ],
        [
            "a SHA pin without its version comment",
            () => pinProblems(texts["deploy.yml"].replace(/(pulumi\/actions@[0-9a-f]{40}) # v[\d.]+/, "$1")),
            /pulumi\/actions@[0-9a-f]{40} has no version comment/,
        ],
        [
            "a pin on a major whose action.yml was not read",
            () => pinProblems(texts["deploy.yml"].replace(/(azure\/login@[0-9a-f]{40}) # v[\d.]+/, "$1 # v4.0.0")),
            /azure\/login v4\.0\.0 is not on v3\.0\.1's major/,
        ],
        [
            "one action pinned to two commits",
            () =>
                pinConsistencyProblems([
                    texts["pull-request.yml"],
                    texts["deploy.yml"].replace(/actions\/checkout@[0-9a-f]{40}/, `actions/checkout@${"0".repeat(40)}`),
                ]),
            /actions\/checkout is pinned to 2 commits/,
        ],
        [
            "an input the action does not declare",
            () => {
                const wf = clone(deploy);
                withOf(step(wf, "sites", /^pulumi\/actions/))["policy-packs"] = "policy";
                return commonProblems(wf);
            },
            /jobs\.sites: policy-packs is not an input of pulumi\/actions v7\.0\.0/,
        ],
        [
            "an action not in ACTIONS",
            () => {
                const wf = clone(pr);
                (job(wf, "checks").steps as Step[]).push({ uses: `example/unknown@${"a".repeat(40)}` });
                return commonProblems(wf);
            },
            /example\/unknown is not in ACTIONS/,
        ],
        [
            "a missing required input",
            () => {
                const wf = clone(drift);
                delete withOf(step(wf, "drift", /^aws-actions/))["aws-region"];
                return commonProblems(wf);
            },
            /jobs\.drift: aws-actions\/configure-aws-credentials requires aws-region/,
        ],

        // Credentials.
        [
            "id-token for the whole workflow",
            () => {
                const wf = clone(deploy);
                wf.permissions = { contents: "read", "id-token": "write" };
                return commonProblems(wf);
            },
            /permissions: the workflow default must be a map without id-token/,
        ],
        [
            "id-token on a job that logs in nowhere",
            () => {
                const wf = clone(pr);
                job(wf, "checks").permissions = { contents: "read", "id-token": "write" };
                return commonProblems(wf);
            },
            /jobs\.checks: id-token: write without a cloud login/,
        ],
        [
            "a cloud login without id-token",
            () => {
                const wf = clone(drift);
                job(wf, "drift").permissions = { contents: "read" };
                return commonProblems(wf);
            },
            /jobs\.drift: a cloud login without id-token: write/,
        ],
        [
            "a long-lived AWS key",
            () => {
                const wf = clone(deploy);
                wf.env = { ...(wf.env as object), AWS_SECRET_ACCESS_KEY: "${{ secrets.AWS_SECRET_ACCESS_KEY }}" };
                return commonProblems(wf);
            },
            /long-lived cloud key is referenced \(AWS_SECRET_ACCESS_KEY\)/,
        ],
        [
            "an Azure client secret",
            () => {
                const wf = clone(preview);
                withOf(step(wf, "preview", /^azure\/login/)).creds = "${{ secrets.AZURE_SP }}";
                return commonProblems(wf);
            },
            /takes creds \(a client secret\) instead of OIDC/,
        ],
        [
            "a secret other than the passphrase",
            () => {
                const wf = clone(drift);
                job(wf, "drift").env = { ...(job(wf, "drift").env as object), TOKEN: "${{ secrets.KUBE_TOKEN }}" };
                return commonProblems(wf);
            },
            /secret KUBE_TOKEN is read/,
        ],
        [
            "the deploy identity in a preview",
            () => {
                const wf = clone(preview);
                withOf(step(wf, "preview", /^aws-actions/))["role-to-assume"] = "${{ vars.AWS_DEPLOY_ROLE_ARN }}";
                return commonProblems(wf);
            },
            /jobs\.preview: uses the deploy identity \(AWS_DEPLOY_ROLE_ARN\)/,
        ],
        [
            "the read-only identity in a deploy",
            () => {
                const wf = clone(deploy);
                withOf(step(wf, "shared", /^azure\/login/))["client-id"] = "${{ vars.AZURE_PREVIEW_CLIENT_ID }}";
                return commonProblems(wf);
            },
            /jobs\.shared: uses the read-only identity \(AZURE_PREVIEW_CLIENT_ID\)/,
        ],
        [
            "azure-native without OIDC",
            () => {
                const wf = clone(deploy);
                delete (job(wf, "sites").env as Record<string, unknown>).ARM_USE_OIDC;
                return commonProblems(wf);
            },
            /jobs\.sites: azure-native is not given ARM_USE_OIDC/,
        ],
        [
            "a deploy without an Azure login",
            () => {
                const wf = clone(deploy);
                job(wf, "sites").steps = stepsOf(job(wf, "sites")).filter((s) => !String(s.uses).startsWith("azure/"));
                return commonProblems(wf);
            },
            /jobs\.sites: runs Pulumi against the real state without one AWS and one Azure login/,
        ],

        // Runners.
        [
            "a deploy on a GitHub-hosted runner only",
            () => {
                const wf = clone(deploy);
                job(wf, "sites")["runs-on"] = "ubuntu-latest";
                return commonProblems(wf);
            },
            /jobs\.sites: reaches the clouds and clusters but runs on "ubuntu-latest"/,
        ],
        [
            "PR checks on the self-hosted runner",
            () => {
                const wf = clone(pr);
                job(wf, "checks")["runs-on"] = "${{ vars.PULUMI_RUNNER || 'ubuntu-latest' }}";
                return commonProblems(wf);
            },
            /jobs\.checks: needs no cloud, so it stays on ubuntu-latest/,
        ],

        // Versions.
        [
            "a Pulumi CLI version outside .pulumi-version",
            () => {
                const wf = clone(preview);
                const w = withOf(step(wf, "preview", /^pulumi\/actions/));
                delete w["pulumi-version-file"];
                w["pulumi-version"] = "^3";
                return commonProblems(wf);
            },
            /jobs\.preview: pulumi\/actions does not read pulumi-version-file \.pulumi-version/,
        ],
        [
            "the CLI called before it is installed",
            () => {
                const wf = clone(drift);
                job(wf, "drift").steps = stepsOf(job(wf, "drift")).filter((s) => !String(s.uses).startsWith("pulumi/"));
                return commonProblems(wf);
            },
            /jobs\.drift: calls the Pulumi CLI before pulumi\/actions installed the pinned one/,
        ],
        [
            "a CLI older than the SDK",
            () => versionProblems({ ...readVersions(), cli: "3.200.0\n" }),
            /\.pulumi-version: CLI 3\.200\.0 is older than @pulumi\/pulumi/,
        ],
        [
            "a CLI version range",
            () => versionProblems({ ...readVersions(), cli: "^3\n" }),
            /\.pulumi-version: "\^3\\n" is not one exact version/,
        ],
        [
            "a .node-version behind the node package",
            () => versionProblems({ ...readVersions(), node: "22.1.0\n" }),
            /\.node-version: "22\.1\.0\\n" is not the node package's/,
        ],
        [
            "docs that install whatever CLI is newest",
            () => versionProblems({ ...readVersions(), deploying: "curl -fsSL https://get.pulumi.com | sh" }),
            /docs\/deploying\.md: does not install the Pulumi CLI at the version in \.pulumi-version/,
        ],
        [
            "setup-node with its own Node version",
            () => {
                const wf = clone(pr);
                const w = withOf(step(wf, "checks", /^actions\/setup-node/));
                delete w["node-version-file"];
                w["node-version"] = 22;
                return commonProblems(wf);
            },
            /jobs\.checks: setup-node does not read node-version-file \.node-version/,
        ],
        [
            "no Dependabot for policy/",
            () =>
                dependabotProblems({
                    ...dependabot,
                    updates: ((dependabot?.updates ?? []) as Record<string, unknown>[]).filter(
                        (u) => u.directory !== "/policy",
                    ),
                }),
            /dependabot: no npm updates for \/policy/,
        ],

        // Refresh and drift.
        [
            "a deploy without refresh",
            () => {
                const wf = clone(deploy);
                delete withOf(step(wf, "shared", /^pulumi\/actions/)).refresh;
                return deployProblems(wf, stacks);
            },
            /jobs\.shared: refresh is not true/,
        ],
        [
            "a guard that judges an unrefreshed plan",
            () => {
                const wf = clone(preview);
                const guard = step(wf, "preview", /preview-guard/);
                guard.run = String(guard.run).replace(" --refresh --json", " --json");
                return previewProblems(wf, stacks);
            },
            /the guard does not read `pulumi preview --refresh --json`/,
        ],
        [
            "drift without a schedule",
            () => {
                const wf = clone(drift);
                wf.on = { workflow_dispatch: null };
                return driftProblems(wf, stacks);
            },
            /trigger: schedule and workflow_dispatch only/,
        ],
        [
            "drift without --expect-no-changes",
            () => {
                const wf = clone(drift);
                const s = step(wf, "drift", /pulumi preview/);
                s.run = String(s.run).replace(" --expect-no-changes", "");
                return driftProblems(wf, stacks);
            },
            /jobs\.drift: pulumi preview without --expect-no-changes/,
        ],
        [
            "drift that passes",
            () => {
                const wf = clone(drift);
                const s = step(wf, "drift", /pulumi preview/);
                s.run = String(s.run).replace(/\n\s*exit 1\n/, "\n");
                return driftProblems(wf, stacks);
            },
            /jobs\.drift: drift \(the CLI's exit 7\) does not fail the run/,
        ],
        [
            "drift not in the summary",
            () => {
                const wf = clone(drift);
                const s = step(wf, "drift", /pulumi preview/);
                s.run = String(s.run).replace('} >> "$GITHUB_STEP_SUMMARY"', "} > /dev/null");
                return driftProblems(wf, stacks);
            },
            /jobs\.drift: no job summary/,
        ],
        [
            "drift with the deploy identity",
            () => {
                const wf = clone(drift);
                job(wf, "drift").environment = "us";
                return [...driftProblems(wf, stacks), ...commonProblems(wf)];
            },
            /jobs\.drift: uses the read-only identity \(AWS_PREVIEW_ROLE_ARN\); this job gets the deploy one/,
        ],
    ];
    for (const [change, problems, expected] of cases) {
        it(`reports ${change}`, () => {
            const found = problems(stacks);
            assert.ok(
                found.some((f) => expected.test(f)),
                `expected ${String(expected)} in ${JSON.stringify(found)}`,
            );
        });
    }
});
