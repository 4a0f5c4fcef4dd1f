/**
 * TrafficManagerEntryPoint: an Azure Traffic Manager profile with performance routing and an
 * HTTPS monitor carrying Host = the global hostname, one external endpoint per site, and
 * optionally the CNAME from the hostname to the profile in an Azure DNS zone.
 */
import * as dns from "@pulumi/azure-native/dns";
import * as trafficmanager from "@pulumi/azure-native/trafficmanager";
import * as pulumi from "@pulumi/pulumi";
import { EntryPointTarget, trafficManagerEndpointArgs, trafficManagerMonitorConfig } from "../../lib/entryPoint";
import type { HealthCheckSettings } from "../../lib/entryPoint";

const TYPE = "quay-georep:entrypoint:TrafficManagerEntryPoint";

/** An Azure DNS zone. */
export interface DnsZoneArgs {
    /** The zone's domain, lower-case without the trailing dot, e.g. `example.com`. */
    readonly name: pulumi.Input<string>;
    /** The zone's resource group. */
    readonly resourceGroupName: pulumi.Input<string>;
}

/** Inputs of the Traffic Manager entry point; its subscription is the azure-native provider's (`opts.providers`). */
export interface TrafficManagerEntryPointArgs {
    /** The global hostname: the monitor's Host header and the CNAME's name (inside `zone`). */
    readonly hostname: pulumi.Input<string>;
    /** An existing resource group for the profile. */
    readonly resourceGroupName: pulumi.Input<string>;
    /** The profile's resource name. */
    readonly profileName: pulumi.Input<string>;
    /** The profile's DNS label (`<relativeName>.trafficmanager.net`). */
    readonly relativeName: pulumi.Input<string>;
    /** Probe path, interval and failure threshold. */
    readonly healthCheck: pulumi.Input<HealthCheckSettings>;
    /** Every non-retired site; plain: one endpoint each, active ones Enabled, draining ones Disabled. */
    readonly targets: readonly EntryPointTarget[];
    /** DNS TTL in seconds, for the profile's answers and the CNAME (default 60). */
    readonly ttl?: pulumi.Input<number>;
    /** Azure DNS zone for the hostname's CNAME (default: none, point DNS yourself); plain presence: it decides the record. */
    readonly zone?: DnsZoneArgs;
}

/**
 * Creates `<name>-profile`, `<name>-<site>-endpoint` per non-retired site and, with a zone,
 * `<name>-cname`. Endpoints are standalone resources keyed by site name (never inline in the
 * profile: the provider warns that mixing both deletes endpoints).
 */
export class TrafficManagerEntryPoint extends pulumi.ComponentResource {
    /** The profile's DNS name (`<relativeName>.trafficmanager.net`). */
    public readonly dnsName: pulumi.Output<string>;
    /** Endpoint resource ID per non-retired site (Traffic Manager keeps health per endpoint). */
    public readonly healthCheckIds: pulumi.Output<Record<string, string>>;

    /** Children inherit the `azure-native` provider from `opts.providers`. */
    constructor(name: string, args: TrafficManagerEntryPointArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const ttl = args.ttl ?? 60;
        const profile = new trafficmanager.Profile(
            `${name}-profile`,
            {
                profileName: args.profileName,
                resourceGroupName: args.resourceGroupName,
                location: "global",
                profileStatus: "Enabled",
                trafficRoutingMethod: "Performance",
                dnsConfig: { relativeName: args.relativeName, ttl },
                monitorConfig: pulumi
                    .all([args.hostname, args.healthCheck])
                    .apply(([hostname, health]) => trafficManagerMonitorConfig(hostname, health)),
            },
            { parent: this },
        );
        this.dnsName = profile.dnsConfig.apply((d) => {
            if (d?.fqdn === undefined)
                throw new pulumi.ResourceError("the Traffic Manager profile reported no fqdn", this);
            return d.fqdn;
        });

        const ids: Record<string, pulumi.Output<string>> = {};
        for (const target of args.targets) {
            const endpoint = new trafficmanager.Endpoint(
                `${name}-${target.site}-endpoint`,
                {
                    ...trafficManagerEndpointArgs(target),
                    profileName: args.profileName,
                    resourceGroupName: args.resourceGroupName,
                },
                { parent: this, dependsOn: [profile] },
            );
            ids[target.site] = endpoint.id;
        }

        if (args.zone !== undefined) {
            const zone = args.zone;
            // The hostname's labels below the zone (the config checks that the zone holds it).
            const relative = pulumi
                .all([args.hostname, zone.name])
                .apply(([hostname, zoneName]) => hostname.slice(0, -(zoneName.length + 1)));
            new dns.RecordSet(
                `${name}-cname`,
                {
                    zoneName: zone.name,
                    resourceGroupName: zone.resourceGroupName,
                    relativeRecordSetName: relative,
                    recordType: "CNAME",
                    ttl,
                    cnameRecord: { cname: this.dnsName },
                },
                { parent: this },
            );
        }
        this.healthCheckIds = pulumi.output(ids);
        this.registerOutputs({ dnsName: this.dnsName, healthCheckIds: this.healthCheckIds });
    }
}
