/**
 * A site stack's role: one cluster's namespace, operator, bundle Secret and QuayRegistry.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { QuayOperator } from "../components/quayOperator";
import { QuayRegistry } from "../components/quayRegistry";
import type { Bundle } from "../lib/quayConfig";
import type { QuayGeorepConfig, Site } from "./config";

/** What the site stack exports. */
export interface SiteOutputs {
    /** SHA-256 of the bundle deployed to this cluster. */
    readonly deployedBundleSha256: pulumi.Output<string>;
    /** The location IDs of this cluster's storage preference. */
    readonly storagePreference: readonly string[];
    /** The topology key of the bundle deployed (the shared stack waits for it before lifecycle Jobs). */
    readonly deployedTopology: pulumi.Input<string>;
}

/** The shared stack's bundle and the topology it was rendered for. */
export interface SharedBundle {
    readonly bundle: pulumi.Output<Bundle>;
    readonly topology: pulumi.Input<string>;
}

/** The fully qualified name a StackReference uses for a stack of this project. */
export function stackName(cfg: QuayGeorepConfig, stack: string): string {
    return `${pulumi.getOrganization()}/${cfg.project}/${stack}`;
}

/** The bundle of the shared stack, read through a StackReference and checked against this stack's topology. */
export function bundleFromSharedStack(cfg: QuayGeorepConfig, site: Site): SharedBundle {
    const name = stackName(cfg, cfg.sharedStack);
    const ref = new pulumi.StackReference(`${cfg.project}-shared-stack`, { name });
    const locations = ref.getOutput("locations");
    const bundle = pulumi.all([ref.getOutput("bundle"), locations]).apply(([b, locs]) => {
        const known: unknown[] = Array.isArray(locs) ? locs : [];
        const missing = [...new Set([site.name, ...cfg.stack.storagePreference])].filter((n) => !known.includes(n));
        if (b === undefined || missing.length > 0) {
            // A clear ordering mistake: this stack knows a site the shared stack has not rendered yet.
            throw new pulumi.RunError(
                `the shared stack "${name}" has no bundle for location(s) ${missing.join(", ") || site.name}; ` +
                    `its bundle lists [${known.join(", ")}]. Run "pulumi up -s ${cfg.sharedStack}" first, then this stack.`,
            );
        }
        return b as Bundle;
    });
    return { bundle, topology: ref.getOutput("topology").apply((t) => String(t ?? "")) };
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

/**
 * The stack's namespace in its cluster (created unless `createNamespace: false`). It is created
 * by the stack, not by the registry, so lifecycle Jobs can run in it before the registry changes.
 */
export function clusterNamespace(cfg: QuayGeorepConfig, provider: k8s.Provider): pulumi.Output<string> {
    const s = cfg.stack;
    if (!s.createNamespace) return pulumi.output(s.namespace);
    return new k8s.core.v1.Namespace(
        `${cfg.project}-${s.name}-namespace`,
        { metadata: { name: s.namespace } },
        { provider },
    ).metadata.name;
}

/** The cluster a stack deploys into. */
export interface Cluster {
    readonly provider: k8s.Provider;
    readonly namespace: pulumi.Output<string>;
}

/** Deploys one site's cluster resources; `bundleDependsOn` holds the bundle Secret back (retirement gates). */
export function deploySite(
    cfg: QuayGeorepConfig,
    site: Site,
    shared: SharedBundle,
    cluster: Cluster,
    bundleDependsOn: readonly pulumi.Resource[] = [],
): SiteOutputs & { readonly registry: QuayRegistry } {
    const s = cfg.stack;
    const operator = cfg.operator.install
        ? new QuayOperator(`${cfg.project}-${site.name}-operator`, {
              provider: cluster.provider,
              settings: cfg.operator,
          })
        : undefined;
    const registry = new QuayRegistry(`${cfg.project}-${site.name}`, {
        provider: cluster.provider,
        namespace: cluster.namespace,
        bundle: shared.bundle,
        bundleDependsOn,
        registryDependsOn: operator ? [operator.subscription] : [],
        registry: {
            name: s.registryName,
            namespace: s.namespace,
            bundleSecretName: s.bundleSecretName,
            storagePreference: s.storagePreference,
            components: s.components,
            replicas: s.replicas,
        },
    });
    return {
        deployedBundleSha256: registry.bundleSha256,
        storagePreference: s.storagePreference,
        deployedTopology: shared.topology,
        registry,
    };
}
