/**
 * A site stack's role: one cluster's namespace, operator, bundle Secret and QuayRegistry, and the
 * proof that its pods run the bundle before the stack says so in its outputs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { QuayOperator } from "../components/quayOperator";
import { QuayRegistry } from "../components/quayRegistry";
import { RolloutCheck } from "../components/rolloutCheck";
import type { Bundle } from "../lib/quayConfig";
import type { QuayGeorepConfig, Site } from "../config/config";
import { stackName } from "./deployed";

export { stackName } from "./deployed";

/** What the site stack exports. */
export interface SiteOutputs {
    /** SHA-256 of the bundle this cluster's pods run (resolved only once they run it). */
    readonly deployedBundleSha256: pulumi.Output<string>;
    /** The location IDs of this cluster's storage preference. */
    readonly storagePreference: readonly string[];
    /** The topology key of the bundle the pods run (the shared stack waits for it before lifecycle Jobs). */
    readonly deployedTopology: pulumi.Output<string>;
    /** The standby epoch of the bundle the pods run (after a failover, the entry point waits for it). */
    readonly deployedEpoch: pulumi.Output<number>;
}

/** The shared stack's bundle and the topology it was rendered for. */
export interface SharedBundle {
    readonly bundle: pulumi.Output<Bundle>;
    readonly topology: pulumi.Input<string>;
}

/**
 * The bundle of the shared stack, read through the StackReference `readDeployed` made: always a
 * secret (it holds the registry's keys and passwords). `ref.getOutput("bundle")` gives the same
 * value, but first copies the whole of the referenced outputs (@pulumi/pulumi stackReference.js
 * `getOutput`: `all([output(name), this.outputs])`, whose `outputRec` makes a new `Set` per object
 * on the way), 140 KB at 100 sites. An `apply` on `outputs` reads the one field: the same
 * resources, the same unknown in a preview whose outputs are unknown (the function is not run),
 * and secret whatever `secretOutputNames` says. test/sdk.test.ts holds it to `getOutput`'s answer.
 */
export function bundleOutput(ref: pulumi.StackReference): pulumi.Output<Bundle> {
    return pulumi.secret(ref.outputs.apply((outputs) => outputs.bundle as Bundle));
}

/** The bundle of the shared stack and the topology it was rendered for (`bundleOutput`). */
export function bundleFromSharedStack(
    cfg: QuayGeorepConfig,
    ref: pulumi.StackReference | undefined,
    topology: string,
): SharedBundle {
    if (ref === undefined) throw new Error(`no StackReference to the shared stack ${stackName(cfg, cfg.sharedStack)}`);
    return { bundle: bundleOutput(ref), topology };
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

/** How one site's cluster is deployed. */
export interface SiteDeployment {
    /** The site, in the state the bundle gives it. */
    readonly site: Site;
    /** Its storage preference (resolved against the bundle). */
    readonly storagePreference: readonly string[];
    /**
     * The bundle and its topology. The bundle Secret is written once the bundle resolves: the
     * shared stack's waits for its retirement gates (stacks/deploy.ts).
     */
    readonly shared: SharedBundle;
    /** The Quay image the lifecycle Jobs run here, checked against the operator's (shared stack only). */
    readonly expectQuayImage?: string;
    /** The standby epoch of the bundle (`standby.epoch` of the shared stack's record). */
    readonly epoch: number;
}

/** What a site's cluster reports once its pods run the bundle. */
export interface SiteResult extends SiteOutputs {
    /**
     * The Quay image the operator runs in this cluster, resolved once the rollout check passed;
     * only with `expectQuayImage`. The lifecycle Jobs run it, and so start only after the check.
     */
    readonly verifiedQuayImage?: pulumi.Output<string>;
}

/**
 * Deploys one site's cluster resources and waits until its pods run the bundle. In order, each
 * step waiting for the previous one through the data it takes: the operator (its Subscription
 * resolves once installed), the bundle Secret and QuayRegistry (its spec waits for the operator,
 * its hash resolves once it is Available), the rollout check (it takes that hash).
 */
export function deploySite(cfg: QuayGeorepConfig, d: SiteDeployment, cluster: Cluster): SiteResult {
    const s = cfg.stack;
    const name = `${cfg.project}-${d.site.name}`;
    const inCluster = { provider: cluster.provider };

    const operator = cfg.operator.install
        ? new QuayOperator(
              `${name}-operator`,
              {
                  channel: cfg.operator.channel,
                  source: cfg.operator.source,
                  sourceNamespace: cfg.operator.sourceNamespace,
                  namespace: cfg.operator.namespace,
                  startingCSV: cfg.operator.startingCSV,
              },
              inCluster,
          )
        : undefined;

    const registry = new QuayRegistry(
        name,
        {
            bundle: d.shared.bundle,
            namespace: cluster.namespace,
            registryName: s.registryName,
            bundleSecretName: s.bundleSecretName,
            storagePreference: d.storagePreference,
            components: s.components,
            replicas: s.replicas,
            operator: operator?.subscriptionName,
        },
        inCluster,
    );

    const rollout = new RolloutCheck(
        `${name}-rollout`,
        {
            namespace: cluster.namespace,
            registryName: s.registryName,
            bundleSha256: registry.bundleSha256,
            image: cfg.lifecycle.quayImage,
            timeoutMinutes: cfg.lifecycle.timeouts.rollout,
            expectImage: d.expectQuayImage,
        },
        inCluster,
    );

    const verified = rollout.verifiedBundleSha256;
    return {
        deployedBundleSha256: verified,
        storagePreference: d.storagePreference,
        deployedTopology: pulumi.all([verified, d.shared.topology]).apply(([, topology]) => topology),
        deployedEpoch: verified.apply(() => d.epoch),
        ...(rollout.verifiedImage ? { verifiedQuayImage: rollout.verifiedImage } : {}),
    };
}
