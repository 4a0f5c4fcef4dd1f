/**
 * Runs the real program (`index.ts`) under Pulumi's mock runtime and records what it asks for.
 *
 * Used by the offline renderer and by the tests. Nothing here talks to a cloud: resources get
 * their inputs back as state, plus a visible placeholder for every value only the cloud knows
 * after creation, and `__secret__` for every secret the cloud would generate.
 */
// First: the SDK then loads without its function serialization (offline/deferClosure.ts).
import "./deferClosure";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { deepFreeze } from "../config/config";
import { mapArrayShared } from "../lib/mapShared";

/** Stands in for any secret value (config secrets, generated passwords) in offline runs. */
export const SECRET_PLACEHOLDER = "__secret__";

/** A value only the cloud knows after creation, e.g. `(known after apply: quay-db.address)`. */
export function computedPlaceholder(resourceName: string, property: string): string {
    return `(known after apply: ${resourceName}.${property})`;
}

/**
 * Output properties each resource type computes, by type token. Offline runs return a placeholder
 * for each (secret ones as `__secret__`), so nothing the program reads is ever `undefined`. A dotted
 * name (`dnsConfig.fqdn`) is a property nested in an input object.
 */
export const COMPUTED_OUTPUTS: Readonly<
    Record<string, { readonly plain?: readonly string[]; readonly secret?: readonly string[] }>
> = {
    "random:index/randomPassword:RandomPassword": { secret: ["result", "bcryptHash"] },
    "aws:route53/healthCheck:HealthCheck": { plain: ["arn"] },
    "aws:route53/record:Record": { plain: ["fqdn"] },
    "azure-native:trafficmanager:Profile": { plain: ["dnsConfig.fqdn", "azureApiVersion"] },
    "azure-native:trafficmanager:Endpoint": { plain: ["endpointMonitorStatus", "azureApiVersion"] },
    "azure-native:dns:RecordSet": { plain: ["fqdn", "etag", "azureApiVersion"] },
    // Shared services (issue 3): servers, VMs, buckets and the names the cloud or autonaming picks.
    "random:index/randomString:RandomString": { plain: ["result"] },
    "aws:rds/instance:Instance": { plain: ["address", "endpoint", "arn", "resourceId", "identifier"] },
    "aws:kms/key:Key": { plain: ["arn", "keyId"] },
    "aws:rds/subnetGroup:SubnetGroup": { plain: ["name", "arn"] },
    "aws:rds/parameterGroup:ParameterGroup": { plain: ["name", "arn"] },
    "aws:ec2/securityGroup:SecurityGroup": { plain: ["name", "arn"] },
    "aws:ec2/instance:Instance": { plain: ["privateIp", "publicIp", "arn"] },
    "aws:ec2/eip:Eip": { plain: ["publicIp", "allocationId"] },
    "aws:iam/role:Role": { plain: ["name", "arn"] },
    "aws:iam/instanceProfile:InstanceProfile": { plain: ["name", "arn"] },
    "aws:iam/user:User": { plain: ["name", "arn"] },
    "aws:iam/accessKey:AccessKey": { secret: ["secret", "sesSmtpPasswordV4"] },
    "aws:s3/bucket:Bucket": { plain: ["bucket", "arn", "bucketRegionalDomainName"] },
    "azure-native:resources:ResourceGroup": { plain: ["name", "azureApiVersion"] },
    "azure-native:dbforpostgresql:Server": { plain: ["name", "fullyQualifiedDomainName", "azureApiVersion"] },
    "azure-native:storage:StorageAccount": { plain: ["name", "azureApiVersion"] },
    "azure-native:network:VirtualNetwork": { plain: ["name", "azureApiVersion"] },
    "azure-native:network:PublicIPAddress": { plain: ["ipAddress", "azureApiVersion"] },
    "azure-native:compute:VirtualMachine": { plain: ["name", "azureApiVersion"] },
};

/**
 * The random part of a Pulumi autoname, fixed. pulumi-kubernetes names an object without
 * `metadata.name` `<resource name>-<8 chars of [0-9a-f]>` (`metadata.AssignNameIfAutonamable`:
 * `resource.NewUniqueName(seed, urn.Name()+"-", 0, 0, nil)`, whose defaults are 8 hex characters), so
 * any suffix of that length and alphabet gives the name the cluster sees.
 */
export const AUTONAME_SUFFIX = "abcd1234";

/** A Kubernetes object's state as the provider returns it: named, when the program left the name to it. */
function kubernetesState(name: string, state: Record<string, unknown>): Record<string, unknown> {
    const metadata = (state.metadata ?? {}) as Record<string, unknown>;
    if (metadata.name !== undefined || metadata.generateName !== undefined) return state;
    return { ...state, metadata: { ...metadata, name: `${name}-${AUTONAME_SUFFIX}` } };
}

/** Sets a (possibly dotted, e.g. `dnsConfig.fqdn`) property of a state object, copying nested objects. */
function setPath(state: Record<string, unknown>, dotted: string, value: unknown): void {
    const [head, ...rest] = dotted.split(".");
    if (rest.length === 0) {
        state[head] = value;
        return;
    }
    const child = state[head];
    const copy = child !== null && typeof child === "object" && !Array.isArray(child) ? { ...child } : {};
    state[head] = copy;
    setPath(copy, rest.join("."), value);
}

/** Invoke results by function token; a program calling an unlisted function fails loudly. */
export const INVOKE_RESULTS: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
    // The newest image matching the name filter, as a real lookup would return it.
    "aws:ec2/getAmi:getAmi": (inputs) => {
        const filters = (inputs.filters ?? []) as { name: string; values: string[] }[];
        const name = filters.find((f) => f.name === "name")?.values[0] ?? "?";
        const architecture = filters.find((f) => f.name === "architecture")?.values[0] ?? "x86_64";
        const id = `(known after lookup: newest AMI named ${name})`;
        return { id, imageId: id, name, architecture, ownerId: (inputs.owners as string[] | undefined)?.[0] ?? "" };
    },
    "azure-native:storage:listStorageAccountKeys": () => ({
        keys: [
            { keyName: "key1", permissions: "FULL", creationTime: "", value: SECRET_PLACEHOLDER },
            { keyName: "key2", permissions: "FULL", creationTime: "", value: SECRET_PLACEHOLDER },
        ],
    }),
};

/** One registered resource, as recorded. */
export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    /** URN of the parent (the stack for top-level resources). */
    readonly parent?: string;
    /** URN of the provider a custom resource uses (`urn::id` trimmed to the URN). */
    readonly provider?: string;
    /** Inputs as sent; secret values wrapped as `{ secret: value }`. */
    readonly inputs: Record<string, unknown>;
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    /** The `ignoreChanges` option, when set (`["*"]`: a frozen server, lib/standby.ts). */
    readonly ignoreChanges?: readonly string[];
    readonly dependsOn: readonly string[];
    /**
     * The resource's `aliases` option: each alias as the URN it denotes (`aliasUrn`), or as JSON
     * when no URN can be computed. The provider SDKs' own aliases are left out (`isTypeHistoryAlias`).
     */
    readonly aliases: readonly string[];
}

/** A secret input, as recorded. */
export interface SecretInput {
    readonly secret: unknown;
}

/** True for a recorded secret input. */
export function isSecretInput(value: unknown): value is SecretInput {
    return typeof value === "object" && value !== null && Object.keys(value).length === 1 && "secret" in value;
}

/** Inputs with secrets unwrapped (for asserting on values). */
export function plain(value: unknown): unknown {
    if (isSecretInput(value)) return plain(value.secret);
    if (Array.isArray(value)) return value.map(plain);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
}

/**
 * Inputs with every secret replaced by `<secret>` (for printing and the rendered files). What holds
 * no secret is returned as it is, not copied (the renderer redacts every resource's inputs, and
 * most hold none); an array or object holding one is copied, as a plain array or object, down to
 * it. The value given is never changed.
 */
export function redacted(value: unknown): unknown {
    if (isSecretInput(value)) return "<secret>";
    if (typeof value === "string") {
        return value.includes(SECRET_PLACEHOLDER) ? value.split(SECRET_PLACEHOLDER).join("<secret>") : value;
    }
    if (Array.isArray(value)) return mapArrayShared(value, redacted);
    if (value !== null && typeof value === "object") {
        const keys = Object.keys(value);
        let copy: Record<string, unknown> | undefined;
        for (let i = 0; i < keys.length; i++) {
            const item = (value as Record<string, unknown>)[keys[i]];
            const r = redacted(item);
            if (copy === undefined && r !== item) {
                copy = {};
                for (let j = 0; j < i; j++) copy[keys[j]] = (value as Record<string, unknown>)[keys[j]];
            }
            if (copy !== undefined) copy[keys[i]] = r;
        }
        return copy ?? value;
    }
    return value;
}

/** What one run of the program produced. */
export interface RunResult {
    readonly resources: readonly RecordedResource[];
    /** Stack outputs, secrets wrapped as `{ secret: value }`. */
    readonly outputs: Record<string, unknown>;
    /** Errors the program raised (config errors, failed checks); empty on success. */
    readonly errors: readonly Error[];
}

/** How to run one stack offline. */
export interface RunOptions {
    readonly project: string;
    readonly stack: string;
    /** Full config keys (`quay-georep:hostname`) to string values, as the CLI passes them. */
    readonly config: Readonly<Record<string, string>>;
    /** Full keys whose values are secrets. */
    readonly secretKeys?: readonly string[];
    /** Outputs of other stacks, by fully qualified stack name, for StackReferences. */
    readonly stackOutputs?: Readonly<Record<string, Record<string, unknown>>>;
    /**
     * Resources in other stacks' state (URN and type), by fully qualified stack name, for the
     * engine's `pulumi:pulumi:readStackResourceOutputs` invoke; a stack not given holds none.
     */
    readonly stackResources?: Readonly<Record<string, readonly { readonly urn: string; readonly type: string }[]>>;
    /**
     * The text of `Pulumi.yaml` as the CLI would find it in the project root (the program compares
     * project-level config with it); written to a folder of its own, which becomes the root.
     */
    readonly projectFile?: string;
    /** The text of `Pulumi.<stack>.yaml`, written beside `projectFile` (the program checks its secrets). */
    readonly stackFile?: string;
    /**
     * The program: a module path (default: {@link PROGRAM}, the repo's `index.ts`), or a function that creates
     * resources and returns the stack outputs (for testing one component on its own).
     */
    readonly program?: string | (() => Record<string, unknown> | Promise<Record<string, unknown>>);
}

/** The organization offline runs use, as a self-managed backend reports it. */
export const ORGANIZATION = "organization";

const SIG = pulumi.runtime.specialSigKey;
const SECRET_SIG = pulumi.runtime.specialSecretSig;

/** Converts the mock monitor's secret envelopes to `{ secret: value }`. */
function fromWire(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(fromWire);
    if (value !== null && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[SIG] === SECRET_SIG) return { secret: fromWire(obj.value) };
        if (obj[SIG] !== undefined) return obj; // assets, resource references: kept as sent
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fromWire(v)]));
    }
    return value;
}

/** Converts `{ secret: value }` back into the wire envelope the SDK understands. */
function toWire(value: unknown): unknown {
    if (isSecretInput(value)) return { [SIG]: SECRET_SIG, value: toWire(value.secret) };
    if (Array.isArray(value)) return value.map(toWire);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
    }
    return value;
}

/** Resolves an Output (or plain value) to its value and secretness. */
async function settle(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const out = value;
        const [inner, secret] = await Promise.all([
            new Promise<unknown>((resolve) => out.apply((v) => (resolve(v), v))),
            pulumi.isSecret(out),
        ]);
        const settled = await settle(inner);
        return secret ? { secret: settled } : settled;
    }
    if (Array.isArray(value)) return Promise.all(value.map(settle));
    if (value !== null && typeof value === "object" && !pulumi.Resource.isInstance(value)) {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await settle(v)] as const));
        return Object.fromEntries(entries.filter(([, v]) => v !== undefined));
    }
    return value;
}

/**
 * A URN as the engine writes it. The engine leaves the root stack's type out of a top-level
 * resource's URN (pulumi/pulumi `pkg/resource/deploy/deployment.go`, `generateURN`: "don't use the
 * root stack type"); the SDK's mock monitor puts it in (`…::pulumi:pulumi:Stack$type::name`).
 */
export function engineUrn(urn: string): string {
    return urn.replace(/^(urn:pulumi:[^:]*::[^:]*::)pulumi:pulumi:Stack\$/, "$1");
}

/** An alias spec (`pulumi.Alias`) with its values resolved; a parent given as a resource is its URN. */
export interface AliasSpec {
    readonly name?: unknown;
    readonly type?: unknown;
    readonly parent?: unknown;
    readonly stack?: unknown;
    readonly project?: unknown;
}

/** The resource an alias belongs to: what fills in the fields a spec leaves out. */
export interface AliasOwner {
    readonly name: string;
    readonly type: string;
    /** The parent's URN (engine form); the stack's, or none, for a top-level resource. */
    readonly parent?: string;
    readonly project: string;
    readonly stack: string;
}

/**
 * The URN an alias denotes, as @pulumi/pulumi computes it before registering (`collapseAliasToUrn`
 * and `createUrn` in its resource.js, the engine doing the same with alias specs): a URN is itself;
 * a spec's missing name and type are the resource's own; its parent, when the spec has no `parent`
 * key, is the resource's parent, and `parent: undefined` (`pulumi.rootStackResource`) is the stack.
 * Under a parent, the URN is the parent's type chain, `$`, type and name (the parent's stack and
 * project win); at the top, `urn:pulumi:<stack>::<project>::type::name`, the spec's stack and
 * project, else the resource's. A spec whose values are not all strings is returned as JSON.
 */
export function aliasUrn(alias: string | AliasSpec, owner: AliasOwner): string {
    if (typeof alias === "string") return alias;
    const has = (key: keyof AliasSpec) => Object.prototype.hasOwnProperty.call(alias, key);
    const name = has("name") ? alias.name : owner.name;
    const type = has("type") ? alias.type : owner.type;
    const parent = has("parent") ? alias.parent : owner.parent;
    const project = has("project") ? alias.project : owner.project;
    const stack = has("stack") ? alias.stack : owner.stack;
    const strings = [name, type, project, stack].every((v) => typeof v === "string");
    if (!strings || (parent !== undefined && typeof parent !== "string")) return JSON.stringify(alias);
    const chain = parent === undefined ? undefined : parent.slice(0, parent.lastIndexOf("::"));
    const prefix =
        chain === undefined || chain.endsWith("::pulumi:pulumi:Stack")
            ? `urn:pulumi:${stack as string}::${project as string}::`
            : `${chain}$`;
    return `${prefix}${type as string}::${name as string}`;
}

/**
 * True for an alias a provider SDK adds to every resource of a type: a spec naming only an earlier
 * type token of the same package (`aws:s3/bucketV2:BucketV2` on an S3 Bucket, one per API version
 * on azure-native resources). They are the same in every program and would bury the program's own.
 */
export function isTypeHistoryAlias(alias: string | AliasSpec, owner: { type: string; custom: boolean }): boolean {
    if (typeof alias === "string" || !owner.custom) return false;
    const keys = Object.keys(alias);
    return keys.length === 1 && typeof alias.type === "string" && packageOf(alias.type) === packageOf(owner.type);
}

/**
 * A type token's package (`aws` of `aws:s3/bucket:Bucket`; the whole token when it has no colon),
 * without the array `split` makes: an azure-native resource brings dozens of aliases to check.
 */
function packageOf(token: string): string {
    const colon = token.indexOf(":");
    return colon === -1 ? token : token.slice(0, colon);
}

/**
 * The resource's options without the provider SDK's own type-history aliases, which the recording
 * leaves out anyway (`isTypeHistoryAlias`; `options` keeps the options as the program gave them).
 * The SDK's `Resource` constructor collapses every alias into URN Outputs (resource.js
 * `collapseAliasToUrn`), and an azure-native resource carries one per API version of its type
 * (a StorageAccount dozens): that work, whose result nothing offline reads, was most of what an
 * azure-native resource cost under mocks. Stack transformations run before it (resource.js, "invoke
 * them in order to transform the properties and options"); the resource already has its class's
 * prototype there, so `instanceof` tells a custom resource.
 */
function withoutTypeHistory(args: pulumi.ResourceTransformationArgs): pulumi.ResourceTransformationResult | undefined {
    const aliases = args.opts.aliases ?? [];
    const custom = args.resource instanceof pulumi.CustomResource;
    const kept = aliases.filter(
        (a) =>
            !(
                a !== null &&
                typeof a === "object" &&
                !pulumi.Output.isInstance(a) &&
                isTypeHistoryAlias(a as AliasSpec, { type: args.type, custom })
            ),
    );
    return kept.length === aliases.length ? undefined : { props: args.props, opts: { ...args.opts, aliases: kept } };
}

/** The value of an Output or promise (nested ones too), or the value itself. */
async function valueOf(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const out = value;
        return valueOf(await new Promise<unknown>((resolve) => out.apply((v) => (resolve(v), v))));
    }
    if (value instanceof Promise) return valueOf(await value);
    return value;
}

/** One entry of an `aliases` option, resolved: a URN, or a spec with plain values and parent URN. */
async function resolveAlias(alias: unknown): Promise<string | AliasSpec> {
    const value = await valueOf(alias);
    if (typeof value === "string") return value;
    if (value === null || typeof value !== "object") return { name: value };
    const spec: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
        const resolved = await valueOf(field);
        spec[key] = pulumi.Resource.isInstance(resolved) ? await urnOf(resolved) : resolved;
    }
    return spec;
}

function urnOf(resource: pulumi.Resource | undefined): Promise<string | undefined> {
    if (resource === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => resource.urn.apply((u) => (resolve(engineUrn(u)), u)));
}

/** A folder holding `Pulumi.yaml` (and `Pulumi.<stack>.yaml`) with these texts (one per distinct pair, reused). */
function projectRoot(text: string, stack: string, stackText?: string): string {
    const files: Record<string, string> = { "Pulumi.yaml": text };
    if (stackText !== undefined) files[`Pulumi.${stack}.yaml`] = stackText;
    const digest = createHash("sha256").update(JSON.stringify(files)).digest("hex").slice(0, 16);
    const dir = path.join(os.tmpdir(), `quay-georep-project-${digest}`);
    for (const [name, content] of Object.entries(files)) {
        const file = path.join(dir, name);
        if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== content) {
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(file, content);
        }
    }
    return dir;
}

/**
 * Sets the project root `pulumi.getRootDirectory()` returns. The CLI's language host passes it to
 * the program (PULUMI_NODEJS_ROOT_DIRECTORY, read once when the SDK's store is created); mocks
 * keep whatever that was, so the offline runtime sets it in the store, as it sets the config.
 */
function setRootDirectory(dir: string): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const state = require("@pulumi/pulumi/runtime/state") as {
        getStore(): { settings: { options: { rootDirectory?: string } } };
    };
    state.getStore().settings.options.rootDirectory = dir;
}

/**
 * The program `pulumi up` runs: `index.ts` beside this folder, or `index.js` when this file runs
 * compiled (`bin/offline/runtime.js`, the program then `bin/index.js`, loading the same compiled
 * modules as the tests that import them).
 */
export const PROGRAM = path.join(__dirname, "..", "index");

/**
 * Evaluates the program's entry module anew and returns its export, as the language host does once
 * per process. Only the entry is evaluated again: its export is this run's promise of outputs
 * (`export = deploy(loadConfig())` reads this stack's config); the modules it imports are loaded once
 * and stay. The entry is left neither in the require cache nor among this module's children, where
 * every run's module, and through its export the run's whole resource graph, would stay reachable.
 */
export function evaluateProgram(file: string): unknown {
    const resolved = require.resolve(file);
    delete require.cache[resolved];
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return require(resolved) as unknown;
    } finally {
        const entry = require.cache[resolved];
        delete require.cache[resolved];
        const at = entry === undefined ? -1 : module.children.indexOf(entry);
        if (at !== -1) module.children.splice(at, 1);
    }
}

/** The SDK's Resource class as offline runs patch it (`callsites` is private in its typings). */
interface ResourceCallsites {
    callsites: () => unknown[];
}

/**
 * How many runs are under way: 0 or 1, since `runProgram` refuses to overlap runs (the patches are
 * made when a run starts and undone when it ends).
 */
let runsInFlight = 0;

/** Why `runProgram` refuses a run while another is under way. */
export const OVERLAPPING_RUNS =
    "offline runs cannot overlap: the Pulumi SDK keeps one mock monitor, project, stack and config per process " +
    "(pulumi.runtime.setMocks, setAllConfig), so a second run would take over the first one's; await each run before starting the next";
let sdkCallsites: ResourceCallsites["callsites"] | undefined;

/**
 * Stops the SDK from capturing the call site of every resource while offline runs are under way.
 * Each resource constructor calls `Resource.stackTrace(4)`, which calls `Resource.callsites()`
 * (@pulumi/pulumi resource.js): it sets `Error.stackTraceLimit` to Infinity, formats
 * `new Error().stack` and parses every frame, for the `sourcePosition` and `stackTrace` fields of
 * the RegisterResource request, which the engine uses to point at the line that declared a
 * resource. The mock monitor ignores both. The SDK has no option or variable to turn this off,
 * and a lowered `Error.stackTraceLimit` does not help (it is raised for the capture), so the static
 * method is replaced by one returning no frames (`stackTrace` then returns `[]` and the request
 * carries no position). It is private in the SDK's typings: test/sdk.test.ts pins that resources
 * still go through it, and that an offline run then formats no stack at all.
 *
 * The other stand-ins for SDK work nothing offline reads go in and out with it: the response
 * strings (`RESPONSE_MESSAGES`), `readResourceOffline`, `offlineStruct` and
 * `debuggablePromiseOffline`. It returns the function that puts the SDK's own back.
 */
function skipCallsites(): () => void {
    const resource = pulumi.Resource as unknown as ResourceCallsites;
    if (runsInFlight++ === 0) {
        sdkCallsites = resource.callsites;
        resource.callsites = () => [];
        for (const message of RESPONSE_MESSAGES) {
            // eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the same prototype
            responseStrings.set(message, message.prototype.toString);
            message.prototype.toString = offlineResponseString;
        }
        MONITOR.prototype.readResource = readResourceOffline;
        (MONITOR as unknown as RegisteringMonitorClass).prototype.registerResource = registerResourceOffline;
        STRUCT.fromJavaScript = offlineStruct;
        // The SDK's own function once, which schedules its exit-time leak report (as its first call does).
        void SDK_DEBUGGABLE_PROMISE(Promise.resolve(), "offline runs: leak report scheduled");
        DEBUGGABLE.debuggablePromise = debuggablePromiseOffline;
    }
    return () => {
        if (--runsInFlight === 0 && sdkCallsites !== undefined) {
            resource.callsites = sdkCallsites;
            for (const [message, toString] of responseStrings) message.prototype.toString = toString;
            responseStrings.clear();
            MONITOR.prototype.readResource = SDK_READ_RESOURCE;
            (MONITOR as unknown as RegisteringMonitorClass).prototype.registerResource = SDK_REGISTER_RESOURCE;
            STRUCT.fromJavaScript = SDK_STRUCT_FROM_JAVASCRIPT;
            DEBUGGABLE.debuggablePromise = SDK_DEBUGGABLE_PROMISE;
            labelLeakCandidates();
        }
    };
}

/**
 * @pulumi/pulumi runtime/debuggable.js, whose `debuggablePromise` the SDK calls through the module
 * (`debuggable_1.debuggablePromise(…)`) for every RPC and every resource operation, and
 * runtime/state.js, whose store holds the promises not yet settled (`leakCandidates`).
 */
interface DebuggableModule {
    debuggablePromise<T>(this: void, p: Promise<T>, ctx: unknown): Promise<T>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const DEBUGGABLE = require("@pulumi/pulumi/runtime/debuggable") as DebuggableModule;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const STATE = require("@pulumi/pulumi/runtime/state") as { getStore(): { leakCandidates: Set<Promise<unknown>> } };
/** The SDK's own function, put back when no offline run is under way. */
export const SDK_DEBUGGABLE_PROMISE = DEBUGGABLE.debuggablePromise;
/** What an offline run's leaked promise says of itself in the SDK's leak report. */
export const OFFLINE_LEAK_CONTEXT =
    "offline run: the operation is not recorded offline (run `pulumi preview` for it, or the offline run again with offline/runtime.ts debuggablePromiseOffline removed)";

/**
 * The SDK's `debuggablePromise` as offline runs call it: the same leak tracking (the promise is a
 * leak candidate in the store until it settles, and a rejection's error gets `promise`), in the
 * same chain (`then`, then `catch`), without the three properties the SDK's version defines on
 * every promise (`_debugId`, `_debugCtx`, and `_debugStackTrace`, a `new Error().stack`, which is
 * `"Error"` under the offline runs' `Error.stackTraceLimit` of 0). Only the SDK's exit-time leak
 * report reads them (`promiseDebugString`), and defining them was about a sixth of a program run's
 * CPU. A promise still pending when the runs end gets them then (`labelLeakCandidates`), with
 * OFFLINE_LEAK_CONTEXT as its context. test/sdk.test.ts pins the SDK's function and its readers.
 */
export function debuggablePromiseOffline<T>(p: Promise<T>, _ctx: unknown): Promise<T> {
    const candidates = STATE.getStore().leakCandidates;
    candidates.add(p);
    return p
        .then((val) => {
            candidates.delete(p);
            return val;
        })
        .catch((err: unknown) => {
            candidates.delete(p);
            (err as { promise?: unknown }).promise = p;
            throw err;
        });
}

/** Gives each leak candidate that lacks them the properties the SDK's leak report prints. */
function labelLeakCandidates(): void {
    for (const p of STATE.getStore().leakCandidates) {
        if (Object.prototype.hasOwnProperty.call(p, "_debugCtx")) continue;
        // Non-enumerable and writable, as the SDK defines them.
        void Object.defineProperties(p, {
            _debugId: { writable: true, value: -1 },
            _debugCtx: { writable: true, value: OFFLINE_LEAK_CONTEXT },
            _debugStackTrace: { writable: true, value: "(not captured offline)" },
        });
    }
}

/**
 * The monitor's response messages whose text the SDK formats after every RPC, for a debug log line
 * (@pulumi/pulumi runtime/resource.js: `log.debug(\`ReadResource RPC finished: …, resp: ${innerResponse}\`)`,
 * and the same for RegisterResource): the template string is built whether or not anything logs,
 * and a protobuf message's `toString` serializes it whole (a StackReference's response holds every
 * output of the stack it reads). Offline, nothing reads those lines: while runs are under way the
 * two messages format as a constant. test/sdk.test.ts pins the module and the messages.
 */
interface ProtoMessageClass {
    prototype: { toString(): string };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const resourceProto = require("@pulumi/pulumi/proto/resource_pb") as Record<string, ProtoMessageClass>;
export const RESPONSE_MESSAGES: readonly ProtoMessageClass[] = [
    resourceProto.ReadResourceResponse,
    resourceProto.RegisterResourceResponse,
];
const responseStrings = new Map<ProtoMessageClass, () => string>();
function offlineResponseString(): string {
    return "[response: not formatted offline]";
}

/**
 * The SDK's mock monitor (@pulumi/pulumi runtime/mocks.js `MockMonitor`), with the members its
 * `readResource` uses: the mocks, `newUrn`, and the `resources` map its `getResource` invoke reads.
 */
interface MockMonitorInternals {
    mocks: pulumi.runtime.Mocks;
    resources: Map<string, { urn: string; id: string | null; state: unknown }>;
    newUrn(parent: string, type: string, name: string): string;
}
interface ReadRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProvider(): string;
    getId(): string;
    getProperties(): unknown;
}
type ReadCallback = (err: unknown, response: unknown) => void;
interface MonitorClass {
    prototype: { readResource(this: MockMonitorInternals, req: ReadRequest, callback: ReadCallback): Promise<void> };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mocksModule = require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: MonitorClass };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rpcModule = require("@pulumi/pulumi/runtime/rpc") as {
    serializeProperties(label: string, props: unknown): Promise<Record<string, unknown>>;
    deserializeProperties(struct: unknown): Record<string, unknown>;
};
export const MONITOR = mocksModule.MockMonitor;
/** The SDK's own method, put back when no offline run is under way. */
// eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the same prototype
export const SDK_READ_RESOURCE = MONITOR.prototype.readResource;

/**
 * The mock monitor's ReadResource as offline runs answer it for a StackReference: the SDK's own
 * steps (@pulumi/pulumi runtime/mocks.js `MockMonitor.readResource`: the mocks' `newResource`, the
 * URN, `serializeProperties` of the state, kept in `resources`), without the protobuf round trip
 * of the state. The SDK's method converts the serialized state to a `google.protobuf.Struct`
 * (`Struct.fromJavaScript`) for the response, and the SDK's read (runtime/resource.js
 * `readResource` → rpc.js `deserializeProperties`) converts it straight back with `toJavaScript`:
 * no bytes are ever sent. For a StackReference that state is every output of the stack it reads,
 * which every site stack reads again (at 100 sites, 140 KB of JSON per stack, a sixth of a
 * render's CPU). The response's properties answer `toJavaScript` with what the round trip gives
 * back for JSON: the serialized state, each object's keys sorted (`withSortedKeys`). Every other read
 * goes to the SDK's method.
 * test/sdk.test.ts pins the SDK's method and that both answer the same.
 */
export async function readResourceOffline(
    this: MockMonitorInternals,
    req: ReadRequest,
    callback: ReadCallback,
): Promise<void> {
    if (req.getType() !== "pulumi:pulumi:StackReference") return SDK_READ_RESOURCE.call(this, req, callback);
    try {
        const result = await this.mocks.newResource({
            type: req.getType(),
            name: req.getName(),
            inputs: rpcModule.deserializeProperties(req.getProperties()),
            provider: req.getProvider(),
            custom: true,
            id: req.getId(),
        });
        const urn = this.newUrn(req.getParent(), req.getType(), req.getName());
        const state = await serializedOnce(result.state as Record<string, unknown>);
        this.resources.set(urn, { urn, id: result.id ?? null, state });
        const Response = resourceProto.ReadResourceResponse as unknown as new () => {
            setUrn(urn: string): void;
            getProperties: () => { toJavaScript(): unknown };
        };
        const response = new Response();
        response.setUrn(urn);
        response.getProperties = () => ({ toJavaScript: () => state });
        callback(null, response);
    } catch (err) {
        callback(err, undefined);
    }
}

/** The request fields the SDK's `MockMonitor.registerResource` reads. */
interface RegisterRequest {
    getTransformsList(): { getToken(): string }[];
    getType(): string;
    getName(): string;
    getObject(): unknown;
    getProvider(): string;
    getCustom(): boolean;
    getImportid(): string;
    getParent(): string;
}
interface RegisterMonitor extends MockMonitorInternals {
    transformCallbacks: Map<string, unknown>;
}
interface RegisteringMonitorClass {
    prototype: {
        registerResource(this: RegisterMonitor, req: RegisterRequest, callback: ReadCallback): Promise<void>;
    };
}
/** The SDK's own method, put back when no offline run is under way. */
// eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the same prototype
export const SDK_REGISTER_RESOURCE = (MONITOR as unknown as RegisteringMonitorClass).prototype.registerResource;

/**
 * The mock monitor's RegisterResource as offline runs answer it: the SDK's own steps
 * (@pulumi/pulumi runtime/mocks.js `MockMonitor.registerResource`: the transforms, the mocks'
 * `newResource`, the URN, the serialized state kept in `resources`, the response), with the state
 * serialized at once when it is plain data (`serializedPlainly`) instead of by `serializeProperties`,
 * which awaits every value of it one after another (rpc.js `serializeAllKeys`). The state is the
 * engine's side of the exchange: the mocks build it from the inputs the SDK just deserialized, so
 * it holds no Output or promise; a state that holds anything else than plain data (an asset, a
 * resource reference) goes to `serializeProperties` as in the SDK's method.
 * test/sdk.test.ts pins the SDK's method and that both answer the same.
 */
export async function registerResourceOffline(
    this: RegisterMonitor,
    req: RegisterRequest,
    callback: ReadCallback,
): Promise<void> {
    try {
        const transforms = req
            .getTransformsList()
            .map((cb) => this.transformCallbacks.get(cb.getToken()))
            .filter((transform) => transform !== undefined);
        const result = await this.mocks.newResource({
            type: req.getType(),
            name: req.getName(),
            inputs: rpcModule.deserializeProperties(req.getObject()),
            provider: req.getProvider(),
            custom: req.getCustom(),
            id: req.getImportid(),
            transforms: transforms as never,
        });
        const urn = this.newUrn(req.getParent(), req.getType(), req.getName());
        const state = result.state as Record<string, unknown>;
        const plainly = serializedPlainly(state);
        const serializedState = (
            plainly === NOT_PLAIN ? await rpcModule.serializeProperties("", state) : plainly
        ) as Record<string, unknown>;
        this.resources.set(urn, { urn, id: result.id ?? null, state: serializedState });
        const Response = resourceProto.RegisterResourceResponse as unknown as new () => {
            setUrn(urn: string): void;
            setId(id: string): void;
            setObject(struct: StructMessage): void;
        };
        const response = new Response();
        response.setUrn(urn);
        response.setId(result.id || "");
        response.setObject(STRUCT.fromJavaScript(serializedState));
        callback(null, response);
    } catch (err) {
        callback(err, undefined);
    }
}

/** What `serializedPlainly` answers for a value that is not plain data. */
export const NOT_PLAIN: unique symbol = Symbol("not plain data");
/** The members @pulumi/pulumi's `isInstance` checks mark its classes' instances with (utils.js `hasTrueBooleanMember`). */
const SDK_MARKERS = [
    "__pulumiOutput",
    "__pulumiResource",
    "__pulumiCustomResource",
    "__pulumiAsset",
    "__pulumiArchive",
    "__pulumiUnknown",
];

/**
 * What `serializeProperties("", value)` resolves to (@pulumi/pulumi runtime/rpc.js
 * `serializeProperty`), computed at once, for plain data: strings, numbers, booleans and null as
 * they are; a function, or undefined, left out of an object and null in an array; arrays element
 * by element; objects (of Object's prototype or none) key by key, in `Object.keys` order.
 * `NOT_PLAIN` for anything else the SDK's function treats specially (promises, Outputs, resources,
 * assets, archives, unknowns, instances of other classes), which then goes to the SDK's function.
 */
export function serializedPlainly(value: unknown): unknown {
    switch (typeof value) {
        case "function":
        case "undefined":
            return undefined;
        case "string":
        case "number":
        case "boolean":
            return value;
        case "object": {
            if (value === null) return null;
            const proto = Object.getPrototypeOf(value) as unknown;
            if (proto === Array.prototype) {
                const array = value as unknown[];
                const out: unknown[] = [];
                for (let i = 0; i < array.length; i++) {
                    const elem = serializedPlainly(array[i]);
                    if (elem === NOT_PLAIN) return NOT_PLAIN;
                    out.push(elem === undefined ? null : elem);
                }
                return out;
            }
            if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
            const obj = value as Record<string, unknown>;
            if (SDK_MARKERS.some((marker) => obj[marker] === true)) return NOT_PLAIN;
            const out: Record<string, unknown> = {};
            for (const key of Object.keys(obj)) {
                const v = serializedPlainly(obj[key]);
                if (v === NOT_PLAIN) return NOT_PLAIN;
                if (v !== undefined) out[key] = v;
            }
            return out;
        }
        default:
            return NOT_PLAIN; // symbols and bigints: the SDK's function decides
    }
}

/**
 * `google.protobuf.Struct` as the SDK's RPCs build it (google-protobuf struct_pb.js, the copy
 * @pulumi/pulumi requires): runtime/resource.js wraps every resource's serialized inputs in one for
 * the RegisterResource request (`req.setObject(gstruct.Struct.fromJavaScript(…))`), the mock
 * monitor unwraps it (`deserializeProperties(req.getObject())` → `toJavaScript`), wraps the state
 * it answers in another, and the SDK unwraps that (`resolveOutputs` → `deserializeProperties`);
 * invokes do the same with their arguments and results. Offline no byte is ever sent, and building
 * a message of one `Value` per leaf to read it back at once was about a tenth of a program run's
 * CPU (docs/benchmark.md). While runs are under way `Struct.fromJavaScript` is `offlineStruct`.
 */
interface StructMessage {
    toJavaScript(): Record<string, unknown>;
    getFieldsMap(noLazyCreate?: boolean): unknown;
}
interface StructClass {
    new (): StructMessage;
    fromJavaScript(this: void, value: Record<string, unknown>): StructMessage;
}
const STRUCT_PB = require.resolve("google-protobuf/google/protobuf/struct_pb", {
    paths: [path.dirname(require.resolve("@pulumi/pulumi/runtime/resource.js"))],
});
// eslint-disable-next-line @typescript-eslint/no-require-imports
const STRUCT = (require(STRUCT_PB) as { Struct: StructClass }).Struct;
/** The SDK's own function, put back when no offline run is under way. */
export const SDK_STRUCT_FROM_JAVASCRIPT = STRUCT.fromJavaScript;

/**
 * What `Struct.fromJavaScript(value).toJavaScript()` gives, without the message: strings, numbers,
 * booleans and null as they are, arrays element by element, objects with the keys a `for…in` visits
 * (inherited enumerable ones too, as struct_pb.js's loop does) in `sort()` order (`toJavaScript`
 * walks a `jspb.Map`, whose `forEach` sorts its keys). Anything else fails as the SDK's does
 * (`Value.fromJavaScript`: "Unexpected struct type."). Every array and object it builds is frozen.
 */
export function structValue(value: unknown): unknown {
    switch (typeof value) {
        case "string":
        case "number":
        case "boolean":
            return value;
        case "object": {
            if (value === null) return null;
            if (Array.isArray(value)) return Object.freeze(value.map(structValue));
            const keys: string[] = [];
            for (const key in value) keys.push(key);
            keys.sort();
            const out: Record<string, unknown> = {};
            for (const key of keys) out[key] = structValue((value as Record<string, unknown>)[key]);
            return Object.freeze(out);
        }
        default:
            throw new Error("Unexpected struct type.");
    }
}

/**
 * `Struct.fromJavaScript` as offline runs answer it: a `Struct` message (an instance of the class,
 * for whatever checks or stores it) whose `toJavaScript` gives what the SDK's round trip gives
 * (`structValue`, converted at once, so a bad value fails where the SDK's would and a later change
 * to `obj` is not seen). Every read gets that same value, frozen all the way down, where the SDK's
 * message builds a new copy at each call: in an offline run the only reader is the SDK's
 * `deserializeProperties` (runtime/rpc.js), which builds its own objects from it and changes
 * nothing (test/sdk.test.ts pins the readers), and a reader that tried to change it would fail at
 * once instead of changing what the next read sees. Its fields are built
 * only if something asks for them (`getFieldsMap`, which protobuf's `toObject` and
 * `serializeBinary` and the SDK's getResource invoke read): then they are the SDK's own message's.
 * Its internal array stays empty: a copy made from that array (jspb's `cloneMessage`) would have no
 * fields, and neither the SDK's runtime nor this project makes one.
 */
export function offlineStruct(obj: Record<string, unknown>): StructMessage {
    const value = structValue(obj) as Record<string, unknown>;
    const struct = new STRUCT();
    struct.toJavaScript = () => value;
    let fields: StructMessage | undefined;
    struct.getFieldsMap = (noLazyCreate?: boolean) =>
        (fields ??= SDK_STRUCT_FROM_JAVASCRIPT(value)).getFieldsMap(noLazyCreate);
    return struct;
}

/** What a StackReference reads: the stack's name, its outputs and which of them are secret. */
interface StackReferenceState {
    name: string;
    outputs: unknown;
    secretOutputNames: string[];
}
const referenceStates = new WeakMap<object, Map<string, StackReferenceState>>();
const serializedStates = new WeakMap<object, Promise<Record<string, unknown>>>();

/**
 * The state a StackReference to `name` reads, made once per outputs object: the offline renderer
 * hands every site stack the same outputs of the shared stack, and tests hand a World's. The
 * outputs are frozen, all the way down, when first read: what a stack deployed does not change
 * afterwards, and a caller that tried would fail at once instead of reading a stale state.
 */
function stackReferenceState(name: string, outputs: Record<string, unknown>): StackReferenceState {
    let byName = referenceStates.get(outputs);
    if (byName === undefined) {
        deepFreeze(outputs);
        referenceStates.set(outputs, (byName = new Map<string, StackReferenceState>()));
    }
    let state = byName.get(name);
    if (state === undefined) {
        const secretOutputNames = Object.keys(outputs).filter((k) => isSecretInput(outputs[k]));
        state = Object.freeze({ name, outputs: plain(outputs), secretOutputNames });
        byName.set(name, state);
    }
    return state;
}

/**
 * `serializeProperties` of a StackReference's state, with every object's keys in the order the
 * SDK's round trip gives them, once per state: the serialized form of the same plain values is the
 * same every time, and the SDK's read copies it into new objects (rpc.js `deserializeProperty`
 * builds every object and array afresh) without changing it.
 */
function serializedOnce(state: Record<string, unknown>): Promise<Record<string, unknown>> {
    let serialized = serializedStates.get(state);
    if (serialized === undefined) {
        serialized = rpcModule
            .serializeProperties("", state)
            .then((value) => withSortedKeys(value) as Record<string, unknown>);
        serializedStates.set(state, serialized);
    }
    return serialized;
}

/**
 * A copy of a JSON value with each object's keys sorted (`sort()`), at every level: the order a
 * `google.protobuf.Struct` gives them back (`Struct.toJavaScript` walks its fields map with
 * `jspb.Map.forEach`, which sorts the keys before calling back: google-protobuf,
 * `jspb.Map.prototype.forEach`), and the rendered files' stable order.
 */
export function withSortedKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(withSortedKeys);
    if (typeof value !== "object" || value === null) return value;
    const keys = Object.keys(value).sort();
    return Object.fromEntries(keys.map((k) => [k, withSortedKeys((value as Record<string, unknown>)[k])]));
}

/**
 * Runs the program once for one stack under mocks and returns what it registered.
 *
 * Stack traces are off while it runs: the SDK captures `new Error().stack` for every promise it
 * creates (`debuggablePromise`), and for every resource (see `skipCallsites`); formatting them is
 * a large part of a mock run's time, and none is ever read. Errors keep their messages.
 */
export async function runProgram(opts: RunOptions): Promise<RunResult> {
    if (runsInFlight > 0) throw new Error(OVERLAPPING_RUNS);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const restore = skipCallsites();
    try {
        return await runProgramTraced(opts);
    } finally {
        restore();
        Error.stackTraceLimit = limit;
    }
}

async function runProgramTraced(opts: RunOptions): Promise<RunResult> {
    const program = opts.program ?? PROGRAM;
    // As the Pulumi language host does: a module's export may be a function, or a promise, of the outputs.
    const load = async (): Promise<Record<string, unknown>> => {
        if (typeof program === "function") return program();
        const exported = evaluateProgram(program);
        const value: unknown = await (typeof exported === "function" ? (exported as () => unknown)() : exported);
        return { ...(value as Record<string, unknown>) };
    };
    const byKey = new Map<
        string,
        { type: string; name: string; custom: boolean; inputs: Record<string, unknown>; provider?: string }
    >();
    const errors: Error[] = [];
    const mocks: pulumi.runtime.Mocks = {
        newResource(args) {
            const key = `${args.type}::${args.name}`;
            if (byKey.has(key)) errors.push(new Error(`two resources share type and name: ${key}`));
            const inputs = fromWire(args.inputs) as Record<string, unknown>;
            byKey.set(key, {
                type: args.type,
                name: args.name,
                custom: args.custom ?? true,
                inputs,
                provider: args.provider,
            });
            if (args.type === "pulumi:pulumi:StackReference") {
                const name = String(inputs.name);
                // A stack not given here reads as one initialized but never deployed: no outputs.
                return { id: name, state: stackReferenceState(name, opts.stackOutputs?.[name] ?? {}) };
            }
            const computed = COMPUTED_OUTPUTS[args.type] ?? {};
            const sent = args.inputs as Record<string, unknown>;
            const state: Record<string, unknown> =
                args.type.startsWith("kubernetes:") && args.custom !== false
                    ? kubernetesState(args.name, sent)
                    : { ...sent };
            for (const prop of computed.plain ?? []) setPath(state, prop, computedPlaceholder(args.name, prop));
            for (const prop of computed.secret ?? []) setPath(state, prop, toWire({ secret: SECRET_PLACEHOLDER }));
            return { id: args.custom ? `${args.name}-id` : undefined, state };
        },
        call(args) {
            if (args.token === "pulumi:pulumi:readStackResourceOutputs") {
                const name = String((args.inputs as Record<string, unknown>).stackName);
                const held = opts.stackResources?.[name] ?? [];
                return { name, outputs: Object.fromEntries(held.map((r) => [r.urn, { type: r.type, outputs: {} }])) };
            }
            const stub = INVOKE_RESULTS[args.token];
            if (stub === undefined)
                throw new Error(`no offline result for invoke ${args.token}; add one to INVOKE_RESULTS`);
            return stub(args.inputs as Record<string, unknown>);
        },
    };

    // One failure can surface through several promises; record each error once.
    const record = (reason: unknown) => {
        const err = reason instanceof Error ? reason : new Error(String(reason));
        if (!errors.includes(err)) errors.push(err);
    };
    const onRejection = record;
    process.on("unhandledRejection", onRejection);
    const options: { resource: pulumi.Resource; type: string; name: string; opts: pulumi.CustomResourceOptions }[] = [];
    try {
        await pulumi.runtime.setMocks(mocks, opts.project, opts.stack, false, ORGANIZATION);
        setRootDirectory(
            opts.projectFile === undefined ? "" : projectRoot(opts.projectFile, opts.stack, opts.stackFile),
        );
        pulumi.runtime.setAllConfig({ ...opts.config }, [...(opts.secretKeys ?? [])]);
        let outputs: Record<string, unknown> = {};
        let exported: Record<string, unknown> = {};
        try {
            await pulumi.runtime.runInPulumiStack(async () => {
                pulumi.runtime.registerStackTransformation((args) => {
                    options.push({ resource: args.resource, type: args.type, name: args.name, opts: args.opts });
                    return withoutTypeHistory(args);
                });
                exported = await load();
                return exported;
            });
            // Settled from the module's exports, not the stack's massaged copy, to keep secretness.
            outputs = (await settle(exported)) as Record<string, unknown>;
        } catch (err) {
            record(err);
        }
        await pulumi.runtime.disconnect();
        await new Promise((resolve) => setImmediate(resolve));

        const stackUrn = `urn:pulumi:${opts.stack}::${opts.project}::pulumi:pulumi:Stack::${opts.project}-${opts.stack}`;
        const stackName = `${opts.project}-${opts.stack}`;
        const resources: RecordedResource[] = byKey.has(`pulumi:pulumi:Stack::${stackName}`)
            ? [
                  {
                      urn: stackUrn,
                      type: "pulumi:pulumi:Stack",
                      name: stackName,
                      custom: false,
                      inputs: {},
                      protect: false,
                      retainOnDelete: false,
                      dependsOn: [],
                      aliases: [],
                  },
              ]
            : [];
        for (const o of options) {
            const rec = byKey.get(`${o.type}::${o.name}`);
            if (rec === undefined) continue; // registration failed; the error is in `errors`
            // The program passes plain resources (never Outputs of resources) to dependsOn.
            const deps = ([] as unknown[]).concat(o.opts.dependsOn ?? []).filter((d) => pulumi.Resource.isInstance(d));
            const dependsOn = await Promise.all(deps.map((d) => urnOf(d)));
            const parent = (await urnOf(o.opts.parent)) ?? stackUrn;
            const owner = { name: o.name, type: o.type, parent, project: opts.project, stack: opts.stack };
            const aliases = (await Promise.all((o.opts.aliases ?? []).map(resolveAlias)))
                .filter((a) => !isTypeHistoryAlias(a, rec))
                .map((a) => aliasUrn(a, owner));
            resources.push({
                urn: (await urnOf(o.resource)) as string,
                type: o.type,
                name: o.name,
                custom: rec.custom,
                parent,
                provider: rec.provider ? engineUrn(rec.provider.split("::").slice(0, -1).join("::")) : undefined,
                inputs: rec.inputs,
                protect: o.opts.protect === true,
                retainOnDelete: o.opts.retainOnDelete === true,
                ...(o.opts.ignoreChanges !== undefined && o.opts.ignoreChanges.length > 0
                    ? { ignoreChanges: [...o.opts.ignoreChanges] }
                    : {}),
                dependsOn: dependsOn.filter((d): d is string => d !== undefined).sort(),
                aliases: [...new Set(aliases)],
            });
        }
        resources.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
        return { resources, outputs, errors };
    } finally {
        process.off("unhandledRejection", onRejection);
    }
}
