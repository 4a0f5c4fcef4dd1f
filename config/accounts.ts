/**
 * `quay-georep:accounts` (project-level): the cloud accounts this deployment may touch. The stack's
 * providers are pinned to them (stacks/providers.ts), so a `pulumi up` run with the wrong
 * credentials or the CLI's ambient Azure subscription stops instead of creating resources elsewhere.
 */
import type { DatabaseConfig, RedisConfig, StorageConfig } from "./services";
import type { EntryPointConfig } from "./entryPoint";
import type { Site } from "./sites";
import { ObjectReader } from "./validate";

/** The accounts each cloud's providers are pinned to. */
export interface Accounts {
    /** AWS account IDs every AWS provider allows (`allowedAccountIds`); required when AWS is used. */
    readonly aws?: readonly string[];
    /** The Azure subscription every azure-native provider uses (`subscriptionId`); required when Azure is used. */
    readonly azure?: string;
}

const AWS_ACCOUNT = /^[0-9]{12}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The clouds whose providers the shared stack creates for this config. */
export function cloudsUsed(c: {
    database: DatabaseConfig;
    redis: RedisConfig;
    storage: StorageConfig;
    entryPoint: EntryPointConfig;
    sites: readonly Site[];
}): { aws: boolean; azure: boolean } {
    const created = (cloud: "aws" | "azure") => c.storage.mode === "create" && c.sites.some((s) => s.cloud === cloud);
    return {
        aws: c.database.mode === "aws" || c.redis.mode === "aws" || created("aws") || c.entryPoint.mode === "route53",
        azure:
            c.database.mode === "azure" ||
            c.redis.mode === "azure" ||
            created("azure") ||
            c.entryPoint.mode === "traffic-manager",
    };
}

/** Parses `accounts`; problems are recorded, never thrown. */
export function parseAccounts(
    top: ObjectReader,
    used: { aws: boolean; azure: boolean },
    lbSubscription?: string,
): Accounts {
    const a = top.object("accounts", ["aws", "azure"]);
    const list = a?.array("aws");
    const aws = list?.filter((id): id is string => typeof id === "string");
    list?.forEach((id, i) => {
        if (typeof id !== "string" || !AWS_ACCOUNT.test(id)) {
            top.problems.add(
                `accounts.aws[${i}]`,
                id,
                "is not an AWS account ID",
                'use the 12 digits, as a string, e.g. "123456789012"',
            );
        }
    });
    const azure = a?.string("azure");
    if (azure !== undefined && !GUID.test(azure)) {
        top.problems.add(
            "accounts.azure",
            azure,
            "is not an Azure subscription ID",
            "use the subscription's GUID (az account show --query id)",
        );
    }
    const where = "set quay-georep:accounts in Pulumi.yaml";
    if (used.aws && (aws === undefined || aws.length === 0)) {
        top.problems.add(
            "accounts.aws",
            aws,
            "is required: this deployment creates AWS resources, and every AWS provider is pinned to the accounts listed",
            `${where}, e.g. aws: ["123456789012"] (aws sts get-caller-identity --query Account)`,
        );
    }
    if (used.azure && azure === undefined) {
        top.problems.add(
            "accounts.azure",
            undefined,
            "is required: this deployment creates Azure resources, and every azure-native provider is pinned to this subscription",
            `${where}, e.g. azure: "00000000-0000-0000-0000-000000000000" (az account show --query id)`,
        );
    }
    // A malformed one is reported by the entry point's own parser.
    const lb = lbSubscription !== undefined && GUID.test(lbSubscription) ? lbSubscription : undefined;
    if (azure !== undefined && lb !== undefined && lb.toLowerCase() !== azure.toLowerCase()) {
        top.problems.add(
            "entryPoint.subscriptionId",
            lb,
            `differs from accounts.azure "${azure}"`,
            "remove it (the entry point uses accounts.azure) or make them equal",
        );
    }
    a?.done();
    return { ...(aws && aws.length > 0 ? { aws } : {}), ...(azure ? { azure } : {}) };
}
