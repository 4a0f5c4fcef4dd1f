/**
 * What both bucket variants share: the tags that name their site, and the options that keep them.
 */
import type * as pulumi from "@pulumi/pulumi";

/** What a site bucket's tags say about its site. */
export interface SiteLabels {
    /** The site's name (`quay-georep-site`). */
    readonly site: pulumi.Input<string>;
    /** The site's state (`quay-georep-state`): `active`, `draining` or `retired`. */
    readonly state: pulumi.Input<string>;
}

/**
 * Tags naming the site and its state. The policy pack reads the state: a retired site's bucket is
 * unprotected on purpose (so removing the site from config can forget it, retained in the cloud).
 */
export function siteTags(labels: SiteLabels): Record<string, pulumi.Input<string>> {
    return { "quay-georep-site": labels.site, "quay-georep-state": labels.state };
}

/**
 * Options for a bucket and every resource that configures it: never deleted by this program
 * (`retainOnDelete`, so removing a site from config leaves its data and settings in place), and
 * `protect`ed while the site serves. The provider is the parent's (`opts.providers`).
 */
export function keep(parent: pulumi.Resource, protect: boolean) {
    return { parent, protect, retainOnDelete: true } satisfies pulumi.CustomResourceOptions;
}
