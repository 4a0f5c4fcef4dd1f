/**
 * Parsing of `quay-georep:operator` (project-level: the same for every cluster, so clusters cannot
 * drift to different operator versions) and `quay-georep:installOperator` (per stack).
 */
import type { OperatorSettings } from "../lib/domain";
import { isDnsLabel, ObjectReader } from "./validate";

export type { OperatorSettings } from "../lib/domain";

const KEYS = ["channel", "source", "sourceNamespace", "namespace", "startingCSV"];

/** Parses both keys; problems are recorded on the reader's list, never thrown. */
export function parseOperator(top: ObjectReader): OperatorSettings {
    const o = top.object("operator", KEYS);
    const settings: OperatorSettings = {
        install: top.boolean("installOperator", true),
        channel: o?.string("channel") ?? "stable-3.18",
        source: o?.string("source") ?? "redhat-operators",
        sourceNamespace: o?.string("sourceNamespace") ?? "openshift-marketplace",
        namespace: o?.string("namespace") ?? "openshift-operators",
        startingCSV: o?.string("startingCSV"),
    };
    for (const key of ["source", "sourceNamespace", "namespace"] as const) {
        if (!isDnsLabel(settings[key])) {
            top.problems.add(
                `operator.${key}`,
                settings[key],
                "is not a Kubernetes name",
                "use lower-case letters, digits and '-'",
            );
        }
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(settings.channel)) {
        top.problems.add("operator.channel", settings.channel, "is not a channel name", 'use e.g. "stable-3.18"');
    }
    if (settings.startingCSV !== undefined && !/^quay-operator\.v\d+\.\d+\.\d+$/.test(settings.startingCSV)) {
        top.problems.add(
            "operator.startingCSV",
            settings.startingCSV,
            "is not a Quay operator CSV name",
            'use e.g. "quay-operator.v3.18.0"',
        );
    }
    o?.done();
    return settings;
}
