/**
 * Parsing of the region-lifecycle settings: `quay-georep:lifecycle` (project-level: the images of
 * the Jobs) and `quay-georep:lifecycleJobs` (the shared stack: run them in its cluster).
 */
import type { Site } from "./sites";
import { ObjectReader, Problems } from "./validate";

/** How long each lifecycle Job may run, in minutes (its `activeDeadlineSeconds`; Pulumi waits 5 minutes more). */
export interface LifecycleTimeouts {
    /** The rollout check: the operator rolls the pods after a bundle change (default 30). */
    readonly rollout: number;
    /** A retirement gate: the status SQL over every blob (default 60). */
    readonly gate: number;
    /** `util.backfillreplication`: one query per blob, hours for millions of blobs (default 720). */
    readonly backfill: number;
    /** `util.removelocation`: one DELETE per placement, hours for millions of blobs (default 720). */
    readonly removal: number;
}

/** Images, deadlines and knobs of the lifecycle Jobs. */
export interface LifecycleSettings {
    /**
     * The Quay image the operator runs (required): the backfill and `util.removelocation` run it,
     * and the rollout check (which runs its `python3`) verifies it against the cluster's quay-app.
     */
    readonly quayImage: string;
    /** Image with `psql` for the status, gate and verification Jobs (default `docker.io/library/postgres:17.6-alpine`). */
    readonly psqlImage: string;
    /** Bump to run the backfill again for the same topology, e.g. for dead replication items (default 0). */
    readonly backfillRun: number;
    /** Deadlines of the Jobs. */
    readonly timeouts: LifecycleTimeouts;
    /**
     * A `blobupload` younger than this may still be in progress and stops `util.removelocation`
     * (default 2880: Quay's own `BLOBUPLOAD_DELETION_DATE_THRESHOLD`, after which its cleanup
     * worker treats an upload as abandoned).
     */
    readonly uploadGraceMinutes: number;
}

/** A pinned image reference: a tag other than `latest`, or a digest. */
const PINNED_IMAGE = /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(@sha256:[0-9a-f]{64}|:(?!latest$)[A-Za-z0-9._-]+)$/;

/** Default deadlines, in minutes. */
export const DEFAULT_TIMEOUTS: LifecycleTimeouts = { rollout: 30, gate: 60, backfill: 720, removal: 720 };

/** Parses `lifecycle`; problems are recorded, never thrown. */
export function parseLifecycle(top: ObjectReader): LifecycleSettings {
    const l = top.object("lifecycle", ["quayImage", "psqlImage", "backfillRun", "timeouts", "uploadGraceMinutes"]);
    const quayImage = l?.string("quayImage", {
        required: true,
        fix:
            'set it to the Quay image your operator runs, e.g. "registry.redhat.io/quay/quay-rhel9:v3.18.0" ' +
            "(kubectl get deployment <registry>-quay-app -o jsonpath='{.spec.template.spec.containers[0].image}'); the rollout check verifies it",
    });
    if (l === undefined) {
        top.problems.add(
            "lifecycle.quayImage",
            undefined,
            "is required",
            'set quay-georep:lifecycle in Pulumi.yaml with quayImage: the Quay image your operator runs, e.g. "registry.redhat.io/quay/quay-rhel9:v3.18.0"',
        );
    }
    const t = l?.object("timeouts", ["rollout", "gate", "backfill", "removal"]);
    const minutes = (key: keyof LifecycleTimeouts) =>
        t?.integer(key, DEFAULT_TIMEOUTS[key], 1, 10080) ?? DEFAULT_TIMEOUTS[key];
    const settings = {
        quayImage: quayImage ?? "",
        psqlImage: l?.string("psqlImage") ?? "docker.io/library/postgres:17.6-alpine",
        backfillRun: l?.integer("backfillRun", 0, 0, 1000000) ?? 0,
        timeouts: {
            rollout: minutes("rollout"),
            gate: minutes("gate"),
            backfill: minutes("backfill"),
            removal: minutes("removal"),
        },
        uploadGraceMinutes: l?.integer("uploadGraceMinutes", 2880, 0, 525600) ?? 2880,
    };
    t?.done();
    for (const key of ["quayImage", "psqlImage"] as const) {
        if (settings[key] !== "" && !PINNED_IMAGE.test(settings[key])) {
            top.problems.add(
                `lifecycle.${key}`,
                settings[key],
                "is not a pinned image reference",
                'give registry/repository with a version tag or digest, e.g. "registry.redhat.io/quay/quay-rhel9:v3.18.0"',
            );
        }
    }
    l?.done();
    return settings;
}

/**
 * Whether the shared stack runs the lifecycle Jobs in its cluster (default: when it deploys a
 * site). Retiring a site needs them, and the shared stack's own site cannot be retired while it
 * is the one running them.
 */
export function parseLifecycleJobs(
    top: ObjectReader,
    problems: Problems,
    ctx: { isShared: boolean; stackName: string; sharedStack: string; ownSite?: Site; sites: readonly Site[] },
    warnings: string[],
): boolean {
    const deploysSite = ctx.ownSite !== undefined;
    const jobs = top.boolean("lifecycleJobs", deploysSite);
    if (!ctx.isShared) {
        if (top.has("lifecycleJobs")) {
            warnings.push(
                `lifecycleJobs is set on stack "${ctx.stackName}" but only the shared stack "${ctx.sharedStack}" runs the lifecycle Jobs`,
            );
        }
        return false;
    }
    const ownRetired = ctx.sites.find((s) => s.stack === ctx.stackName && s.state === "retired");
    if (ownRetired !== undefined) {
        problems.add(
            `sites[${ctx.sites.indexOf(ownRetired)}].state`,
            "retired",
            `cannot retire the shared stack's own site "${ownRetired.name}" (its cluster runs the gate and util.removelocation)`,
            "first make another stack the shared stack (quay-georep:sharedStack), deploy it, then retire this site",
        );
    }
    const retiring = ctx.sites.filter((s) => s.state === "retired").map((s) => s.name);
    if (!jobs && retiring.length > 0) {
        problems.add(
            "lifecycleJobs",
            false,
            `leaves nobody to gate the retirement of ${retiring.join(", ")}`,
            `set quay-georep:lifecycleJobs: true on stack "${ctx.stackName}" (with its kubeContext or kubeconfig)`,
        );
    }
    return jobs;
}
