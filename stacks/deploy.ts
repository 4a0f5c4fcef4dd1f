/**
 * The composition: what a stack deploys follows from its role in the topology.
 * - the shared stack renders the bundle (and owns shared infrastructure);
 * - a stack named by a non-retired site deploys that site's cluster, with the bundle rendered by
 *   the shared stack (its own, or read through a StackReference, never re-rendered);
 * - a stack whose site is retired deploys nothing, so `pulumi up` removes its cluster resources.
 */
import * as pulumi from "@pulumi/pulumi";
import type { QuayGeorepConfig } from "./config";
import { deployEntryPoint, EntryPointOutputs } from "./entryPoint";
import { deployShared } from "./shared";
import { bundleFromSharedStack, deploySite } from "./site";

/** The stack outputs, named as they appear in `pulumi stack output`. */
export interface StackOutputs extends Partial<EntryPointOutputs> {
    /** `shared`, `site`, or both joined with `+`, or `retired`. */
    readonly role: string;
    /** The global URL of the registry. */
    readonly registryUrl: string;
    readonly bundle?: pulumi.Output<Record<string, string>>;
    readonly bundleSha256?: pulumi.Output<string>;
    readonly locations?: readonly string[];
    readonly activeLocations?: readonly string[];
    readonly site?: string;
    readonly storagePreference?: readonly string[];
    readonly deployedBundleSha256?: pulumi.Output<string>;
}

/** Deploys whatever this stack's role calls for and returns its outputs. */
export function deploy(cfg: QuayGeorepConfig): StackOutputs {
    const site = cfg.stack.site;
    const shared = cfg.stack.isShared ? deployShared(cfg) : undefined;
    // The entry point is shared infrastructure: one per deployment, owned by the shared stack.
    const entryPoint = cfg.stack.isShared ? deployEntryPoint(cfg) : undefined;
    const siteOutputs = site ? deploySite(cfg, site, shared?.bundle ?? bundleFromSharedStack(cfg, site)) : undefined;
    const roles = [shared ? "shared" : undefined, site ? "site" : undefined].filter(Boolean);
    return {
        role: roles.length > 0 ? roles.join("+") : "retired",
        registryUrl: `https://${cfg.hostname}`,
        ...(shared ?? {}),
        ...(entryPoint ?? {}),
        ...(site ? { site: site.name } : {}),
        ...(siteOutputs ?? {}),
    };
}
