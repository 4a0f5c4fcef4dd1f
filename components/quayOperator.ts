/**
 * QuayOperator: the Red Hat Quay Operator installed through OLM, pinned and approved by hand.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { OperatorSettings } from "../lib/domain";

const TYPE = "quay-georep:quay:QuayOperator";

/** Inputs of the operator installation. */
export interface QuayOperatorArgs {
    /** The cluster's Kubernetes provider. */
    readonly provider: k8s.Provider;
    /** Channel, catalog source and namespace (the same in every cluster). */
    readonly settings: OperatorSettings;
}

/**
 * An OLM Subscription with manual install-plan approval: OLM never upgrades a cluster on its own,
 * so clusters stay on the version a person approved (per cluster, after review). Pulumi waits
 * until the Subscription is `AtLatestKnown`, i.e. its install plan was approved and installed;
 * the QuayRegistry depends on this component, so it is created only once the CRD exists.
 */
export class QuayOperator extends pulumi.ComponentResource {
    /** The Subscription, for `dependsOn`. */
    public readonly subscription: k8s.apiextensions.CustomResource;

    constructor(name: string, args: QuayOperatorArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = args.provider;
        const s = args.settings;
        const dependsOn: pulumi.Resource[] = [];
        // openshift-operators already has the global OperatorGroup; any other namespace needs one.
        if (s.namespace !== "openshift-operators") {
            const ns = new k8s.core.v1.Namespace(
                `${name}-namespace`,
                { metadata: { name: s.namespace } },
                { parent: this, provider },
            );
            dependsOn.push(
                new k8s.apiextensions.CustomResource(
                    `${name}-group`,
                    {
                        apiVersion: "operators.coreos.com/v1",
                        kind: "OperatorGroup",
                        metadata: { name: "quay-operator", namespace: ns.metadata.name },
                        spec: {},
                    },
                    { parent: this, provider },
                ),
            );
        }
        this.subscription = new k8s.apiextensions.CustomResource(
            `${name}-subscription`,
            {
                apiVersion: "operators.coreos.com/v1alpha1",
                kind: "Subscription",
                metadata: {
                    name: "quay-operator",
                    namespace: s.namespace,
                    annotations: { "pulumi.com/waitFor": "jsonpath={.status.state}=AtLatestKnown" },
                },
                spec: {
                    channel: s.channel,
                    name: "quay-operator",
                    source: s.source,
                    sourceNamespace: s.sourceNamespace,
                    installPlanApproval: "Manual",
                    ...(s.startingCSV ? { startingCSV: s.startingCSV } : {}),
                },
            },
            // Time for a person to approve the install plan (see docs/operator.md).
            { parent: this, provider, dependsOn, customTimeouts: { create: "60m", update: "60m" } },
        );
        this.registerOutputs({});
    }
}
