/**
 * Parsing of `quay-georep:sites`, the topology every stack shares (it lives in Pulumi.yaml).
 */
import { CLOUDS, SITE_STATES } from "../lib/domain";
import type { Site } from "../lib/domain";
import { AWS_REGIONS, AZURE_REGIONS, EXAMPLE_REGION } from "./regions";
import { isSharedFrozen } from "./sharedFrozen";
import { checkLowerCase, isDnsName, isIpAddress, isRecord, ObjectReader, Problems } from "./validate";

const SITE_KEYS = ["name", "stack", "cloud", "region", "state", "endpoint"] as const;

/** Quay location IDs: they become config keys, DB rows and env-var words, so keep them plain. */
const LOCATION_ID = /^[a-z][a-z0-9_]{0,62}$/;
const STACK_NAME = /^[A-Za-z0-9_.-]+$/;

export { CLOUDS, SITE_STATES } from "../lib/domain";
export type { Cloud, Site, SiteState } from "../lib/domain";

/** The parsed topology: valid sites, and the names of entries that were rejected. */
export interface Topology {
    /** Valid sites in config order; a later entry repeating a name is left out. */
    readonly sites: Site[];
    /** Names of entries reported invalid (their follow-on problems are suppressed). */
    readonly rejected: ReadonlySet<string>;
}

/** A problem as `Problems.add` takes it. */
type ProblemArgs = Parameters<Problems["add"]>;

/** A `Problems` that also keeps each problem's arguments, to report them again elsewhere. */
class RecordedProblems extends Problems {
    readonly args: ProblemArgs[] = [];
    override add(...args: ProblemArgs): void {
        this.args.push(args);
        super.add(...args);
    }
}

/** {@link parseSites}' answer for a list frozen whole, and the problems it reported. */
const parsedLists = new WeakMap<readonly unknown[], { topology: Topology; problems: readonly ProblemArgs[] }>();

/**
 * Parses and cross-checks the site list. Problems are recorded, never thrown.
 *
 * A list frozen whole by `freezeShared` (config/load.ts hands every run of a process the same such
 * value for the same `sites` text) is parsed once: a later run gets the same frozen sites, and the
 * same problems reported again. The offline renderer and the tests run the program once per stack,
 * and each run would otherwise check the whole list again (at 100 sites, about a millisecond per
 * stack).
 */
export function parseSites(top: ObjectReader, problems: Problems): Topology {
    const list = top.array("sites", {
        required: true,
        fix: "list the sites in Pulumi.yaml under config: sites: value: [...] (see docs/configuration.md)",
    });
    if (list === undefined) return { sites: [], rejected: new Set<string>() };
    if (!isSharedFrozen(list)) return parseSiteList(list, problems);
    let parsed = parsedLists.get(list);
    if (parsed === undefined) {
        const recorded = new RecordedProblems();
        const topology = parseSiteList(list, recorded);
        for (const site of topology.sites) Object.freeze(site);
        Object.freeze(topology.sites);
        parsed = { topology: Object.freeze(topology), problems: recorded.args };
        parsedLists.set(list, parsed);
    }
    for (const args of parsed.problems) problems.add(...args);
    return parsed.topology;
}

/** {@link parseSites} of the list `sites` holds. */
function parseSiteList(list: unknown[], problems: Problems): Topology {
    const rejected = new Set<string>();
    if (list.length === 0) {
        problems.add("sites", list, "is empty", "list at least one site");
        return { sites: [], rejected };
    }
    const sites: Site[] = [];
    list.forEach((raw, i) => {
        const path = `sites[${i}]`;
        if (!isRecord(raw)) {
            problems.add(path, raw, "is not an object", "give each site name, stack, cloud, region and endpoint");
            return;
        }
        const before = problems.all.length;
        const r = new ObjectReader(path, raw, problems, SITE_KEYS);
        const name = r.string("name", { required: true, fix: 'name it with its Quay location ID, e.g. "usstorage"' });
        if (name !== undefined && !LOCATION_ID.test(name)) {
            problems.add(
                `${path}.name`,
                name,
                "is not a valid storage location ID",
                'use lower-case letters, digits and "_", starting with a letter (e.g. "usstorage")',
            );
        }
        const stack = r.string("stack", {
            required: true,
            fix: "name the Pulumi stack that deploys this site's cluster",
        });
        if (stack !== undefined && !STACK_NAME.test(stack)) {
            problems.add(`${path}.stack`, stack, "is not a Pulumi stack name", "use letters, digits, '-', '_' or '.'");
        }
        const cloud = r.oneOf("cloud", CLOUDS);
        const region = r.string("region", {
            required: true,
            fix: `set the region of the site's bucket, e.g. "${EXAMPLE_REGION.aws}"`,
        });
        if (cloud !== undefined && region !== undefined) {
            const known = cloud === "aws" ? AWS_REGIONS : AZURE_REGIONS;
            if (!known.has(region)) {
                const label = cloud === "aws" ? "an AWS" : "an Azure";
                problems.add(`${path}.region`, region, `is not ${label} region`, `use e.g. "${EXAMPLE_REGION[cloud]}"`);
            }
        }
        const state = r.oneOf("state", SITE_STATES, "active");
        const endpoint = r.string("endpoint", {
            required: state !== "retired",
            fix: 'set the hostname or IP of this cluster\'s router (its ingress), e.g. "router.us.example.com"',
        });
        if (endpoint !== undefined && !isDnsName(endpoint) && !isIpAddress(endpoint)) {
            problems.add(
                `${path}.endpoint`,
                endpoint,
                "is neither a hostname nor an IP address",
                'use e.g. "router.us.example.com" or "203.0.113.10"',
            );
        } else if (endpoint !== undefined && isDnsName(endpoint)) {
            checkLowerCase(problems, `${path}.endpoint`, endpoint);
        }
        r.done();
        const duplicate = sites.some((s) => s.name === name);
        if (problems.all.length > before) {
            if (typeof raw.name === "string") rejected.add(raw.name);
        } else if (
            !duplicate &&
            name !== undefined &&
            stack !== undefined &&
            cloud !== undefined &&
            region !== undefined &&
            state !== undefined
        ) {
            sites.push({ name, stack, cloud, region, state, endpoint: endpoint ?? "" });
        }
    });

    reportDuplicates(problems, list, "name", "site names must be unique (each is a storage location ID)");
    reportDuplicates(problems, list, "endpoint", "each site's cluster has its own router endpoint");
    const live = sites.filter((s) => s.state !== "retired");
    const byStack = new Map<string, string>();
    for (const site of live) {
        const other = byStack.get(site.stack);
        if (other !== undefined) {
            problems.add(
                `sites[${list.indexOf(list.find((x) => isRecord(x) && x.name === site.name))}].stack`,
                site.stack,
                `already deploys site "${other}"`,
                "give each site its own stack (one stack deploys one cluster)",
            );
        }
        byStack.set(site.stack, site.name);
    }
    if (sites.length === list.length && !sites.some((s) => s.state === "active")) {
        problems.add(
            "sites",
            sites.map((s) => `${s.name}:${s.state}`),
            "has no active site",
            "keep at least one site in state active",
        );
    }
    return { sites, rejected };
}

function reportDuplicates(problems: Problems, list: unknown[], key: string, fix: string): void {
    const seen = new Map<unknown, number>();
    list.forEach((raw, i) => {
        if (!isRecord(raw) || raw[key] === undefined || raw[key] === "") return;
        const value = typeof raw[key] === "string" ? raw[key].toLowerCase() : raw[key];
        const first = seen.get(value);
        if (first !== undefined) {
            problems.add(`sites[${i}].${key}`, raw[key], `duplicates sites[${first}].${key}`, fix);
        } else {
            seen.set(value, i);
        }
    });
}
