/**
 * TrafficManagerEntryPoint: an Azure Traffic Manager profile with performance routing and an
 * HTTPS monitor carrying Host = the global hostname, one external endpoint per site, and
 * optionally the CNAME from the hostname to the profile in an Azure DNS zone.
 */
import * as dns from "@pulumi/azure-native/dns";
import type { Provider } from "@pulumi/azure-native/provider";
import * as trafficmanager from "@pulumi/azure-native/trafficmanager";
import * as pulumi from "@pulumi/pulumi";
import { EntryPointTarget, trafficManagerEndpointArgs, trafficManagerMonitorConfig } from "../../lib/entryPoint";
import type { HealthCheckSettings } from "../../lib/entryPoint";

const TYPE = "quay-georep:entrypoint:TrafficManagerEntryPoint";

/** Inputs of the Traffic Manager entry point. Plain values: they decide how many endpoints exist. */
export interface TrafficManagerEntryPointArgs {
    /** The azure-native provider (explicit; no default provider). */
    readonly provider: Provider;
    /** The global hostname: the monitor's Host header and the CNAME's name. */
    readonly hostname: string;
    /** An existing resource group for the profile. */
    readonly resourceGroupName: string;
    /** The profile's resource name. */
    readonly profileName: string;
    /** The profile's DNS label (`<relativeName>.trafficmanager.net`). */
    readonly relativeName: string;
    /** DNS TTL in seconds, for the profile's answers and the CNAME. */
    readonly ttl: number;
    /** Probe path, interval and failure threshold. */
    readonly healthCheck: HealthCheckSettings;
    /** Every non-retired site; active ones Enabled, draining ones Disabled. */
    readonly targets: readonly EntryPointTarget[];
    /** Azure DNS zone for the hostname's CNAME (default: none; point DNS yourself). */
    readonly zone?: { readonly name: string; readonly resourceGroupName: string };
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

    constructor(name: string, args: TrafficManagerEntryPointArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = args.provider;
        const profile = new trafficmanager.Profile(
            `${name}-profile`,
            {
                profileName: args.profileName,
                resourceGroupName: args.resourceGroupName,
                location: "global",
                profileStatus: "Enabled",
                trafficRoutingMethod: "Performance",
                dnsConfig: { relativeName: args.relativeName, ttl: args.ttl },
                monitorConfig: trafficManagerMonitorConfig(args.hostname, args.healthCheck),
            },
            { parent: this, provider },
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
                { parent: this, provider, dependsOn: [profile] },
            );
            ids[target.site] = endpoint.id;
        }

        if (args.zone !== undefined) {
            const relative = args.hostname.slice(0, -(args.zone.name.length + 1));
            new dns.RecordSet(
                `${name}-cname`,
                {
                    zoneName: args.zone.name,
                    resourceGroupName: args.zone.resourceGroupName,
                    relativeRecordSetName: relative,
                    recordType: "CNAME",
                    ttl: args.ttl,
                    cnameRecord: { cname: this.dnsName },
                },
                { parent: this, provider },
            );
        }
        this.healthCheckIds = pulumi.output(ids);
        this.registerOutputs({ dnsName: this.dnsName, healthCheckIds: this.healthCheckIds });
    }
}
