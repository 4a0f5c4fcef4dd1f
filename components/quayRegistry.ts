/**
 * QuayRegistry: one cluster's Quay, fed by the shared config bundle.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Bundle, bundleSha256 } from "../lib/quayConfig";
import { quayRegistryManifest, QuayRegistryInput } from "../lib/quayRegistry";

const TYPE = "quay-georep:quay:QuayRegistry";

/** Annotation carrying the bundle digest on the Secret and the registry. */
export const BUNDLE_HASH_ANNOTATION = "quay-georep.io/bundle-sha256";

/** Inputs of one cluster's registry. */
export interface QuayRegistryArgs {
    /** The cluster's Kubernetes provider (explicit; no default provider). */
    readonly provider: k8s.Provider;
    /** The bundle's data, byte-identical in every cluster (a secret). */
    readonly bundle: pulumi.Input<Bundle>;
    /** The namespace (created by the stack, so lifecycle Jobs can run there before this registry changes). */
    readonly namespace: pulumi.Input<string>;
    /** What the bundle Secret waits for (the retirement gates: the bundle changes only once they pass). */
    readonly bundleDependsOn?: readonly pulumi.Resource[];
    /** What the QuayRegistry waits for besides the Secret (the operator's Subscription). */
    readonly registryDependsOn?: readonly pulumi.Resource[];
    /** Names, storage preference, component choices and replicas (see `QuayRegistryInput`). */
    readonly registry: QuayRegistryInput;
}

/**
 * Creates the bundle Secret and the `QuayRegistry` that points at it. Pulumi waits until the
 * operator reports the registry Available.
 */
export class QuayRegistry extends pulumi.ComponentResource {
    /** SHA-256 of the bundle this cluster was given. */
    public readonly bundleSha256: pulumi.Output<string>;
    /** The `QuayRegistry` object's name, once created (and Available: Pulumi waits for it). */
    public readonly registryName: pulumi.Output<string>;
    /** The QuayRegistry itself, for what must wait until it is Available (its migration ran). */
    public readonly registry: k8s.apiextensions.CustomResource;

    constructor(name: string, args: QuayRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = args.provider;
        const reg = args.registry;
        const bundle = pulumi.secret(pulumi.output(args.bundle));
        this.bundleSha256 = pulumi.unsecret(bundle.apply(bundleSha256));

        const namespace = args.namespace;

        const secret = new k8s.core.v1.Secret(
            `${name}-bundle`,
            {
                metadata: {
                    name: reg.bundleSecretName,
                    namespace,
                    annotations: { [BUNDLE_HASH_ANNOTATION]: this.bundleSha256 },
                },
                type: "Opaque",
                stringData: bundle,
            },
            { parent: this, provider, dependsOn: [...(args.bundleDependsOn ?? [])] },
        );

        const manifest = quayRegistryManifest(reg);
        const registry = (this.registry = new k8s.apiextensions.CustomResource(
            `${name}-registry`,
            {
                apiVersion: manifest.apiVersion,
                kind: manifest.kind,
                metadata: { ...manifest.metadata, namespace },
                // The bundle's hash is in the spec: a new bundle bumps the generation, which is what
                // the operator reconciles on (an annotation would not), and rolls the pods.
                spec: this.bundleSha256.apply((bundleSha256) => quayRegistryManifest({ ...reg, bundleSha256 }).spec),
            },
            { parent: this, provider, dependsOn: [secret, ...(args.registryDependsOn ?? [])] },
        ));
        this.registryName = registry.metadata.name;

        this.registerOutputs({ bundleSha256: this.bundleSha256, registryName: this.registryName });
    }
}
