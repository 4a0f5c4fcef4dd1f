/**
 * The shared stack's entry point: from the validated `entryPoint` config to the EntryPoint's
 * inputs and the stack's provider it needs, and on to the stack outputs that tell a user (or
 * their own balancer) exactly what is targeted and probed.
 */
import type * as pulumi from "@pulumi/pulumi";
import { createEntryPoint, EntryPointArgs } from "../components/entryPoint";
import { EntryPointTarget, entryPointTargets, TargetPlacement } from "../lib/entryPoint";
import type { QuayGeorepConfig } from "../config/config";
import type { EntryPointConfig, EntryPointMode } from "../config/entryPoint";
import type { Site } from "../config/sites";
import { GLOBAL_AWS_REGION, StackProviders } from "./providers";

/** What the entry point adds to the shared stack's outputs. */
export interface EntryPointOutputs {
    /** `route53`, `traffic-manager` or `none`. */
    readonly entryPointMode: EntryPointMode;
    /** The balancer's DNS name: `hostname` (route53, none) or `<relativeName>.trafficmanager.net`. */
    readonly entryPointDnsName: pulumi.Output<string>;
    /** Per non-retired site: endpoint, record type, probe (address, path, Host/SNI), rotation. */
    readonly entryPointTargets: Readonly<Record<string, EntryPointTarget>>;
    /** Per non-retired site: Route 53 health check ID or Traffic Manager endpoint ID (empty for none). */
    readonly healthCheckIds: pulumi.Output<Record<string, string>>;
}

/** Per-site placement of a mode: probe address, latency region, Azure location. */
function placement(lb: EntryPointConfig): (site: Site) => TargetPlacement {
    switch (lb.mode) {
        case "route53":
            return (s) => ({ probeAddress: lb.probeAddresses[s.name], latencyRegion: lb.latencyRegions[s.name] });
        case "traffic-manager":
            return (s) => ({ location: lb.locations[s.name] });
        case "none":
            return () => ({});
        default: {
            const unknown: never = lb;
            throw new Error(`unhandled entryPoint mode in ${JSON.stringify(unknown)}`);
        }
    }
}

/**
 * The component's inputs, and the stack's provider of the mode (stacks disable default providers).
 * Traffic Manager's subscription is `accounts.azure` (the config refuses another
 * `entryPoint.subscriptionId`).
 */
function componentArgs(
    cfg: QuayGeorepConfig,
    targets: readonly EntryPointTarget[],
    providers: StackProviders,
): { args: EntryPointArgs; providers: pulumi.ProviderResource[] } {
    const lb = cfg.entryPoint;
    const hostname = cfg.hostname;
    switch (lb.mode) {
        case "route53":
            return {
                args: { mode: lb.mode, hostname, zoneId: lb.zone.id, ttl: lb.ttl, targets },
                // Route 53 is a global service; its API lives in us-east-1.
                providers: [providers.aws(GLOBAL_AWS_REGION)],
            };
        case "traffic-manager":
            return {
                args: {
                    mode: lb.mode,
                    hostname,
                    resourceGroupName: lb.resourceGroupName,
                    profileName: lb.profileName,
                    relativeName: lb.relativeName,
                    ttl: lb.ttl,
                    healthCheck: lb.healthCheck,
                    targets,
                    zone: lb.zone,
                },
                providers: [providers.azure()],
            };
        case "none":
            return { args: { mode: lb.mode, hostname }, providers: [] };
        default: {
            const unknown: never = lb;
            throw new Error(`unhandled entryPoint mode in ${JSON.stringify(unknown)}`);
        }
    }
}

/** Deploys the global entry point of `cfg.entryPoint` (without the `fenced` sites) and returns its outputs. */
export function deployEntryPoint(
    cfg: QuayGeorepConfig,
    providers: StackProviders,
    fenced: readonly string[] = [],
): EntryPointOutputs {
    const lb = cfg.entryPoint;
    const targets = entryPointTargets(cfg.hostname, cfg.sites, lb.healthCheck, placement(lb), fenced);
    const component = componentArgs(cfg, targets, providers);
    const entryPoint = createEntryPoint(`${cfg.project}-entrypoint`, component.args, {
        providers: component.providers,
    });
    return {
        entryPointMode: lb.mode,
        entryPointDnsName: entryPoint.dnsName,
        entryPointTargets: Object.fromEntries(targets.map((t) => [t.site, t])),
        healthCheckIds: entryPoint.healthCheckIds,
    };
}
