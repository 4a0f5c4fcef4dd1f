/**
 * A site stack's role: deploy one cluster's bundle Secret and QuayRegistry.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { QuayRegistry } from "../components/quayRegistry";
import type { Bundle } from "../lib/quayConfig";
import type { QuayGeorepConfig, Site } from "./config";

/** What the site stack exports. */
export interface SiteOutputs {
    /** SHA-256 of the bundle deployed to this cluster. */
    readonly deployedBundleSha256: pulumi.Output<string>;
    /** The location IDs of this cluster's storage preference. */
    readonly storagePreference: readonly string[];
}

/** The bundle of the shared stack, read through a StackReference and checked against this stack's topology. */
export function bundleFromSharedStack(cfg: QuayGeorepConfig, site: Site): pulumi.Output<Bundle> {
    const name = `${pulumi.getOrganization()}/${cfg.project}/${cfg.sharedStack}`;
    const ref = new pulumi.StackReference(`${cfg.project}-shared-stack`, { name });
    const locations = ref.getOutput("locations");
    return pulumi.all([ref.getOutput("bundle"), locations]).apply(([bundle, locs]) => {
        const known: unknown[] = Array.isArray(locs) ? locs : [];
        const missing = [site.name, ...cfg.stack.storagePreference].filter((n) => !known.includes(n));
        if (bundle === undefined || missing.length > 0) {
            // A clear ordering mistake: this stack knows a site the shared stack has not rendered yet.
            throw new pulumi.RunError(
                `the shared stack "${name}" has no bundle for location(s) ${missing.join(", ") || site.name}; ` +
                    `its bundle lists [${known.join(", ")}]. Run "pulumi up -s ${cfg.sharedStack}" first, then this stack.`,
            );
        }
        return bundle as Bundle;
    });
}

/** The cluster's explicit Kubernetes provider: `clusterIdentifier` keeps it stable across kubeconfig rotations. */
export function clusterProvider(cfg: QuayGeorepConfig): k8s.Provider {
    const s = cfg.stack;
    return new k8s.Provider(`${cfg.project}-${s.name}-cluster`, {
        kubeconfig: s.kubeconfig ? pulumi.secret(s.kubeconfig.reveal()) : undefined,
        context: s.kubeContext,
        clusterIdentifier: s.clusterName,
    });
}

/** Deploys one site's cluster resources. */
export function deploySite(cfg: QuayGeorepConfig, site: Site, bundle: pulumi.Output<Bundle>): SiteOutputs {
    const s = cfg.stack;
    const registry = new QuayRegistry(`${cfg.project}-${site.name}`, {
        provider: clusterProvider(cfg),
        bundle,
        registry: {
            name: s.registryName,
            namespace: s.namespace,
            bundleSecretName: s.bundleSecretName,
            storagePreference: s.storagePreference,
            components: s.components,
            replicas: s.replicas,
        },
    });
    return { deployedBundleSha256: registry.bundleSha256, storagePreference: s.storagePreference };
}
