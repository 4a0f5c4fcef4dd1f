/**
 * The quay-georep policy pack: `pulumi preview --policy-pack policy` (CI passes `policyPacks:
 * policy`). Every policy is mandatory: a violation fails the preview or update. The rules are in
 * `rules.ts`; docs/policy.md explains each, and the policy config the bundle rule takes.
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./pack";

new PolicyPack("quay-georep", {
    description: "Geo-replicated Quay: private, encrypted, protected shared services and one bundle everywhere.",
    enforcementLevel: "mandatory",
    policies: POLICIES,
});
