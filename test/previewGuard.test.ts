/**
 * The stateful-resource guard CI runs on `pulumi preview --json` for every stack: which changes
 * fail a pull request, the label override, and how it reports input that is not a preview.
 */
import { strict as assert } from "node:assert";
import { execFile, execFileSync } from "node:child_process";
import * as path from "node:path";
import {
    findStatefulChanges,
    OVERRIDE_ENV,
    OVERRIDE_FLAG,
    parsePreview,
    PreviewStep,
    runGuard,
    STATEFUL_RESOURCES,
    typeFromUrn,
} from "../scripts/preview-guard";
import { PROJECT_DIR } from "./mocks";

const FIXTURES = path.join(PROJECT_DIR, "test", "fixtures", "preview");
const fixture = (name: string) => path.join(FIXTURES, name);
const noStdin = () => {
    throw new Error("stdin not expected");
};

/** A destructive step on one resource, as `pulumi preview --json` writes it. */
function step(op: string, type: string, name: string, state: "old" | "new" | "both" = "both"): PreviewStep {
    const urn = `urn:pulumi:us::quay-georep::quay-georep:x:Parent$${type}::${name}`;
    return {
        op,
        urn,
        ...(state !== "new" ? { oldState: { type } } : {}),
        ...(state !== "old" ? { newState: { type } } : {}),
    };
}

describe("preview guard", () => {
    it("fails on a replacement of the RDS instance, naming it and the replace reason", () => {
        const r = runGuard([fixture("replace-rds.json")], {}, noStdin);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /1 stateful resource would be deleted or replaced:/);
        assert.match(
            r.stderr,
            /- replace aws:rds\/instance:Instance "quay-georep-db-instance" \(replaced because of: engine\)/,
        );
        assert.match(r.stderr, /label the pull request "allow-stateful-changes"/);
        assert.ok(!r.stderr.includes("kubernetes:core/v1:Secret"), "the updated Secret is not listed");
    });

    it("passes an in-place update of the RDS instance, a deleted Secret and a replaced SECRET_KEY", () => {
        const r = runGuard([fixture("update-rds.json")], {}, noStdin);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "preview-guard: no stateful resource would be deleted or replaced (4 steps checked)\n");
    });

    it("fails on the deletion of a bucket, whose step has only oldState", () => {
        const r = runGuard([fixture("delete-bucket.json")], {}, noStdin);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /- delete aws:s3\/bucket:Bucket "quay-georep-usstorage-bucket"\n\s+loses an S3 bucket/);
    });

    it("passes with the override flag or env, still listing what will be lost", () => {
        for (const [argv, env] of [
            [[OVERRIDE_FLAG, fixture("delete-bucket.json")], {}],
            [[fixture("delete-bucket.json")], { [OVERRIDE_ENV]: "true" }],
        ] as const) {
            const r = runGuard(argv, env, noStdin);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /allowed by --allow-stateful-changes .*: 1 stateful resource will be deleted/);
            assert.match(r.stdout, /aws:s3\/bucket:Bucket "quay-georep-usstorage-bucket"/);
        }
        assert.equal(runGuard([fixture("delete-bucket.json")], { [OVERRIDE_ENV]: "false" }, noStdin).code, 1);
    });

    it("exits 2 with a clear message on truncated output", () => {
        const r = runGuard([fixture("truncated.txt")], {}, noStdin);
        assert.equal(r.code, 2);
        assert.match(
            r.stderr,
            /^preview-guard: .*truncated\.txt is not the output of `pulumi preview --json`: not JSON/,
        );
    });

    it("exits 2 on JSON of the wrong shape, a missing file, or bad usage", () => {
        const shape = (text: string) => runGuard(["-"], {}, () => text);
        assert.match(shape("[]").stderr, /standard input is not .*: expected a JSON object with `steps`/);
        assert.match(shape('{"steps": {}}').stderr, /`steps` is not an array/);
        assert.match(shape('{"steps": [{"op": "delete"}]}').stderr, /steps\[0\] has no string `op` and `urn`/);
        for (const text of ["[]", '{"steps": {}}']) assert.equal(shape(text).code, 2);
        const missing = runGuard([fixture("missing.json")], {}, noStdin);
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /^preview-guard: cannot read .*missing\.json: ENOENT/);
        assert.match(runGuard([], {}, noStdin).stderr, /expected exactly one input file\nusage:/);
        assert.match(runGuard(["--force", "x.json"], {}, noStdin).stderr, /unknown option --force/);
    });

    it("accepts a preview with no steps (the digest omits an empty list)", () => {
        assert.deepEqual(parsePreview('{"changeSummary": {}}'), []);
    });

    it("treats only the database key among random passwords as stateful", () => {
        const changes = findStatefulChanges([
            step("replace", "random:index/randomPassword:RandomPassword", "quay-georep-bundle-database-secret-key"),
            step("replace", "random:index/randomPassword:RandomPassword", "quay-georep-bundle-secret-key"),
            step("replace", "random:index/randomPassword:RandomPassword", "quay-georep-db-admin-password"),
        ]);
        assert.deepEqual(
            changes.map((c) => c.name),
            ["quay-georep-bundle-database-secret-key"],
        );
    });

    it("flags every destructive op on every stateful type, and no other op", () => {
        for (const rule of STATEFUL_RESOURCES) {
            const name = `x-${rule.nameIncludes ?? "res"}`;
            for (const op of ["delete", "replace", "create-replacement", "delete-replaced", "import-replacement"]) {
                assert.equal(findStatefulChanges([step(op, rule.type, name)]).length, 1, `${op} ${rule.type}`);
            }
            for (const op of ["same", "create", "update", "read", "refresh", "discard"]) {
                assert.equal(findStatefulChanges([step(op, rule.type, name)]).length, 0, `${op} ${rule.type}`);
            }
        }
    });

    it("reports a replacement shown as several steps once, with all its ops", () => {
        const type = "azure-native:dbforpostgresql:Server";
        const changes = findStatefulChanges([
            step("create-replacement", type, "quay-georep-db-server", "new"),
            step("replace", type, "quay-georep-db-server"),
            step("delete-replaced", type, "quay-georep-db-server", "old"),
        ]);
        assert.equal(changes.length, 1);
        assert.deepEqual(changes[0].ops, ["create-replacement", "replace", "delete-replaced"]);
    });

    it("falls back to the URN's type when a step carries no state", () => {
        const urn = "urn:pulumi:eu::quay-georep::quay-georep:storage:Blob$azure-native:storage:BlobContainer::c";
        assert.equal(typeFromUrn(urn), "azure-native:storage:BlobContainer");
        assert.equal(findStatefulChanges([{ op: "delete", urn }]).length, 1);
    });

    it("lists only type tokens the installed providers define", () => {
        for (const { type } of STATEFUL_RESOURCES) {
            // aws:rds/instance:Instance → @pulumi/aws; random:index/… → @pulumi/random
            const pkg = path.join(PROJECT_DIR, "node_modules", "@pulumi", type.split(":")[0]);
            const found = execFileSync("grep", ["-rlF", `__pulumiType = '${type}'`, pkg], { encoding: "utf8" });
            assert.ok(found.length > 0, `${type} is not defined by ${pkg}`);
        }
    });

    it("runs as `npm run preview-guard` with the real exit code", async () => {
        const r = await cli(["run", "--silent", "preview-guard", "--", fixture("replace-rds.json")]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /quay-georep-db-instance/);
    });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile("npm", args, { cwd: PROJECT_DIR }, (err, stdout, stderr) =>
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
    });
}
