/**
 * The config contract of quay-georep: the typed, frozen object every other module reads.
 *
 * `parseConfig` is pure: raw values in, a frozen `QuayGeorepConfig` out, or one `ConfigError`
 * listing every problem. `loadConfig` (in `load.ts`) feeds it from `pulumi.Config`.
 */
import { Accounts, cloudsUsed, parseAccounts } from "./accounts";
import { parseServices, DatabaseConfig, RedisConfig, StorageConfig } from "./services";
import { parseStandbySettings, StandbySettings } from "./standby";
import { LifecycleSettings, parseLifecycle, parseLifecycleJobs } from "./lifecycleConfig";
import { EntryPointConfig, parseEntryPoint } from "./entryPoint";
import { OperatorSettings, parseOperator } from "./operator";
import { parseSites, Site } from "./sites";
import { isSharedFrozen } from "./sharedFrozen";
import { maxSiteNameLength, siteNameProblems } from "../lib/names";
import {
    checkLowerCase,
    ConfigError,
    isDnsLabel,
    isDnsName,
    isRecord,
    ObjectReader,
    Problems,
    SecretValue,
    suggest,
} from "./validate";

export type { Cloud, Site, SiteState } from "./sites";
export type { ComponentChoices, QuaySettings } from "../lib/domain";
import type { ComponentChoices, QuaySettings } from "../lib/domain";
export { ConfigError } from "./validate";
export type { DatabaseConfig, RedisConfig, StorageConfig, BucketConfig } from "./services";

/** What this stack (the one being deployed) is and does. */
export interface StackSettings {
    /** The Pulumi stack name. */
    readonly name: string;
    /** True when this stack owns shared infrastructure and renders the bundle. */
    readonly isShared: boolean;
    /** The site whose cluster this stack deploys; undefined for a dedicated shared stack or a retired site. */
    readonly site?: Site;
    /** The site this stack once deployed and which is now retired (its cluster is torn down). */
    readonly retiredSite?: Site;
    /** Kubernetes namespace for the QuayRegistry and bundle Secret (default `quay-enterprise`). */
    readonly namespace: string;
    /** Create that namespace (default true); false when it exists already. */
    readonly createNamespace: boolean;
    /** Run the lifecycle Jobs (gate, backfill, removelocation, status) in this stack's cluster; shared stack only. */
    readonly lifecycleJobs: boolean;
    /** Kubeconfig contents; undefined means the ambient kubeconfig. */
    readonly kubeconfig?: SecretValue;
    /** Kubeconfig context to use (default: the kubeconfig's current context). */
    readonly kubeContext?: string;
    /** Stable cluster identity for the Kubernetes provider (default: the stack name). */
    readonly clusterName: string;
    /** Name of the QuayRegistry object (default `quay`). */
    readonly registryName: string;
    /** Name of the bundle Secret (default `georep-config-bundle`). */
    readonly bundleSecretName: string;
    /**
     * Ordered location IDs for `QUAY_DISTRIBUTED_STORAGE_PREFERENCE`, as configured or (by default)
     * own site first, then the other active sites of config; the program uses the active sites of
     * the bundle actually deployed (stacks/resolve.ts).
     */
    readonly storagePreference: readonly string[];
    /** Whether `storagePreference` was set explicitly (the default follows the deployed bundle). */
    readonly explicitPreference: boolean;
    /** Managed flags of the optional components. */
    readonly components: ComponentChoices;
    /** Replica counts, set only when the HPA is unmanaged (so the operator does not drop to 1). */
    readonly replicas?: { readonly quay: number; readonly mirror: number };
}

/** Secrets the shared stack needs. Absent on other stacks. */
export interface SharedSecrets {
    readonly tlsCertificate: SecretValue;
    readonly tlsKey: SecretValue;
    readonly databasePassword?: SecretValue;
    readonly clairDatabasePassword?: SecretValue;
    /** Password of `database.admin.user` (mode `existing` with `admin`: roles are then managed). */
    readonly databaseAdminPassword?: SecretValue;
    readonly redisPassword?: SecretValue;
    /**
     * Quay's `SECRET_KEY` (sessions, CSRF tokens, users' encrypted CLI passwords) when the database
     * already holds Quay's data; unset: generated once by the bundle. Required with
     * `database.mode: existing` unless `database.new: true`.
     */
    readonly secretKey?: SecretValue;
    /**
     * Quay's `DATABASE_SECRET_KEY` (encrypts fields in the database: a new one makes them unreadable);
     * same rule as `secretKey`.
     */
    readonly databaseSecretKey?: SecretValue;
    /** Per site: `accessKey`/`secretKey` (S3) or `accountKey`/`sasToken` (Azure). */
    readonly storageCredentials: Readonly<Record<string, Readonly<Record<string, SecretValue>>>>;
}

/** The whole validated configuration of one stack. */
export interface QuayGeorepConfig {
    readonly project: string;
    /** `SERVER_HOSTNAME`: the global entry point's DNS name. */
    readonly hostname: string;
    /** The stack that owns shared infrastructure (default `us`). */
    readonly sharedStack: string;
    /** Every site, in config order (the order is the default storage preference). */
    readonly sites: readonly Site[];
    readonly database: DatabaseConfig;
    readonly redis: RedisConfig;
    readonly storage: StorageConfig;
    readonly quay: QuaySettings;
    /** The global entry point in front of every cluster (absent: mode `none`). */
    readonly entryPoint: EntryPointConfig;
    /** Images of the region-lifecycle Jobs. */
    readonly lifecycle: LifecycleSettings;
    /** How the Quay Operator is installed (the same channel everywhere). */
    readonly operator: OperatorSettings;
    /** The cloud accounts every provider is pinned to. */
    readonly accounts: Accounts;
    /** Which location's database and Redis serve (`standby.active`), and whether the other is lost. */
    readonly standby: StandbySettings;
    readonly stack: StackSettings;
    /** Present on the shared stack only. */
    readonly secrets?: SharedSecrets;
    /** Non-fatal notes for the user (e.g. a shared-only key set on another stack). */
    readonly warnings: readonly string[];
}

/** Raw config: bare key (no `quay-georep:` prefix) → value; secret values wrapped in `SecretValue`. */
export type RawConfig = Readonly<Record<string, unknown>>;

/** Keys that describe the whole deployment: set in `Pulumi.yaml` only, the same for every stack. */
export const PROJECT_KEYS = [
    "hostname",
    "sharedStack",
    "sites",
    "database",
    "redis",
    "storage",
    "quay",
    "entryPoint",
    "lifecycle",
    "operator",
    "accounts",
    "standby",
] as const;

/** Every key this program reads, project-level and per stack. */
export const KNOWN_KEYS = [
    ...PROJECT_KEYS,
    "namespace",
    "createNamespace",
    "installOperator",
    "lifecycleJobs",
    "kubeconfig",
    "kubeContext",
    "clusterName",
    "registryName",
    "bundleSecretName",
    "storagePreference",
    "components",
    "replicas",
    "tlsCertificate",
    "tlsKey",
    "databasePassword",
    "clairDatabasePassword",
    "databaseAdminPassword",
    "redisPassword",
    "secretKey",
    "databaseSecretKey",
    "storageCredentials",
] as const;

/** Keys that must be stored with `pulumi config set --secret`. */
export const SECRET_KEYS: readonly string[] = [
    "kubeconfig",
    "tlsKey",
    "databasePassword",
    "clairDatabasePassword",
    "databaseAdminPassword",
    "redisPassword",
    "secretKey",
    "databaseSecretKey",
    "storageCredentials",
];

/** Keys only the shared stack reads; set elsewhere they are ignored with a warning. */
const SHARED_ONLY_KEYS = ["tlsCertificate", ...SECRET_KEYS.filter((k) => k !== "kubeconfig")];

const OPTIONAL_COMPONENTS = ["clair", "horizontalpodautoscaler", "monitoring"] as const;
const EXPIRATION = /^[0-9]+(w|m|d|h|s)$/;

/**
 * Parses and validates raw config for one stack. Pure: no Pulumi calls, no I/O.
 *
 * @param raw bare keys to values, secrets wrapped in `SecretValue`
 * @param ctx the project and stack being deployed, and the keys whose values were stored in plain text
 * @throws ConfigError listing every problem at once
 */
export function parseConfig(
    raw: RawConfig,
    ctx: {
        project: string;
        stack: string;
        plaintextKeys?: readonly string[];
        /** The project-level values as `Pulumi.yaml` sets them (bare keys); when given, a stack may not override them. */
        projectValues?: Readonly<Record<string, unknown>>;
        /** Full keys of the stack's config outside the project's namespace. */
        foreignKeys?: readonly string[];
        /** Paths of `secure:` values in `Pulumi.yaml`. */
        secureInProject?: readonly string[];
        /** Paths of plain-text leaves under secret keys in `Pulumi.<stack>.yaml`. */
        plaintextLeaves?: readonly string[];
    },
): QuayGeorepConfig {
    const problems = new Problems();
    const warnings: string[] = [];
    const top = new ObjectReader("", raw, problems, KNOWN_KEYS);
    if (ctx.projectValues !== undefined) checkProjectKeys(raw, ctx.projectValues, ctx.stack, problems);
    checkNamespaces(ctx.project, ctx.foreignKeys ?? [], problems);

    const hostname = top.string("hostname", {
        required: true,
        fix: 'set quay-georep:hostname in Pulumi.yaml to the global DNS name, e.g. "quay.example.com"',
    });
    if (hostname !== undefined && !isDnsName(hostname)) {
        problems.add(
            "hostname",
            hostname,
            "is not a DNS name",
            'use a fully qualified name such as "quay.example.com"',
        );
    } else {
        checkLowerCase(problems, "hostname", hostname);
    }
    const sharedStack = top.string("sharedStack") ?? "us";
    const { sites, rejected } = parseSites(top, problems);
    sites.forEach((site) => {
        for (const problem of siteNameProblems(ctx.project, site.name)) {
            problems.add(
                `sites[${siteIndex(raw, site.name)}].name`,
                site.name,
                problem,
                `use a name of at most ${maxSiteNameLength(ctx.project)} characters`,
            );
        }
    });
    // An invalid site is reported once; its bucket and credentials would only repeat the news.
    const scoped = problems.except((path) =>
        [...rejected].some(
            (n) => path.startsWith(`storage.buckets.${n}`) || path.startsWith(`storageCredentials.${n}`),
        ),
    );
    const scopedTop = top.withProblems(scoped);
    const services = parseServices(scopedTop, scoped, sites);
    const quay = parseQuay(top);
    const stack = parseStack(top, problems, ctx.stack, sharedStack, sites, warnings);
    const entryPoint = parseEntryPoint(top, problems, hostname, sites);
    const lifecycle = parseLifecycle(top);
    const standby = parseStandbySettings(top, scoped, services);
    const operator = parseOperator(top);
    const accounts = parseAccounts(
        top,
        cloudsUsed({ ...services, entryPoint, sites }),
        entryPoint.mode === "traffic-manager" ? entryPoint.subscriptionId : undefined,
    );

    let secrets: SharedSecrets | undefined;
    if (stack.isShared) {
        secrets = parseSecrets(scopedTop, scoped, services, sites, warnings);
    } else {
        for (const key of SHARED_ONLY_KEYS) {
            if (top.has(key)) {
                top.raw_(key);
                warnings.push(
                    `${key} is set on stack "${ctx.stack}" but only the shared stack "${sharedStack}" reads it`,
                );
            }
        }
    }
    for (const path of ctx.secureInProject ?? []) {
        problems.add(
            path,
            "<secure>",
            "is a secret in Pulumi.yaml, which has no secrets provider to decrypt it (project-level values are plain and shared by every stack)",
            `set it per stack instead: pulumi config set --secret quay-georep:${path} -s <stack> (use --path for nested keys)`,
        );
    }
    for (const path of ctx.plaintextLeaves ?? []) {
        problems.add(
            path,
            "<plain text>",
            "is a secret stored in plain text (next to encrypted values of the same key)",
            `store it encrypted: pulumi config set --secret --path quay-georep:${path}`,
        );
    }
    for (const key of ctx.plaintextKeys ?? []) {
        if (SECRET_KEYS.includes(key) && top.has(key)) {
            problems.add(
                key,
                "<plain text>",
                "is a secret stored in plain text",
                `store it encrypted: pulumi config set --secret quay-georep:${key} (use --path for nested keys)`,
            );
        }
    }
    if (top.has("loadBalancer")) {
        top.raw_("loadBalancer");
        problems.add(
            "loadBalancer",
            "<set>",
            "was renamed entryPoint (one name for the global entry point in config, code and docs)",
            "rename the key in Pulumi.yaml to entryPoint; its content is unchanged",
        );
    }
    top.done();

    if (problems.all.length > 0) throw new ConfigError(problems.all, ctx.stack);
    return deepFreeze({
        project: ctx.project,
        hostname: hostname as string,
        sharedStack,
        sites,
        ...services,
        quay,
        entryPoint,
        lifecycle,
        operator,
        accounts,
        standby,
        stack,
        secrets,
        warnings,
    });
}

/**
 * Config namespaces a stack may use besides the project's: Pulumi's own and those of the providers
 * the program creates. A key under any other is a typo (`quay-georp:kubeContext` would otherwise be
 * ignored, and the stack would deploy to the ambient kube context).
 */
export const KNOWN_NAMESPACES = ["pulumi", "aws", "azure-native", "kubernetes", "postgresql", "random"] as const;

/** Refuses keys under an unknown namespace, suggesting the closest known one. */
function checkNamespaces(project: string, keys: readonly string[], problems: Problems): void {
    const known = [project, ...KNOWN_NAMESPACES];
    for (const key of keys) {
        const colon = key.indexOf(":");
        const namespace = colon < 0 ? key : key.slice(0, colon);
        if ((known as readonly string[]).includes(namespace)) continue;
        const hint = suggest(namespace, known);
        problems.add(
            key,
            namespace,
            "is not a config namespace this program reads",
            `${hint ? `did you mean "${hint}${key.slice(namespace.length)}"? ` : ""}remove it or use one of: ${known.join(", ")}`,
        );
    }
}

/** Index of a site in the raw `sites` list, for messages. */
function siteIndex(raw: RawConfig, name: string): number {
    const list = Array.isArray(raw.sites) ? (raw.sites as unknown[]) : [];
    return list.findIndex((s) => isRecord(s) && s.name === name);
}

/** JSON with sorted keys, to compare config values however they were written. */
function canonical(value: unknown): string {
    const sort = (v: unknown): unknown =>
        Array.isArray(v)
            ? v.map(sort)
            : isRecord(v)
              ? Object.fromEntries(
                    Object.keys(v)
                        .sort()
                        .map((k) => [k, sort(v[k])]),
                )
              : v;
    return JSON.stringify(sort(value)) ?? "undefined";
}

/** {@link canonicalFrozen}'s answers, by frozen object. */
const canonicalOf = new WeakMap<object, string>();

/**
 * `canonical`, kept for an object that `freezeShared` (config/sharedFrozen.ts) froze, since nothing
 * in it can change, and neither can its JSON. `Pulumi.yaml`'s values, and the stack's structured
 * values as the CLI passes them, reach every stack's run as the same frozen objects (config/load.ts
 * `parseConfigFile` and `parseValueText`), and a project's `sites` grows with its sites.
 */
function canonicalFrozen(value: unknown): string {
    if (value === null || typeof value !== "object" || !isSharedFrozen(value)) return canonical(value);
    let text = canonicalOf.get(value);
    if (text === undefined) canonicalOf.set(value, (text = canonical(value)));
    return text;
}

/**
 * Refuses a project-level key whose value differs from `Pulumi.yaml`'s: a stack file (or an
 * environment) that overrides `sites` would run one cluster with another topology, and every
 * stack must agree on the shared services and the entry point.
 */
function checkProjectKeys(
    raw: RawConfig,
    project: Readonly<Record<string, unknown>>,
    stack: string,
    problems: Problems,
): void {
    for (const key of PROJECT_KEYS) {
        if (canonicalFrozen(raw[key]) === canonicalFrozen(project[key])) continue;
        problems.add(
            key,
            raw[key] instanceof SecretValue ? "<secret>" : raw[key],
            `is set for stack "${stack}" but differs from Pulumi.yaml (a stack file or environment overrides it); project-level keys are the same for every stack`,
            `remove it from the stack (pulumi config rm quay-georep:${key} -s ${stack}) and set it in Pulumi.yaml`,
        );
    }
}

function parseQuay(top: ObjectReader): QuaySettings {
    const q = top.object("quay", ["authenticationType", "defaultTagExpiration", "tagExpirationOptions", "superUsers"]);
    const authenticationType =
        q?.oneOf("authenticationType", ["Database", "LDAP", "JWT", "Keystone", "OIDC", "AppToken"], "Database") ??
        "Database";
    const defaultTagExpiration = q?.string("defaultTagExpiration") ?? "2w";
    if (!EXPIRATION.test(defaultTagExpiration)) {
        top.problems.add(
            "quay.defaultTagExpiration",
            defaultTagExpiration,
            "is not a duration",
            'use e.g. "2w", "7d" or "12h"',
        );
    }
    const tagExpirationOptions = stringList(q, "tagExpirationOptions") ?? ["2w"];
    tagExpirationOptions.forEach((o, i) => {
        if (!EXPIRATION.test(o)) {
            top.problems.add(`quay.tagExpirationOptions[${i}]`, o, "is not a duration", 'use e.g. "2w", "7d" or "12h"');
        }
    });
    if (!tagExpirationOptions.includes(defaultTagExpiration)) {
        top.problems.add(
            "quay.tagExpirationOptions",
            tagExpirationOptions,
            `does not contain the default "${defaultTagExpiration}"`,
            "add quay.defaultTagExpiration to the list (Quay refuses a default that is not an option)",
        );
    }
    const superUsers = stringList(q, "superUsers") ?? [];
    q?.done();
    return { authenticationType, defaultTagExpiration, tagExpirationOptions, superUsers };
}

function parseStack(
    top: ObjectReader,
    problems: Problems,
    stackName: string,
    sharedStack: string,
    sites: readonly Site[],
    warnings: string[],
): StackSettings {
    const isShared = stackName === sharedStack;
    const own = sites.filter((s) => s.stack === stackName);
    const site = own.find((s) => s.state !== "retired");
    const retiredSite = own.find((s) => s.state === "retired");
    // A stack with no site in config may still be a deployed site's, being retired after its
    // removal from `sites`: judged against what is deployed (stacks/resolve.ts).

    const namespace = top.string("namespace") ?? "quay-enterprise";
    const createNamespace = top.boolean("createNamespace", true);
    const lifecycleJobs = parseLifecycleJobs(
        top,
        problems,
        { isShared, stackName, sharedStack, ownSite: site, sites },
        warnings,
    );
    const registryName = top.string("registryName") ?? "quay";
    const bundleSecretName = top.string("bundleSecretName") ?? "georep-config-bundle";
    for (const [key, value] of [
        ["namespace", namespace],
        ["registryName", registryName],
        ["bundleSecretName", bundleSecretName],
    ] as const) {
        if (!isDnsLabel(value)) {
            problems.add(
                key,
                value,
                "is not a Kubernetes name",
                "use lower-case letters, digits and '-', at most 63 characters",
            );
        }
    }
    const kubeconfigRaw = top.raw_("kubeconfig");
    const kubeconfig = kubeconfigRaw instanceof SecretValue ? kubeconfigRaw : undefined;
    if (kubeconfigRaw !== undefined && kubeconfig === undefined) {
        problems.add(
            "kubeconfig",
            "<value>",
            "is not a secret string",
            "set it with: pulumi config set --secret quay-georep:kubeconfig < kubeconfig.yaml",
        );
    }
    const kubeContext = top.string("kubeContext");
    const clusterName = top.string("clusterName") ?? stackName;

    const components = parseComponents(top);
    const replicas = parseReplicas(top, components);
    const storagePreference = parsePreference(top, problems, site, sites);
    return {
        name: stackName,
        isShared,
        site,
        retiredSite,
        namespace,
        createNamespace,
        lifecycleJobs,
        kubeconfig,
        kubeContext,
        clusterName,
        registryName,
        bundleSecretName,
        storagePreference,
        explicitPreference: top.has("storagePreference"),
        components,
        replicas,
    };
}

function parseComponents(top: ObjectReader): ComponentChoices {
    const c = top.object("components", OPTIONAL_COMPONENTS);
    const fixed = ["quay", "route", "mirror", "objectstorage", "postgres", "redis", "clairpostgres", "tls"];
    for (const key of fixed) {
        if (c?.has(key)) {
            c.raw_(key);
            top.problems.add(
                `components.${key}`,
                key,
                "cannot be chosen: geo-replication fixes it",
                "remove it (quay, route and mirror are always managed; objectstorage, postgres, redis, clairpostgres and tls never are)",
            );
        }
    }
    const choices = {
        clair: c?.boolean("clair", true) ?? true,
        horizontalpodautoscaler: c?.boolean("horizontalpodautoscaler", true) ?? true,
        monitoring: c?.boolean("monitoring", true) ?? true,
    };
    c?.done();
    return choices;
}

function parseReplicas(top: ObjectReader, components: ComponentChoices): StackSettings["replicas"] {
    const r = top.object("replicas", ["quay", "mirror"]);
    if (components.horizontalpodautoscaler) {
        if (r) {
            top.problems.add(
                "replicas",
                "<set>",
                "cannot be set while components.horizontalpodautoscaler is managed (the operator refuses replicas other than 0)",
                "remove replicas, or set components.horizontalpodautoscaler: false to size the deployments yourself",
            );
            r.raw_("quay");
            r.raw_("mirror");
            r.done();
        }
        return undefined;
    }
    // With the HPA unmanaged, an override block without `replicas` drops the Deployment to 1.
    const quay = r?.integer("quay", 2, 1, 100) ?? 2;
    const mirror = r?.integer("mirror", 2, 1, 100) ?? 2;
    r?.done();
    return { quay, mirror };
}

function parsePreference(
    top: ObjectReader,
    problems: Problems,
    site: Site | undefined,
    sites: readonly Site[],
): readonly string[] {
    const active = sites.filter((s) => s.state === "active").map((s) => s.name);
    const explicit = top.array("storagePreference");
    if (explicit === undefined) {
        if (site === undefined) return [];
        return site.state === "active" ? [site.name, ...active.filter((n) => n !== site.name)] : active;
    }
    const names: string[] = [];
    explicit.forEach((value, i) => {
        const path = `storagePreference[${i}]`;
        const known = sites.find((s) => s.name === value);
        if (typeof value !== "string" || known === undefined) {
            problems.add(path, value, "is not a site", `use one of: ${active.join(", ")}`);
        } else if (known.state !== "active") {
            problems.add(
                path,
                value,
                `is ${known.state}`,
                `remove it; new blobs must land on an active site (${active.join(", ")})`,
            );
        } else if (names.includes(value)) {
            problems.add(path, value, "is listed twice", "list each site once");
        } else {
            names.push(value);
        }
    });
    if (explicit.length === 0) {
        problems.add(
            "storagePreference",
            explicit,
            "is empty",
            `list at least one active site, e.g. [${active.join(", ")}]`,
        );
    }
    return names;
}

function parseSecrets(
    top: ObjectReader,
    problems: Problems,
    services: ReturnType<typeof parseServices>,
    sites: readonly Site[],
    warnings: string[],
): SharedSecrets {
    const secret = (key: string, why: string): SecretValue | undefined => {
        const value = top.raw_(key);
        if (value instanceof SecretValue && value.reveal() !== "") return value;
        if (typeof value === "string" && value !== "") return new SecretValue(value);
        problems.add(
            key,
            value,
            `is required on the shared stack (${why})`,
            `run: pulumi config set --secret quay-georep:${key} <value>`,
        );
        return undefined;
    };
    const tlsCertificate = secret("tlsCertificate", `TLS certificate (PEM) for the global hostname`);
    const tlsKey = secret("tlsKey", "private key (PEM) of that certificate");
    // A secret the chosen modes do not read (say, left over from another mode) is harmless: warn.
    const unused = (key: string, why: string): undefined => {
        if (top.has(key)) {
            top.raw_(key);
            warnings.push(`${key} is set but not used (${why}); remove it: pulumi config rm quay-georep:${key}`);
        }
        return undefined;
    };
    const db = services.database;
    const rolesGenerated =
        db.mode === "existing"
            ? "database.admin is set: the roles are created with generated passwords"
            : `database.mode ${db.mode} creates the roles with generated passwords`;
    const userPasswords = db.mode === "existing" && db.admin === undefined;
    const databasePassword = userPasswords
        ? secret("databasePassword", `password of database user "${db.quay.user}"`)
        : unused("databasePassword", rolesGenerated);
    const clairDatabasePassword = !userPasswords
        ? unused("clairDatabasePassword", rolesGenerated)
        : db.clair.user === db.quay.user
          ? databasePassword
          : secret("clairDatabasePassword", `password of database user "${db.clair.user}"`);
    const databaseAdminPassword =
        db.mode === "existing" && db.admin !== undefined
            ? secret("databaseAdminPassword", `password of the PostgreSQL admin "${db.admin.user}" (database.admin)`)
            : unused(
                  "databaseAdminPassword",
                  db.mode === "existing" ? "database.admin is not set" : `database.mode ${db.mode} generates it`,
              );
    const redisPassword =
        services.redis.mode === "existing"
            ? secret("redisPassword", "the Redis requirepass password")
            : unused("redisPassword", `redis.mode ${services.redis.mode} generates it`);
    // Quay's keys are generated only for a database that holds no Quay data yet: the data in one
    // that does was written with its keys (DATABASE_SECRET_KEY decrypts its encrypted fields through
    // quay/quay data/database.py `configure` → FieldEncrypter; SECRET_KEY decrypts users' encrypted
    // CLI passwords, data/users/__init__.py `UserAuthentication`).
    const keysRequired = db.mode === "existing" && !db.isNew;
    const quayKey = (key: "secretKey" | "databaseSecretKey", what: string): SecretValue | undefined => {
        const value = top.raw_(key);
        if (value instanceof SecretValue && value.reveal() !== "") return value;
        if (typeof value === "string" && value !== "") return new SecretValue(value);
        if (keysRequired) {
            problems.add(
                key,
                value,
                `is required with database.mode existing (${what})`,
                `copy it from the running Quay's config bundle (docs/services.md, "Adopting a running Quay") and run: pulumi config set --secret quay-georep:${key} <value>, or set database.new: true if the database holds no Quay data yet`,
            );
        }
        return undefined;
    };
    const secretKey = quayKey(
        "secretKey",
        "the SECRET_KEY its users' encrypted CLI passwords and sessions were made with",
    );
    const databaseSecretKey = quayKey(
        "databaseSecretKey",
        "the DATABASE_SECRET_KEY its encrypted fields were written with; another one makes them unreadable",
    );
    const storageCredentials =
        services.storage.mode === "existing"
            ? parseStorageCredentials(top, problems, services.storage, sites, warnings)
            : (unused("storageCredentials", "storage.mode create creates the credentials") ?? {});
    return {
        tlsCertificate: tlsCertificate as SecretValue,
        tlsKey: tlsKey as SecretValue,
        databasePassword,
        clairDatabasePassword,
        databaseAdminPassword,
        redisPassword,
        ...(secretKey !== undefined ? { secretKey } : {}),
        ...(databaseSecretKey !== undefined ? { databaseSecretKey } : {}),
        storageCredentials,
    };
}

function parseStorageCredentials(
    top: ObjectReader,
    problems: Problems,
    storage: StorageConfig,
    sites: readonly Site[],
    warnings: string[],
): SharedSecrets["storageCredentials"] {
    const raw = top.raw_("storageCredentials");
    const result: Record<string, Record<string, SecretValue>> = {};
    const given =
        raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
    if (raw !== undefined && raw !== null && given !== raw) {
        problems.add(
            "storageCredentials",
            "<value>",
            "is not an object",
            "set it per site, e.g. pulumi config set --secret --path storageCredentials.usstorage.secretKey …",
        );
    }
    for (const [siteName, creds] of Object.entries(given)) {
        const site = sites.find((s) => s.name === siteName);
        // A site no longer configured may still drain from its bucket (judged in stacks/resolve.ts).
        const cloud = site?.cloud ?? storage.buckets[siteName]?.cloud;
        const allowed =
            cloud === "aws" ? ["accessKey", "secretKey"] : cloud === "azure" ? ["accountKey", "sasToken"] : [];
        if (cloud === undefined) {
            problems.add(
                `storageCredentials.${siteName}`,
                siteName,
                "is not a site",
                `use one of: ${sites.map((s) => s.name).join(", ")}`,
            );
            continue;
        }
        const entry: Record<string, SecretValue> = {};
        for (const [k, v] of Object.entries(
            creds !== null && typeof creds === "object" ? (creds as Record<string, unknown>) : {},
        )) {
            if (!allowed.includes(k)) {
                problems.add(
                    `storageCredentials.${siteName}.${k}`,
                    k,
                    `is not a credential of a ${cloud} bucket`,
                    `use ${allowed.join(" or ")}`,
                );
            } else if (typeof v === "string" || v instanceof SecretValue) {
                entry[k] = v instanceof SecretValue ? v : new SecretValue(v);
            }
        }
        result[siteName] = entry;
    }
    if (storage.mode === "existing") {
        for (const site of sites.filter((s) => s.state !== "retired")) {
            const entry = result[site.name] ?? {};
            const path = `storageCredentials.${site.name}`;
            // Quay's AzureStorage authenticates with the account key only: `BlobServiceClient(credential=
            // azure_account_key)` (quay/quay storage/azurestorage.py, AzureStorage.__init__); `sas_token`
            // is stored but never used, and the operator's start-up check uses the key too.
            if (site.cloud === "azure" && entry.accountKey && entry.sasToken) {
                warnings.push(
                    `${path}.sasToken is set but not used: Quay's AzureStorage authenticates with the account key only; remove it: pulumi config rm --path quay-georep:${path}.sasToken`,
                );
            }
            if (site.cloud === "azure" && !entry.accountKey) {
                problems.add(
                    entry.sasToken ? `${path}.sasToken` : path,
                    entry.sasToken ? "<secret>" : undefined,
                    entry.sasToken
                        ? "cannot work alone: Quay's AzureStorage authenticates with the account key only (storage/azurestorage.py)"
                        : "needs accountKey for an Azure container",
                    `run: pulumi config set --secret --path quay-georep:${path}.accountKey <key>`,
                );
            }
            if (site.cloud === "aws" && Boolean(entry.accessKey) !== Boolean(entry.secretKey)) {
                problems.add(
                    path,
                    "<one of two>",
                    "needs both accessKey and secretKey (or neither, for the AWS default credential chain)",
                    `set both with pulumi config set --secret --path quay-georep:${path}.<key>`,
                );
            }
        }
    }
    return result;
}

function stringList(reader: ObjectReader | undefined, key: string): string[] | undefined {
    const list = reader?.array(key);
    if (list === undefined || reader === undefined) return undefined;
    const bad = list.findIndex((v) => typeof v !== "string" || v === "");
    if (bad >= 0) {
        reader.problems.add(`${reader.at(key)}[${bad}]`, list[bad], "is not a string", "list strings only");
        return undefined;
    }
    return list as string[];
}

/** Freezes plain objects and arrays recursively (secrets freeze themselves). */
export function deepFreeze<T>(value: T): T {
    if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const child of Object.values(value as object)) deepFreeze(child);
    }
    return value;
}
