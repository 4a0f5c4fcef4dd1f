/**
 * The stateful-resource guard CI runs on `pulumi preview --json` for every stack: which changes
 * fail a pull request, the label override, what a retired site may forget without it, and how it
 * reports input that is not a usable preview.
 */
import { strict as assert } from "node:assert";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { normalizeType, STATEFUL_RESOURCES } from "../policy/stateful";
import {
    findStatefulChanges,
    OVERRIDE_ENV,
    OVERRIDE_FLAG,
    parsePreview,
    PreviewStep,
    runGuard,
    typeFromUrn,
} from "../scripts/preview-guard";
import { PROJECT_DIR } from "./mocks";

const FIXTURES = path.join(PROJECT_DIR, "test", "fixtures", "preview");
const fixture = (name: string) => path.join(FIXTURES, name);
const noStdin = () => {
    throw new Error("stdin not expected");
};
/** A fixture's JSON. */
const load = (name: string) => JSON.parse(fs.readFileSync(fixture(name), "utf8")) as { steps: PreviewStep[] };
/** The guard on a fixture with one thing changed (given on standard input). */
function variant(name: string, edit: (doc: { steps: PreviewStep[] }) => void, argv: string[] = []) {
    const doc = load(name);
    edit(doc);
    return runGuard([...argv, "-"], {}, () => JSON.stringify(doc));
}
/** The step of a fixture whose URN ends with `::name`, to edit. */
const stepNamed = (doc: { steps: PreviewStep[] }, name: string) => {
    const found = doc.steps.find((s) => s.urn.endsWith(`::${name}`));
    if (found === undefined) throw new Error(`no step ${name}`);
    return found as unknown as { oldState: Record<string, unknown> };
};
const LABEL_HINT =
    'If this is intended (and the data is backed up or migrated), label the pull request "allow-stateful-changes"; ' +
    "the preview then passes --allow-stateful-changes.\n";

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
        assert.match(r.stderr, /1 stateful resource would be deleted, replaced or retyped:/);
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
            assert.match(
                r.stdout,
                /allowed by --allow-stateful-changes .*: 1 stateful resource will be deleted, replaced/,
            );
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

    it("exits 2 on a preview without steps (every preview that ran lists the stack), whatever the override", () => {
        assert.deepEqual(parsePreview('{"changeSummary": {}}'), { steps: [], diagnostics: [] });
        for (const text of ['{"changeSummary": {}}', '{"steps": []}']) {
            for (const argv of [["-"], [OVERRIDE_FLAG, "-"]]) {
                const r = runGuard(argv, {}, () => text);
                assert.equal(r.code, 2);
                assert.equal(
                    r.stderr,
                    "preview-guard: the preview in standard input has no steps (a preview that ran the program lists " +
                        "at least the stack itself); fix the preview, then check again\n",
                );
            }
        }
    });

    it("exits 2 on a preview that reported errors, listing them, whatever the override", () => {
        for (const argv of [[fixture("errored.json")], [OVERRIDE_FLAG, fixture("errored.json")]]) {
            const r = runGuard(argv, {}, noStdin);
            assert.equal(r.code, 2);
            assert.equal(r.stdout, "");
            assert.equal(
                r.stderr,
                `preview-guard: the preview in ${fixture("errored.json")} reported 2 errors, so its steps are not ` +
                    "the whole change; fix the preview, then check again:\n" +
                    "  - urn:pulumi:us::quay-georep::pulumi:pulumi:Stack::quay-georep-us: error: " +
                    "quay-georep:storage:AzureSiteContainer resource 'quay-georep-storage-eustorage' has a problem: " +
                    "azure-native:storage:StorageAccount: the subscription is not registered to use namespace " +
                    "'Microsoft.Storage'\n" +
                    "  - urn:pulumi:us::quay-georep::pulumi:pulumi:Stack::quay-georep-us: error: preview failed\n",
            );
        }
    });

    it("passes the same preview once its errors are gone (warnings and infos do not count)", () => {
        const r = variant("errored.json", (doc) => {
            const d = doc as unknown as { diagnostics: { severity: string }[] };
            d.diagnostics = d.diagnostics.map((x) => ({
                ...x,
                severity: x.severity === "error" ? "warning" : x.severity,
            }));
        });
        assert.equal(r.code, 0, r.stderr);
    });

    it("exits 2 on diagnostics that are not a list of objects", () => {
        const r = runGuard(["-"], {}, () => '{"steps": [], "diagnostics": "error"}');
        assert.equal(r.code, 2);
        assert.match(r.stderr, /standard input is not .*: `diagnostics` is not an array of objects/);
    });

    it("fails on the deletion of an Azure resource group, which deletes what is in it", () => {
        const r = runGuard([fixture("delete-resource-group.json")], {}, noStdin);
        assert.equal(r.code, 1);
        assert.equal(
            r.stderr,
            "preview-guard: 1 stateful resource would be deleted, replaced or retyped:\n" +
                '  - delete azure-native:resources:ResourceGroup "quay-georep-redis-rg"\n' +
                "      loses an Azure resource group and everything in it (a PostgreSQL server, the Redis VM or a " +
                "storage account)\n" +
                "      urn:pulumi:us::quay-georep::quay-georep:redis:RedisAzureVm$azure-native:resources:ResourceGroup::" +
                "quay-georep-redis-rg\n" +
                LABEL_HINT,
        );
    });

    it("lets a retired site's storage, retained on delete, leave the state without the label", () => {
        const r = runGuard([fixture("forget-retired.json")], {}, noStdin);
        assert.equal(r.code, 0, r.stderr);
        const urn = (type: string, name: string) =>
            `urn:pulumi:us::quay-georep::quay-georep:storage:AzureSiteContainer$${type}::quay-georep-storage-eustorage-${name}`;
        const kept = "(retainOnDelete, tagged quay-georep-state: retired)";
        assert.equal(
            r.stdout,
            "preview-guard: no stateful resource would be deleted or replaced (5 steps checked)\n" +
                "preview-guard: 3 retired resources leave the state and stay in the cloud:\n" +
                `  - forget azure-native:storage:BlobContainer "quay-georep-storage-eustorage-container" ${kept}\n` +
                `      ${urn("azure-native:storage:BlobContainer", "container")}\n` +
                `  - forget azure-native:storage:StorageAccount "quay-georep-storage-eustorage-account" ${kept}\n` +
                `      ${urn("azure-native:storage:StorageAccount", "account")}\n` +
                `  - forget azure-native:resources:ResourceGroup "quay-georep-storage-eustorage-rg" ${kept}\n` +
                `      ${urn("azure-native:resources:ResourceGroup", "rg")}\n`,
        );
    });

    it("refuses that deletion when a resource is not retained on delete", () => {
        const r = variant("forget-retired.json", (doc) => {
            delete stepNamed(doc, "quay-georep-storage-eustorage-account").oldState.retainOnDelete;
        });
        assert.equal(r.code, 1);
        assert.match(
            r.stderr,
            /^preview-guard: 1 stateful resource would be deleted, replaced or retyped:\n {2}- delete azure-native:storage:StorageAccount "quay-georep-storage-eustorage-account"\n/,
        );
        assert.match(r.stdout, /^preview-guard: 2 retired resources leave the state and stay in the cloud:\n/);
    });

    it("refuses that deletion when a retained resource is not tagged retired", () => {
        const r = variant("forget-retired.json", (doc) => {
            const state = stepNamed(doc, "quay-georep-storage-eustorage-rg").oldState;
            const active = { "quay-georep-site": "eustorage", "quay-georep-state": "active" };
            state.inputs = { location: "westeurope", tags: active };
            state.outputs = { location: "westeurope", tags: active };
        });
        assert.equal(r.code, 1);
        assert.match(
            r.stderr,
            /^preview-guard: 1 stateful resource would be deleted, replaced or retyped:\n {2}- delete azure-native:resources:ResourceGroup "quay-georep-storage-eustorage-rg"\n/,
        );
    });

    it("lets a released database server (after a switchover), retained on delete, leave the state", () => {
        const r = runGuard([fixture("forget-released.json")], {}, noStdin);
        assert.equal(r.code, 0, r.stderr);
        const urn = (type: string, name: string) =>
            `urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres$${type}::${name}`;
        const kept = "(retainOnDelete, a released database server)";
        assert.equal(
            r.stdout,
            "preview-guard: no stateful resource would be deleted or replaced (4 steps checked)\n" +
                "preview-guard: 2 retired resources leave the state and stay in the cloud:\n" +
                `  - forget aws:rds/instance:Instance "quay-georep-database-instance" ${kept}\n` +
                `      ${urn("aws:rds/instance:Instance", "quay-georep-database-instance")}\n` +
                `  - forget aws:kms/key:Key "quay-georep-database-standby-g1-key" ${kept}\n` +
                `      ${urn("aws:kms/key:Key", "quay-georep-database-standby-g1-key")}\n`,
        );
    });

    it("refuses deleting a server that was not released: still protected, or not retained", () => {
        for (const edit of [
            (s: { protect?: boolean; retainOnDelete?: boolean }) => (s.protect = true),
            (s: { protect?: boolean; retainOnDelete?: boolean }) => delete s.retainOnDelete,
        ]) {
            const r = variant("forget-released.json", (doc) =>
                edit(stepNamed(doc, "quay-georep-database-instance").oldState),
            );
            assert.equal(r.code, 1);
            assert.match(
                r.stderr,
                /^preview-guard: 1 stateful resource would be deleted, replaced or retyped:\n {2}- delete aws:rds\/instance:Instance "quay-georep-database-instance"\n/,
            );
        }
        // A retained, unprotected RDS instance whose name is not a server component's is no released server.
        const other = variant("forget-released.json", (doc) => {
            const step = stepNamed(doc, "quay-georep-database-instance") as unknown as {
                urn: string;
                oldState: { urn: string };
            };
            step.urn = step.urn.replace("quay-georep-database-instance", "some-other-instance");
            step.oldState.urn = step.urn;
        });
        assert.equal(other.code, 1);
        assert.match(other.stderr, /- delete aws:rds\/instance:Instance "some-other-instance"/);
    });

    it("refuses replacing a retired, retained resource (only deleting it forgets it)", () => {
        const r = variant("forget-retired.json", (doc) => {
            const step = stepNamed(doc, "quay-georep-storage-eustorage-account") as unknown as { op: string };
            step.op = "replace";
        });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /- replace azure-native:storage:StorageAccount "quay-georep-storage-eustorage-account"/);
    });

    it("reads the type from oldState: a stateful resource given another type fails, whatever the op", () => {
        for (const op of ["same", "update", "replace"]) {
            const urn =
                "urn:pulumi:us::quay-georep::quay-georep:storage:S3SiteBucket$aws:s3/bucketPolicy:BucketPolicy::b";
            const r = runGuard(["-"], {}, () =>
                JSON.stringify({
                    steps: [
                        {
                            op,
                            urn,
                            oldState: {
                                urn: urn.replace("aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucket:Bucket"),
                                type: "aws:s3/bucket:Bucket",
                            },
                            newState: { urn, type: "aws:s3/bucketPolicy:BucketPolicy" },
                        },
                    ],
                }),
            );
            assert.equal(r.code, 1, op);
            assert.equal(
                r.stderr.split("\n").slice(0, 3).join("\n"),
                "preview-guard: 1 stateful resource would be deleted, replaced or retyped:\n" +
                    '  - change the type of aws:s3/bucket:Bucket "b" to aws:s3/bucketPolicy:BucketPolicy\n' +
                    "      loses an S3 bucket and every blob in it",
                op,
            );
        }
    });

    it("does not count a resource that only becomes a stateful type", () => {
        const changes = findStatefulChanges([
            {
                op: "update",
                urn: "urn:pulumi:us::p::aws:s3/bucket:Bucket::b",
                oldState: { type: "kubernetes:core/v1:Secret" },
                newState: { type: "aws:s3/bucket:Bucket" },
            },
        ]);
        assert.deepEqual(changes, []);
    });

    it("normalises azure-native tokens with an API version", () => {
        assert.equal(
            normalizeType("azure-native:storage/v20230101:StorageAccount"),
            "azure-native:storage:StorageAccount",
        );
        assert.equal(
            normalizeType("azure-native:resources/v20240301preview:ResourceGroup"),
            "azure-native:resources:ResourceGroup",
        );
        assert.equal(normalizeType("azure-native:storage/latest:BlobContainer"), "azure-native:storage:BlobContainer");
        assert.equal(normalizeType("aws:s3/bucketV2:BucketV2"), "aws:s3/bucketV2:BucketV2");
        const deleted = findStatefulChanges([
            step("delete", "azure-native:storage/v20230101:StorageAccount", "acct", "old"),
        ]);
        assert.deepEqual(
            deleted.map((c) => [c.type, c.loses]),
            [["azure-native:storage:StorageAccount", "an Azure storage account and every blob in it"]],
        );
        // Moving to the default API version is no type change.
        const moved = findStatefulChanges([
            {
                op: "update",
                urn: "urn:pulumi:us::p::azure-native:storage:StorageAccount::acct",
                oldState: { type: "azure-native:storage/v20230101:StorageAccount" },
                newState: { type: "azure-native:storage:StorageAccount" },
            },
        ]);
        assert.deepEqual(moved, []);
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
        // aws:rds/instance:Instance → @pulumi/aws; random:index/… → @pulumi/random
        const byPackage = new Map<string, string[]>();
        for (const { type } of STATEFUL_RESOURCES) {
            const pkg = path.join(PROJECT_DIR, "node_modules", "@pulumi", type.split(":")[0]);
            byPackage.set(pkg, [...(byPackage.get(pkg) ?? []), `__pulumiType = '${type}'`]);
        }
        // One pass over each package's JavaScript (where a resource class defines its token), every token at once.
        for (const [pkg, definitions] of byPackage) {
            const args = ["-rhoF", "--include=*.js", ...definitions.flatMap((d) => ["-e", d]), pkg];
            const found = new Set(execFileSync("grep", args, { encoding: "utf8" }).split("\n"));
            for (const definition of definitions) assert.ok(found.has(definition), `${definition} is not in ${pkg}`);
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
