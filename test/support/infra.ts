/**
 * Helpers for the shared-services tests (database, redis, storage): the example's shared stack with
 * one service block changed, the bundle as Quay reads it, exact config problems, and a check that
 * no secret reached a resource as plain text.
 */
import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { isSecretInput, RecordedResource, RunResult, runProgram, SECRET_PLACEHOLDER } from "../../offline/runtime";
import { StackConfig } from "../../offline/stackConfig";
import { ConfigError, parseConfig, QuayGeorepConfig } from "../../config/config";
import { readRawConfig } from "../../config/load";
import { StackProviders, stackProviders } from "../../stacks/providers";
import { assertClean, bundleSecret, exampleConfig, PROJECT, runStack, withConfig } from "../mocks";
export { urnDiff } from "../mocks";

/**
 * Created services in the shape the example uses: RDS and an EC2 Redis in us-east-1, private, reached
 * from the us VPC and (over a VPN) the eu VNet; one bucket per site.
 */
export const CREATED = {
    database: {
        mode: "aws",
        region: "us-east-1",
        version: "17",
        instanceClass: "db.m7g.large",
        storageGb: 100,
        maxStorageGb: 500,
        multiAz: true,
        backupRetentionDays: 14,
        vpcId: "vpc-0123456789abcdef0",
        subnetIds: ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
        allowedCidrs: ["10.0.0.0/16", "10.1.0.0/16"],
    },
    redis: {
        mode: "aws",
        region: "us-east-1",
        instanceType: "t3.small",
        vpcId: "vpc-0123456789abcdef0",
        subnetId: "subnet-0123456789abcdef0",
        allowedCidrs: ["10.0.0.0/16", "10.1.0.0/16"],
    },
    storage: { mode: "create" },
};

/**
 * The example's shared stack (`us`) with the services of `CREATED` (whatever the example uses, so
 * these tests do not move when the example does) and some keys changed (`undefined` removes one).
 */
export function shared(changes: Record<string, unknown> = {}, secretKeys: readonly string[] = []): StackConfig {
    const base = {
        ...CREATED,
        databasePassword: undefined,
        clairDatabasePassword: undefined,
        redisPassword: undefined,
        secretKey: undefined,
        databaseSecretKey: undefined,
        storageCredentials: undefined,
    };
    return withConfig(exampleConfig("us"), { ...base, ...changes }, secretKeys);
}

const runs = new Map<string, Promise<RunResult>>();

/**
 * Runs a stack once per distinct config and shares the (read-only) result between test files: the
 * whole program under mocks takes most of a second, and several files look at the same run.
 */
export function runOnce(cfg: StackConfig): Promise<RunResult> {
    const key = JSON.stringify(cfg);
    let run = runs.get(key);
    if (run === undefined) {
        run = runStack(cfg).then(assertClean);
        runs.set(key, run);
    }
    return run;
}

/** The accounts of the example (`accounts` in Pulumi.yaml), for providers made outside the program. */
export const EXAMPLE_ACCOUNTS = { aws: ["123456789012"], azure: "00000000-0000-0000-0000-000000000000" };

/**
 * Runs one component (or a few) under mocks, without the rest of the program, for its variants;
 * `make` gets the providers a stack would make (`stackProviders`) to pass through `opts.providers`,
 * and what it returns becomes the run's outputs.
 */
export async function runComponent(make: (providers: StackProviders) => Record<string, unknown>): Promise<RunResult> {
    const program = () => make(stackProviders(PROJECT, EXAMPLE_ACCOUNTS));
    return assertClean(await runProgram({ project: PROJECT, stack: "test", config: {}, program }));
}

/** Azure variants of the two servers, run together (one program run serves both test files). */
export const AZURE_SERVICES = {
    database: {
        mode: "azure",
        location: "westeurope",
        skuName: "Standard_D2ds_v5",
        storageGb: 256,
        backupRetentionDays: 14,
        geoRedundantBackup: true,
        highAvailability: true,
        allowedCidrs: ["198.51.100.0/24", "203.0.113.7/32"],
    },
    redis: {
        mode: "azure",
        location: "westeurope",
        vmSize: "Standard_B2s",
        publicIp: true,
        allowedCidrs: ["198.51.100.0/24", "203.0.113.0/24"],
    },
};

/** A service block of `CREATED` with changes. */
export function created(key: keyof typeof CREATED, changes: Record<string, unknown> = {}): Record<string, unknown> {
    return { ...CREATED[key], ...changes };
}

/**
 * Issue 2's `existing` services, with the secrets they need (values as `pulumi config set` stores them),
 * including the Quay keys an existing database's data was written with.
 */
export const EXISTING = {
    database: { mode: "existing", host: "db.example.com", port: 5432 },
    redis: { mode: "existing", host: "redis.example.com" },
    storage: {
        mode: "existing",
        buckets: {
            usstorage: { bucket: "quay-us" },
            eustorage: { container: "quay", accountName: "quayeu" },
        },
    },
    databasePassword: "quay-pw",
    clairDatabasePassword: "clair-pw",
    redisPassword: "redis-pw",
    secretKey: "running-quay-secret-key",
    databaseSecretKey: "running-quay-database-secret-key",
    storageCredentials: { usstorage: { accessKey: "AKIA", secretKey: "s3-secret" }, eustorage: { accountKey: "az" } },
};
export const EXISTING_SECRETS = [
    "databasePassword",
    "clairDatabasePassword",
    "redisPassword",
    "secretKey",
    "databaseSecretKey",
    "storageCredentials",
];

/** Parses a stack's config as `pulumi up` would (pure: no resources). */
export function parseStack(cfg: StackConfig): QuayGeorepConfig {
    const { raw, plaintextKeys } = readRawConfig(cfg.project, cfg.config, (k) => cfg.secretKeys.includes(k));
    return parseConfig(raw, { project: cfg.project, stack: cfg.stack, plaintextKeys });
}

/** The exact problems a config gives (fails when it parses). */
export function problemsOf(cfg: StackConfig): readonly string[] {
    try {
        parseStack(cfg);
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
    assert.fail("expected a ConfigError");
}

/** The bundle files of the shared stack's run, from the recorded bundle Secret. */
export function bundleOf(result: RunResult): { config: Record<string, unknown>; clair: Record<string, unknown> } {
    const secret = bundleSecret(result);
    assert.ok(isSecretInput(secret.inputs.stringData), "the bundle Secret's data must be secret");
    const data = secret.inputs.stringData.secret as Record<string, string>;
    return {
        config: parse(data["config.yaml"]) as Record<string, unknown>,
        clair: parse(data["clair-config.yaml"]) as Record<string, unknown>,
    };
}

/** Resources whose inputs carry a secret value outside a secret wrapper. */
export function plainSecrets(result: RunResult): string[] {
    const leaks = (value: unknown): boolean => {
        if (isSecretInput(value)) return false;
        if (typeof value === "string") return value.includes(SECRET_PLACEHOLDER);
        if (Array.isArray(value)) return value.some(leaks);
        if (value !== null && typeof value === "object") return Object.values(value).some(leaks);
        return false;
    };
    return result.resources.filter((r) => leaks(r.inputs)).map((r) => `${r.type} ${r.name}`);
}

/** Every resource below a component (children, grandchildren, …). */
export function descendants(result: RunResult, component: RecordedResource): RecordedResource[] {
    const below = new Set([component.urn]);
    let grew = true;
    while (grew) {
        grew = false;
        for (const r of result.resources) {
            if (r.parent !== undefined && below.has(r.parent) && !below.has(r.urn)) {
                below.add(r.urn);
                grew = true;
            }
        }
    }
    return result.resources.filter((r) => r.urn !== component.urn && below.has(r.urn));
}

/** A third site, for topology changes. */
export const AP_SITE = {
    name: "apstorage",
    stack: "ap",
    cloud: "aws",
    region: "ap-southeast-2",
    endpoint: "router.apps.ap.example.com",
};

/**
 * The example's site list with changes, plus what a new site needs from the entry point (a probe
 * address when `entryPoint` is `route53` and endpoints are hostnames).
 */
export function withSites(sites: Record<string, unknown>[], changes: Record<string, unknown> = {}): StackConfig {
    const base = shared();
    const lbText = base.config[`${PROJECT}:entryPoint`];
    const lb = lbText ? (JSON.parse(lbText) as Record<string, unknown>) : undefined;
    const extra: Record<string, unknown> = {};
    if (lb?.mode === "route53") {
        const addresses = { ...(lb.healthCheckAddresses as Record<string, string> | undefined) };
        sites.forEach((s, i) => (addresses[s.name as string] ??= `192.0.2.${30 + i}`));
        extra.entryPoint = { ...lb, healthCheckAddresses: addresses };
    }
    return withConfig(base, { sites, ...extra, ...changes });
}
