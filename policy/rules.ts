/**
 * The rules of the quay-georep policy pack, as pure functions over `PolicyResource`.
 *
 * Resource rules judge one resource at a time (the pack runs them through `validateResource`,
 * before a resource is created or changed). Stack rules judge resources that refer to each other
 * (a bucket and its public access block, a server and its TLS setting, a QuayRegistry and its
 * bundle Secret, a VM and its public IP); the pack runs them through `validateStack`, after the
 * preview or update.
 * `checkResources` runs every rule the same way on any list of resources (tests: the mock runtime's).
 */
import { ec2Imdsv2Required, vmNoPublicIpUnlessConfigured, vmVolumesEncrypted } from "./compute";
import { databaseEncryptedTlsOnlyPrivate, rdsBackupsAndDeletionProtection } from "./database";
import { lifecycleJobsRestrictedAndLimited } from "./jobs";
import { noInternetToPostgresOrRedis, noInternetToServices } from "./network";
import { bundleIdenticalAcrossStacks, quayRegistryGeoReplication } from "./quay";
import type { PolicyConfig, PolicyResource, ResourceRule, StackRule, Violation } from "./resource";
import { statefulResourcesProtected } from "./stateful";
import { azureStoragePrivateAndEncrypted, s3BucketsPrivateAndEncrypted, s3BucketsTlsOnly } from "./storage";

export * from "./resource";

/** Rules over one resource. */
export const RESOURCE_RULES: readonly ResourceRule[] = [
    noInternetToPostgresOrRedis,
    azureStoragePrivateAndEncrypted,
    statefulResourcesProtected,
    quayRegistryGeoReplication,
    rdsBackupsAndDeletionProtection,
    vmVolumesEncrypted,
    ec2Imdsv2Required,
    lifecycleJobsRestrictedAndLimited,
];

/** Rules over the whole stack. */
export const STACK_RULES: readonly StackRule[] = [
    noInternetToServices,
    s3BucketsPrivateAndEncrypted,
    databaseEncryptedTlsOnlyPrivate,
    bundleIdenticalAcrossStacks,
    s3BucketsTlsOnly,
    vmNoPublicIpUnlessConfigured,
];

/** One resource rule on one resource (nothing when the rule does not apply to its type). */
export function checkResource(rule: ResourceRule, resource: PolicyResource, config: PolicyConfig = {}): Violation[] {
    if (!rule.types.includes(resource.type)) return [];
    return rule
        .check(resource, config[rule.name] ?? {})
        .map((message) => ({ policy: rule.name, urn: resource.urn, message }));
}

/** One stack rule on a stack's resources. */
export function checkStack(
    rule: StackRule,
    resources: readonly PolicyResource[],
    config: PolicyConfig = {},
): Violation[] {
    return rule.check(resources, config[rule.name] ?? {}).map((v) => ({ policy: rule.name, ...v }));
}

/** Every rule on a stack's resources: what `pulumi preview --policy-pack policy` would report. */
export function checkResources(resources: readonly PolicyResource[], config: PolicyConfig = {}): Violation[] {
    return [
        ...RESOURCE_RULES.flatMap((rule) => resources.flatMap((r) => checkResource(rule, r, config))),
        ...STACK_RULES.flatMap((rule) => checkStack(rule, resources, config)),
    ];
}

/** A violation as one line: `policy: urn: message`. */
export function formatViolation(v: Violation): string {
    return `${v.policy}: ${v.urn ?? "(stack)"}: ${v.message}`;
}
