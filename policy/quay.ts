/**
 * Quay rules: every QuayRegistry is shaped for geo-replication, and every cluster runs the one
 * bundle the shared stack rendered.
 *
 * The operator's rules are restated here rather than imported from `lib/quayRegistry.ts`, so a
 * mistake in the renderer cannot relax the policy that checks it (a test keeps the two in step).
 */
import { createHash } from "node:crypto";
import { at, isUnknown, list, ofTypes, PolicyResource, ResourceRule, shown, StackRule } from "./resource";

/** Type tokens these rules read. */
export const QUAY_TYPES = {
    quayRegistry: "kubernetes:quay.redhat.com/v1:QuayRegistry",
    secret: "kubernetes:core/v1:Secret",
} as const;
const T = QUAY_TYPES;

/** The 11 component kinds of quay.redhat.com/v1 (docs/facts §3). */
export const COMPONENT_KINDS = [
    "quay",
    "postgres",
    "clair",
    "clairpostgres",
    "redis",
    "horizontalpodautoscaler",
    "objectstorage",
    "route",
    "mirror",
    "monitoring",
    "tls",
];

/** Kinds geo-replication needs unmanaged, and the shared thing each cluster uses instead. */
export const UNMANAGED: Readonly<Record<string, string>> = {
    objectstorage: "the buckets of every site",
    postgres: "the shared PostgreSQL",
    redis: "the shared Redis",
    clairpostgres: "Clair's database on the shared PostgreSQL",
    tls: "the certificate in the bundle",
};

/** The env override that sets a cluster's storage preference. */
export const PREFERENCE_ENV = "QUAY_DISTRIBUTED_STORAGE_PREFERENCE";
/** The kinds that need it: the env on `quay` does not reach the mirror Deployment (docs/facts §3). */
export const PREFERENCE_KINDS = ["quay", "mirror"];

/** The annotation carrying the bundle's SHA-256 on the bundle Secret. */
export const BUNDLE_HASH_ANNOTATION = "quay-georep.io/bundle-sha256";

type Component = Readonly<Record<string, unknown>>;

/** Problems of the component list: each kind once, all 11, nothing else. */
function kindProblems(components: readonly Component[]): string[] {
    const kinds = components.map((c) => c.kind);
    const problems = kinds
        .filter((k, i) => typeof k === "string" && !COMPONENT_KINDS.includes(k) && kinds.indexOf(k) === i)
        .map((k) => `spec.components lists unknown kind ${shown(k)}; use only ${COMPONENT_KINDS.join(", ")}`);
    for (const kind of COMPONENT_KINDS) {
        const count = kinds.filter((k) => k === kind).length;
        if (count > 1) problems.push(`spec.components lists "${kind}" ${count} times; list each kind once`);
    }
    const missing = COMPONENT_KINDS.filter((k) => !kinds.includes(k));
    if (missing.length > 0) {
        problems.push(
            `spec.components does not list ${missing.map((k) => `"${k}"`).join(", ")}; list all 11 kinds ` +
                "(the operator writes missing ones back into spec, a permanent diff)",
        );
    }
    return problems;
}

/** Problems of one component: managed flag and the preference env. */
function componentProblems(c: Component): string[] {
    const kind = String(c.kind);
    const problems: string[] = [];
    if (kind in UNMANAGED && c.managed !== false && !isUnknown(c.managed)) {
        problems.push(
            `component "${kind}" has managed: ${shown(c.managed)}; set managed: false (it uses ${UNMANAGED[kind]})`,
        );
    }
    if (PREFERENCE_KINDS.includes(kind) && !isUnknown(at(c, "overrides.env"))) {
        const env = list(at(c, "overrides.env")).find((e) => (e as Component | null)?.name === PREFERENCE_ENV) as
            Component | undefined;
        const fix = "set it to this cluster's location IDs, nearest first";
        if (env === undefined) {
            problems.push(`component "${kind}" has no ${PREFERENCE_ENV} env override; ${fix}`);
        } else if (!isUnknown(env.value) && (typeof env.value !== "string" || env.value.trim() === "")) {
            problems.push(`component "${kind}" sets ${PREFERENCE_ENV} to ${shown(env.value)}; ${fix}`);
        }
    }
    return problems;
}

/** Every QuayRegistry lists all 11 kinds once, leaves the shared services unmanaged and sets the preference env. */
export const quayRegistryGeoReplication: ResourceRule = {
    name: "quay-registry-geo-replication",
    description:
        "Every QuayRegistry lists all 11 component kinds once, has objectstorage, postgres, redis, clairpostgres and tls unmanaged, and sets QUAY_DISTRIBUTED_STORAGE_PREFERENCE on quay and mirror.",
    types: [T.quayRegistry],
    check(r) {
        const components = at(r.props, "spec.components");
        if (isUnknown(components)) return [];
        if (!Array.isArray(components)) {
            return [`spec.components is ${shown(components)}; list all 11 component kinds`];
        }
        const known = components.filter((c): c is Component => c !== null && typeof c === "object" && !isUnknown(c));
        return [...kindProblems(known), ...known.flatMap(componentProblems)];
    },
};

/** SHA-256 of a bundle: its files sorted by name, each as `name NUL content NUL` (as the program exports it). */
export function bundleHash(files: Readonly<Record<string, string>>): string {
    const hash = createHash("sha256");
    for (const name of Object.keys(files).sort()) hash.update(name).update("\0").update(files[name]).update("\0");
    return hash.digest("hex");
}

/** The files a Secret holds (`data` decoded, overridden by `stringData`); `undefined` when not all are known. */
export function secretFiles(secret: PolicyResource): Record<string, string> | undefined {
    const { data, stringData } = secret.props;
    if (isUnknown(data) || isUnknown(stringData) || (data === undefined && stringData === undefined)) return undefined;
    const files: Record<string, string> = {};
    for (const [name, value] of Object.entries((data ?? {}) as Record<string, unknown>)) {
        if (typeof value !== "string") return undefined;
        files[name] = Buffer.from(value, "base64").toString("utf8");
    }
    for (const [name, value] of Object.entries((stringData ?? {}) as Record<string, unknown>)) {
        if (typeof value !== "string") return undefined;
        files[name] = value;
    }
    return files;
}

const isSha256 = (v: unknown): v is string => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);

/** Problems of the bundle Secret one QuayRegistry uses. */
function bundleProblems(registry: PolicyResource, secrets: readonly PolicyResource[], expected: string | undefined) {
    const name = at(registry.props, "spec.configBundleSecret");
    if (isUnknown(name)) return [];
    if (typeof name !== "string" || name === "") {
        const message =
            "spec.configBundleSecret is not set; point it at the shared bundle Secret (without it the operator makes a bundle of its own)";
        return [{ urn: registry.urn, message }];
    }
    const namespace = at(registry.props, "metadata.namespace");
    const sameNamespace = (s: PolicyResource) => {
        const ns = at(s.props, "metadata.namespace");
        return typeof ns !== "string" || typeof namespace !== "string" || ns === namespace;
    };
    const secret = secrets.find((s) => at(s.props, "metadata.name") === name && sameNamespace(s));
    if (secret === undefined) {
        const where = typeof namespace === "string" ? ` in namespace "${namespace}"` : "";
        const message = `spec.configBundleSecret names Secret "${name}"${where}, which this stack does not deploy; deploy the shared bundle as that Secret`;
        return [{ urn: registry.urn, message }];
    }

    const annotation = at(secret.props, "metadata.annotations");
    const hash = isUnknown(annotation)
        ? annotation
        : (annotation as Record<string, unknown> | undefined)?.[BUNDLE_HASH_ANNOTATION];
    if (isUnknown(hash)) return [];
    const problems: string[] = [];
    if (hash === undefined) {
        problems.push(
            `carries no ${BUNDLE_HASH_ANNOTATION} annotation; annotate it with the SHA-256 of the bundle it holds`,
        );
    } else if (!isSha256(hash)) {
        problems.push(
            `annotation ${BUNDLE_HASH_ANNOTATION} is ${shown(hash)}, not a SHA-256 (64 lower-case hex digits)`,
        );
    } else {
        const files = secretFiles(secret);
        const actual = files === undefined ? undefined : bundleHash(files);
        if (actual !== undefined && actual !== hash) {
            problems.push(
                `annotation ${BUNDLE_HASH_ANNOTATION} says ${hash}, but the Secret's data hashes to ${actual}; annotate it with the hash of what it holds`,
            );
        }
        if (expected !== undefined && hash !== expected) {
            problems.push(
                `holds bundle ${hash}, but the shared stack's bundleSha256 is ${expected}, so the clusters would run different config; ` +
                    "run pulumi up on the shared stack, then on this stack",
            );
        }
    }
    return problems.map((message) => ({ urn: secret.urn, message }));
}

/** The bundle Secret each QuayRegistry uses is annotated with the hash of what it holds, and that hash is the shared stack's. */
export const bundleIdenticalAcrossStacks: StackRule = {
    name: "bundle-secret-identical-across-stacks",
    description:
        "Each QuayRegistry's bundle Secret is in the stack, annotated quay-georep.io/bundle-sha256 with the hash of its data, and that hash equals the shared stack's bundleSha256 (policy config bundleSha256).",
    configSchema: {
        bundleSha256: {
            type: "string",
            pattern: "^[0-9a-f]{64}$",
            description: "The shared stack's bundleSha256 output (pulumi stack output -s <shared stack> bundleSha256).",
        },
    },
    check(resources, config) {
        const expected = config.bundleSha256;
        if (expected !== undefined && !isSha256(expected)) {
            return [
                {
                    message: `policy config bundleSha256 is ${shown(expected)}, not a SHA-256; pass the shared stack's output: pulumi stack output -s <shared stack> bundleSha256`,
                },
            ];
        }
        const secrets = ofTypes(resources, [T.secret]);
        return ofTypes(resources, [T.quayRegistry]).flatMap((r) => bundleProblems(r, secrets, expected));
    },
};
