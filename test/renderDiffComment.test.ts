/**
 * The script of render-diff-comment.yml, run as actions/github-script runs it, against a fake
 * pull request: one comment found by its marker and updated in place, nothing posted for another
 * head, artifact text that cannot escape its code fence, and the size limit.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { FakeComment, jobsOf, loadWorkflow, runGithubScript, stepsUsing, withOf } from "./support/workflows";
import { scratchDir } from "./support/scratch";

const SCRIPT = String(
    withOf(stepsUsing(jobsOf(loadWorkflow("render-diff-comment.yml")).comment, "actions/github-script")[0]).script,
);
const MARKER = "<!-- quay-georep:render-diff -->";
const HEAD = "0123456789abcdef0123456789abcdef01234567";

const DIFF = `diff -ruN base/us/config.yaml head/us/config.yaml
--- base/us/config.yaml
+++ head/us/config.yaml
@@ -1 +1 @@
-SERVER_HOSTNAME: quay.example.com
+SERVER_HOSTNAME: registry.example.com
`;

/** An artifact folder as pull-request.yml uploads it. */
function artifact(files: Record<string, string>): string {
    const dir = scratchDir("render-diff");
    const all = { "pr-number": "42\n", "base-outcome": "success\n", "head-outcome": "success\n", ...files };
    for (const [name, text] of Object.entries(all)) fs.writeFileSync(path.join(dir, name), text);
    return dir;
}

function run(files: Record<string, string>, comments: FakeComment[] = [], headSha = HEAD) {
    const env = { DIFF_DIR: artifact(files), HEAD_SHA: HEAD, RUN_URL: "https://github.com/example/runs/7" };
    return runGithubScript(SCRIPT, env, { number: 42, headSha, comments });
}

describe("render diff comment", () => {
    it("creates one comment, starting with the marker, with the diff fenced", async () => {
        const r = await run({ "render.diff": DIFF });
        assert.deepEqual(r.failed, []);
        assert.equal(r.created.length, 1);
        const body = r.created[0].body;
        assert.equal(r.created[0].issue_number, 42);
        assert.ok(body.startsWith(`${MARKER}\n`));
        assert.match(body, /<summary>1 file changed<\/summary>\n\n```diff\ndiff -ruN base\/us\/config.yaml/);
        assert.match(body, /\+SERVER_HOSTNAME: registry\.example\.com\n```/);
        assert.match(body, /Head 0123456 · \[workflow run\]\(https:\/\/github\.com\/example\/runs\/7\)/);
    });

    it("updates its own comment in place, not someone else's or the preview's", async () => {
        const comments: FakeComment[] = [
            { id: 1, body: `${MARKER} quoted by a person`, user: { login: "octocat" } },
            {
                id: 2,
                body: "#### :tropical_drink: `preview` on quay-georep/us",
                user: { login: "github-actions[bot]" },
            },
            { id: 3, body: `${MARKER}\nold diff`, user: { login: "github-actions[bot]" } },
        ];
        const r = await run({ "render.diff": DIFF }, comments);
        assert.deepEqual(r.created, []);
        assert.deepEqual(
            r.updated.map((u) => u.comment_id),
            [3],
        );
    });

    it("says so when nothing changes", async () => {
        const r = await run({ "render.diff": "" });
        assert.match(r.created[0].body, /No change to what any stack would deploy/);
    });

    it("posts nothing when the PR has moved on or the artifact names another head", async () => {
        const r = await run({ "render.diff": DIFF }, [], "fedcba9876543210fedcba9876543210fedcba98");
        assert.deepEqual([r.created, r.updated], [[], []]);
        assert.match(r.notices[0], /PR #42 is at fedcba9.*this diff is for 0123456/);
    });

    it("refuses a PR number that is not one", async () => {
        for (const bad of ["", "42; rm -rf /", "0", "-1", "4 2"]) {
            const r = await run({ "pr-number": bad, "render.diff": DIFF });
            assert.match(r.failed[0] ?? "", /pr-number is not a pull request number/, JSON.stringify(bad));
            assert.deepEqual(r.created, []);
        }
    });

    it("keeps artifact text inside its fence, whatever backticks it holds", async () => {
        const sneaky = `${DIFF}+note: \`\`\`\`\n+</details>\n`;
        const body = (await run({ "render.diff": sneaky })).created[0].body;
        assert.match(body, /\n`````diff\n/);
        assert.match(body, /\+<\/details>\n`````\n/);
    });

    it("truncates a long diff at a line, under GitHub's limit, and points to the artifact", async () => {
        const long = DIFF + "+x".padEnd(99, "x").concat("\n").repeat(2000);
        const body = (await run({ "render.diff": long })).created[0].body;
        assert.ok(body.length < 65536, `${body.length} characters`);
        assert.match(
            body,
            /\+x+\n```\n\n:scissors: Truncated: \d+ of 2006 lines shown; the whole diff is the `render-diff` artifact/,
        );
    });

    it("shows why the head did not render instead of a diff", async () => {
        const r = await run({
            "head-outcome": "failure\n",
            "head.stderr": 'stack us: not rendered\n  - hostname: "quay_example" is not a DNS name\n',
            "render.diff": "",
        });
        assert.match(r.created[0].body, /:x: \*\*`npm run render` fails on this PR\*\*/);
        assert.match(r.created[0].body, /```\nstack us: not rendered\n {2}- hostname/);
    });

    it("warns when only the base did not render", async () => {
        const r = await run({ "base-outcome": "failure\n", "base.stderr": "boom\n", "render.diff": DIFF });
        assert.match(r.created[0].body, /:warning: The base did not render[^]*```\nboom\n```[^]*1 file changed/);
    });
});
