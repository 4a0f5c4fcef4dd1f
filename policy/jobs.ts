/**
 * Job rules: every container the lifecycle Jobs run (the retirement gate, backfill, removal, the
 * status CronJob, the rollout check) runs without privileges and within bounds.
 *
 * The security context is the one OpenShift's restricted SCC accepts without a UID: no privilege
 * escalation, every capability dropped, none added, not privileged (the SCC assigns the UID and
 * the seccomp profile). Requests and limits for cpu and memory keep a Job from starving Quay's
 * pods on its node, and let it in where a namespace quota covers limits (such a quota refuses a
 * pod without them).
 */
import { at, isUnknown, list, ResourceRule, shown } from "./resource";

/** Type tokens these rules read. */
export const JOB_TYPES = {
    job: "kubernetes:batch/v1:Job",
    cronJob: "kubernetes:batch/v1:CronJob",
} as const;
const T = JOB_TYPES;

/** The requests and limits every container sets. */
export const RESOURCE_KEYS = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"];

/** The value at a dotted path; `UNKNOWN` as soon as a step is unknown (at() would say undefined). */
function valueAt(value: unknown, path: string): unknown {
    let current = value;
    for (const key of path.split(".")) {
        if (isUnknown(current) || current === null || typeof current !== "object") {
            return isUnknown(current) ? current : undefined;
        }
        current = (current as Record<string, unknown>)[key];
    }
    return current;
}

/** Problems of one container's security context. */
function securityProblems(sc: unknown): string[] {
    if (isUnknown(sc)) return [];
    if (sc === undefined || sc === null) {
        return ['securityContext is not set; set allowPrivilegeEscalation: false and capabilities: { drop: ["ALL"] }'];
    }
    const problems: string[] = [];
    const escalation = valueAt(sc, "allowPrivilegeEscalation");
    if (escalation !== false && !isUnknown(escalation)) {
        problems.push(`securityContext.allowPrivilegeEscalation is ${shown(escalation)}; set it to false`);
    }
    const drop = valueAt(sc, "capabilities.drop");
    if (!isUnknown(drop) && !list(drop).includes("ALL")) {
        problems.push(`securityContext.capabilities.drop is ${shown(drop)}; set it to ["ALL"]`);
    }
    const add = valueAt(sc, "capabilities.add");
    if (!isUnknown(add) && list(add).length > 0) {
        problems.push(`securityContext.capabilities.add is ${shown(add)}; remove it (the Jobs need no capabilities)`);
    }
    if (valueAt(sc, "privileged") === true) problems.push("securityContext.privileged is true; remove it");
    return problems;
}

/** Problems of one container's requests and limits. */
function resourceProblems(resources: unknown): string[] {
    const missing = RESOURCE_KEYS.filter((k) => {
        const v = valueAt(resources, k);
        return !isUnknown(v) && (v === undefined || v === null || v === "");
    });
    if (missing.length === 0) return [];
    return [
        `${missing.map((k) => `resources.${k}`).join(", ")} ${missing.length === 1 ? "is" : "are"} not set; ` +
            "set cpu and memory requests and limits " +
            "(unbounded, a Job can starve Quay's pods on its node, and a namespace quota on limits refuses it)",
    ];
}

/** Every container of every Job and CronJob is restricted and has cpu and memory requests and limits. */
export const lifecycleJobsRestrictedAndLimited: ResourceRule = {
    name: "lifecycle-jobs-restricted-and-limited",
    description:
        "Every container of a Job or CronJob sets allowPrivilegeEscalation false, drops ALL capabilities, adds none, is not privileged, and sets cpu and memory requests and limits.",
    types: [T.job, T.cronJob],
    check(r) {
        const pod = at(r.props, r.type === T.cronJob ? "spec.jobTemplate.spec.template.spec" : "spec.template.spec");
        if (pod === null || typeof pod !== "object") return [];
        const spec = pod as Record<string, unknown>;
        const containers = [
            ...list(spec.initContainers).map((c) => ({ c, kind: "init container" })),
            ...list(spec.containers).map((c) => ({ c, kind: "container" })),
        ];
        return containers.flatMap(({ c, kind }) => {
            if (c === null || typeof c !== "object" || isUnknown(c)) return [];
            const container = c as Record<string, unknown>;
            const problems = [...securityProblems(container.securityContext), ...resourceProblems(container.resources)];
            return problems.map((p) => `${kind} ${shown(container.name)}: ${p}`);
        });
    },
};
