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
import { LIFECYCLE_LABELS, RESTRICTED_SECURITY_CONTEXT } from "./retirementGate";

const TYPE = "quay-georep:quay:RolloutCheck";

/** Inputs of the check. */
export interface RolloutCheckArgs {
    /** The cluster's Kubernetes provider. */
    readonly provider: k8s.Provider;
    /** Namespace of the QuayRegistry (and of this Job). */
    readonly namespace: pulumi.Input<string>;
    /** The QuayRegistry's name: the operator prefixes its Deployments with it. */
    readonly registryName: string;
    /** The bundle the pods must run. */
    readonly bundleSha256: pulumi.Input<string>;
    /** An image with `python3` (the Quay image: it is on the nodes already). */
    readonly image: string;
    /** Deadline of the rollout, in minutes. */
    readonly timeoutMinutes: number;
    /** When set, the Quay image the operator must run here (the lifecycle Jobs use it). */
    readonly expectImage?: string;
    /** What the check starts after: the QuayRegistry (and its bundle Secret). */
    readonly after: readonly pulumi.Resource[];
}

/** A Job that passes once both Deployments run the bundle, with just the permission to read them. */
export class RolloutCheck extends pulumi.ComponentResource {
    /** The bundle hash, resolved only once the pods run it (unknown in a preview of a change). */
    public readonly verifiedBundleSha256: pulumi.Output<string>;

    constructor(name: string, args: RolloutCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = args.provider;
        const deployments = registryDeployments(args.registryName);
        const objectName = kubeName(["quay-georep-rollout", args.registryName]);
        const metadata = { name: objectName, namespace: args.namespace, labels: LIFECYCLE_LABELS };

        const account = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata }, { parent: this, provider });
        const role = new k8s.rbac.v1.Role(
            `${name}-role`,
            {
                metadata,
                // Read-only, and only the two Deployments the operator renders for this registry.
                rules: [
                    {
                        apiGroups: ["apps"],
                        resources: ["deployments"],
                        resourceNames: [...deployments],
                        verbs: ["get"],
                    },
                ],
            },
            { parent: this, provider },
        );
        const binding = new k8s.rbac.v1.RoleBinding(
            `${name}-binding`,
            {
                metadata,
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace: args.namespace }],
            },
            { parent: this, provider },
        );

        const deadline = args.timeoutMinutes * 60;
        const env = pulumi.all([args.namespace, args.bundleSha256]).apply(([namespace, bundleSha256]) =>
            rolloutCheckEnv({
                namespace,
                deployments,
                bundleSha256,
                timeoutSeconds: deadline,
                expectImage: args.expectImage,
            }),
        );
        const job = new k8s.batch.v1.Job(
            `${name}-job`,
            {
                metadata: {
                    ...metadata,
                    labels: { ...LIFECYCLE_LABELS, "quay-georep.io/job": "rollout-check" },
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
            {
                parent: this,
                provider,
                dependsOn: [...args.after, binding],
                customTimeouts: { create: `${args.timeoutMinutes + 5}m`, update: `${args.timeoutMinutes + 5}m` },
            },
        );
        // Resolves after the Job completed: pulumi-kubernetes returns a Job's ID only once its await passed.
        this.verifiedBundleSha256 = pulumi.all([job.id, args.bundleSha256]).apply(([, sha]) => sha);
        this.registerOutputs({ verifiedBundleSha256: this.verifiedBundleSha256 });
    }
}
