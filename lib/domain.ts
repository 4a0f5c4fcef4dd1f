/**
 * The domain every layer shares: sites and their lifecycle states, the Quay settings every
 * cluster gets, the QuayRegistry's component choices and how the operator is installed. Plain
 * types, no logic: config/ parses into them, lib/ and components/ compute from them.
 */

/** Where a site's bucket lives. */
export type Cloud = "aws" | "azure";
/** A site's lifecycle state: `active` serves and receives writes; `draining` only serves reads; `retired` is gone. */
export type SiteState = "active" | "draining" | "retired";

/** One region: a cluster, its bucket and its Quay storage location. */
export interface Site {
    /** Quay storage location ID (`DISTRIBUTED_STORAGE_CONFIG` key), e.g. `usstorage`. */
    readonly name: string;
    /** The Pulumi stack that deploys this site's cluster. */
    readonly stack: string;
    /** Cloud of the site's bucket. */
    readonly cloud: Cloud;
    /** That cloud's region for the bucket. */
    readonly region: string;
    /** Lifecycle state (default `active`). */
    readonly state: SiteState;
    /** Hostname or IP of the cluster's router, for the global entry point. */
    readonly endpoint: string;
}

export const CLOUDS: readonly Cloud[] = ["aws", "azure"];
export const SITE_STATES: readonly SiteState[] = ["active", "draining", "retired"];

/** Quay settings every cluster shares (they land in config.yaml). */
export interface QuaySettings {
    /** `AUTHENTICATION_TYPE` (default `Database`). */
    readonly authenticationType: "Database" | "LDAP" | "JWT" | "Keystone" | "OIDC" | "AppToken";
    /** `DEFAULT_TAG_EXPIRATION` (default `2w`). */
    readonly defaultTagExpiration: string;
    /** `TAG_EXPIRATION_OPTIONS` (default `[2w]`). */
    readonly tagExpirationOptions: readonly string[];
    /** `SUPER_USERS` (default none). */
    readonly superUsers: readonly string[];
}

/** The optional QuayRegistry components whose managed flag a stack may choose. */
export interface ComponentChoices {
    readonly clair: boolean;
    readonly horizontalpodautoscaler: boolean;
    readonly monitoring: boolean;
}

/** How the Quay Operator is installed through OLM in each cluster. */
export interface OperatorSettings {
    /** Install it from this program (per stack, default true); false where it is managed elsewhere. */
    readonly install: boolean;
    /** Subscription channel (default `stable-3.18`, the operator whose CRD this program is tested against). */
    readonly channel: string;
    /** Catalog source (default `redhat-operators`) and its namespace (default `openshift-marketplace`). */
    readonly source: string;
    readonly sourceNamespace: string;
    /** Namespace of the Subscription (default `openshift-operators`, which has a global OperatorGroup). */
    readonly namespace: string;
    /** Pin the first install to this CSV, e.g. `quay-operator.v3.18.0` (default: the channel head). */
    readonly startingCSV?: string;
}
