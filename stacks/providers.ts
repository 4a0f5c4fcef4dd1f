/**
 * The stack's cloud providers, in one place: the pin that holds every AWS and azure-native provider
 * to the configured accounts.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Accounts } from "../config/accounts";

/**
 * Pins every AWS and azure-native provider the stack registers from now on to `accounts`: AWS's
 * `allowedAccountIds` makes the provider refuse any other account's credentials, and azure-native's
 * `subscriptionId` replaces the CLI's currently selected subscription. One transformation, so no
 * provider (each component builds its own today) can be left out.
 */
export function pinProviders(accounts: Accounts): void {
    pulumi.runtime.registerStackTransformation((args) => {
        if (args.type === "pulumi:providers:aws" && accounts.aws !== undefined) {
            return { props: { ...args.props, allowedAccountIds: [...accounts.aws] }, opts: args.opts };
        }
        if (args.type === "pulumi:providers:azure-native" && accounts.azure !== undefined) {
            return { props: { ...args.props, subscriptionId: accounts.azure }, opts: args.opts };
        }
        return undefined;
    });
}
