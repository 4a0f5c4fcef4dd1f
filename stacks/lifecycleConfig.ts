/**
 * Parsing of the region-lifecycle settings: `quay-georep:lifecycle` (project-level: the images of
 * the Jobs) and `quay-georep:lifecycleJobs` (the shared stack: run them in its cluster).
 */
import type { Site } from "./sites";
import { ObjectReader, Problems } from "./validate";

/** Images of the lifecycle Jobs (pinned; the Quay one should match what the operator runs). */
export interface LifecycleSettings {
    /** Quay image for `util.backfillreplication` and `util.removelocation` (default `quay.io/projectquay/quay:v3.17.3`). */
    readonly quayImage: string;
    /** Image with `psql` for the status, gate and verification Jobs (default `docker.io/library/postgres:17.6-alpine`). */
    readonly psqlImage: string;
    /** Bump to run the backfill again for the same topology, e.g. for dead replication items (default 0). */
    readonly backfillRun: number;
}

/** A pinned image reference: a tag other than `latest`, or a digest. */
const PINNED_IMAGE = /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(@sha256:[0-9a-f]{64}|:(?!latest$)[A-Za-z0-9._-]+)$/;

/** Parses `lifecycle`; problems are recorded, never thrown. */
export function parseLifecycle(top: ObjectReader): LifecycleSettings {
    const l = top.object("lifecycle", ["quayImage", "psqlImage", "backfillRun"]);
    const settings = {
        quayImage: l?.string("quayImage") ?? "quay.io/projectquay/quay:v3.17.3",
        psqlImage: l?.string("psqlImage") ?? "docker.io/library/postgres:17.6-alpine",
        backfillRun: l?.integer("backfillRun", 0, 0, 1000000) ?? 0,
    };
    for (const key of ["quayImage", "psqlImage"] as const) {
        if (!PINNED_IMAGE.test(settings[key])) {
            top.problems.add(
                `lifecycle.${key}`,
                settings[key],
                "is not a pinned image reference",
                'give registry/repository with a version tag or digest, e.g. "quay.io/projectquay/quay:v3.17.3"',
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
