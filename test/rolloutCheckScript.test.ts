/**
 * The rollout check, run for real: the same Python text the Job pod runs, with the real `python3`,
 * against a fake Kubernetes API (a Node http server on 127.0.0.1) whose answers per Deployment
 * follow a script, the way the operator and the Deployment controller catch up in a cluster.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { BUNDLE_HASH_ENV, registryDeployments, ROLLOUT_CHECK_SCRIPT, rolloutCheckEnv } from "../lib/rolloutCheck";
import { scratchDir } from "./support/scratch";

const NS = "quay-ns";
const OLD = "1".repeat(64);
const NEW = "2".repeat(64);
const IMAGE = `registry.redhat.io/quay/quay-rhel9@sha256:${"a".repeat(64)}`;
const [APP, MIRROR] = registryDeployments("quay");
const TOKEN = "test-token-abc";
const API_PATH = `/apis/apps/v1/namespaces/${NS}/deployments/`;

/** How a scripted Deployment looks; every field defaults to "rolled out with NEW, 2 replicas". */
interface Shape {
    /** The bundle env on every container; null: no such env. */
    bundle?: string | null;
    generation?: number;
    observed?: number;
    /** spec.replicas; null leaves it out (the API server's default is 1). */
    desired?: number | null;
    total?: number;
    updated?: number;
    available?: number;
    containers?: string[];
    /** A container that lacks the bundle env. */
    withoutEnv?: string;
    image?: string;
}

/** A Deployment as the API server returns it, with the env the operator's middleware writes. */
function deployment(name: string, s: Shape = {}): object {
    const isApp = name.endsWith("-quay-app");
    const desired = s.desired === undefined ? 2 : s.desired;
    const bundle = s.bundle === undefined ? NEW : s.bundle;
    const containers = (s.containers ?? [isApp ? "quay-app" : "quay-mirror"]).map((c) => ({
        name: c,
        image: s.image ?? IMAGE,
        env: [
            { name: "QUAY_DISTRIBUTED_STORAGE_PREFERENCE", value: "usstorage eustorage" },
            ...(bundle === null || c === s.withoutEnv ? [] : [{ name: BUNDLE_HASH_ENV, value: bundle }]),
            ...(isApp ? [{ name: "QUAY_VERSION", value: "v3.18.1" }] : []),
        ],
    }));
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: NS, generation: s.generation ?? 5 },
        spec: { ...(desired === null ? {} : { replicas: desired }), template: { spec: { containers } } },
        status: {
            observedGeneration: s.observed ?? s.generation ?? 5,
            replicas: s.total ?? desired ?? 1,
            updatedReplicas: s.updated ?? desired ?? 1,
            availableReplicas: s.available ?? desired ?? 1,
        },
    };
}

/** One answer: a Deployment (200) or a bare HTTP status. */
type Reply = object | number;

/** A fake API server: the n-th GET of a Deployment gets its n-th reply (the last one repeats). */
class FakeApi {
    readonly requests: { url: string; authorization?: string }[] = [];
    private server?: http.Server;

    private constructor(private readonly replies: Record<string, Reply[]>) {}

    static async start(replies: Record<string, Reply[]>): Promise<FakeApi> {
        const api = new FakeApi(replies);
        const server = http.createServer((req, res) => api.answer(req, res));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        api.server = server;
        return api;
    }

    get url(): string {
        return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
    }

    /** GETs of one Deployment so far. */
    count(name: string): number {
        return this.requests.filter((r) => r.url === API_PATH + name).length;
    }

    /** Idempotent, so a test may close early and afterEach still closes whatever is left. */
    async close(): Promise<void> {
        const server = this.server;
        this.server = undefined;
        // close() alone waits for open sockets; a killed script could leave one behind.
        server?.closeAllConnections();
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }

    private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
        const url = req.url ?? "";
        const seen = this.count(url.slice(API_PATH.length));
        this.requests.push({ url, authorization: req.headers.authorization });
        const script = url.startsWith(API_PATH) ? this.replies[url.slice(API_PATH.length)] : undefined;
        const reply = script ? script[Math.min(seen, script.length - 1)] : 404;
        const status = typeof reply === "number" ? reply : 200;
        const body = typeof reply === "number" ? { kind: "Status", code: reply } : reply;
        res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
    }
}

/**
 * Every variable of the script's contract, kept out of the inherited environment: a CI runner
 * inside Kubernetes has KUBERNETES_SERVICE_HOST, and a stray one would change what is tested.
 */
const CONTRACT = [
    "NAMESPACE",
    "DEPLOYMENTS",
    "BUNDLE_SHA256",
    "ENV_NAME",
    "TIMEOUT_SECONDS",
    "POLL_SECONDS",
    "TERMINATION_LOG",
    "EXPECT_IMAGE",
    "IMAGE_DEPLOYMENT",
    "IMAGE_CONTAINER",
    "KUBERNETES_API_URL",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "TOKEN_FILE",
    "CA_FILE",
];

interface CheckResult {
    code: number | null;
    stdout: string;
    stderr: string;
    /** What the script left in its termination log. */
    log: string;
    ms: number;
}

/** Runs the script with `python3 -c`, as the Job container does, with a token file and a termination log. */
function check(env: Record<string, string | undefined>): Promise<CheckResult> {
    const dir = scratchDir("rollout-check");
    fs.writeFileSync(path.join(dir, "token"), TOKEN);
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const key of CONTRACT) delete childEnv[key];
    const given = { TOKEN_FILE: path.join(dir, "token"), TERMINATION_LOG: path.join(dir, "termination-log"), ...env };
    for (const [key, value] of Object.entries(given)) if (value !== undefined) childEnv[key] = value;
    const logFile = path.join(dir, "termination-log");
    const started = Date.now();
    return new Promise((resolve) => {
        execFile(
            "python3",
            ["-c", ROLLOUT_CHECK_SCRIPT],
            // Bounded below mocha's timeout, so a hung script fails its test with its own output.
            { env: childEnv, timeout: 20000, killSignal: "SIGKILL" },
            (err, stdout, stderr) => {
                resolve({
                    code: err ? (typeof err.code === "number" ? err.code : null) : 0,
                    stdout,
                    stderr,
                    log: fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "",
                    ms: Date.now() - started,
                });
            },
        );
    });
}

/** The env the Job gets from rolloutCheckEnv, pointed at the fake API and polling fast. */
function jobEnv(url: string, extra: { timeoutSeconds?: number; expectImage?: string } = {}): Record<string, string> {
    const env = rolloutCheckEnv({
        namespace: NS,
        deployments: [APP, MIRROR],
        bundleSha256: NEW,
        timeoutSeconds: extra.timeoutSeconds ?? 10,
        expectImage: extra.expectImage,
    });
    return { ...Object.fromEntries(env.map((e) => [e.name, e.value])), KUBERNETES_API_URL: url, POLL_SECONDS: "0.05" };
}

/** The fixed tail of every timeout message, for the given pending Deployments. */
const advice = (...names: string[]) =>
    `. The pods may be failing or unschedulable (kubectl -n ${NS} describe deployment ${names.join(" ")}; ` +
    `kubectl -n ${NS} get pods), or the operator may have rejected the QuayRegistry (see its status.conditions). ` +
    "Fix that, then run pulumi up again.";

/** Sixty Deployments, none of which exists: a termination message longer than the kubelet keeps. */
const MANY = Array.from({ length: 60 }, (_, i) => `quay-registry-with-a-rather-long-name-${i}-quay-app`);

/** One run of the script against its own scripted API. */
interface Scenario {
    readonly api: FakeApi;
    readonly r: CheckResult;
}

/**
 * Starts a scripted API and runs the check against it; `env` gets the API's URL. The API is closed
 * once the script exits (its requests stay readable).
 */
async function scenario(
    replies: Record<string, Reply[]>,
    env: (url: string) => Record<string, string | undefined>,
): Promise<Scenario> {
    const api = await FakeApi.start(replies);
    try {
        return { api, r: await check(env(api.url)) };
    } finally {
        await api.close();
    }
}

describe("rollout check script (real python3, fake API server)", function () {
    this.timeout(30000);

    // Every run starts before the first test, all at once: each mostly waits (for its next poll or
    // its deadline), so together they take about as long as the longest one instead of the sum.
    // Each test then asserts on its own run.
    const runs = {
        rollingUpdate: () =>
            scenario(
                {
                    [APP]: [
                        404,
                        404,
                        deployment(APP, { bundle: OLD, generation: 4 }),
                        deployment(APP, { observed: 4 }),
                        deployment(APP, { updated: 1, available: 2, total: 3 }),
                        deployment(APP),
                    ],
                    [MIRROR]: [deployment(MIRROR, { desired: null })],
                },
                (url) => jobEnv(url),
            ),
        oldReplicaSet: () =>
            scenario(
                {
                    [APP]: [deployment(APP, { updated: 2, available: 2, total: 3 })],
                    [MIRROR]: [deployment(MIRROR)],
                },
                (url) => jobEnv(url, { timeoutSeconds: 0.5 }),
            ),
        // The same pods left for three polls, then gone: the check waits through them and
        // succeeds at the fourth (counted polls, not a deadline: a loaded machine may poll once
        // in half a second).
        oldReplicaSetGone: () =>
            scenario(
                {
                    [APP]: [
                        deployment(APP, { updated: 2, available: 2, total: 3 }),
                        deployment(APP, { updated: 2, available: 2, total: 3 }),
                        deployment(APP, { updated: 2, available: 2, total: 3 }),
                        deployment(APP),
                    ],
                    [MIRROR]: [deployment(MIRROR)],
                },
                (url) => jobEnv(url, { timeoutSeconds: 20 }),
            ),
        lagging: () =>
            scenario(
                {
                    [APP]: [deployment(APP, { generation: 6, observed: 5 })],
                    [MIRROR]: [deployment(MIRROR)],
                },
                (url) => jobEnv(url, { timeoutSeconds: 0.5 }),
            ),
        timeout: () =>
            scenario(
                {
                    [APP]: [deployment(APP, { observed: 4 })],
                    [MIRROR]: [deployment(MIRROR, { updated: 1, available: 2, total: 3 })],
                },
                (url) => jobEnv(url, { timeoutSeconds: 0.5 }),
            ),
        sidecar: () =>
            scenario(
                {
                    [APP]: [deployment(APP, { containers: ["quay-app", "sidecar"], withoutEnv: "sidecar" })],
                    [MIRROR]: [deployment(MIRROR)],
                },
                (url) => jobEnv(url, { timeoutSeconds: 0.5 }),
            ),
        unauthorized: () =>
            scenario({ [APP]: [401], [MIRROR]: [deployment(MIRROR)] }, (url) => jobEnv(url, { timeoutSeconds: 20 })),
        forbidden: () =>
            scenario({ [APP]: [403], [MIRROR]: [deployment(MIRROR)] }, (url) => jobEnv(url, { timeoutSeconds: 20 })),
        serverErrors: () =>
            scenario({ [APP]: [500, 503, deployment(APP)], [MIRROR]: [deployment(MIRROR)] }, (url) => jobEnv(url)),
        refused: async () => {
            // A port that was just listening and is now closed: connection refused, not a timeout.
            const closed = await FakeApi.start({});
            const url = closed.url;
            await closed.close();
            return { api: closed, r: await check(jobEnv(url, { timeoutSeconds: 0.5 })) };
        },
        otherImage: () =>
            scenario({ [APP]: [deployment(APP)], [MIRROR]: [deployment(MIRROR)] }, (url) =>
                jobEnv(url, { expectImage: "quay.io/projectquay/quay:3.17.0" }),
            ),
        sameImage: () =>
            scenario(
                {
                    [APP]: [deployment(APP)],
                    // The mirror's image differs: only IMAGE_CONTAINER of IMAGE_DEPLOYMENT is compared.
                    [MIRROR]: [deployment(MIRROR, { image: "quay.io/other/mirror:1" })],
                },
                (url) => jobEnv(url, { expectImage: IMAGE }),
            ),
        noNamespace: () =>
            scenario({ [APP]: [deployment(APP)], [MIRROR]: [deployment(MIRROR)] }, (url) => ({
                ...jobEnv(url),
                NAMESPACE: undefined,
            })),
        manyPending: () =>
            scenario({}, (url) => ({ ...jobEnv(url, { timeoutSeconds: 0.3 }), DEPLOYMENTS: MANY.join(",") })),
    };
    const started = new Map<keyof typeof runs, Promise<Scenario>>();
    /** The run of one scenario (started by `before`, or now when the test runs alone). */
    const runOf = (name: keyof typeof runs): Promise<Scenario> => {
        let run = started.get(name);
        if (run === undefined) {
            run = runs[name]();
            started.set(name, run);
        }
        return run;
    };
    before(() => {
        // Rejections surface in the test that awaits the run; none is left unhandled meanwhile.
        for (const name of Object.keys(runs) as (keyof typeof runs)[]) runOf(name).catch(() => undefined);
    });

    it("waits through a missing Deployment, the old bundle, a lagging controller and a rolling update, then prints the rollout as JSON", async () => {
        const { api, r } = await runOf("rollingUpdate");
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.trim().split("\n");
        assert.deepEqual(lines.slice(0, -1), [
            `${APP}: waiting: not found (the operator has not created it yet)`,
            `${MIRROR}: rolled out`,
            `${APP}: waiting: bundle env is 111111111111… not 222222222222… (the operator has not applied the new spec yet)`,
            `${APP}: waiting: observedGeneration 4 < generation 5 (the Deployment controller has not seen the new spec yet)`,
            `${APP}: waiting: updated 1/2, available 2/2, total 3`,
            `${APP}: rolled out`,
        ]);
        const result = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
        assert.deepEqual(result, {
            rolledOut: true,
            bundleSha256: NEW,
            deployments: {
                [APP]: { generation: 5, observedGeneration: 5, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
                [MIRROR]: {
                    generation: 5,
                    observedGeneration: 5,
                    replicas: 1,
                    updatedReplicas: 1,
                    availableReplicas: 1,
                },
            },
            quayImage: IMAGE,
            quayVersion: "v3.18.1",
        });
        // json.dumps(sort_keys=True): the line is stable, so a log diff shows only real changes.
        assert.deepEqual(Object.keys(result), ["bundleSha256", "deployments", "quayImage", "quayVersion", "rolledOut"]);
        // One GET of each Deployment per poll, every one with the service account's token.
        assert.equal(api.count(APP), 6);
        assert.equal(api.count(MIRROR), 6);
        assert.deepEqual(new Set(api.requests.map((q) => q.authorization)), new Set([`Bearer ${TOKEN}`]));
        assert.equal(r.log, "");
    });

    it("does not report success while pods of the old ReplicaSet are left, though updated and available are complete", async () => {
        const { r } = await runOf("oldReplicaSet");
        assert.equal(r.code, 1, r.stderr);
        assert.doesNotMatch(r.stdout, /rolledOut/);
        assert.equal(
            r.log,
            `rollout of bundle 222222222222… not finished after 0.5 s: ${APP}: updated 2/2, available 2/2, total 3${advice(APP)}`,
        );
        const gone = await runOf("oldReplicaSetGone");
        assert.equal(gone.r.code, 0, gone.r.stderr);
        assert.match(gone.r.stdout, /rolledOut/);
        assert.equal(gone.api.count(APP), 4, "polled until the old pods were gone, and no longer");
    });

    it("does not report success while observedGeneration lags, though every counter looks done", async () => {
        const { r } = await runOf("lagging");
        assert.equal(r.code, 1, r.stderr);
        assert.doesNotMatch(r.stdout, /rolledOut/);
        assert.equal(
            r.log,
            `rollout of bundle 222222222222… not finished after 0.5 s: ${APP}: observedGeneration 5 < generation 6 ` +
                `(the Deployment controller has not seen the new spec yet)${advice(APP)}`,
        );
    });

    it("on timeout names every Deployment that has not rolled out and why, and exits 1", async () => {
        const { r } = await runOf("timeout");
        assert.equal(r.code, 1, r.stderr);
        assert.ok(r.ms >= 500, `gave up after ${r.ms} ms`);
        const expected =
            `rollout of bundle 222222222222… not finished after 0.5 s: ` +
            `${APP}: observedGeneration 4 < generation 5 (the Deployment controller has not seen the new spec yet); ` +
            `${MIRROR}: updated 1/2, available 2/2, total 3${advice(APP, MIRROR)}`;
        assert.equal(r.log, expected);
        assert.equal(r.stderr.trim(), expected);
    });

    it("keeps waiting while one container of the Deployment lacks the bundle env", async () => {
        const { r } = await runOf("sidecar");
        assert.equal(r.code, 1, r.stderr);
        assert.equal(
            r.log,
            `rollout of bundle 222222222222… not finished after 0.5 s: ${APP}: container sidecar has no ` +
                `${BUNDLE_HASH_ENV} (the operator has not applied the new spec yet)${advice(APP)}`,
        );
    });

    it("fails at once (exit 2) with the RBAC fix when the API server answers 401 or 403", async () => {
        for (const [status, name] of [
            [401, "unauthorized"],
            [403, "forbidden"],
        ] as const) {
            const { api, r } = await runOf(name);
            assert.equal(r.code, 2, r.stderr);
            // Long before the 20 s deadline: a missing Role does not fix itself.
            assert.ok(r.ms < 5000, `took ${r.ms} ms`);
            assert.equal(api.requests.length, 1);
            assert.equal(
                r.log,
                `rollout check: cannot read Deployment ${APP}: HTTP ${status} from the API server; the Job's ` +
                    `ServiceAccount needs get on deployments (apiGroup apps) in namespace ${NS} ` +
                    "(a Role with that rule and a RoleBinding to it)",
            );
        }
    });

    it("retries server errors until the API server answers", async () => {
        const { api, r } = await runOf("serverErrors");
        assert.equal(r.code, 0, r.stderr);
        assert.equal(api.count(APP), 3);
        const lines = r.stdout.trim().split("\n");
        assert.deepEqual(lines.slice(0, 4), [
            `${APP}: waiting: the API server answered HTTP 500 Internal Server Error`,
            `${MIRROR}: rolled out`,
            `${APP}: waiting: the API server answered HTTP 503 Service Unavailable`,
            `${APP}: rolled out`,
        ]);
        assert.equal((JSON.parse(lines[4]) as { rolledOut: boolean }).rolledOut, true);
    });

    it("keeps retrying a refused connection until the deadline, then exits 1 naming the error", async () => {
        const { r } = await runOf("refused");
        assert.equal(r.code, 1, r.stderr);
        assert.ok(r.ms >= 500, `gave up after ${r.ms} ms`);
        assert.match(
            r.log,
            new RegExp(
                `^rollout of bundle 222222222222… not finished after 0\\.5 s: ` +
                    `${APP}: cannot reach the API server \\([^)]*Connection refused\\); ` +
                    `${MIRROR}: cannot reach the API server \\([^)]*Connection refused\\)\\. `,
            ),
        );
    });

    it("fails (exit 1) with the fix when lifecycle.quayImage is not the image the operator runs", async () => {
        const { r } = await runOf("otherImage");
        assert.equal(r.code, 1, r.stderr);
        assert.doesNotMatch(r.stdout, /rolledOut/);
        assert.equal(
            r.log,
            `lifecycle.quayImage "quay.io/projectquay/quay:3.17.0" is not the Quay image the operator runs in this ` +
                `cluster ("${IMAGE}", QUAY_VERSION v3.18.1); set quay-georep:lifecycle.quayImage to "${IMAGE}" in Pulumi.yaml`,
        );
    });

    it("succeeds when lifecycle.quayImage is the image of the quay-app container", async () => {
        const { r } = await runOf("sameImage");
        assert.equal(r.code, 0, r.stderr);
        const result = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as Record<string, unknown>;
        assert.equal(result.quayImage, IMAGE);
        assert.equal(result.quayVersion, "v3.18.1");
    });

    it("exits 2 without calling the API when NAMESPACE is missing", async () => {
        const { api, r } = await runOf("noNamespace");
        assert.equal(r.code, 2);
        assert.equal(r.log, "rollout check: missing required environment variable(s): NAMESPACE");
        assert.equal(api.requests.length, 0);
    });

    it("keeps the termination message under the kubelet's 4096 bytes when many Deployments are pending", async () => {
        const { r } = await runOf("manyPending");
        assert.equal(r.code, 1, r.stderr);
        assert.ok(Buffer.byteLength(r.log) < 4096, `${Buffer.byteLength(r.log)} bytes`);
        assert.match(
            r.log,
            new RegExp(`^rollout of bundle 222222222222… not finished after 0\\.3 s: ${MANY[0]}: not found`),
        );
        assert.ok(r.log.endsWith("…"));
        // The full message still reaches the pod log.
        assert.match(r.stderr, new RegExp(`${MANY[59]}: not found`));
    });
});

describe("rolloutCheckEnv and registryDeployments", () => {
    it("names the operator's quay-app and quay-mirror Deployments after the QuayRegistry", () => {
        assert.deepEqual(registryDeployments("registry"), ["registry-quay-app", "registry-quay-mirror"]);
    });

    it("gives the Job the script's env contract, with the image check only when asked", () => {
        const args = { namespace: NS, deployments: [APP, MIRROR], bundleSha256: NEW, timeoutSeconds: 1800 };
        const base = [
            { name: "NAMESPACE", value: NS },
            { name: "DEPLOYMENTS", value: `${APP},${MIRROR}` },
            { name: "BUNDLE_SHA256", value: NEW },
            { name: "ENV_NAME", value: "QUAY_GEOREP_BUNDLE_SHA256" },
            { name: "TIMEOUT_SECONDS", value: "1800" },
        ];
        assert.deepEqual(rolloutCheckEnv(args), base);
        assert.deepEqual(rolloutCheckEnv({ ...args, expectImage: IMAGE }), [
            ...base,
            { name: "EXPECT_IMAGE", value: IMAGE },
        ]);
    });

    it("refuses args the script would misread, naming every problem at once", () => {
        assert.throws(
            () => rolloutCheckEnv({ namespace: NS, deployments: ["a,b"], bundleSha256: "", timeoutSeconds: 0 }),
            {
                message:
                    'rollout check: deployment name "a,b" is empty or contains a comma; bundleSha256 is empty; ' +
                    "timeoutSeconds 0 is not a positive number",
            },
        );
    });
});
