/**
 * QuayRegistry: one cluster's Quay, fed by the shared config bundle.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ComponentChoices } from "../lib/domain";
import { Bundle, bundleSha256 } from "../lib/quayConfig";
import { quayRegistryManifest } from "../lib/quayRegistry";

const TYPE = "quay-georep:quay:QuayRegistry";

/** Annotation carrying the bundle digest on the Secret and the registry. */
export const BUNDLE_HASH_ANNOTATION = "quay-georep.io/bundle-sha256";

/**
 * Inputs of one cluster's registry; the cluster's Kubernetes provider comes from `opts.provider`.
 * What must exist first is passed as data: the Secret is written once `bundle` resolves, the
 * QuayRegistry once `operator` does.
 */
export interface QuayRegistryArgs {
    /** The bundle's data, byte-identical in every cluster (a secret). */
    readonly bundle: pulumi.Input<Bundle>;
    /** The namespace (created by the stack, so lifecycle Jobs can run there before this registry changes). */
    readonly namespace: pulumi.Input<string>;
    /** Name of the QuayRegistry object (default `quay`); the operator prefixes its Deployments with it. */
    readonly registryName?: pulumi.Input<string>;
    /** Name of the bundle Secret (default `georep-config-bundle`). */
    readonly bundleSecretName?: pulumi.Input<string>;
    /** Ordered location IDs of the storage preference; the first is where this cluster writes. */
    readonly storagePreference: pulumi.Input<readonly string[]>;
    /** Managed flags of the optional components (default: Clair, the HPA and monitoring managed). */
    readonly components?: pulumi.Input<ComponentChoices>;
    /** Replicas of `quay` and `mirror`, set when the HPA is unmanaged (default: none). */
    readonly replicas?: pulumi.Input<{ readonly quay: number; readonly mirror: number }>;
    /**
     * The Quay Operator's Subscription name, resolved once the operator is installed
     * (`QuayOperator.subscriptionName`): the QuayRegistry waits for it (default: installed elsewhere).
     */
    readonly operator?: pulumi.Input<string>;
}

/** Defaults of `QuayRegistryArgs`. */
export const REGISTRY_DEFAULTS = {
    registryName: "quay",
    bundleSecretName: "georep-config-bundle",
    components: { clair: true, horizontalpodautoscaler: true, monitoring: true },
} as const;

/**
 * Creates the bundle Secret and the `QuayRegistry` that points at it. Pulumi waits until the
 * operator reports the registry Available.
 */
export class QuayRegistry extends pulumi.ComponentResource {
    /**
     * SHA-256 of the bundle in the registry's spec, resolved once the QuayRegistry carrying it is
     * Available: what must wait for the registry (the rollout check) takes it.
     */
    public readonly bundleSha256: pulumi.Output<string>;
    /** The `QuayRegistry` object's name, once created (and Available: Pulumi waits for it). */
    public readonly registryName: pulumi.Output<string>;

    /** Children inherit the cluster's Kubernetes provider from `opts.provider`. */
    constructor(name: string, args: QuayRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const bundle = pulumi.secret(pulumi.output(args.bundle));
        const sha256 = pulumi.unsecret(bundle.apply(bundleSha256));

        const secret = new k8s.core.v1.Secret(
            `${name}-bundle`,
            {
                metadata: {
                    name: args.bundleSecretName ?? REGISTRY_DEFAULTS.bundleSecretName,
                    namespace: args.namespace,
                    annotations: { [BUNDLE_HASH_ANNOTATION]: sha256 },
                },
                type: "Opaque",
                stringData: bundle,
            },
            { parent: this },
        );

        const input = pulumi.output({
            name: args.registryName ?? REGISTRY_DEFAULTS.registryName,
            namespace: args.namespace,
            bundleSecretName: args.bundleSecretName ?? REGISTRY_DEFAULTS.bundleSecretName,
            storagePreference: args.storagePreference,
            components: args.components ?? REGISTRY_DEFAULTS.components,
            replicas: args.replicas,
        });
        const registry = new k8s.apiextensions.CustomResource(
            `${name}-registry`,
            {
                // Plain: they make the resource's type token (and URN); quayRegistryManifest agrees.
                apiVersion: "quay.redhat.com/v1",
                kind: "QuayRegistry",
                // Without the bundle, the Secret or the operator: a bundle still unknown in a preview
                // (it waits for the retirement gates) never hides which object this is.
                metadata: input.apply((i) => quayRegistryManifest(i).metadata),
                // The bundle's hash is in the spec: a new bundle bumps the generation, which is what
                // the operator reconciles on (an annotation would not), and rolls the pods. The spec
                // names the Secret as created and waits for the operator: its CRD must exist first.
                spec: pulumi
                    .all([input, secret.metadata.name, sha256, args.operator])
                    .apply(
                        ([i, bundleSecretName, sha]) =>
                            quayRegistryManifest({ ...i, bundleSecretName, bundleSha256: sha }).spec,
                    ),
            },
            { parent: this },
        );
        this.registryName = registry.metadata.name;
        // Pulumi returns the registry's ID once the operator reported it Available.
        this.bundleSha256 = pulumi.all([registry.id, sha256]).apply(([, sha]) => sha);

        this.registerOutputs({ bundleSha256: this.bundleSha256, registryName: this.registryName });
    }
}
