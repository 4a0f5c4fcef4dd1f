/**
 * The rollout check: a Job that waits until the operator's Quay Deployments run the config bundle
 * this `pulumi up` wrote, so later steps (the retirement gate, removelocation) never act while
 * pods with the old storage config still take replication items.
 *
 * How a bundle reaches the pods (quay/quay-operator at 328d8864): the program sets
 * {@link BUNDLE_HASH_ENV} as an env override on the `quay` and `mirror` components;
 * `pkg/middleware/middleware.go` (`Process`, Deployment branch) upserts each env override of a
 * managed component into every container of the Deployment whose `quay-component` annotation
 * names that component, and sets `QUAY_VERSION` on the quay Deployment. So the env value on the
 * Deployment's pod template says which bundle it runs; the Deployment's status says whether the
 * pods have caught up. Tests run the script with the real `python3` against a fake API server
 * (test/rolloutCheckScript.test.ts).
 */

/** The env var carrying the config bundle's SHA-256 on every container of the quay-app and quay-mirror Deployments. */
export const BUNDLE_HASH_ENV = "QUAY_GEOREP_BUNDLE_SHA256";

/**
 * The Deployments that must roll out a new bundle. The operator prefixes every object with the
 * QuayRegistry's name: `quay-app` (kustomize/base/quay.deployment.yaml) and `quay-mirror`
 * (kustomize/components/mirror/mirror.deployment.yaml).
 */
export function registryDeployments(registryName: string): readonly string[] {
    return [`${registryName}-quay-app`, `${registryName}-quay-mirror`];
}

/** What one rollout-check Job waits for. */
export interface RolloutCheckArgs {
    /** Namespace of the QuayRegistry and its Deployments. */
    readonly namespace: string;
    /** Deployment names, e.g. from {@link registryDeployments}. */
    readonly deployments: readonly string[];
    /** SHA-256 (hex) of the bundle, as set in {@link BUNDLE_HASH_ENV} on the components. */
    readonly bundleSha256: string;
    /** How long to wait before failing the Job. */
    readonly timeoutSeconds: number;
    /** Image the lifecycle Jobs run; when set, it must equal the image of the `quay-app` container. Default: not checked. */
    readonly expectImage?: string;
}

/** One entry of a container's `env`. */
export interface EnvVar {
    readonly name: string;
    readonly value: string;
}

/**
 * The Job container's env for {@link ROLLOUT_CHECK_SCRIPT}, so the component that creates the Job
 * and the tests speak the same contract. Map an `Output` hash through `apply` before calling it.
 */
export function rolloutCheckEnv(args: RolloutCheckArgs): EnvVar[] {
    const problems: string[] = [];
    if (args.deployments.length === 0) problems.push("deployments is empty");
    // DEPLOYMENTS is comma-separated; a comma in a name would silently split it.
    for (const d of args.deployments.filter((n) => n.trim() === "" || n.includes(","))) {
        problems.push(`deployment name "${d}" is empty or contains a comma`);
    }
    if (args.bundleSha256 === "") problems.push("bundleSha256 is empty");
    if (!(Number.isFinite(args.timeoutSeconds) && args.timeoutSeconds > 0)) {
        problems.push(`timeoutSeconds ${args.timeoutSeconds} is not a positive number`);
    }
    if (problems.length > 0) throw new Error(`rollout check: ${problems.join("; ")}`);
    const env: EnvVar[] = [
        { name: "NAMESPACE", value: args.namespace },
        { name: "DEPLOYMENTS", value: args.deployments.join(",") },
        { name: "BUNDLE_SHA256", value: args.bundleSha256 },
        { name: "ENV_NAME", value: BUNDLE_HASH_ENV },
        { name: "TIMEOUT_SECONDS", value: String(args.timeoutSeconds) },
    ];
    if (args.expectImage !== undefined) env.push({ name: "EXPECT_IMAGE", value: args.expectImage });
    return env;
}

/**
 * Python 3 (stdlib only; the Quay image ships python 3.12) run in the Job pod with `python3 -c`.
 * Exit 0 and one line of JSON when every Deployment in DEPLOYMENTS runs BUNDLE_SHA256; exit 1
 * (message in the termination log) on timeout or an image mismatch; exit 2 on a setup error
 * (missing env, 401/403 from the API server).
 *
 * Env: NAMESPACE, DEPLOYMENTS (comma-separated), BUNDLE_SHA256; optional ENV_NAME
 * (default QUAY_GEOREP_BUNDLE_SHA256), TIMEOUT_SECONDS (1800), POLL_SECONDS (5), TERMINATION_LOG
 * (/dev/termination-log), EXPECT_IMAGE, IMAGE_DEPLOYMENT (first of DEPLOYMENTS), IMAGE_CONTAINER
 * (quay-app), KUBERNETES_API_URL (else https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT),
 * TOKEN_FILE and CA_FILE (the service account's token and ca.crt).
 */
export const ROLLOUT_CHECK_SCRIPT = `import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# The kubelet keeps at most 4096 bytes of a termination message.
MESSAGE_LIMIT = 4000

# Pod logs are bytes; do not let a C locale turn the ellipsis into a crash.
for stream in (sys.stdout, sys.stderr):
    stream.reconfigure(encoding="utf-8", errors="replace")


def setting(name, default=None):
    value = os.environ.get(name, "").strip()
    return value if value else default


TERMINATION_LOG = setting("TERMINATION_LOG", "/dev/termination-log")


def finish(code, message):
    data = message.encode("utf-8")
    if len(data) > MESSAGE_LIMIT:
        data = data[: MESSAGE_LIMIT - 3].decode("utf-8", "ignore").encode("utf-8") + "…".encode("utf-8")
    print(message, file=sys.stderr, flush=True)
    try:
        with open(TERMINATION_LOG, "wb") as log:
            log.write(data)
    except OSError as err:
        print(f"rollout check: cannot write {TERMINATION_LOG}: {err}", file=sys.stderr, flush=True)
    sys.exit(code)


def seconds(name, default):
    raw = setting(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        finish(2, f"rollout check: {name}={raw!r} is not a positive number of seconds")
    return value


NAMESPACE = setting("NAMESPACE")
DEPLOYMENTS = list(dict.fromkeys(n.strip() for n in (setting("DEPLOYMENTS") or "").split(",") if n.strip()))
BUNDLE = setting("BUNDLE_SHA256")
missing = [n for n, v in (("NAMESPACE", NAMESPACE), ("DEPLOYMENTS", DEPLOYMENTS), ("BUNDLE_SHA256", BUNDLE)) if not v]
if missing:
    finish(2, "rollout check: missing required environment variable(s): " + ", ".join(missing))
ENV_NAME = setting("ENV_NAME", "${BUNDLE_HASH_ENV}")
TIMEOUT = seconds("TIMEOUT_SECONDS", 1800.0)
POLL = seconds("POLL_SECONDS", 5.0)
EXPECT_IMAGE = setting("EXPECT_IMAGE")
IMAGE_DEPLOYMENT = setting("IMAGE_DEPLOYMENT", DEPLOYMENTS[0])
IMAGE_CONTAINER = setting("IMAGE_CONTAINER", "quay-app")
if IMAGE_DEPLOYMENT not in DEPLOYMENTS:
    finish(2, f"rollout check: IMAGE_DEPLOYMENT {IMAGE_DEPLOYMENT} is not one of DEPLOYMENTS ({', '.join(DEPLOYMENTS)})")
TOKEN_FILE = setting("TOKEN_FILE", SA_DIR + "/token")
CA_FILE = setting("CA_FILE", SA_DIR + "/ca.crt")

BASE = setting("KUBERNETES_API_URL")
if BASE is None:
    host = setting("KUBERNETES_SERVICE_HOST")
    if host is None:
        finish(2, "rollout check: neither KUBERNETES_API_URL nor KUBERNETES_SERVICE_HOST is set (not in a pod?)")
    host = "[" + host + "]" if ":" in host else host
    BASE = f"https://{host}:{setting('KUBERNETES_SERVICE_PORT', '443')}"
BASE = BASE.rstrip("/")
# No proxy: a cluster-wide HTTPS_PROXY in the pod must not carry the service account token.
handlers = [urllib.request.ProxyHandler({})]
if BASE.startswith("https://"):
    try:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=CA_FILE)))
    except (OSError, ssl.SSLError) as err:
        finish(2, f"rollout check: cannot load the API server's CA from {CA_FILE}: {err}")
OPENER = urllib.request.build_opener(*handlers)


def token():
    # Read per request: the kubelet rotates projected tokens (about hourly) and the wait can be longer.
    try:
        with open(TOKEN_FILE, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as err:
        finish(2, f"rollout check: cannot read the service account token {TOKEN_FILE}: {err}")


def fetch(name, deadline):
    """(HTTP status or None, Deployment dict or None, error text or None)."""
    url = f"{BASE}/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}"
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token(), "Accept": "application/json"})
    try:
        with OPENER.open(request, timeout=max(1.0, min(30.0, deadline - time.monotonic()))) as response:
            body = json.loads(response.read().decode("utf-8"))
            if not isinstance(body, dict):
                return None, None, "the API server sent something other than an object"
            return response.status, body, None
    except urllib.error.HTTPError as err:
        return err.code, None, f"the API server answered HTTP {err.code} {err.reason}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return None, None, f"cannot reach the API server ({getattr(err, 'reason', err)})"


def short(value):
    return value[:12] + "…" if len(value) > 12 else value


def containers(dep):
    template = (dep.get("spec") or {}).get("template") or {}
    return (template.get("spec") or {}).get("containers") or []


def env_value(container, name):
    for entry in container.get("env") or []:
        if entry.get("name") == name:
            return entry.get("value", "")
    return None


def counters(dep):
    meta, status = dep.get("metadata") or {}, dep.get("status") or {}
    return {
        "generation": meta.get("generation") or 0,
        "observedGeneration": status.get("observedGeneration") or 0,
        "replicas": status.get("replicas") or 0,
        "updatedReplicas": status.get("updatedReplicas") or 0,
        "availableReplicas": status.get("availableReplicas") or 0,
    }


def assess(dep):
    """(rolled out for BUNDLE?, why not)."""
    if not containers(dep):
        return False, "the pod template has no containers"
    for container in containers(dep):
        value = env_value(container, ENV_NAME)
        if value is None:
            return False, f"container {container.get('name')} has no {ENV_NAME} (the operator has not applied the new spec yet)"
        if value != BUNDLE:
            return False, f"bundle env is {short(value)} not {short(BUNDLE)} (the operator has not applied the new spec yet)"
    c = counters(dep)
    if c["observedGeneration"] < c["generation"]:
        return False, f"observedGeneration {c['observedGeneration']} < generation {c['generation']} (the Deployment controller has not seen the new spec yet)"
    desired = (dep.get("spec") or {}).get("replicas")
    desired = 1 if desired is None else desired
    # Stricter than the operator's quayAppDeploymentRolledOut (updated == available == desired):
    # status.replicas above desired means old-ReplicaSet pods are still up, running the old config
    # and taking replication items. kubectl rollout status waits for them too.
    if c["updatedReplicas"] != desired or c["availableReplicas"] != desired or c["replicas"] != desired:
        return False, f"updated {c['updatedReplicas']}/{desired}, available {c['availableReplicas']}/{desired}, total {c['replicas']}"
    return True, None


deadline = time.monotonic() + TIMEOUT
printed, reasons, objects = {}, {}, {}
while True:
    for name in DEPLOYMENTS:
        code, body, error = fetch(name, deadline)
        if code in (401, 403):
            finish(2, f"rollout check: cannot read Deployment {name}: HTTP {code} from the API server; the Job's ServiceAccount needs get on deployments (apiGroup apps) in namespace {NAMESPACE} (a Role with that rule and a RoleBinding to it)")
        if body is not None:
            objects[name] = body
            done, why = assess(body)
        elif code == 404:
            done, why = False, "not found (the operator has not created it yet)"
        else:
            done, why = False, error
        if done:
            reasons.pop(name, None)
        else:
            reasons[name] = why
        line = f"{name}: rolled out" if done else f"{name}: waiting: {why}"
        if printed.get(name) != line:
            print(line, flush=True)
            printed[name] = line
    if not reasons:
        break
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        pending = [n for n in DEPLOYMENTS if n in reasons]
        finish(1, f"rollout of bundle {short(BUNDLE)} not finished after {TIMEOUT:g} s: " + "; ".join(f"{n}: {reasons[n]}" for n in pending) + f". The pods may be failing or unschedulable (kubectl -n {NAMESPACE} describe deployment {' '.join(pending)}; kubectl -n {NAMESPACE} get pods), or the operator may have rejected the QuayRegistry (see its status.conditions). Fix that, then run pulumi up again.")
    time.sleep(min(POLL, remaining))

container = next((c for c in containers(objects[IMAGE_DEPLOYMENT]) if c.get("name") == IMAGE_CONTAINER), None)
image = container.get("image") if container else None
version = env_value(container, "QUAY_VERSION") if container else None
# The lifecycle Jobs run Quay's own utilities (removelocation, backfillreplication) against the
# shared database; they must be the Quay the operator runs, not another version.
if EXPECT_IMAGE is not None and image != EXPECT_IMAGE:
    if container is None:
        finish(1, f"rollout check: Deployment {IMAGE_DEPLOYMENT} has no container {IMAGE_CONTAINER}, so lifecycle.quayImage cannot be checked")
    running = f'"{image}", QUAY_VERSION {version}' if version else f'"{image}"'
    finish(1, f'lifecycle.quayImage "{EXPECT_IMAGE}" is not the Quay image the operator runs in this cluster ({running}); set quay-georep:lifecycle.quayImage to "{image}" in Pulumi.yaml')
result = {
    "rolledOut": True,
    "bundleSha256": BUNDLE,
    "deployments": {n: counters(objects[n]) for n in DEPLOYMENTS},
    "quayImage": image,
    "quayVersion": version,
}
print(json.dumps(result, sort_keys=True), flush=True)
`;
