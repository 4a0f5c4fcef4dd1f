/**
 * QuayOperator: the Red Hat Quay Operator installed through OLM, pinned and approved by hand.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

const TYPE = "quay-georep:quay:QuayOperator";

/** Inputs of the operator installation; the cluster's Kubernetes provider comes from `opts.provider`. */
export interface QuayOperatorArgs {
    /** Subscription channel (default `stable-3.18`, the operator whose CRD this program is tested against). */
    readonly channel?: pulumi.Input<string>;
    /** Catalog source (default `redhat-operators`). */
    readonly source?: pulumi.Input<string>;
    /** Namespace of the catalog source (default `openshift-marketplace`). */
    readonly sourceNamespace?: pulumi.Input<string>;
    /** Namespace of the Subscription (default `openshift-operators`); plain: any other gets a Namespace and an OperatorGroup. */
    readonly namespace?: string;
    /** Pin the first install to this CSV, e.g. `quay-operator.v3.18.0` (default: the channel head). */
    readonly startingCSV?: pulumi.Input<string>;
    /** Name of the Subscription and of the OperatorGroup (default `quay-operator`). */
    readonly subscriptionName?: pulumi.Input<string>;
    /** Minutes for a person to approve the install plan (default 60); plain: it sets Pulumi's own wait. */
    readonly approvalMinutes?: number;
}

/** Defaults of `QuayOperatorArgs`. */
export const OPERATOR_DEFAULTS = {
    channel: "stable-3.18",
    source: "redhat-operators",
    sourceNamespace: "openshift-marketplace",
    namespace: "openshift-operators",
    subscriptionName: "quay-operator",
    approvalMinutes: 60,
} as const;

/** The operator's package in Red Hat's catalog. */
const PACKAGE = "quay-operator";

/**
 * An OLM Subscription with manual install-plan approval: OLM never upgrades a cluster on its own,
 * so clusters stay on the version a person approved (per cluster, after review). Pulumi waits
 * until the Subscription is `AtLatestKnown`, i.e. its install plan was approved and installed, and
 * only then resolves `subscriptionName` and `namespace`: a QuayRegistry given one of them is
 * created only once its CRD exists.
 */
export class QuayOperator extends pulumi.ComponentResource {
    /** The Subscription's name, resolved once the operator is installed (its CRDs exist). */
    public readonly subscriptionName: pulumi.Output<string>;
    /** The Subscription's namespace, resolved once the operator is installed. */
    public readonly namespace: pulumi.Output<string>;

    /** Children inherit the cluster's Kubernetes provider from `opts.provider`. */
    constructor(name: string, args: QuayOperatorArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const namespace = args.namespace ?? OPERATOR_DEFAULTS.namespace;
        const subscriptionName = args.subscriptionName ?? OPERATOR_DEFAULTS.subscriptionName;
        const approval = `${args.approvalMinutes ?? OPERATOR_DEFAULTS.approvalMinutes}m`;
        const dependsOn: pulumi.Resource[] = [];
        // openshift-operators already has the global OperatorGroup; any other namespace needs one.
        if (namespace !== OPERATOR_DEFAULTS.namespace) {
            const ns = new k8s.core.v1.Namespace(
                `${name}-namespace`,
                { metadata: { name: namespace } },
                { parent: this },
            );
            dependsOn.push(
                new k8s.apiextensions.CustomResource(
                    `${name}-group`,
                    {
                        apiVersion: "operators.coreos.com/v1",
                        kind: "OperatorGroup",
                        metadata: { name: subscriptionName, namespace: ns.metadata.name },
                        spec: {},
                    },
                    { parent: this },
                ),
            );
        }
        const subscription = new k8s.apiextensions.CustomResource(
            `${name}-subscription`,
            {
                apiVersion: "operators.coreos.com/v1alpha1",
                kind: "Subscription",
                metadata: {
                    name: subscriptionName,
                    namespace,
                    annotations: { "pulumi.com/waitFor": "jsonpath={.status.state}=AtLatestKnown" },
                },
                spec: {
                    channel: args.channel ?? OPERATOR_DEFAULTS.channel,
                    name: PACKAGE,
                    source: args.source ?? OPERATOR_DEFAULTS.source,
                    sourceNamespace: args.sourceNamespace ?? OPERATOR_DEFAULTS.sourceNamespace,
                    installPlanApproval: "Manual",
                    startingCSV: args.startingCSV,
                },
            },
            // Time for a person to approve the install plan (see docs/operator.md).
            { parent: this, dependsOn, customTimeouts: { create: approval, update: approval } },
        );
        // Outputs of the Subscription resolve only once pulumi-kubernetes' await saw AtLatestKnown.
        this.subscriptionName = subscription.metadata.name;
        this.namespace = subscription.metadata.namespace;
        this.registerOutputs({ subscriptionName: this.subscriptionName, namespace: this.namespace });
    }
}
