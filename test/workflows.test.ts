/**
 * The GitHub Actions workflows, parsed and checked: triggers and permissions, the PR checks, the
 * render diff and its comment, the per-stack preview with the policy pack and the stateful guard,
 * and the deploy order. Stacks come from the repository (Pulumi.<stack>.yaml, sharedStack), so
 * adding a stack file without adding it to the workflows fails here. Each check is a function
 * returning problems; the last block changes one thing at a time and expects a problem.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { listStacks, readStackConfig } from "../offline/stackConfig";
import { OVERRIDE_FLAG, OVERRIDE_LABEL } from "../scripts/preview-guard";
import { PROJECT_DIR } from "./mocks";
import {
    clone,
    Job,
    jobsOf,
    loadWorkflow,
    runIndex,
    Step,
    stepsOf,
    stepsUsing,
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
const sameSet = (a: readonly unknown[], b: readonly unknown[]) =>
    JSON.stringify([...a].map(String).sort()) === JSON.stringify([...b].map(String).sort());

/** Problems common to the pulumi/actions steps of both workflows. */
function pulumiStepProblems(where: string, step: Step | undefined, command: string, env: unknown): string[] {
    if (step === undefined) return [`${where}: no pulumi/actions step`];
    const p: string[] = [];
    const w = withOf(step);
    if (!/^pulumi\/actions@v\d+$/.test(String(step.uses))) p.push(`${where}: pulumi/actions is not pinned to a major`);
    if (w.command !== command) p.push(`${where}: command is ${String(w.command)}, expected ${command}`);
    if (!/^\$\{\{ secrets\.\w+ \}\}$/.test(String(w["cloud-url"]))) p.push(`${where}: cloud-url is not a secret`);
    if (w["secrets-provider"] !== "passphrase") p.push(`${where}: secrets-provider is not passphrase`);
    if (w.policyPacks !== POLICY_PACK) p.push(`${where}: policyPacks is not ${POLICY_PACK}`);
    const passphrase = (env as Record<string, unknown> | undefined)?.PULUMI_CONFIG_PASSPHRASE;
    if (passphrase !== "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}") {
        p.push(`${where}: PULUMI_CONFIG_PASSPHRASE is not taken from the secret`);
    }
    return p;
}

/** pull-request.yml: triggers, permissions, checks, render diff, preview and guard. */
function pullRequestProblems(wf: Workflow, stacks: Stacks): string[] {
    const p: string[] = [];
    const on = wf.on as Record<string, { types?: string[] }>;
    if (!sameSet(Object.keys(on ?? {}), ["pull_request"]))
        p.push("trigger: only pull_request (never pull_request_target)");
    for (const t of ["opened", "synchronize", "reopened", "labeled", "unlabeled"]) {
        if (!on?.pull_request?.types?.includes(t)) p.push(`trigger: pull_request type ${t} missing`);
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
        /^sudo bash \.ci\/cloud-init\.sh$/,
        /^sudo bash \.ci\/redis\.sh$/,
        /^npm test$/,
    ];
    const at = order.map((re) => runIndex(checks, re));
    if (at.some((i) => i < 0))
        p.push(`checks: install, lint, type-check, PostgreSQL, cloud-init, redis-server and test steps missing`);
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

    const preview = jobs.preview;
    if (![preview?.needs].flat().includes("checks")) p.push("preview: must need checks");
    const gate = String(preview?.if);
    if (
        !/vars\.\w+ == 'true'/.test(gate) ||
        !gate.includes("github.event.pull_request.head.repo.full_name == github.repository")
    ) {
        p.push("preview: not gated on a repository variable and same-repository PRs");
    }
    if (JSON.stringify(preview?.permissions) !== '{"contents":"read","pull-requests":"write"}') {
        p.push("preview: permissions must be contents read, pull-requests write");
    }
    const matrix = ((preview?.strategy as Record<string, unknown>)?.matrix as Record<string, unknown>)?.stack;
    if (!Array.isArray(matrix) || !sameSet(matrix, stacks.all)) {
        p.push(`preview: matrix ${JSON.stringify(matrix)} is not the stacks ${JSON.stringify(stacks.all)}`);
    }
    const pulumiAt = stepsOf(preview).findIndex((s) => String(s.uses).startsWith("pulumi/actions@"));
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
        if (!/pulumi preview --stack "\$STACK" --json > "\$RUNNER_TEMP\/preview\.json"/.test(run)) {
            p.push("preview: the guard does not read `pulumi preview --json` of the stack");
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
        const matrix = ((job.strategy as Record<string, unknown>)?.matrix as Record<string, unknown>)?.stack;
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
        if (upId === undefined || hashOut !== `\${{ steps.${upId}.outputs.bundleSha256 }}`) {
            p.push(`the shared stack's job does not output bundleSha256 from its pulumi up step`);
        }
        for (const [stack, { id, job }] of deployed) {
            if (stack === stacks.shared) continue;
            const w = withOf(stepsUsing(job, "pulumi/actions")[0]);
            const writes = stepsOf(job).some(
                (s) =>
                    String(s.run ?? "").includes('"$RUNNER_TEMP/policy-config.json"') &&
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

/** Every workflow: pinned actions, valid expressions, no event data spliced into scripts. */
function commonProblems(wf: Workflow): string[] {
    const p = workflowExpressionProblems(wf);
    if (JSON.stringify(wf).includes("pull_request_target")) p.push("pull_request_target is used");
    for (const [id, job] of Object.entries(jobsOf(wf))) {
        for (const step of stepsOf(job)) {
            if (step.uses !== undefined && !/@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/.test(String(step.uses))) {
                p.push(`jobs.${id}: ${String(step.uses)} is not pinned to a release`);
            }
            if (/\$\{\{[^}]*github\.event/.test(String(step.run ?? ""))) {
                p.push(`jobs.${id}: event data spliced into a run script (pass it through env)`);
            }
        }
    }
    return p;
}

const stacks = repoStacks();
const pr = loadWorkflow("pull-request.yml");
const comment = loadWorkflow("render-diff-comment.yml");
const deploy = loadWorkflow("deploy.yml");

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

    it("pull-request.yml: checks, render diff on base and head, preview per stack with policy and guard", () => {
        assert.deepEqual(pullRequestProblems(pr, stacks), []);
    });

    it("render-diff-comment.yml: comments from a workflow_run without running PR code", () => {
        assert.deepEqual(commentProblems(comment, pr), []);
    });

    it("deploy.yml: the shared stack first, then the others, each behind its environment", () => {
        assert.deepEqual(deployProblems(deploy, stacks), []);
    });

    for (const [file, wf] of [
        ["pull-request.yml", pr],
        ["render-diff-comment.yml", comment],
        ["deploy.yml", deploy],
    ] as const) {
        it(`${file}: pinned actions, valid expressions where their contexts exist, no script injection`, () => {
            assert.deepEqual(commonProblems(wf), []);
        });
    }
});

describe("workflow checks catch drift", () => {
    const job = (wf: Workflow, id: string) => jobsOf(wf)[id];
    const step = (wf: Workflow, id: string, pattern: RegExp) =>
        stepsOf(job(wf, id)).find((s) => pattern.test(String(s.uses ?? s.run ?? s.name)))!;

    const cases: [string, (s: Stacks) => string[], RegExp][] = [
        ["a new stack file", () => pullRequestProblems(pr, { ...stacks, all: [...stacks.all, "ap"] }), /matrix/],
        [
            "a new stack file (deploy)",
            () => deployProblems(deploy, { ...stacks, all: [...stacks.all, "ap"] }),
            /deployed/,
        ],
        ["another shared stack", () => deployProblems(deploy, { ...stacks, shared: "eu" }), /must go first|own/],
        [
            "pull_request_target",
            () => {
                const wf = clone(pr);
                wf.on = { pull_request_target: {} };
                return [...pullRequestProblems(wf, stacks), ...commonProblems(wf)];
            },
            /pull_request_target/,
        ],
        [
            "no test step",
            () => {
                const wf = clone(pr);
                job(wf, "checks").steps = stepsOf(job(wf, "checks")).filter((s) => s.run !== "npm test");
                return pullRequestProblems(wf, stacks);
            },
            /checks: .*missing/,
        ],
        [
            "a head render that ignores what the base deployed",
            () => {
                const wf = clone(pr);
                for (const step of stepsOf(job(wf, "render-diff"))) {
                    if (typeof step.run === "string") step.run = step.run.replace(/ --deployed "\$OUT\/base"/, "");
                }
                return pullRequestProblems(wf, stacks);
            },
            /render-diff: the head's render must read the base's as deployed/,
        ],
        [
            "no redis-server for the Redis test",
            () => {
                const wf = clone(pr);
                job(wf, "checks").steps = stepsOf(job(wf, "checks")).filter((s) => s.run !== "sudo bash .ci/redis.sh");
                return pullRequestProblems(wf, stacks);
            },
            /checks: .*redis-server.*missing/,
        ],
        [
            "comment-on-pr off",
            () => {
                const wf = clone(pr);
                withOf(step(wf, "preview", /^pulumi\/actions/))["comment-on-pr"] = false;
                return pullRequestProblems(wf, stacks);
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
                const wf = clone(pr);
                const guard = step(wf, "preview", /preview-guard/);
                guard.run = String(guard.run).replace(' "${policy[@]}"', "");
                return pullRequestProblems(wf, stacks);
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
                const wf = clone(pr);
                const guard = step(wf, "preview", /preview-guard/);
                guard.run = String(guard.run).replace(/.*allow-stateful-changes.*\n/, "");
                return pullRequestProblems(wf, stacks);
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
                const wf = clone(pr);
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
                const wf = clone(pr);
                job(wf, "preview").if = "secrets.PULUMI_BACKEND_URL != ''";
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
