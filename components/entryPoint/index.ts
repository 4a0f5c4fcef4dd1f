/**
 * EntryPoint: the single DNS entry point in front of every cluster (Red Hat's procedure
 * step 6, "put a load balancer in front of the clusters"). One interface, one variant per
 * balancer, chosen by the typed `mode` union; `none` creates nothing and only reports.
 */
import * as pulumi from "@pulumi/pulumi";
import { Route53EntryPoint, Route53EntryPointArgs } from "./route53";
import { TrafficManagerEntryPoint, TrafficManagerEntryPointArgs } from "./trafficManager";

/** What every variant exposes. */
export interface EntryPoint {
    /** The balancer's DNS name: the hostname (Route 53, none) or the profile's fqdn (Traffic Manager). */
    readonly dnsName: pulumi.Output<string>;
    /** Per non-retired site, the ID of what watches its health (empty for `none`). */
    readonly healthCheckIds: pulumi.Output<Record<string, string>>;
}

/** The user's own balancer: nothing is created, the hostname is only reported. */
export interface NoEntryPointArgs {
    /** The global hostname, reported as the DNS name. */
    readonly hostname: pulumi.Input<string>;
}

/** The variant and its inputs. */
export type EntryPointArgs =
    | ({ readonly mode: "route53" } & Route53EntryPointArgs)
    | ({ readonly mode: "traffic-manager" } & TrafficManagerEntryPointArgs)
    | ({ readonly mode: "none" } & NoEntryPointArgs);

/**
 * Creates the entry point of the chosen mode (no resource at all for `none`). `opts.providers`
 * carries the mode's provider: `aws` for Route 53, `azure-native` for Traffic Manager.
 */
export function createEntryPoint(
    name: string,
    args: EntryPointArgs,
    opts?: pulumi.ComponentResourceOptions,
): EntryPoint {
    switch (args.mode) {
        case "route53":
            return new Route53EntryPoint(name, args, opts);
        case "traffic-manager":
            return new TrafficManagerEntryPoint(name, args, opts);
        case "none":
            return { dnsName: pulumi.output(args.hostname), healthCheckIds: pulumi.output<Record<string, string>>({}) };
        default: {
            const unknown: never = args;
            throw new Error(`unhandled entry point mode in ${JSON.stringify(unknown)}`);
        }
    }
}
