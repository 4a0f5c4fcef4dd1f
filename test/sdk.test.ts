/**
 * The SDK internals the program relies on, pinned: an upgrade of @pulumi/pulumi that moves or
 * changes one of them fails here, by name, rather than as a config check that silently passes.
 *
 * `config/load.ts` asks `isConfigSecret` (exported by `@pulumi/pulumi/runtime/config`, marked
 * `@internal` in its typings) which config keys are secrets, to refuse a secret kept in plain text.
 * It reads the list of secret keys the CLI hands every program: the Node.js language host starts
 * the program with `PULUMI_CONFIG` (a JSON object of every key) and `PULUMI_CONFIG_SECRET_KEYS`
 * (a JSON array of the secret ones), which the SDK copies into its store when it loads
 * (`runtime/state.js`, `LocalStore`); the Automation API and the offline runtime set the same store
 * through `pulumi.runtime.setAllConfig(config, secretKeys)`.
 *
 * `offline/runtime.ts` replaces `Resource.callsites` (a private static method of `Resource` in
 * resource.js) while an offline run is under way: every resource constructor calls it, through
 * `Resource.stackTrace`, to capture and parse the whole stack for the engine's source positions,
 * which the mock monitor ignores. The SDK offers no option for this; the tests below fail when
 * resources stop going through that method, or when an offline run formats a stack again.
 *
 * `offline/runtime.ts` `withoutTypeHistory` drops a provider SDK's type-history aliases (one per
 * API version on azure-native resources) in a stack transformation, before the `Resource`
 * constructor collapses each alias into URN Outputs (`__aliases`); the recording leaves them out
 * anyway. The test below pins both: what the SDK kept, and what is recorded.
 *
 * `offline/runtime.ts` also formats the monitor's ReadResource and RegisterResource responses as a
 * constant while runs are under way: runtime/resource.js builds a debug line with the whole
 * response after every RPC (`resp: ${innerResponse}`), logged or not.
 *
 * `offline/runtime.ts` `readResourceOffline` answers the mock monitor's ReadResource for a
 * StackReference without the `google.protobuf.Struct` round trip the SDK's `MockMonitor.readResource`
 * makes of the state (and serializes the same outputs once): the tests below pin the SDK's method
 * and hold the two to the same answer.
 *
 * `offline/runtime.ts` `registerResourceOffline` answers the mock monitor's RegisterResource with
 * the state serialized at once (`serializedPlainly`) instead of value by value through the SDK's
 * async `serializeProperties`: the tests below pin the SDK's method and hold the two to the same
 * answer, plain data or not.
 *
 * `offline/runtime.ts` `offlineStruct` stands in for `google.protobuf.Struct.fromJavaScript` while
 * offline runs are under way: the SDK wraps every resource's inputs, the mock monitor's answer and
 * every invoke's arguments and result in a Struct only to unwrap it at once. The tests below pin
 * where the SDK does that, and hold the offline Struct to the SDK's answers.
 *
 * `offline/runtime.ts` `debuggablePromiseOffline` stands in for the SDK's `debuggablePromise`
 * (runtime/debuggable.js) while offline runs are under way: the same leak tracking, without the
 * three debug properties only the exit-time leak report reads. The tests below pin the SDK's
 * function, its callers and readers, and what a leaked promise still reports.
 *
 * `offline/deferClosure.ts` keeps the SDK's function serialization (`runtime/closure/serializeClosure`
 * and `codePaths`, which bring the TypeScript compiler and npm's arborist) out of offline processes
 * until something calls it. The tests below pin the modules `runtime/index.js` requires and the
 * names they export, and call through a stand-in in a fresh process.
 *
 * `stacks/deployed.ts` `recordOutputs` reads a StackReference's record outputs at once through
 * `Output.promise()` (internal, as the SDK's own `StackReference.readOutputValue` uses it) instead
 * of one `getOutputDetails` per name; the test below holds it to `getOutputDetails`' answers.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { StorageAccount } from "@pulumi/azure-native/storage";
import {
    debuggablePromiseOffline,
    isTypeHistoryAlias,
    MONITOR,
    OFFLINE_LEAK_CONTEXT,
    OVERLAPPING_RUNS,
    offlineStruct,
    NOT_PLAIN,
    readResourceOffline,
    registerResourceOffline,
    RESPONSE_MESSAGES,
    runProgram,
    SDK_DEBUGGABLE_PROMISE,
    SDK_READ_RESOURCE,
    SDK_REGISTER_RESOURCE,
    SDK_STRUCT_FROM_JAVASCRIPT,
    serializedPlainly,
    structValue,
} from "../offline/runtime";
import { DEFERRED, deferClosureSerialization } from "../offline/deferClosure";
import { recordOutputs } from "../stacks/deployed";
import { bundleOutput } from "../stacks/site";
import { PROJECT, PROJECT_DIR } from "./mocks";
import { scratchDir } from "./support/scratch";

/** The SDK version these internals were read in (`node_modules/@pulumi/pulumi/runtime/config.js`). */
const CHECKED_WITH = "3.270.0";

/** The module config/load.ts requires, and the one function it takes from it. */
const MODULE = "@pulumi/pulumi/runtime/config";

const installed = (
    JSON.parse(fs.readFileSync(require.resolve("@pulumi/pulumi/package.json"), "utf8")) as { version: string }
).version;

/** Names the versions in every failure: what was checked, what is installed. */
const upgraded = (what: string) =>
    `${what} (checked with @pulumi/pulumi ${CHECKED_WITH}, installed ${installed}): ` +
    "config/load.ts needs another way to tell secret config keys apart";

/** The function as config/load.ts takes it. */
function isConfigSecret(): (key: string) => boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(MODULE) as { isConfigSecret?: unknown };
    assert.equal(typeof mod.isConfigSecret, "function", upgraded(`${MODULE} exports no function isConfigSecret`));
    return mod.isConfigSecret as (key: string) => boolean;
}

const CONFIG = { "quay-georep:hostname": "quay.example.com", "quay-georep:databasePassword": "s3cret" };
const SECRET_KEYS = ["quay-georep:databasePassword"];

describe(`@pulumi/pulumi ${CHECKED_WITH} internals the program uses`, () => {
    it(`has ${MODULE}, exporting isConfigSecret`, () => {
        assert.doesNotThrow(() => require.resolve(MODULE), upgraded(`${MODULE} is gone`));
        isConfigSecret();
    });

    it("tells the secret keys set through setAllConfig (Automation API, offline runtime) from the others", () => {
        const check = isConfigSecret();
        const before = pulumi.runtime.allConfig();
        const secretBefore = Object.keys(before).filter((k) => check(k));
        try {
            pulumi.runtime.setAllConfig({ ...CONFIG }, [...SECRET_KEYS]);
            assert.equal(check("quay-georep:databasePassword"), true, upgraded("a listed secret key reads as plain"));
            assert.equal(check("quay-georep:hostname"), false, upgraded("a plain key reads as secret"));
            assert.equal(check("quay-georep:unset"), false, upgraded("an unset key reads as secret"));
            pulumi.runtime.setAllConfig({ ...CONFIG });
            assert.equal(check("quay-georep:databasePassword"), false, upgraded("a key stays secret once unlisted"));
        } finally {
            pulumi.runtime.setAllConfig(before, secretBefore);
        }
    });

    it("tells the secret keys apart in a program started as the CLI starts it (PULUMI_CONFIG_SECRET_KEYS)", async () => {
        // A fresh Node.js process: the SDK reads both variables when its store is created.
        const script = [
            `const { isConfigSecret } = require(${JSON.stringify(MODULE)});`,
            'const { allConfig } = require("@pulumi/pulumi/runtime");',
            "process.stdout.write(JSON.stringify({",
            "  keys: Object.keys(allConfig()).sort(),",
            "  secret: Object.keys(allConfig()).sort().filter((k) => isConfigSecret(k)),",
            "}));",
        ].join("\n");
        const env = {
            ...process.env,
            PULUMI_CONFIG: JSON.stringify(CONFIG),
            PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(SECRET_KEYS),
        };
        const out = await new Promise<string>((resolve, reject) =>
            execFile(process.execPath, ["-e", script], { cwd: PROJECT_DIR, env }, (err, stdout, stderr) =>
                err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
            ),
        );
        assert.deepEqual(
            JSON.parse(out),
            { keys: Object.keys(CONFIG).sort(), secret: SECRET_KEYS },
            upgraded("PULUMI_CONFIG_SECRET_KEYS no longer marks the keys it lists"),
        );
    });
});

/** A custom resource of a made-up provider (the mocks answer for any type). */
class Thing extends pulumi.CustomResource {
    constructor(name: string, props: pulumi.Inputs = {}) {
        super("test:index:Thing", name, props);
    }
}

/** `Resource` as offline/runtime.ts patches it. */
const resourceClass = pulumi.Resource as unknown as { callsites: () => unknown[] };

describe(`@pulumi/pulumi ${CHECKED_WITH}: the call-site capture offline runs skip`, () => {
    const changed = (what: string) =>
        `${what} (checked with @pulumi/pulumi ${CHECKED_WITH}, installed ${installed}): ` +
        "offline/runtime.ts (skipCallsites) needs another way to skip the capture";

    /**
     * Runs `make` as an offline program, counting the stacks V8 formats on the way (`Error.prepareStackTrace`
     * sees each one with its frames) and the SDK's calls of the method the runtime replaces.
     */
    async function formattedStacks(
        make: (sdkCallsites: () => unknown[], frames: readonly number[]) => void,
    ): Promise<number[]> {
        const sdkCallsites = resourceClass.callsites;
        const frames: number[] = [];
        // eslint-disable-next-line @typescript-eslint/unbound-method -- V8 calls the hook without a `this`
        const prepare = Error.prepareStackTrace;
        Error.prepareStackTrace = (err, stack) => {
            frames.push(stack.length);
            if (prepare !== undefined) return prepare(err, stack) as unknown;
            const at = stack.map((f) => `\n    at ${f.getFileName() ?? "?"}:${f.getLineNumber() ?? "?"}`);
            return `${String(err)}${at.join("")}`;
        };
        try {
            const run = await runProgram({
                project: PROJECT,
                stack: "sdk",
                config: {},
                program: () => {
                    make(sdkCallsites, frames);
                    return {};
                },
            });
            assert.deepEqual(run.errors, []);
        } finally {
            Error.prepareStackTrace = prepare;
        }
        return frames;
    }

    it("captures each resource's call site through Resource.callsites", async () => {
        assert.equal(typeof resourceClass.callsites, "function", changed("Resource.callsites is gone"));
        let calls = 0;
        await formattedStacks(() => {
            const replaced = resourceClass.callsites;
            resourceClass.callsites = () => (calls++, replaced());
            try {
                new pulumi.ComponentResource("quay-georep:test:Component", "component");
                new Thing("thing");
            } finally {
                resourceClass.callsites = replaced;
            }
        });
        assert.equal(calls, 2, changed("a resource constructor no longer calls Resource.callsites once"));
    });

    it("formats no stack while an offline run registers resources, and does with the SDK's own method", async () => {
        const original = resourceClass.callsites;
        let skipped: number[] = [];
        const frames = await formattedStacks((sdkCallsites, formatted) => {
            new pulumi.ComponentResource("quay-georep:test:Component", "component");
            new Thing("thing");
            skipped = [...formatted];
            // The SDK's method, for one resource: the capture this runtime skips is there.
            const replaced = resourceClass.callsites;
            resourceClass.callsites = sdkCallsites;
            try {
                new Thing("traced");
            } finally {
                resourceClass.callsites = replaced;
            }
        });
        assert.deepEqual(
            skipped.filter((n) => n > 0),
            [],
            changed("an offline run formats a stack with frames for a resource"),
        );
        assert.ok(
            frames.some((n) => n > 0),
            "the SDK's own Resource.callsites formats the stack (this test can see a capture)",
        );
        assert.equal(resourceClass.callsites, original, "the run puts the SDK's method back");
    });
});

describe("offline runs: one at a time", () => {
    it("refuses a run while another is under way, which would take over its mocks and config", async () => {
        let release: () => void = () => undefined;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const first = runProgram({
            project: PROJECT,
            stack: "us",
            config: {},
            program: async () => {
                await gate;
                return { done: true };
            },
        });
        await assert.rejects(runProgram({ project: PROJECT, stack: "eu", config: {}, program: () => ({}) }), {
            message: OVERLAPPING_RUNS,
        });
        release();
        const r = await first;
        assert.deepEqual(r.errors, []);
        assert.deepEqual(r.outputs, { done: true }, "the first run is untouched");
        const next = await runProgram({ project: PROJECT, stack: "eu", config: {}, program: () => ({}) });
        assert.deepEqual(next.errors, [], "the next run, once the first ended, goes ahead");
    });
});

describe(`@pulumi/pulumi ${CHECKED_WITH}: a StackReference's outputs read at once`, () => {
    it("answers as getOutputDetails(name).value does, name by name: secret outputs read as absent", async () => {
        let atOnce: Record<string, unknown> = {};
        let byName: Record<string, unknown> = {};
        const r = await runProgram({
            project: PROJECT,
            stack: "us",
            config: {},
            stackOutputs: {
                [`organization/${PROJECT}/eu`]: {
                    role: "site",
                    site: "eustorage",
                    deployedEpoch: 2,
                    // A secret output: the offline runtime lists it in secretOutputNames, as the engine does.
                    sharedStack: { secret: "us" },
                    sites: [{ name: "eustorage" }],
                    unrelated: "x",
                },
            },
            program: async () => {
                const ref = new pulumi.StackReference("eu-ref", { name: `organization/${PROJECT}/eu` });
                atOnce = await recordOutputs(ref);
                const names = Object.keys(atOnce);
                const details = await Promise.all(names.map((k) => ref.getOutputDetails(k)));
                byName = Object.fromEntries(names.map((k, i) => [k, details[i].value]));
                return {};
            },
        });
        assert.deepEqual(r.errors, []);
        assert.deepEqual(atOnce, byName);
        assert.equal(atOnce.role, "site");
        assert.equal(atOnce.deployedEpoch, 2);
        assert.deepEqual(atOnce.sites, [{ name: "eustorage" }]);
        assert.equal(atOnce.sharedStack, undefined, "a secret output reads as absent");
        assert.ok(!("unrelated" in atOnce), "only the record's outputs");
    });

    /** An Output's value, secretness and resources, as the SDK resolves them. */
    async function resolved(o: pulumi.Output<unknown>) {
        const internal = o as unknown as {
            promise(withUnknowns?: boolean): Promise<unknown>;
            isSecret: Promise<boolean>;
            allResources(): Promise<Set<pulumi.Resource>>;
        };
        const [value, secret, resources] = await Promise.all([
            internal.promise(),
            internal.isSecret,
            internal.allResources(),
        ]);
        return { value, secret, resources: [...resources] };
    }

    it("reads the shared stack's bundle as getOutput does: same value and resources, always secret", async () => {
        const bundle = { "config.yaml": "SERVER_HOSTNAME: quay.example.com\n", "ssl.key": "KEY" };
        for (const stored of [{ secret: bundle }, bundle]) {
            let ours: Awaited<ReturnType<typeof resolved>> | undefined;
            let sdk: Awaited<ReturnType<typeof resolved>> | undefined;
            const r = await runProgram({
                project: PROJECT,
                stack: "eu",
                config: {},
                stackOutputs: {
                    [`organization/${PROJECT}/us`]: { role: "shared", bundle: stored, big: { a: [1, 2] } },
                },
                program: async () => {
                    const ref = new pulumi.StackReference("us-ref", { name: `organization/${PROJECT}/us` });
                    [ours, sdk] = await Promise.all([resolved(bundleOutput(ref)), resolved(ref.getOutput("bundle"))]);
                    return {};
                },
            });
            assert.deepEqual(r.errors, []);
            assert.deepEqual(ours?.value, bundle);
            assert.deepEqual(ours?.value, sdk?.value);
            assert.deepEqual(ours?.resources, sdk?.resources, "the same resources: the StackReference");
            assert.equal(ours?.resources.length, 1);
            assert.equal(ours?.secret, true, "secret, stored as a secret or not");
            assert.equal(sdk?.secret, stored === bundle ? false : true, "the SDK's follows secretOutputNames");
        }
    });

    it("falls back to reading name by name when the outputs hold an unknown, as in a preview", async () => {
        const ref = {
            outputs: pulumi.output({ role: "site", site: pulumi.output(pulumi.unknown) }),
            secretOutputNames: pulumi.output([]),
            getOutputDetails: (name: string) =>
                Promise.resolve({ value: name === "role" ? "from getOutputDetails" : undefined }),
        } as unknown as pulumi.StackReference;
        const read = await recordOutputs(ref);
        assert.equal(read.role, "from getOutputDetails");
    });
});

describe(`@pulumi/pulumi ${CHECKED_WITH}: type-history aliases offline`, () => {
    it("are specs naming only an earlier type of the same package, on a custom resource", () => {
        const bucket = { type: "aws:s3/bucket:Bucket", custom: true };
        assert.equal(isTypeHistoryAlias({ type: "aws:s3/bucketV2:BucketV2" }, bucket), true);
        assert.equal(isTypeHistoryAlias({ type: "awsx:s3:Bucket" }, bucket), false, "another package");
        assert.equal(isTypeHistoryAlias({ type: "aws" }, bucket), true, "a token without a colon is its package");
        assert.equal(isTypeHistoryAlias({ type: "aws:s3/bucketV2:BucketV2", name: "b" }, bucket), false);
        assert.equal(isTypeHistoryAlias({ type: "aws:s3/bucketV2:BucketV2" }, { ...bucket, custom: false }), false);
        assert.equal(isTypeHistoryAlias("urn:pulumi:us::p::aws:s3/bucketV2:BucketV2::b", bucket), false);
        const account = { type: "azure-native:storage:StorageAccount", custom: true };
        assert.equal(isTypeHistoryAlias({ type: "azure:storage/account:Account" }, account), false);
        assert.equal(isTypeHistoryAlias({ type: "azure-native:storage/v20230101:StorageAccount" }, account), true);
    });

    it("are dropped before the SDK collapses aliases; the program's own alias stays, collapsed and recorded", async () => {
        let account: StorageAccount | undefined;
        const r = await runProgram({
            project: PROJECT,
            stack: "us",
            config: {},
            program: () => {
                account = new StorageAccount(
                    "acct",
                    { resourceGroupName: "rg", kind: "StorageV2", sku: { name: "Standard_LRS" } },
                    { aliases: [{ name: "old-acct" }] },
                );
                return {};
            },
        });
        assert.deepEqual(r.errors, []);
        // The class declares dozens of `{ type: "azure-native:storage/v…:StorageAccount" }` aliases.
        const declared = (StorageAccount as unknown as { __pulumiType: string }).__pulumiType;
        assert.equal(declared, "azure-native:storage:StorageAccount");
        const collapsed = (account as unknown as { __aliases?: unknown[] }).__aliases;
        assert.ok(Array.isArray(collapsed), "Resource.__aliases is where the SDK keeps collapsed aliases");
        assert.equal(collapsed.length, 1, "only the program's alias reached the SDK's alias collapse");
        const recorded = r.resources.find((x) => x.name === "acct");
        assert.deepEqual(recorded?.aliases, [
            "urn:pulumi:us::quay-georep::azure-native:storage:StorageAccount::old-acct",
        ]);
    });
});

describe(`@pulumi/pulumi ${CHECKED_WITH}: the response strings offline runs do not format`, () => {
    it("are still built by the SDK after every ReadResource and RegisterResource RPC", () => {
        const source = fs.readFileSync(require.resolve("@pulumi/pulumi/runtime/resource.js"), "utf8");
        assert.match(
            source,
            /log\.debug\(`ReadResource RPC finished: \$\{label\}; err: \$\{rpcError\}, resp: \$\{innerResponse\}`\)/,
        );
        assert.match(
            source,
            /log\.debug\(`RegisterResource RPC finished: \$\{label\}; err: \$\{rpcErr\}, resp: \$\{innerResponse\}`\)/,
        );
    });

    it("format as a constant during a run only, and as the SDK's own afterwards", async () => {
        assert.equal(RESPONSE_MESSAGES.length, 2);
        for (const message of RESPONSE_MESSAGES) assert.equal(typeof message, "function", "a protobuf message class");
        const toStringOf = (m: (typeof RESPONSE_MESSAGES)[number]): unknown => Reflect.get(m.prototype, "toString");
        const sdkStrings = RESPONSE_MESSAGES.map(toStringOf);
        let during: string[] = [];
        await runProgram({
            project: PROJECT,
            stack: "us",
            config: {},
            program: () => {
                during = RESPONSE_MESSAGES.map((m) =>
                    new (m as unknown as new () => { toString(): string })().toString(),
                );
                return {};
            },
        });
        assert.deepEqual(during, ["[response: not formatted offline]", "[response: not formatted offline]"]);
        assert.deepEqual(RESPONSE_MESSAGES.map(toStringOf), sdkStrings, "the SDK's toString is back after the run");
    });
});

/**
 * Runs a program that registers one Thing, `{ b: 2, a: [1, { y: 1, x: null }] }`, and returns what
 * `seen` gave while it ran, with the inputs the run recorded for the Thing (keys sorted, as the
 * Struct round trip gives them back).
 */
async function registerOneThing(seen: () => unknown): Promise<{ during: unknown; inputs: unknown }> {
    let during: unknown;
    const r = await runProgram({
        project: PROJECT,
        stack: "us",
        config: {},
        program: () => {
            during = seen();
            const thing = new Thing("thing", { b: 2, a: [1, { y: 1, x: null }] });
            return { out: thing.urn };
        },
    });
    assert.deepEqual(r.errors, []);
    return { during, inputs: r.resources.find((x) => x.name === "thing")?.inputs };
}

/** A request message of @pulumi/pulumi's resource_pb, as the tests fill it in. */
type RequestMessage = Record<string, (v: unknown) => void>;

/**
 * Asks a fresh SDK mock monitor with `mocks` (set as the runtime's, for `stack`) one request: a
 * `requestClass` of resource_pb, filled in by `fill` (given `Struct.fromJavaScript` of the copy of
 * google-protobuf the tests load), answered by `method` called on the monitor. Returns the monitor
 * (its `resources` map is what it kept) and the response.
 */
async function askMockMonitor<Response>(
    stack: string,
    mocks: pulumi.runtime.Mocks,
    requestClass: string,
    fill: (req: RequestMessage, struct: (v: unknown) => unknown) => void,
    method: (this: never, req: never, callback: (err: unknown, res: unknown) => void) => unknown,
): Promise<{ monitor: object; response: Response }> {
    await pulumi.runtime.setMocks(mocks, PROJECT, stack, false, "organization");
    const monitor = new (MONITOR as unknown as new (m: pulumi.runtime.Mocks) => object)(mocks);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const proto = require("@pulumi/pulumi/proto/resource_pb") as Record<string, new () => RequestMessage>;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Struct } = require("google-protobuf/google/protobuf/struct_pb") as {
        Struct: { fromJavaScript(v: unknown): unknown };
    };
    const req = new proto[requestClass]();
    fill(req, (v) => Struct.fromJavaScript(v));
    const response = await new Promise<Response>(
        (resolve, reject) =>
            void method.call(monitor as never, req as never, (err, res) =>
                err ? reject(err as Error) : resolve(res as Response),
            ),
    );
    return { monitor, response };
}

describe(`@pulumi/pulumi ${CHECKED_WITH}: a StackReference read without the protobuf round trip`, () => {
    /** Outputs of every JSON kind, a secret one, and the nesting the record has. */
    const OUTPUTS = {
        role: "shared",
        deployedEpoch: 3,
        ratio: 0.5,
        ready: false,
        nothing: null,
        sites: [{ name: "usstorage", weights: [1, 2.5], tags: {} }, { name: "eustorage" }],
        services: { database: { mode: "aws", hosts: ["a", "b"], nested: { deeper: [[], [null]] } } },
        sharedStack: { secret: "us" },
    };
    const REF = `organization/${PROJECT}/us`;

    /** ReadResource of a StackReference to REF, answered by `read` on a fresh mock monitor. */
    async function read(
        method: typeof SDK_READ_RESOURCE,
        outputs: Record<string, unknown>,
    ): Promise<{ urn: string; props: Record<string, unknown>; kept: unknown }> {
        // The state the offline runtime's mocks give a StackReference (offline/runtime.ts newResource).
        const mocks: pulumi.runtime.Mocks = {
            newResource: (args) => {
                const name = String((args.inputs as Record<string, unknown>).name);
                return { id: name, state: { name, outputs, secretOutputNames: ["sharedStack"] } };
            },
            call: () => ({}),
        };
        const { monitor, response } = await askMockMonitor<{ getUrn(): string; getProperties(): unknown }>(
            "eu",
            mocks,
            "ReadResourceRequest",
            (req, struct) => {
                req.setType("pulumi:pulumi:StackReference");
                req.setName("shared-ref");
                req.setId(REF);
                req.setParent(`urn:pulumi:eu::${PROJECT}::pulumi:pulumi:Stack::${PROJECT}-eu`);
                req.setProperties(struct({ name: REF }));
            },
            method,
        );
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const rpc = require("@pulumi/pulumi/runtime/rpc") as {
            deserializeProperties(s: unknown): Record<string, unknown>;
        };
        const urn = response.getUrn();
        const kept = (monitor as unknown as { resources: Map<string, unknown> }).resources.get(urn);
        // What the SDK's read does with the response (runtime/resource.js readResource → resolveOutputs).
        return { urn, props: rpc.deserializeProperties(response.getProperties()), kept };
    }

    it("is the SDK's MockMonitor.readResource as read: mocks, URN, serialized state kept, then a Struct", () => {
        const source = SDK_READ_RESOURCE.toString();
        const steps = [
            /this\.mocks\.newResource\(\{/,
            /const urn = this\.newUrn\(req\.getParent\(\), req\.getType\(\), req\.getName\(\)\)/,
            /const serializedState = await rpc_1\.serializeProperties\("", result\.state\)/,
            /this\.resources\.set\(urn, \{ urn, id: result\.id \?\? null, state: serializedState \}\)/,
            /response\.setProperties\(structproto\.Struct\.fromJavaScript\(serializedState\)\)/,
        ];
        for (const step of steps) assert.match(source, step, "the SDK's MockMonitor.readResource changed");
        assert.equal(Reflect.get(MONITOR.prototype, "readResource"), SDK_READ_RESOURCE, "no offline run is under way");
    });

    it("answers as the SDK's method does: same URN, same properties, same state kept", async () => {
        const sdk = await read(SDK_READ_RESOURCE, structuredClone(OUTPUTS));
        const offline = await read(readResourceOffline, structuredClone(OUTPUTS));
        assert.equal(offline.urn, sdk.urn);
        assert.equal(JSON.stringify(offline.props), JSON.stringify(sdk.props), "same values, same key order");
        assert.deepEqual(offline.props, sdk.props);
        assert.deepEqual(offline.kept, sdk.kept);
        assert.deepEqual((offline.props.outputs as Record<string, unknown>).services, OUTPUTS.services);
    });

    it("reads the same outputs object once per run of many, and freezes it", async () => {
        const shared = structuredClone(OUTPUTS) as Record<string, unknown>;
        const seen: unknown[] = [];
        for (const stack of ["eu", "ap"]) {
            const r = await runProgram({
                project: PROJECT,
                stack,
                config: {},
                stackOutputs: { [REF]: shared },
                program: async () => {
                    const ref = new pulumi.StackReference("shared-ref", { name: REF });
                    seen.push(await recordOutputs(ref));
                    return {};
                },
            });
            assert.deepEqual(r.errors, []);
        }
        assert.deepEqual(seen[0], seen[1]);
        assert.notEqual(seen[0], seen[1], "each run reads its own copy");
        assert.deepEqual((seen[0] as Record<string, unknown>).sites, OUTPUTS.sites);
        assert.ok(Object.isFrozen(shared) && Object.isFrozen((shared.services as { database: object }).database));
        assert.throws(() => {
            (shared as { role: string }).role = "changed";
        }, TypeError);
        assert.equal(
            Reflect.get(MONITOR.prototype, "readResource"),
            SDK_READ_RESOURCE,
            "the SDK's method is back after the runs",
        );
    });
});

describe(`@pulumi/pulumi ${CHECKED_WITH}: a resource's state serialized at once by the mock monitor`, () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const rpc = require("@pulumi/pulumi/runtime/rpc") as {
        serializeProperties(label: string, props: unknown): Promise<Record<string, unknown>>;
        deserializeProperties(s: unknown): Record<string, unknown>;
        specialSigKey: string;
        specialSecretSig: string;
    };
    const secret = (value: unknown) => ({ [rpc.specialSigKey]: rpc.specialSecretSig, value });
    /** A state of every JSON kind, with what serialization drops or turns into null, and a secret. */
    const STATE = () => ({
        b: "text",
        a: 1.5,
        ready: false,
        nothing: null,
        gone: undefined,
        fn: () => 1,
        list: [1, undefined, () => 2, [null, { z: 1, y: undefined }]],
        nested: { deeper: { "10": "ten", "2": "two", empty: {} } },
        password: secret("__secret__"),
        bare: Object.assign(Object.create(null) as object, { k: "no prototype" }),
    });

    /** RegisterResource of a custom resource, answered by `method` on a fresh mock monitor whose mocks give `state`. */
    async function register(
        method: typeof SDK_REGISTER_RESOURCE,
        state: () => Record<string, unknown>,
    ): Promise<{ urn: string; id: string; props: Record<string, unknown>; kept: unknown; inputs: unknown }> {
        let inputs: unknown;
        const mocks: pulumi.runtime.Mocks = {
            newResource: (args) => {
                inputs = args.inputs;
                return { id: `${args.name}-id`, state: state() };
            },
            call: () => ({}),
        };
        const { monitor, response } = await askMockMonitor<{ getUrn(): string; getId(): string; getObject(): unknown }>(
            "us",
            mocks,
            "RegisterResourceRequest",
            (req, struct) => {
                req.setType("test:index:Thing");
                req.setName("thing");
                req.setCustom(true);
                req.setParent(`urn:pulumi:us::${PROJECT}::pulumi:pulumi:Stack::${PROJECT}-us`);
                req.setObject(struct({ size: 3, tags: { b: "2", a: "1" }, token: secret("t") }));
            },
            method,
        );
        const urn = response.getUrn();
        const kept = (monitor as unknown as { resources: Map<string, unknown> }).resources.get(urn);
        // What the SDK's registration does with the response (runtime/resource.js → resolveOutputs).
        return { urn, id: response.getId(), props: rpc.deserializeProperties(response.getObject()), kept, inputs };
    }

    it("is the SDK's MockMonitor.registerResource as read: transforms, mocks, URN, serialized state kept, then a Struct", () => {
        const source = SDK_REGISTER_RESOURCE.toString();
        const steps = [
            /\.getTransformsList\(\)\s*\.map\(\(cb\) => this\.transformCallbacks\.get\(cb\.getToken\(\)\)\)/,
            /this\.mocks\.newResource\(\{/,
            /inputs: rpc_1\.deserializeProperties\(req\.getObject\(\)\)/,
            /custom: req\.getCustom\(\),\s*id: req\.getImportid\(\),\s*transforms: transforms,/,
            /const urn = this\.newUrn\(req\.getParent\(\), req\.getType\(\), req\.getName\(\)\)/,
            /const serializedState = await rpc_1\.serializeProperties\("", result\.state\)/,
            /this\.resources\.set\(urn, \{ urn, id: result\.id \?\? null, state: serializedState \}\)/,
            /response\.setId\(result\.id \|\| ""\)/,
            /response\.setObject\(structproto\.Struct\.fromJavaScript\(serializedState\)\)/,
        ];
        for (const step of steps) assert.match(source, step, "the SDK's MockMonitor.registerResource changed");
        assert.equal(
            Reflect.get(MONITOR.prototype, "registerResource"),
            SDK_REGISTER_RESOURCE,
            "no offline run is under way",
        );
    });

    it("answers as the SDK's method does: same URN, id, inputs to the mocks, properties and state kept", async () => {
        const sdk = await register(SDK_REGISTER_RESOURCE, STATE);
        const offline = await register(registerResourceOffline, STATE);
        assert.equal(offline.urn, `urn:pulumi:us::${PROJECT}::pulumi:pulumi:Stack$test:index:Thing::thing`);
        assert.equal(offline.urn, sdk.urn);
        assert.equal(offline.id, sdk.id);
        assert.deepEqual(offline.inputs, sdk.inputs);
        assert.equal(JSON.stringify(offline.props), JSON.stringify(sdk.props), "same values, same key order");
        assert.deepEqual(offline.props, sdk.props);
        assert.equal(JSON.stringify(offline.kept), JSON.stringify(sdk.kept));
        assert.deepEqual(offline.kept, sdk.kept);
        assert.deepEqual((offline.kept as { state: { list: unknown } }).state.list, [1, null, null, [null, { z: 1 }]]);
    });

    it("hands a state that is not plain data to the SDK's serialization, with the same answer", async () => {
        const withAsset = () => ({ ...STATE(), code: new pulumi.asset.StringAsset("print(1)") });
        const sdk = await register(SDK_REGISTER_RESOURCE, withAsset);
        const offline = await register(registerResourceOffline, withAsset);
        assert.deepEqual(offline.kept, sdk.kept);
        assert.equal(JSON.stringify(offline.props), JSON.stringify(sdk.props));
        assert.ok(pulumi.asset.Asset.isInstance(offline.props.code), "the asset came back an asset");
    });

    it("is serializeProperties' answer for plain data, and NOT_PLAIN for what the SDK treats specially", async () => {
        for (const value of [STATE(), {}, { a: [] }, { deep: [[[{ x: [undefined] }]]] }]) {
            const plainly = serializedPlainly(value);
            assert.notEqual(plainly, NOT_PLAIN);
            assert.equal(JSON.stringify(plainly), JSON.stringify(await rpc.serializeProperties("", value)));
        }
        class Point {
            x = 1;
        }
        const special: [string, unknown][] = [
            ["a promise", Promise.resolve(1)],
            ["an Output", pulumi.output(1)],
            ["an asset", new pulumi.asset.StringAsset("x")],
            ["an archive", new pulumi.asset.AssetArchive({})],
            ["an object marked as a resource", { __pulumiResource: true, urn: "u" }],
            ["an instance of another class", new Point()],
            ["a symbol", Symbol("s")],
            ["a bigint", 1n],
        ];
        for (const [what, value] of special) {
            assert.equal(serializedPlainly({ outer: [{ inner: value }] }), NOT_PLAIN, what);
        }
    });

    it("stands in for the SDK's during a run only, and records what the SDK's would", async () => {
        const { during, inputs } = await registerOneThing(() => Reflect.get(MONITOR.prototype, "registerResource"));
        assert.equal(during, registerResourceOffline);
        assert.deepEqual(inputs, { a: [1, { x: null, y: 1 }], b: 2 });
        assert.equal(
            Reflect.get(MONITOR.prototype, "registerResource"),
            SDK_REGISTER_RESOURCE,
            "the SDK's method is back after the run",
        );
    });
});

describe(`@pulumi/pulumi ${CHECKED_WITH}: Structs offline, without the protobuf messages`, () => {
    const runtimeDir = path.dirname(require.resolve("@pulumi/pulumi/runtime/resource.js"));
    /** The struct_pb module the SDK's runtime requires. */
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const structModule = require(
        require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [runtimeDir] }),
    ) as {
        Struct: {
            fromJavaScript(
                this: void,
                v: unknown,
            ): {
                toJavaScript(): unknown;
                serializeBinary(): Uint8Array;
                toObject(): unknown;
            };
        };
    };
    /** Every kind of value a Struct holds, keys out of order (integer-like ones too), nested. */
    const inherited = Object.assign(Object.create({ inheritedKey: "seen by for…in" }) as object, { own: 1 });
    const VALUES: Record<string, unknown>[] = [
        {},
        { b: 1, a: "x", c: true, d: null, e: false, f: 0 },
        { "10": "ten", "2": "two", z: { y: [3, { x: 2, w: [] }], v: {} }, é: "unicode", "": "empty key" },
        { numbers: [-0, 0.1, 1e-300, 1e300, Number.NaN, Number.POSITIVE_INFINITY, -5] },
        { nested: [[[]], [null, "a", [true]], { k: [{ b: 2, a: 1 }] }] },
        { inherited },
    ];
    /** Keys in order at every level, and the values (NaN and -0 too). */
    const shape = (v: unknown): unknown =>
        Array.isArray(v)
            ? v.map(shape)
            : typeof v === "object" && v !== null
              ? Object.entries(v).map(([k, x]) => [k, shape(x)])
              : typeof v === "number"
                ? Object.is(v, -0)
                    ? "-0"
                    : String(v)
                : v;

    it("are how the SDK wraps a resource's inputs and the mock monitor's answer, and unwraps them", () => {
        const read = (file: string) => fs.readFileSync(path.join(runtimeDir, file), "utf8");
        assert.match(
            read("resource.js"),
            /req\.setObject\(gstruct\.Struct\.fromJavaScript\(resop\.serializedProps\)\)/,
        );
        assert.match(
            read("resource.js"),
            /const gstruct = __importStar\(require\("google-protobuf\/google\/protobuf\/struct_pb"\)\)/,
        );
        const mocks = read("mocks.js");
        assert.match(mocks, /inputs: rpc_1\.deserializeProperties\(req\.getObject\(\)\)/);
        assert.match(mocks, /response\.setObject\(structproto\.Struct\.fromJavaScript\(serializedState\)\)/);
        assert.match(
            read("rpc.js"),
            /function deserializeProperties\(outputsStruct, keepUnknowns\) \{\s*const props = \{\};\s*const outputs = outputsStruct\.toJavaScript\(\);/,
        );
        assert.equal(structModule.Struct.fromJavaScript, SDK_STRUCT_FROM_JAVASCRIPT, "no offline run is under way");
    });

    it("give what the SDK's Struct gives back: values, key order, bytes, and the same errors", () => {
        for (const value of VALUES) {
            const sdk = SDK_STRUCT_FROM_JAVASCRIPT(value) as unknown as ReturnType<
                typeof structModule.Struct.fromJavaScript
            >;
            const offline = offlineStruct(value) as unknown as typeof sdk;
            assert.ok(offline instanceof (structModule.Struct as unknown as new () => object), "a Struct message");
            assert.deepEqual(shape(offline.toJavaScript()), shape(sdk.toJavaScript()));
            assert.deepEqual(shape(structValue(value)), shape(sdk.toJavaScript()));
            // What reads the fields (protobuf's own serializer and toObject) sees the SDK's message.
            assert.deepEqual(Buffer.from(offline.serializeBinary()), Buffer.from(sdk.serializeBinary()));
            assert.deepEqual(offline.toObject(), sdk.toObject());
        }
        for (const bad of [{ u: undefined }, { f: () => 1 }, { s: Symbol("s") }, { n: [1n] }]) {
            assert.throws(() => SDK_STRUCT_FROM_JAVASCRIPT(bad), /^Error: Unexpected struct type\.$/);
            assert.throws(() => offlineStruct(bad), /^Error: Unexpected struct type\.$/);
        }
    });

    it("hold the value as it was given, and answer every read with it, frozen all the way down", () => {
        const given = { a: { b: [1] } };
        const struct = offlineStruct(given);
        given.a.b.push(2);
        const first = struct.toJavaScript() as { a: { b: number[] } };
        assert.deepEqual(first, { a: { b: [1] } });
        assert.ok(Object.isFrozen(first) && Object.isFrozen(first.a) && Object.isFrozen(first.a.b));
        assert.throws(() => first.a.b.push(3), TypeError, "a reader cannot change what the next one reads");
        assert.equal(struct.toJavaScript(), first);
        assert.deepEqual(first, { a: { b: [1] } });
    });

    it("are read, in the SDK's runtime, by deserializeProperties only, which changes nothing it reads", () => {
        // Every `.toJavaScript()` the runtime calls: the Struct in rpc.js, and two protobuf Values
        // (a getResource invoke's fields, a replacement trigger), which are not Structs.
        const calls = fs
            .readdirSync(runtimeDir)
            .filter((f) => f.endsWith(".js"))
            .flatMap((f) =>
                [
                    ...fs
                        .readFileSync(path.join(runtimeDir, f), "utf8")
                        .matchAll(/([\w.]+(?:\("[^"]*"\))?)\.toJavaScript\(\)/g),
                ].map((m) => `${f}: ${m[1]}`),
            )
            .sort();
        assert.deepEqual(calls, [
            "callbacks.js: replacementTrigger",
            'resource.js: m.get("id")',
            'resource.js: m.get("urn")',
            "rpc.js: outputsStruct",
        ]);
        // Frozen values of every kind the SDK's serialization sends, read as the SDK reads them.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const rpc = require("@pulumi/pulumi/runtime/rpc") as {
            deserializeProperties(s: unknown): Record<string, unknown>;
            specialSigKey: string;
            specialSecretSig: string;
            specialAssetSig: string;
        };
        const sig = rpc.specialSigKey;
        const value = {
            plain: { b: [1, "x", null, { c: true }] },
            secret: { [sig]: rpc.specialSecretSig, value: { inner: ["s"] } },
            inList: [{ [sig]: rpc.specialSecretSig, value: "a" }, "b"],
            asset: { [sig]: rpc.specialAssetSig, text: "print(1)" },
        };
        const sdk = rpc.deserializeProperties(SDK_STRUCT_FROM_JAVASCRIPT(value));
        const offline = rpc.deserializeProperties(offlineStruct(value));
        assert.equal(JSON.stringify(offline), JSON.stringify(sdk));
        assert.deepEqual(offline.inList, sdk.inList);
    });

    it("stand in for the SDK's during a run only", async () => {
        const { during, inputs } = await registerOneThing(() => structModule.Struct.fromJavaScript);
        assert.equal(during, offlineStruct);
        assert.deepEqual(inputs, { a: [1, { x: null, y: 1 }], b: 2 });
        assert.equal(structModule.Struct.fromJavaScript, SDK_STRUCT_FROM_JAVASCRIPT, "the SDK's is back after the run");
    });
});

describe(`@pulumi/pulumi ${CHECKED_WITH}: debuggablePromise offline`, () => {
    const runtimeDir = path.dirname(require.resolve("@pulumi/pulumi/runtime/debuggable.js"));
    const source = (file: string) => fs.readFileSync(path.join(runtimeDir, file), "utf8");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const debuggable = require("@pulumi/pulumi/runtime/debuggable") as {
        debuggablePromise: typeof SDK_DEBUGGABLE_PROMISE;
        promiseDebugString(p: Promise<unknown>): string;
    };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const state = require("@pulumi/pulumi/runtime/state") as { getStore(): { leakCandidates: Set<Promise<unknown>> } };
    const store = state.getStore();

    it("is the SDK's function as read: three debug properties, a leak candidate until settled, err.promise", () => {
        const fn = SDK_DEBUGGABLE_PROMISE.toString();
        for (const step of [
            /Object\.defineProperty\(p, "_debugId", \{ writable: true, value: promiseId \}\)/,
            /Object\.defineProperty\(p, "_debugCtx", \{ writable: true, value: ctx \}\)/,
            /Object\.defineProperty\(p, "_debugStackTrace", \{ writable: true, value: new Error\(\)\.stack \}\)/,
            /localStore\.leakCandidates\.add\(p\);\s*return p\s*\.then\(\(val\) => \{\s*localStore\.leakCandidates\.delete\(p\);\s*return val;\s*\}\)\s*\.catch\(\(err\) => \{\s*localStore\.leakCandidates\.delete\(p\);\s*err\.promise = p;\s*throw err;\s*\}\)/,
        ])
            assert.match(fn, step, "the SDK's debuggablePromise changed");
    });

    it("is called through its module everywhere, and its properties are read by the leak report only", () => {
        const files = fs.readdirSync(runtimeDir).filter((f) => f.endsWith(".js"));
        let calls = 0;
        for (const file of files) {
            const text = source(file);
            const all = text.match(/debuggablePromise\(/g) ?? [];
            const viaModule = text.match(/debuggable_1\.debuggablePromise\(/g) ?? [];
            if (file === "debuggable.js") continue;
            assert.equal(all.length, viaModule.length, `${file} calls debuggablePromise other than through its module`);
            calls += viaModule.length;
            assert.doesNotMatch(text, /_debug(Id|Ctx|StackTrace)/, `${file} reads a promise's debug properties`);
        }
        assert.ok(calls >= 20, `the SDK calls debuggablePromise (${calls} calls found)`);
        const reads = source("debuggable.js").match(/p\._debug(Id|Ctx|StackTrace)/g) ?? [];
        assert.deepEqual(
            reads,
            ["p._debugId", "p._debugCtx", "p._debugStackTrace"],
            "only promiseDebugString reads them",
        );
    });

    it("tracks leaks during a run as the SDK does, labels what is left pending, and puts the SDK's function back", async () => {
        let during: unknown;
        let settled = false;
        let rejected: unknown;
        let pending: Promise<unknown> | undefined;
        const r = await runProgram({
            project: PROJECT,
            stack: "us",
            config: {},
            program: async () => {
                during = debuggable.debuggablePromise;
                let resolve: (v: number) => void = () => undefined;
                const p = new Promise<number>((res) => (resolve = res));
                const tracked = debuggable.debuggablePromise(p, "ctx");
                settled = store.leakCandidates.has(p);
                resolve(1);
                assert.equal(await tracked, 1);
                settled = settled && !store.leakCandidates.has(p);
                const failing = Promise.reject(new Error("boom"));
                rejected = await debuggable.debuggablePromise(failing, "ctx").catch((e: unknown) => e);
                rejected = [(rejected as { promise?: unknown }).promise === failing, store.leakCandidates.has(failing)];
                pending = new Promise(() => undefined);
                void debuggable.debuggablePromise(pending, "never settles");
                return {};
            },
        });
        assert.deepEqual(r.errors, []);
        assert.equal(during, debuggablePromiseOffline, "the offline function during the run");
        assert.equal(settled, true, "a leak candidate until it settled");
        assert.deepEqual(rejected, [true, false], "a rejection names its promise and is no candidate");
        assert.equal(debuggable.debuggablePromise, SDK_DEBUGGABLE_PROMISE, "the SDK's function after the run");
        assert.ok(pending !== undefined && store.leakCandidates.has(pending));
        assert.equal(
            debuggable.promiseDebugString(pending),
            `CONTEXT(-1): ${OFFLINE_LEAK_CONTEXT}\nSTACK_TRACE:\n(not captured offline)`,
        );
        assert.ok(
            process.listeners("exit").some((l) => /leakedPromises\(\)/.test(l.toString())),
            "the SDK's exit-time leak report is scheduled",
        );
        store.leakCandidates.delete(pending); // not this process's leak to report at exit
    });
});

describe(`@pulumi/pulumi ${CHECKED_WITH}: the function serialization offline processes load on first use`, () => {
    const sdkRoot = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    const changed = (what: string) =>
        `${what} (checked with @pulumi/pulumi ${CHECKED_WITH}, installed ${installed}): ` +
        "offline/deferClosure.ts needs its list of deferred modules redone";

    it("are the two modules the SDK's runtime requires when it loads, exporting the stand-ins' names", () => {
        const text = fs.readFileSync(path.join(sdkRoot, "runtime", "index.js"), "utf8");
        const closure = [...text.matchAll(/require\("\.\/closure\/([^"]+)"\)/g)].map(
            (m) => `runtime/closure/${m[1]}.js`,
        );
        assert.deepEqual(closure.sort(), Object.keys(DEFERRED).sort(), changed("runtime/index.js requires others"));
        // Read, not loaded (loading them is what the deferral saves): TypeScript's CommonJS exports.
        for (const [rel, names] of Object.entries(DEFERRED)) {
            const source = fs.readFileSync(path.join(sdkRoot, rel), "utf8");
            const exported = [...source.matchAll(/^exports\.(\w+) = /gm)].map((m) => m[1]);
            assert.deepEqual(exported.sort(), [...names].sort(), changed(`${rel} exports other names`));
        }
    });

    it("load nothing heavy with the SDK, and load the real module on a stand-in's first call", async () => {
        // A fresh process, as `npm run render` starts: the deferral first, then the SDK.
        const codePaths = path.join(sdkRoot, "runtime", "closure", "codePaths.js");
        const serializeClosure = path.join(sdkRoot, "runtime", "closure", "serializeClosure.js");
        // An npm workspace, for an answer only the real findWorkspaceRoot gives: its root, from a member.
        const workspace = scratchDir("workspace");
        const member = path.join(workspace, "packages", "member");
        fs.mkdirSync(member, { recursive: true });
        fs.writeFileSync(path.join(workspace, "package.json"), JSON.stringify({ workspaces: ["packages/*"] }));
        fs.writeFileSync(path.join(member, "package.json"), JSON.stringify({ name: "member" }));
        const script = [
            `require(${JSON.stringify(path.join(PROJECT_DIR, "bin", "offline", "deferClosure.js"))});`,
            'const path = require("node:path");',
            'const pulumi = require("@pulumi/pulumi");',
            "const loaded = () => Object.keys(require.cache);",
            "const heavy = () => ({",
            "  arborist: loaded().some((f) => f.includes(`${path.sep}@npmcli${path.sep}arborist${path.sep}`)),",
            '  typescript: loaded().some((f) => f.endsWith(path.join("typescript", "lib", "typescript.js"))),',
            `  createClosure: loaded().includes(${JSON.stringify(path.join(sdkRoot, "runtime", "closure", "createClosure.js"))}),`,
            "});",
            `const [codePaths, serializeClosure] = [${JSON.stringify(codePaths)}, ${JSON.stringify(serializeClosure)}];`,
            "const standIn = require.cache[codePaths].exports;",
            "const atLoad = { ...heavy(), sameFunction: pulumi.runtime.computeCodePaths === standIn.computeCodePaths };",
            "(async () => {",
            `  const through = await standIn.findWorkspaceRoot(${JSON.stringify(member)});`,
            "  const real = require.cache[codePaths].exports;",
            "  process.stdout.write(JSON.stringify({",
            "    atLoad, after: heavy(), replaced: real !== standIn, through,",
            "    serializeClosureStillStandIn: require.cache[serializeClosure].loaded && !require.cache[serializeClosure].children.length,",
            "  }));",
            "})().catch((e) => { process.stderr.write(String(e.stack)); process.exit(1); });",
        ].join("\n");
        const out = await new Promise<string>((resolve, reject) =>
            execFile(process.execPath, ["-e", script], { cwd: PROJECT_DIR }, (err, stdout, stderr) =>
                err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
            ),
        );
        assert.deepEqual(JSON.parse(out), {
            atLoad: { arborist: false, typescript: false, createClosure: false, sameFunction: true },
            // codePaths is what needs arborist; the serializer (and TypeScript) stays unloaded until called.
            after: { arborist: true, typescript: false, createClosure: false },
            replaced: true,
            through: workspace,
            serializeClosureStillStandIn: true,
        });
    });

    it("leave an SDK that is already loaded as it is", () => {
        assert.ok(
            require.cache[path.join(sdkRoot, "runtime", "index.js")] !== undefined,
            "this process loaded the SDK",
        );
        assert.deepEqual(deferClosureSerialization(), [], "nothing deferred once the SDK is loaded");
    });
});
