/**
 * `entryPoint` in mode `traffic-manager`: the profile's resource group, names and TTL, per site
 * the Azure location performance routing uses, and an optional Azure DNS zone for the CNAME.
 */
import type { HealthCheckSettings } from "../../lib/entryPoint";
import { AZURE_REGIONS } from "../regions";
import { isDnsLabel, ObjectReader } from "../validate";
import { Context, siteMap, ttlOf, zoneName } from "./common";

/** An Azure Traffic Manager profile (performance routing), one external endpoint per site. */
export interface TrafficManagerEntryPointConfig {
    readonly mode: "traffic-manager";
    /** An existing resource group for the profile. */
    readonly resourceGroupName: string;
    /** The profile's resource name (default: `relativeName`). */
    readonly profileName: string;
    /** The profile's DNS label: `<relativeName>.trafficmanager.net`, unique across Azure. */
    readonly relativeName: string;
    /** Subscription for the profile (default: the Azure credentials' subscription). */
    readonly subscriptionId?: string;
    /** DNS TTL in seconds (default 60). */
    readonly ttl: number;
    readonly healthCheck: HealthCheckSettings;
    /** Per non-retired site: the Azure region performance routing attributes it to. */
    readonly locations: Readonly<Record<string, string>>;
    /** An Azure DNS zone in which to CNAME `hostname` to the profile; absent: point DNS yourself. */
    readonly zone?: { readonly name: string; readonly resourceGroupName: string };
}

const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses the traffic-manager keys; problems are recorded, never thrown. */
export function parseTrafficManager(
    lb: ObjectReader,
    ctx: Context,
    healthCheck: HealthCheckSettings,
): TrafficManagerEntryPointConfig {
    const p = ctx.problems;
    const resourceGroupName = lb.string("resourceGroupName", {
        required: true,
        fix: "name an existing resource group for the Traffic Manager profile",
    });
    if (resourceGroupName !== undefined && !RESOURCE_GROUP.test(resourceGroupName)) {
        p.add(
            "entryPoint.resourceGroupName",
            resourceGroupName,
            "is not an Azure resource group name",
            "use 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
        );
    }
    const relativeName = lb.string("relativeName", {
        required: true,
        fix: 'choose the profile\'s DNS label, unique in trafficmanager.net, e.g. "quay-example"',
    });
    if (relativeName !== undefined && !isDnsLabel(relativeName)) {
        p.add(
            "entryPoint.relativeName",
            relativeName,
            "is not a DNS label",
            "use lower-case letters, digits and '-', at most 63 characters",
        );
    }
    const profileName = lb.string("profileName") ?? relativeName ?? "";
    if (lb.has("profileName") && !PROFILE_NAME.test(profileName)) {
        p.add(
            "entryPoint.profileName",
            profileName,
            "is not a Traffic Manager profile name",
            "use 1-63 letters, digits, '-' or '.', starting with a letter or digit",
        );
    }
    const subscriptionId = lb.string("subscriptionId");
    if (subscriptionId !== undefined && !GUID.test(subscriptionId)) {
        p.add(
            "entryPoint.subscriptionId",
            subscriptionId,
            "is not a subscription ID",
            'use the GUID from "az account show --query id"',
        );
    }
    const ttl = ttlOf(lb);

    const given = siteMap(lb, "locations", ctx, "an Azure region");
    const locations: Record<string, string> = {};
    for (const site of ctx.sites.filter((s) => s.state !== "retired")) {
        const path = `entryPoint.locations.${site.name}`;
        const location = given.get(site) ?? (site.cloud === "azure" ? site.region : undefined);
        if (location === undefined) {
            p.add(
                path,
                location,
                `is required for a site on ${site.cloud}`,
                'name the Azure region nearest to its cluster (performance routing measures latency to Azure regions), e.g. "eastus"',
            );
        } else if (!AZURE_REGIONS.has(location)) {
            p.add(path, location, "is not an Azure region", 'use e.g. "eastus" or "westeurope"');
        } else {
            locations[site.name] = location;
        }
    }

    const zoneReader = lb.object("zone", ["name", "resourceGroupName"]);
    let zone: TrafficManagerEntryPointConfig["zone"];
    if (zoneReader) {
        const name = zoneName(
            zoneReader,
            ctx,
            true,
            "use a name below the apex, or drop entryPoint.zone and point the apex at the profile with an Azure DNS alias record yourself",
        );
        const group = zoneReader.string("resourceGroupName", {
            required: true,
            fix: "name the resource group of the Azure DNS zone",
        });
        if (group !== undefined && !RESOURCE_GROUP.test(group)) {
            p.add(
                "entryPoint.zone.resourceGroupName",
                group,
                "is not an Azure resource group name",
                "use 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
            );
        }
        zoneReader.done();
        if (name !== undefined && group !== undefined) zone = { name, resourceGroupName: group };
    }
    return {
        mode: "traffic-manager",
        resourceGroupName: resourceGroupName ?? "",
        profileName,
        relativeName: relativeName ?? "",
        subscriptionId,
        ttl,
        healthCheck,
        locations,
        zone,
    };
}
