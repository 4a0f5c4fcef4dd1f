/**
 * RolloutCheck: proof, from the cluster, that the operator's pods run a given bundle.
 *
 * The operator reconciles a QuayRegistry only when its generation changes (quay-operator
 * `controllers/quay/quayregistry_controller.go`, `SetupWithManager`: `GenerationChangedPredicate`),
 * and `Available` stays true through a rollout, so neither the bundle Secret nor Pulumi's wait on
 * the CR says when pods run a new bundle. The bundle's SHA-256 is therefore part of the CR's spec
 * (an env override on `quay` and `mirror`), and this Job waits until both Deployments carry it and
 * have fully rolled out (no pod of the old ReplicaSet left). Only then does `verifiedBundleSha256`
 * resolve, so a stack exports what its pods really run; a stuck rollout fails `pulumi up` with the
 * Deployment named in the Job's termination message, which pulumi-kubernetes shows
 * (`provider/pkg/await/checker/pod/check.go`, `containerTerminatedError`).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubeName } from "../lib/names";
import { registryDeployments, ROLLOUT_CHECK_SCRIPT, rolloutCheckEnv } from "../lib/rolloutCheck";
import { JOB_LABEL, LIFECYCLE_LABELS, RESTRICTED_SECURITY_CONTEXT, timeouts } from "./lifecycleJob";
import { REGISTRY_DEFAULTS } from "./quayRegistry";

const TYPE = "quay-georep:quay:RolloutCheck";

/** Inputs of the check; the cluster's Kubernetes provider comes from `opts.provider`. */
export interface RolloutCheckArgs {
    /** Namespace of the QuayRegistry (and of this Job). */
    readonly namespace: pulumi.Input<string>;
    /** The QuayRegistry's name: the operator prefixes its Deployments with it (default `quay`). */
    readonly registryName?: pulumi.Input<string>;
    /**
     * The bundle the pods must run. The Job starts once it resolves: pass `QuayRegistry.bundleSha256`,
     * which resolves once the QuayRegistry carrying it is Available.
     */
    readonly bundleSha256: pulumi.Input<string>;
    /** An image with `python3` (the Quay image: it is on the nodes already). */
    readonly image: pulumi.Input<string>;
    /** Deadline of the rollout, in minutes; plain: it sets Pulumi's own wait (`customTimeouts`). */
    readonly timeoutMinutes: number;
    /** The Quay image the operator must run here, as the lifecycle Jobs run it (default: not checked). */
    readonly expectImage?: pulumi.Input<string>;
    /** Name of the Job, its ServiceAccount, Role and RoleBinding (default `quay-georep-rollout-<registryName>`). */
    readonly objectName?: pulumi.Input<string>;
}

/** A Job that passes once both Deployments run the bundle, with just the permission to read them. */
export class RolloutCheck extends pulumi.ComponentResource {
    /** The bundle hash, resolved only once the pods run it (unknown in a preview of a change). */
    public readonly verifiedBundleSha256: pulumi.Output<string>;
    /**
     * The Quay image the operator runs here, resolved once the check passed; only with `expectImage`.
     * Known in a preview (Jobs that take it show no change there when only the bundle changes).
     */
    public readonly verifiedImage?: pulumi.Output<string>;

    /** Children inherit the cluster's Kubernetes provider from `opts.provider`. */
    constructor(name: string, args: RolloutCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const registryName = pulumi.output(args.registryName ?? REGISTRY_DEFAULTS.registryName);
        const deployments = registryName.apply((r) => [...registryDeployments(r)]);
        const objectName = args.objectName ?? registryName.apply((r) => kubeName(["quay-georep-rollout", r]));
        const metadata = { name: objectName, namespace: args.namespace, labels: LIFECYCLE_LABELS };

        const account = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata }, { parent: this });
        const role = new k8s.rbac.v1.Role(
            `${name}-role`,
            {
                metadata,
                // Read-only, and only the two Deployments the operator renders for this registry.
                rules: [
                    {
                        apiGroups: ["apps"],
                        resources: ["deployments"],
                        resourceNames: deployments,
                        verbs: ["get"],
                    },
                ],
            },
            { parent: this },
        );
        const binding = new k8s.rbac.v1.RoleBinding(
            `${name}-binding`,
            {
                metadata,
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace: args.namespace }],
            },
            { parent: this },
        );

        const deadline = args.timeoutMinutes * 60;
        const env = pulumi
            .all([args.namespace, deployments, args.bundleSha256, args.expectImage])
            .apply(([namespace, names, bundleSha256, expectImage]) =>
                rolloutCheckEnv({ namespace, deployments: names, bundleSha256, timeoutSeconds: deadline, expectImage }),
            );
        const job = new k8s.batch.v1.Job(
            `${name}-job`,
            {
                metadata: {
                    ...metadata,
                    labels: { ...LIFECYCLE_LABELS, [JOB_LABEL]: "rollout-check" },
                    // A check that failed (say, a rollout that timed out) runs afresh on the next `pulumi up`.
                    annotations: { "pulumi.com/replaceUnready": "true" },
                },
                spec: {
                    backoffLimit: 0,
                    // A little over the script's own deadline, so the script reports why first.
                    activeDeadlineSeconds: deadline + 60,
                    template: {
                        metadata: { labels: LIFECYCLE_LABELS },
                        spec: {
                            serviceAccountName: account.metadata.name,
                            restartPolicy: "Never",
                            containers: [
                                {
                                    name: "rollout-check",
                                    image: args.image,
                                    command: ["python3", "-c", ROLLOUT_CHECK_SCRIPT],
                                    env,
                                    terminationMessagePolicy: "FallbackToLogsOnError",
                                    securityContext: RESTRICTED_SECURITY_CONTEXT,
                                    // One small Python process polling the API server.
                                    resources: {
                                        requests: { cpu: "50m", memory: "64Mi" },
                                        limits: { cpu: "250m", memory: "256Mi" },
                                    },
                                },
                            ],
                        },
                    },
                },
            },
            // The Role must be bound before the pod asks for the Deployments.
            { parent: this, dependsOn: [binding], customTimeouts: timeouts(args.timeoutMinutes) },
        );
        // Resolves after the Job completed: pulumi-kubernetes returns a Job's ID only once its await passed.
        this.verifiedBundleSha256 = pulumi.all([job.id, args.bundleSha256]).apply(([, sha]) => sha);
        // The Job's own outputs also resolve only after that await, but stay known in a preview.
        this.verifiedImage =
            args.expectImage === undefined
                ? undefined
                : pulumi.all([job.metadata.name, args.expectImage]).apply(([, image]) => image);
        this.registerOutputs({ verifiedBundleSha256: this.verifiedBundleSha256, verifiedImage: this.verifiedImage });
    }
}
