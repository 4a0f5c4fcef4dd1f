/**
 * The policy pack as Pulumi runs it: its files, its policies called the way @pulumi/policy calls
 * them (props behind the unknown-checking proxy, options, property dependencies, config), and the
 * pack itself started exactly as the CLI starts it (`run-policy-pack`, TypeScript type-checked) and
 * asked over the analyzer gRPC protocol, as `pulumi preview --policy-pack policy` does.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import * as ts from "typescript";
// @pulumi/pulumi's own dependencies: the analyzer protocol and its transport.
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import type * as policySdk from "@pulumi/policy";
import type {
    PolicyResource as EngineResource,
    ResourceValidation,
    ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as proto from "@pulumi/pulumi/proto/analyzer_pb";
import { POLICIES } from "../policy/pack";
import { RESOURCE_RULES, STACK_RULES } from "../policy/rules";
import { TLS_ONLY_STATEMENT } from "../policy/storage";
import { BUNDLE, BUNDLE_SHA256, urnOf } from "./fixtures/policy/stack";
import { PROJECT_DIR } from "./mocks";

const POLICY_DIR = path.join(PROJECT_DIR, "policy");
const BUNDLE_POLICY = "bundle-secret-identical-across-stacks";

/** How the engine marks values (pulumi/sdk/go/common/resource/plugin/rpc.go). */
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });

/**
 * What the server wraps props in, from the @pulumi/policy the pack loads (policy/node_modules once
 * `npm ci --prefix policy` ran, else the root's): its unknown-value error must be the pack's.
 * Exported at runtime; its typings omit it.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const packSdk = require(require.resolve("@pulumi/policy", { paths: [POLICY_DIR] })) as typeof policySdk;
const { unknownCheckingProxy } = packSdk as unknown as { unknownCheckingProxy: <T>(props: T) => T };

const T = {
    rds: "aws:rds/instance:Instance",
    ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    bucket: "aws:s3/bucket:Bucket",
    publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    secret: "kubernetes:core/v1:Secret",
    quayRegistry: "kubernetes:quay.redhat.com/v1:QuayRegistry",
};
const ALL_FLAGS = {
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
};
const OPTIONS = {
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
};
interface PackageJson {
    version?: string;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
}
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as PackageJson;

/** Source files a pack folder holds (its node_modules aside), as paths relative to it. */
function packSources(dir: string): string[] {
    return (fs.readdirSync(dir, { recursive: true }) as string[])
        .filter((f) => !f.split(path.sep).includes("node_modules"))
        .filter((f) => /\.(ts|mts|cts|js|mjs|cjs)$/.test(f))
        .sort();
}

/**
 * Every import of a pack folder that `pulumi policy publish` would not carry: a relative path that
 * leaves the folder, or a package that is neither a Node built-in nor a dependency in its own
 * package.json (the root's node_modules are not uploaded). Imports are read as TypeScript reads
 * them: `import`, `export … from`, `import x = require()`, `require()` and `import()`.
 */
function importsLeavingPack(dir: string): string[] {
    const pkg = readJson(path.join(dir, "package.json"));
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const found: string[] = [];
    for (const file of packSources(dir)) {
        const text = fs.readFileSync(path.join(dir, file), "utf8");
        const { importedFiles, referencedFiles } = ts.preProcessFile(text, true, true);
        for (const { fileName: spec } of [...importedFiles, ...referencedFiles]) {
            if (spec.startsWith(".") || path.isAbsolute(spec)) {
                const target = path.relative(dir, path.resolve(dir, path.dirname(file), spec));
                if (target.startsWith("..") || path.isAbsolute(target))
                    found.push(`${file}: "${spec}" is outside policy/`);
                continue;
            }
            // `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`.
            const name = spec
                .split("/")
                .slice(0, spec.startsWith("@") ? 2 : 1)
                .join("/");
            if (spec.startsWith("node:") || builtins.has(name) || declared.has(name)) continue;
            found.push(`${file}: "${spec}" is not a dependency in policy/package.json`);
        }
    }
    return found;
}

describe("policy pack: files", () => {
    it("is a Node.js policy pack whose Pulumi packages match the program's", () => {
        assert.match(fs.readFileSync(path.join(POLICY_DIR, "PulumiPolicy.yaml"), "utf8"), /^runtime: nodejs$/m);
        const pack = readJson(path.join(POLICY_DIR, "package.json"));
        const root = readJson(path.join(PROJECT_DIR, "package.json"));
        assert.ok(/^\d+\.\d+\.\d+$/.test(String(pack.version)), "the pack needs a version (PolicyPack reads it)");
        assert.equal(pack.dependencies["@pulumi/pulumi"], root.dependencies["@pulumi/pulumi"]);
        assert.equal(pack.dependencies["@pulumi/policy"], root.devDependencies["@pulumi/policy"]);
        // run-policy-pack type-checks the pack with the ts-node and TypeScript it finds next to it.
        for (const tool of ["typescript", "ts-node"]) {
            const installed = readJson(require.resolve(`${tool}/package.json`)).version;
            assert.equal(pack.devDependencies[tool], installed, `${tool} is not the version the root installs`);
        }
        assert.ok(fs.existsSync(path.join(POLICY_DIR, "package-lock.json")), "CI runs npm ci --prefix policy");
    });

    // `pulumi policy publish` uploads policy/ alone: an import of ../scripts or ../offline works
    // in this repository and breaks the published pack.
    it("imports nothing from outside policy/ but its own dependencies", () => {
        assert.ok(packSources(POLICY_DIR).includes("index.ts"));
        assert.deepEqual(importsLeavingPack(POLICY_DIR), []);
        const tsconfig = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "tsconfig.json"), "utf8")) as {
            extends?: string;
        };
        assert.equal(tsconfig.extends, undefined, "policy/tsconfig.json extends a file that is not uploaded");
    });

    it("finds every way a pack file can import from outside it", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-georep-pack-"));
        fs.mkdirSync(path.join(dir, "sub"));
        fs.mkdirSync(path.join(dir, "node_modules", "x"), { recursive: true });
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ dependencies: { "@pulumi/policy": "1" } }));
        fs.writeFileSync(
            path.join(dir, "index.ts"),
            [
                'import { PolicyPack } from "@pulumi/policy";',
                'import { createHash } from "node:crypto";',
                'import * as fs from "fs";',
                'import { a } from "./sub/a";',
                'import type { B } from "../scripts/preview-guard";',
                'export * from "../offline/runtime";',
                'import yaml = require("yaml");',
                'const c = require("../lib/cidr");',
                'void import("../config/load");',
            ].join("\n"),
        );
        fs.writeFileSync(path.join(dir, "sub", "a.ts"), 'import { b } from "../index";\nimport "../../outside";\n');
        fs.writeFileSync(path.join(dir, "node_modules", "x", "index.ts"), 'import "../../../anywhere";\n');
        const found = importsLeavingPack(dir);
        fs.rmSync(dir, { recursive: true, force: true });
        assert.deepEqual(found, [
            'index.ts: "../scripts/preview-guard" is outside policy/',
            'index.ts: "../offline/runtime" is outside policy/',
            'index.ts: "yaml" is not a dependency in policy/package.json',
            'index.ts: "../lib/cidr" is outside policy/',
            'index.ts: "../config/load" is outside policy/',
            'sub/a.ts: "../../outside" is outside policy/',
        ]);
    });

    // `pulumi policy publish` uploads the folder, and the pack runs from it as the CLI runs a
    // pack: run-policy-pack type-checks it with ts-node while it loads it. The pack the tests serve
    // below is such a copy, so it type-checks without anything of the repository's but its own
    // dependencies, or it never starts.
    it("type-checks on its own, copied out of the repository as publish uploads it", async function () {
        this.timeout(120000);
        const pack = await servedPack();
        assert.equal(path.dirname(pack.dir), os.tmpdir(), "served from a copy outside the repository");
        assert.deepEqual(
            fs.readdirSync(pack.dir).sort(),
            fs
                .readdirSync(POLICY_DIR)
                .filter((f) => f !== "node_modules")
                .concat("node_modules")
                .sort(),
        );
        // What makes starting it a type check: ts-node registered with typeCheck (the CLI's
        // run-policy-pack, run.js `run`), on the files tsc would check (tsconfig's `files`, the
        // entry the CLI runs, and what it imports), with no TS_NODE_* variable in the way.
        const runJs = fs.readFileSync(
            path.join(
                path.dirname(require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [POLICY_DIR] })),
                "run.js",
            ),
            "utf8",
        );
        assert.match(runJs, /tsn\.register\(\{\s*typeCheck: true,/);
        const tsconfig = JSON.parse(fs.readFileSync(path.join(pack.dir, "tsconfig.json"), "utf8")) as {
            files?: string[];
        };
        assert.deepEqual(tsconfig.files, ["index.ts"]);
        assert.match(pack.stderr(), /^$/, "the pack started without a diagnostic");
    });
});

describe("policy pack: policies called as @pulumi/policy calls them", () => {
    const byName = (name: string) => {
        const found = POLICIES.find((p) => p.name === name);
        assert.ok(found, `no policy ${name}`);
        return found;
    };
    const reports = () => {
        const found: { message: string; urn?: string }[] = [];
        return { found, report: (message: string, urn?: string) => void found.push({ message, urn }) };
    };
    const validate = (name: string, type: string, props: Record<string, unknown>, protect: boolean) => {
        const { found, report } = reports();
        const args = {
            type,
            name: "r",
            urn: urnOf(type, "r"),
            props: unknownCheckingProxy(props),
            opts: { ...OPTIONS, protect },
            getConfig: () => ({}),
        };
        void ((byName(name) as ResourceValidationPolicy).validateResource as ResourceValidation)(args as never, report);
        return found.map((f) => f.message);
    };

    it("has one policy per rule, named after it", () => {
        assert.deepEqual(
            POLICIES.map((p) => p.name),
            [...RESOURCE_RULES, ...STACK_RULES].map((r) => r.name),
        );
        assert.deepEqual(Object.keys(byName(BUNDLE_POLICY).configSchema?.properties ?? {}), ["bundleSha256"]);
    });

    it("sees the protect option of a resource under validation", () => {
        const policy = "stateful-resources-protected";
        assert.deepEqual(validate(policy, T.rds, { storageEncrypted: true }, false), [
            "is not protected; deleting it loses the shared PostgreSQL database (RDS); create it with { protect: true }",
        ]);
        assert.deepEqual(validate(policy, T.rds, { storageEncrypted: true }, true), []);
    });

    it("judges an azure-native token with an API version as the type it versions", () => {
        const account = "azure-native:storage/v20230101:StorageAccount";
        const props = {
            allowBlobPublicAccess: true,
            enableHttpsTrafficOnly: true,
            minimumTlsVersion: "TLS1_2",
            encryption: { keySource: "Microsoft.Storage", services: { blob: { enabled: true } } },
        };
        assert.deepEqual(validate("azure-storage-private-and-encrypted", account, props, true), [
            "allowBlobPublicAccess is true; set it to false (no anonymous reads of blobs)",
        ]);
        assert.deepEqual(
            validate("stateful-resources-protected", "azure-native:resources/v20240301:ResourceGroup", {}, false),
            [
                "is not protected; deleting it loses an Azure resource group and everything in it (a PostgreSQL " +
                    "server, the Redis VM or a storage account); create it with { protect: true }",
            ],
        );
    });

    it("reads an unknown value as unknown instead of failing the policy", () => {
        const props = { ipProtocol: "tcp", fromPort: 5432, toPort: 5432, cidrIpv4: UNKNOWN_STRING };
        assert.deepEqual(validate("no-internet-ingress-to-postgres-or-redis", T.ingressRule, props, false), []);
        const open = { ...props, cidrIpv4: "0.0.0.0/0" };
        assert.equal(validate("no-internet-ingress-to-postgres-or-redis", T.ingressRule, open, false).length, 1);
    });

    it("follows property dependencies in a stack and reports the URN at fault", () => {
        const resource = (type: string, name: string, props: Record<string, unknown>): EngineResource =>
            ({
                type,
                name,
                urn: urnOf(type, name),
                props: unknownCheckingProxy(props),
                opts: { ...OPTIONS, protect: true },
                dependencies: [],
                propertyDependencies: {},
            }) as unknown as EngineResource;
        const bucket = resource(T.bucket, "b", { bucket: UNKNOWN_STRING });
        const block = resource(T.publicAccessBlock, "b-block", { ...ALL_FLAGS, bucket: UNKNOWN_STRING });
        block.propertyDependencies.bucket = [bucket];
        const { found, report } = reports();
        const args = { resources: [bucket, block], getConfig: () => ({}) };
        void (byName("s3-buckets-private-and-encrypted") as StackValidationPolicy).validateStack(args as never, report);
        assert.deepEqual(found, [
            {
                urn: bucket.urn,
                message:
                    "has no aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration; " +
                    "add one with sseAlgorithm AES256, aws:kms, aws:kms:dsse",
            },
        ]);
    });
});

interface ServedPack {
    /** The copy it runs from. */
    dir: string;
    child: ChildProcess;
    client: AnalyzerClient;
    stderr: () => string;
}

/**
 * The pack copied out of the repository as `pulumi policy publish` uploads it (the folder but its
 * node_modules), with its dependencies as `npm ci --prefix policy` installs them, or the root's
 * (same versions, checked above).
 */
function copyOutPack(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-georep-pack-copy-"));
    for (const file of fs.readdirSync(POLICY_DIR).filter((f) => f !== "node_modules")) {
        fs.cpSync(path.join(POLICY_DIR, file), path.join(dir, file), { recursive: true });
    }
    const modules = fs.existsSync(path.join(POLICY_DIR, "node_modules"))
        ? path.join(POLICY_DIR, "node_modules")
        : path.join(PROJECT_DIR, "node_modules");
    fs.symlinkSync(modules, path.join(dir, "node_modules"), "dir");
    return dir;
}

/** Starts the pack in `dir` as the CLI does and connects to it. */
async function servePack(dir: string): Promise<ServedPack> {
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [dir] });
    // Without ts-node's own variables (TS_NODE_TRANSPILE_ONLY would turn the type check off).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TS_NODE_")));
    const child = spawn(process.execPath, [runner, "127.0.0.1:0", "."], { cwd: dir, env });
    let out = "";
    let err = "";
    child.stderr?.on("data", (d) => (err += String(d)));
    const port = await new Promise<string>((resolve, reject) => {
        child.stdout?.on("data", (d) => {
            out += String(d);
            const line = /^(\d+)\n/.exec(out);
            if (line) resolve(line[1]);
        });
        child.on("exit", (code) => reject(new Error(`the pack exited with ${code}:\n${out}\n${err}`)));
    });
    const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return { dir, child, client, stderr: () => err };
}

/**
 * The one pack server of this file (a start type-checks the whole pack, seconds of CPU), started
 * by the first test that needs it and stopped after them all.
 */
let served: Promise<ServedPack> | undefined;
const servedPack = (): Promise<ServedPack> => (served ??= servePack(copyOutPack()));
after(async () => {
    const pack = await served?.catch(() => undefined);
    pack?.client.close();
    pack?.child.kill();
    if (pack !== undefined) fs.rmSync(pack.dir, { recursive: true, force: true });
});

/** Calls a unary RPC as a promise. */
function call<Req, Res>(method: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req) {
    return new Promise<Res>((resolve, reject) => method(req, (e, r) => (e ? reject(e) : resolve(r))));
}

/** A resource as the engine sends it to an analyzer. */
function analyzerResource(type: string, name: string, props: Record<string, unknown>, protect = true) {
    return new proto.AnalyzerResource()
        .setType(type)
        .setName(name)
        .setUrn(urnOf(type, name))
        .setProperties(Struct.fromJavaScript(props as never))
        .setOptions(new proto.AnalyzerResourceOptions().setProtect(protect));
}

/** The diagnostics of a response; the server prefixes each message with its policy's description and a newline. */
const diagnostics = (res: proto.AnalyzeResponse) =>
    res.getDiagnosticsList().map((d) => {
        const rule = [...RESOURCE_RULES, ...STACK_RULES].find((r) => r.name === d.getPolicyname());
        const prefix = `${rule?.description}\n`;
        assert.ok(d.getMessage().startsWith(prefix), `${d.getMessage()} does not start with ${prefix}`);
        return {
            policy: d.getPolicyname(),
            urn: d.getUrn(),
            level: d.getEnforcementlevel(),
            message: d.getMessage().slice(prefix.length),
        };
    });

describe("policy pack: served as pulumi preview --policy-pack policy serves it", function () {
    this.timeout(120000);
    let pack: ServedPack;

    before(async () => {
        pack = await servedPack();
    });

    it("announces every rule, mandatory, and the bundle rule's config schema", async () => {
        const info = await call<Empty, proto.AnalyzerInfo>(pack.client.getAnalyzerInfo.bind(pack.client), new Empty());
        assert.equal(info.getName(), "quay-georep");
        const policies = info.getPoliciesList();
        assert.deepEqual(
            policies.map((p) => [p.getName(), p.getEnforcementlevel()]),
            [...RESOURCE_RULES, ...STACK_RULES].map((r) => [r.name, proto.EnforcementLevel.MANDATORY]),
        );
        const schema = policies
            .find((p) => p.getName() === BUNDLE_POLICY)
            ?.getConfigschema()
            ?.getProperties();
        assert.deepEqual(Object.keys(schema?.toJavaScript() ?? {}), ["bundleSha256"]);
    });

    it("fails an unprotected database with the options the engine sends", async () => {
        const props = { storageEncrypted: true, backupRetentionPeriod: 7, deletionProtection: true };
        const r = analyzerResource(T.rds, "db", props, false);
        const req = new proto.AnalyzeRequest()
            .setType(r.getType())
            .setName(r.getName())
            .setUrn(r.getUrn())
            .setProperties(r.getProperties())
            .setOptions(r.getOptions());
        const res = await call<proto.AnalyzeRequest, proto.AnalyzeResponse>(pack.client.analyze.bind(pack.client), req);
        assert.deepEqual(diagnostics(res), [
            {
                policy: "stateful-resources-protected",
                urn: "", // a resource policy's diagnostic is about the resource analyzed; the engine adds its URN
                level: proto.EnforcementLevel.MANDATORY,
                message:
                    "is not protected; deleting it loses the shared PostgreSQL database (RDS); create it with { protect: true }",
            },
        ]);
    });

    it("checks a stack with secrets in plain text, unknowns skipped and the bundle hash from policy config", async () => {
        const other = "e".repeat(64);
        const configure = new proto.ConfigureAnalyzerRequest();
        configure
            .getPolicyconfigMap()
            .set(
                BUNDLE_POLICY,
                new proto.PolicyConfig()
                    .setEnforcementlevel(proto.EnforcementLevel.MANDATORY)
                    .setProperties(Struct.fromJavaScript({ bundleSha256: other })),
            );
        await call(pack.client.configure.bind(pack.client), configure);

        const bucket = analyzerResource(T.bucket, "b", { bucket: UNKNOWN_STRING });
        const block = analyzerResource(T.publicAccessBlock, "b-block", { ...ALL_FLAGS, bucket: UNKNOWN_STRING });
        block
            .getPropertydependenciesMap()
            .set("bucket", new proto.AnalyzerPropertyDependencies().setUrnsList([bucket.getUrn()]));
        const metadata = { name: "bundle", namespace: "q", annotations: { "quay-georep.io/bundle-sha256": other } };
        const bundle = analyzerResource(T.secret, "bundle", { metadata, stringData: secret(BUNDLE) }, false);
        const registry = analyzerResource(
            T.quayRegistry,
            "registry",
            {
                metadata: { name: "quay", namespace: "q" },
                spec: { configBundleSecret: "bundle", components: UNKNOWN_STRING },
            },
            false,
        );
        const req = new proto.AnalyzeStackRequest().setResourcesList([bucket, block, bundle, registry]);
        const res = await call<proto.AnalyzeStackRequest, proto.AnalyzeResponse>(
            pack.client.analyzeStack.bind(pack.client),
            req,
        );
        assert.deepEqual(diagnostics(res), [
            {
                policy: "s3-buckets-private-and-encrypted",
                urn: bucket.getUrn(),
                level: proto.EnforcementLevel.MANDATORY,
                message:
                    "has no aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration; " +
                    "add one with sseAlgorithm AES256, aws:kms, aws:kms:dsse",
            },
            {
                // Only a policy that reads the secret stringData can know what it hashes to.
                policy: BUNDLE_POLICY,
                urn: bundle.getUrn(),
                level: proto.EnforcementLevel.MANDATORY,
                message: `annotation quay-georep.io/bundle-sha256 says ${other}, but the Secret's data hashes to ${BUNDLE_SHA256}; annotate it with the hash of what it holds`,
            },
            {
                policy: "s3-buckets-tls-only",
                urn: bucket.getUrn(),
                level: proto.EnforcementLevel.MANDATORY,
                message: `has no aws:s3/bucketPolicy:BucketPolicy; add one with the statement ${TLS_ONLY_STATEMENT}`,
            },
        ]);
        assert.equal(pack.stderr().includes("Error"), false, pack.stderr());
    });
});
