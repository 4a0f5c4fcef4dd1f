/**
 * quay-georep: geo-replicated Red Hat Quay, one Pulumi stack per region.
 *
 * The stack's role (shared, site, or both) follows from the validated config; see
 * stacks/deploy.ts. Its outputs are the `StackOutputs` of that role: a stack exports only what
 * it produces (the shared stack: `bundle`, `bundleSha256`, `locations`, `activeLocations`; a site
 * stack: `site`, `storagePreference`, `deployedBundleSha256`; every stack: `role`, `registryUrl`).
 */
import { deploy } from "./stacks/deploy";
import { loadConfig } from "./config/load";

export = deploy(loadConfig());
