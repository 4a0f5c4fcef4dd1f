/**
 * Pure construction of a geo-replicated `QuayRegistry` (quay.redhat.com/v1).
 *
 * Rules from the operator (docs/facts §3): list all 11 component kinds, or the operator writes the
 * missing ones back into spec (a permanent diff); overrides only on managed components; the
 * storage preference env on both `quay` and `mirror`; explicit replicas whenever the HPA is
 * unmanaged, since an override block without them drops the Deployment to 1; the bundle's
 * hash in the spec, so a new bundle is reconciled at once and rolls the pods.
 */
import type { ComponentChoices } from "./domain";
import { BUNDLE_HASH_ENV } from "./rolloutCheck";

/** Every component kind the operator knows, in the CRD's order. */
export const COMPONENT_KINDS = [
    "quay",
    "postgres",
    "clair",
    "clairpostgres",
    "redis",
    "horizontalpodautoscaler",
    "objectstorage",
    "route",
    "mirror",
    "monitoring",
    "tls",
] as const;
export type ComponentKind = (typeof COMPONENT_KINDS)[number];

/** Components geo-replication requires to be unmanaged: shared services and the shared TLS pair. */
export const UNMANAGED_KINDS: readonly ComponentKind[] = ["postgres", "clairpostgres", "redis", "objectstorage", "tls"];

/** The env var Quay reads for the per-cluster storage preference (split on whitespace). */
export const PREFERENCE_ENV = "QUAY_DISTRIBUTED_STORAGE_PREFERENCE";

/** One entry of `spec.components`. */
export interface Component {
    readonly kind: ComponentKind;
    readonly managed: boolean;
    readonly overrides?: {
        readonly env?: readonly { readonly name: string; readonly value: string }[];
        readonly replicas?: number;
    };
}

/** What a QuayRegistry is built from. */
export interface QuayRegistryInput {
    readonly name: string;
    readonly namespace: string;
    readonly bundleSecretName: string;
    /** Ordered location IDs; the first is where this cluster writes. */
    readonly storagePreference: readonly string[];
    readonly components: ComponentChoices;
    /** Set when the HPA is unmanaged. */
    readonly replicas?: { readonly quay: number; readonly mirror: number };
    /**
     * SHA-256 of the bundle the pods must run. In the spec (not an annotation), so a bundle change
     * bumps the generation: the operator reconciles only on generation changes
     * (`GenerationChangedPredicate`), and the env value rolls both Deployments.
     */
    readonly bundleSha256?: string;
}

/** The `spec.components` list, all 11 kinds in a fixed order. */
export function registryComponents(input: QuayRegistryInput): Component[] {
    if (input.storagePreference.length === 0) {
        throw new Error("a QuayRegistry needs at least one location in its storage preference");
    }
    const env = [
        { name: PREFERENCE_ENV, value: input.storagePreference.join(" ") },
        ...(input.bundleSha256 !== undefined ? [{ name: BUNDLE_HASH_ENV, value: input.bundleSha256 }] : []),
    ];
    return COMPONENT_KINDS.map((kind): Component => {
        switch (kind) {
            case "quay":
            case "mirror": {
                const replicas = input.replicas?.[kind];
                return { kind, managed: true, overrides: { env, ...(replicas !== undefined ? { replicas } : {}) } };
            }
            case "route":
                return { kind, managed: true };
            case "clair":
            case "horizontalpodautoscaler":
            case "monitoring":
                return { kind, managed: input.components[kind] };
            case "postgres":
            case "clairpostgres":
            case "redis":
            case "objectstorage":
            case "tls":
                return { kind, managed: false };
            default: {
                const unreachable: never = kind;
                throw new Error(`unknown component kind ${String(unreachable)}`);
            }
        }
    });
}

/** The full QuayRegistry manifest (metadata annotations included). */
export function quayRegistryManifest(input: QuayRegistryInput) {
    return {
        apiVersion: "quay.redhat.com/v1",
        kind: "QuayRegistry",
        metadata: {
            name: input.name,
            namespace: input.namespace,
            // Pulumi waits until the operator reports the registry Available (docs/facts §3).
            annotations: { "pulumi.com/waitFor": "condition=Available" },
        },
        spec: {
            configBundleSecret: input.bundleSecretName,
            components: registryComponents(input),
        },
    };
}
