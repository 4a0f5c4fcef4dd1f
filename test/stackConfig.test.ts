/**
 * The offline renderer's merge of `Pulumi.yaml` and `Pulumi.<stack>.yaml` (offline/stackConfig.ts),
 * pinned as that module describes the CLI's: project values first (a plain value, or a
 * declaration's `value`, else its `default`), each overridden key by key by the stack's; every value
 * a string, structured ones as JSON; `secure:` values replaced and their keys marked secret. The
 * project's part is made once per project file and shared by the stacks of a render, so these
 * cases also read one project file for several stacks, in either order.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { SECRET_PLACEHOLDER } from "../offline/runtime";
import { readProject, readStackConfig } from "../offline/stackConfig";
import { scratchDir } from "./support/scratch";

const PROJECT_FILE = `name: demo
runtime: nodejs
config:
  demo:plain: one
  demo:declared:
    value:
      b: 2
      a: [1, { secure: v1:AAA }]
  demo:defaulted:
    type: string
    default: fallback
  demo:hidden:
    secure: v1:BBB
  aws:region: us-east-1
`;

/** A project folder with `Pulumi.yaml` and one stack file per entry. */
function project(stacks: Record<string, string>): string {
    const dir = scratchDir("stack-config");
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), PROJECT_FILE);
    for (const [stack, text] of Object.entries(stacks)) fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), text);
    return dir;
}

const STACKS = {
    a: "config:\n  demo:plain: two\n  demo:hidden: shown\n  demo:extra:\n    secure: v1:CCC\n",
    b: "config:\n  demo:defaulted: set\n  aws:region: eu-west-1\n",
};

/** What the renderer hands the program for stacks `a` and `b` of {@link PROJECT_FILE}. */
const EXPECTED = {
    a: {
        config: {
            "demo:plain": "two",
            "demo:declared": `{"b":2,"a":[1,"${SECRET_PLACEHOLDER}"]}`,
            "demo:defaulted": "fallback",
            "demo:hidden": "shown",
            "aws:region": "us-east-1",
            "demo:extra": SECRET_PLACEHOLDER,
        },
        secretKeys: ["demo:declared", "demo:extra"],
    },
    b: {
        config: {
            "demo:plain": "one",
            "demo:declared": `{"b":2,"a":[1,"${SECRET_PLACEHOLDER}"]}`,
            "demo:defaulted": "set",
            "demo:hidden": SECRET_PLACEHOLDER,
            "aws:region": "eu-west-1",
        },
        secretKeys: ["demo:declared", "demo:hidden"],
    },
};

describe("offline stack config: Pulumi.yaml and Pulumi.<stack>.yaml merged for each stack", () => {
    it("takes plain values, declarations' value or default, and the stack's overrides, secrets replaced", () => {
        const dir = project(STACKS);
        for (const stack of ["a", "b"] as const) {
            const cfg = readStackConfig(dir, stack);
            assert.deepEqual({ config: cfg.config, secretKeys: cfg.secretKeys }, EXPECTED[stack], stack);
            // In the renderer's order (the tests' run memo is keyed by it): the project's keys as
            // Pulumi.yaml lists them, then the stack's new ones.
            assert.deepEqual(Object.keys(cfg.config), Object.keys(EXPECTED[stack].config), stack);
            assert.equal(cfg.projectFile, PROJECT_FILE);
            assert.equal(cfg.stackFile, STACKS[stack]);
        }
    });

    it("gives every stack of one project file the same answer as a file read for it alone, in any order", () => {
        const dir = project(STACKS);
        const alone = { a: readStackConfig(dir, "a"), b: readStackConfig(dir, "b") };
        const shared = readProject(dir);
        for (const order of [
            ["a", "b", "a"],
            ["b", "a", "b"],
        ] as const) {
            for (const stack of order) {
                const cfg = readStackConfig(dir, stack, shared);
                assert.deepEqual(cfg, alone[stack], `${order.join(",")}: ${stack}`);
                assert.deepEqual(Object.keys(cfg.config), Object.keys(alone[stack].config));
            }
        }
        // Each answer is the stack's own: a secret key the stack makes plain stays secret elsewhere.
        const [a, b] = [readStackConfig(dir, "a", shared), readStackConfig(dir, "b", shared)];
        assert.notEqual(a.config, b.config);
        assert.ok(!a.secretKeys.includes("demo:hidden") && b.secretKeys.includes("demo:hidden"));
    });

    it("reads an edited Pulumi.yaml afresh when it is read again", () => {
        const dir = project(STACKS);
        const before = readStackConfig(dir, "b", readProject(dir));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), PROJECT_FILE.replace("demo:plain: one", "demo:plain: edited"));
        const after = readStackConfig(dir, "b", readProject(dir));
        assert.equal(before.config["demo:plain"], "one");
        assert.equal(after.config["demo:plain"], "edited");
    });
});
