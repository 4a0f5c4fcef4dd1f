/**
 * The interface both Redis VM variants offer: where Redis is and its password.
 */
import type * as pulumi from "@pulumi/pulumi";

/** A Redis this program created. */
export interface RedisServer {
    /** Address clients connect to: the public IP when the VM has one, else the private IP. */
    readonly host: pulumi.Output<string>;
    /** Port clients connect to. */
    readonly port: pulumi.Output<number>;
    /** The generated `requirepass` password (a secret). */
    readonly password: pulumi.Output<string>;
    /** How to find the VM in its cloud (`instanceId`; `resourceGroup` and `vm`), for SSM or Run Command. */
    readonly ids: pulumi.Output<Record<string, string>>;
}

/** A VM's CPU architecture: it picks the OS image. */
export type VmArchitecture = "x86_64" | "arm64";

/** Redis's port on the VM. */
export const REDIS_PORT = 6379;

/**
 * Tag on the Redis VM when `redis.publicIp` asked for a public address: the policy pack sees no
 * config, so this is how its `vm-no-public-ip-unless-configured` rule tells a wanted address from a
 * mistake (policy/compute.ts keeps the same name; test/policy.test.ts checks both agree).
 */
export const PUBLIC_IP_TAG = "quay-georep-public-ip";
