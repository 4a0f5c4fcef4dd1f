/**
 * What both bucket variants share: how they are kept, and the options that keep them.
 */
import type * as pulumi from "@pulumi/pulumi";

/** Inputs every site bucket takes. */
export interface SiteBucketArgs {
    /** The site's region (AWS) or location (Azure). */
    readonly region: string;
    /** Keep old object versions. */
    readonly versioning: boolean;
    /** Protect the bucket and its settings: true while the site is active or draining. */
    readonly protect: boolean;
    /** The site and its state, as tags (`quay-georep-site`, `quay-georep-state`) on the bucket. */
    readonly site: string;
    readonly state: string;
}

/**
 * Tags naming the site and its state. The policy pack reads the state: a retired site's bucket is
 * unprotected on purpose (so removing the site from config can forget it, retained in the cloud).
 */
export function siteTags(args: SiteBucketArgs): Record<string, string> {
    return { "quay-georep-site": args.site, "quay-georep-state": args.state };
}

/**
 * Options for a bucket and every resource that configures it: never deleted by this program
 * (`retainOnDelete`, so removing a site from config leaves its data and settings in place), and
 * `protect`ed while the site serves.
 */
export function keep(parent: pulumi.Resource, provider: pulumi.ProviderResource, protect: boolean) {
    return { parent, provider, protect, retainOnDelete: true } satisfies pulumi.CustomResourceOptions;
}
