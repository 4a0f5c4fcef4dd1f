/**
 * Stateful resources are protected: deleting one takes a deliberate `protect: false` first. The
 * list is the preview guard's (`scripts/preview-guard.ts`), so both agree on what holds data.
 */
import { STATEFUL_RESOURCES, statefulRule } from "../scripts/preview-guard";
import type { ResourceRule } from "./resource";

/** Every stateful resource (database, Redis VM, bucket, the database field key) has `protect: true`. */
export const statefulResourcesProtected: ResourceRule = {
    name: "stateful-resources-protected",
    description:
        "Databases, the Redis VM, buckets and storage accounts, and DATABASE_SECRET_KEY are created with protect: true.",
    types: [...new Set(STATEFUL_RESOURCES.map((s) => s.type))],
    check(r) {
        const rule = statefulRule(r.type, r.name);
        if (rule === undefined || r.protect !== false) return [];
        // A retired site's bucket is unprotected on purpose and retained on delete (which policies
        // cannot see): the program tags it, so removing the site from config only forgets it.
        const tags = (r.props.tags ?? r.props.metadata) as Record<string, unknown> | undefined;
        if (tags?.["quay-georep-state"] === "retired") return [];
        return [`is not protected; deleting it loses ${rule.loses}; create it with { protect: true }`];
    },
};
