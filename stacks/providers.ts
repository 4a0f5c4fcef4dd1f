/**
 * The stack's cloud and random providers, in one place: one AWS provider per region, one
 * azure-native provider and one random provider, each created the first time a component needs
 * it and handed to components through `opts.providers`, so their children inherit it through
 * `{ parent: this }`. Components create no cloud or random provider of their own; the only other
 * providers are the cluster's Kubernetes provider (stacks/site.ts) and the PostgreSQL provider,
 * which needs the server's outputs (components/database/logins.ts).
 */
import { Provider as AwsProvider } from "@pulumi/aws/provider";
import { Provider as AzureProvider } from "@pulumi/azure-native/provider";
import * as random from "@pulumi/random";
import type { Accounts } from "../config/accounts";

/** The stack's providers, created on demand (asking twice returns the same provider). */
export interface StackProviders {
    /** The AWS provider for `region` (`<project>-aws-<region>`), pinned to `accounts.aws`. */
    aws(region: string): AwsProvider;
    /** The azure-native provider (`<project>-azure`), pinned to `accounts.azure`. */
    azure(): AzureProvider;
    /** The random provider (`<project>-random`). */
    random(): random.Provider;
}

/** Route 53 and IAM are global services whose APIs live in us-east-1. */
export const GLOBAL_AWS_REGION = "us-east-1";

/**
 * The providers of one stack run, pinned to `accounts`: AWS's `allowedAccountIds` makes a provider
 * refuse any other account's credentials, and azure-native's `subscriptionId` replaces the CLI's
 * currently selected subscription. The config refuses AWS or Azure resources without the accounts
 * to pin them to (config/accounts.ts), so an unpinned provider is a bug, not a user error.
 */
export function stackProviders(
    project: string,
    accounts: Accounts,
    opts: {
        /**
         * Per AWS region: the region its STS calls go to instead. After a failover away from a lost
         * region, that region's provider must still start (it declares the lost servers, unchanged)
         * without calling the region's own STS endpoint, which the AWS provider calls on start to
         * check the account (`allowedAccountIds`); `stsRegion` moves that call (pulumi-aws provider.d.ts).
         */
        readonly stsRegions?: Readonly<Record<string, string>>;
    } = {},
): StackProviders {
    const aws = new Map<string, AwsProvider>();
    let azure: AzureProvider | undefined;
    let rand: random.Provider | undefined;
    return {
        aws(region) {
            let provider = aws.get(region);
            if (provider === undefined) {
                if (accounts.aws === undefined) throw new Error("accounts.aws was not validated");
                const sts = opts.stsRegions?.[region];
                provider = new AwsProvider(`${project}-aws-${region}`, {
                    region,
                    allowedAccountIds: [...accounts.aws],
                    ...(sts !== undefined ? { stsRegion: sts } : {}),
                });
                aws.set(region, provider);
            }
            return provider;
        },
        azure() {
            if (accounts.azure === undefined) throw new Error("accounts.azure was not validated");
            azure ??= new AzureProvider(`${project}-azure`, { subscriptionId: accounts.azure });
            return azure;
        },
        random() {
            rand ??= new random.Provider(`${project}-random`, {});
            return rand;
        },
    };
}
