/**
 * `npm run bench [-- --reps N] [--suite]`: how far `npm run render` is from its floor, what each site
 * adds and, with `--suite`, how long the test suite takes.
 *
 * One run measures every kind below, each sample a fresh child process run the way `npm run render`
 * runs: the command of package.json's `scripts.render` (read at each run, so a compiled renderer is
 * measured as soon as the script runs it), through `sh` with node_modules/.bin first on PATH, as npm
 * runs it, minus npm's own start-up (the same for every script). Each child runs under GNU
 * `/usr/bin/time`, which reports the kernel's rusage of the child and its descendants: CPU = user +
 * system, peak = the largest RSS among them. Wall time is spawn to exit.
 *   floor    `node` loading only the `@pulumi/*` modules the project's own files load, then exit
 *            (the list comes from a first, untimed render under a require hook). The issue's target
 *            is against this plain floor; a second row loads the same modules with Node's on-disk
 *            compile cache on (warm after the warm-up), for a render that turns that cache on too; a
 *            third also requires offline/deferClosure.ts first, as the renderer does: the least the
 *            renderer loads (the SDK without its function serialization until called).
 *   ts-node  for reference while the render script runs ts-node: ts-node on an empty program.
 *   example  the render of this repository: both example stacks (route53 mode).
 *   sites N  the render of a generated project of N = 2, 12, 100 sites in traffic-manager mode (Route
 *            53 latency routing cannot serve more sites than AWS has regions), one stack file per
 *            site: a real project of N sites has N stacks and `npm run render` renders them all.
 *   shared N the same project, shared stack only (`--stack`), for 2 and 100 sites: the part of a
 *            site's cost that lands in the shared stack (entry point, buckets, bundle).
 *   replay N the render of N = 2 and 100 sites replayed (offline/replay.ts, launched as the render
 *            script launches the renderer): the same resources, with the same inputs and options,
 *            registered through the same offline runtime with nothing of the program around them.
 *            Its cost per added site is the Pulumi SDK's alone, the floor under the render's.
 *   suite    with `--suite` only: the README's test command, package.json's `scripts.test` (`npm
 *            test` minus npm's start-up), run the same way. Its wall time is the issue's suite target;
 *            its CPU under /usr/bin/time misses the PostgreSQL servers it talks to (not its
 *            descendants), so the sample also records the whole machine's busy and stolen CPU over
 *            its run (/proc/stat). It runs with CI=true, as .ci/run does: a skip fails it, so every
 *            sample is the whole suite; it needs what the suite needs (.ci/run's services).
 * Samples are interleaved (floor, ts-node, example, 2, 12, 100, shared 2, shared 100, replay 2, replay 100,
 * suite, floor, …)
 * after one discarded warm-up of each kind; ratios and the marginal cost are medians of
 * per-repetition values. The report gives each target with PASS or FAIL; it asserts nothing and
 * exits 0 whatever the numbers. Its header gives the load averages and, on Linux, the whole
 * machine's busy and stolen CPU over the run (`/proc/stat`): on a virtual machine whose hypervisor
 * gives its cores to other guests (steal), every sample is slowed, unevenly, by what it lost.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { AWS_REGIONS, AZURE_REGIONS } from "../config/regions";

/** The package root: the nearest folder with a package.json (this file may also run compiled, from a subfolder). */
function packageRoot(from: string): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "package.json"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
    }
}
const ROOT = packageRoot(__dirname);
const TIME = "/usr/bin/time";

/** The generated topologies' sizes. */
export const SIZES = [2, 12, 100] as const;

/** Sizes also rendered with the shared stack alone (`--stack`): how much of a site's cost is the shared stack's. */
export const SHARED_ONLY = [SIZES[0], SIZES[2]] as const;

/**
 * Sizes whose render is also replayed (offline/replay.ts): how much of a site's cost is the SDK's
 * alone. The two sizes the cost per added site is measured between, so the two compare.
 */
export const REPLAYED = [SIZES[0], SIZES[2]] as const;

/**
 * The replay's command: the render script's, with the replay as its entry point (the same launcher
 * and Node options); undefined when the script does not run offline/render.ts.
 */
export function replayCommand(renderCommand: string): string | undefined {
    return renderCommand.includes("offline/render.ts")
        ? renderCommand.replace("offline/render.ts", "offline/replay.ts")
        : undefined;
}

/** The targets of issue 13. */
export const TARGETS = { renderOverFloorCpu: 1.5, cpuPerSiteMs: 40, peakMiB100: 400, suiteWallS: 15 } as const;

/** The command line: repetitions (default 5), and whether to time the test suite too. */
export interface BenchArgs {
    readonly reps: number;
    readonly suite: boolean;
}

export const USAGE = "usage: npm run bench [-- --reps N] [--suite]   (N ≥ 1, default 5)";

/** Reads `--reps N` and `--suite`; undefined for anything else (the caller prints {@link USAGE}). */
export function parseArgs(argv: readonly string[]): BenchArgs | undefined {
    let reps = 5;
    let suite = false;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--suite") {
            suite = true;
        } else if (argv[i] === "--reps" && i + 1 < argv.length && /^[1-9][0-9]*$/.test(argv[i + 1])) {
            reps = Number(argv[++i]);
        } else {
            return undefined;
        }
    }
    return { reps, suite };
}

// ---------------------------------------------------------------------------------------------
// Generated topologies (pure)

/** One site of a generated topology. */
export interface BenchSite {
    readonly name: string;
    readonly stack: string;
    readonly cloud: "aws" | "azure";
    readonly region: string;
}

/** AWS regions a site may use: the commercial ones (China, GovCloud, ISO and EUSC need other accounts). */
export const BENCH_AWS_REGIONS = [...AWS_REGIONS].filter((r) => !/^(cn-|us-gov-|eusc-)|iso/.test(r));

/** An Azure region near an AWS region, for a Traffic Manager endpoint's `location`. */
export function nearbyAzureRegion(awsRegion: string): string {
    const byPrefix: Record<string, string> = {
        us: "eastus",
        ca: "canadacentral",
        mx: "mexicocentral",
        sa: "brazilsouth",
        eu: "westeurope",
        il: "israelcentral",
        me: "uaenorth",
        af: "southafricanorth",
        ap: "southeastasia",
    };
    return byPrefix[awsRegion.split("-")[0]] ?? "eastus";
}

/** `list` starting at `first`, each element once. */
const startingAt = (list: readonly string[], first: string) => [first, ...list.filter((r) => r !== first)];

/**
 * `n` sites: the example's two (`us` on AWS us-east-1, the shared stack; `eu` on Azure westeurope),
 * then stacks `s003`, `s004`, … alternating AWS and Azure, each cloud cycling through its regions
 * (a region is reused once all are taken, as Traffic Manager allows).
 */
export function benchSites(n: number): BenchSite[] {
    if (!Number.isInteger(n) || n < 2) throw new Error(`a topology needs at least 2 sites, not ${n}`);
    const regions = {
        aws: startingAt(BENCH_AWS_REGIONS, "us-east-1"),
        azure: startingAt([...AZURE_REGIONS], "westeurope"),
    };
    const used = { aws: 0, azure: 0 };
    return Array.from({ length: n }, (_, i) => {
        const cloud = i % 2 === 0 ? "aws" : "azure";
        const stack = i === 0 ? "us" : i === 1 ? "eu" : `s${String(i + 1).padStart(3, "0")}`;
        const region = regions[cloud][used[cloud]++ % regions[cloud].length];
        return { name: `${stack}storage`, stack, cloud, region };
    });
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Rewrites every map keyed by the example's site names (e.g. `storage.buckets`) for the new sites,
 * each entry cloned from the example site of the same cloud.
 */
function respread(value: unknown, example: readonly Tree[], sites: readonly BenchSite[]): unknown {
    if (Array.isArray(value)) return value.map((v) => respread(v, example, sites));
    if (!isTree(value)) return value;
    const names = example.map((s) => String(s.name));
    const keys = Object.keys(value);
    if (keys.length > 0 && keys.every((k) => names.includes(k))) {
        const out: Tree = {};
        for (const site of sites) {
            const template = example.find((s) => s.cloud === site.cloud);
            const entry = template === undefined ? undefined : value[String(template.name)];
            if (entry !== undefined) out[site.name] = structuredClone(entry);
        }
        return out;
    }
    return Object.fromEntries(keys.map((k) => [k, respread(value[k], example, sites)]));
}

/** The texts a generated project starts from: this repository's Pulumi.yaml and its stack files. */
export interface ProjectTexts {
    readonly project: string;
    /** Stack name → `Pulumi.<stack>.yaml` text. */
    readonly stacks: Readonly<Record<string, string>>;
}

/**
 * The files (name → text) of a project with `sites`, built from the example: its sites replaced,
 * its entry point in traffic-manager mode (an AWS site's `location` is a nearby Azure region), one
 * stack file per site, cloned from the example's shared stack for the shared stack and from its
 * other stack for every other site, with the site's own kube context.
 */
export function topologyFiles(base: ProjectTexts, sites: readonly BenchSite[]): Record<string, string> {
    const project = parse(base.project) as Tree;
    const config = project.config as Tree;
    const shared = typeof config.sharedStack === "string" ? config.sharedStack : "us";
    if (sites[0]?.stack !== shared) throw new Error(`the first site must be the shared stack "${shared}"`);
    const example = (config.sites as { value: Tree[] }).value;
    const entryPoint = {
        value: {
            mode: "traffic-manager",
            resourceGroupName: "quay-global",
            relativeName: "quay-bench",
            locations: Object.fromEntries(
                sites.filter((s) => s.cloud === "aws").map((s) => [s.name, nearbyAzureRegion(s.region)]),
            ),
        },
    };
    const rest = Object.fromEntries(Object.entries(config).filter(([k]) => k !== "sites" && k !== "entryPoint"));
    const siteList = sites.map((s) => ({ ...s, endpoint: `router.apps.${s.stack}.example.com` }));
    project.config = { ...(respread(rest, example, sites) as Tree), sites: { value: siteList }, entryPoint };
    const files: Record<string, string> = { "Pulumi.yaml": stringify(project) };

    const other = example.find((s) => s.stack !== shared);
    const stackDoc = (stack: string) => {
        const text = base.stacks[stack];
        if (text === undefined) throw new Error(`no Pulumi.${stack}.yaml in the example`);
        return parse(text) as Tree;
    };
    const templates = { shared: stackDoc(shared), site: stackDoc(String(other?.stack)) };
    for (const site of sites) {
        const doc = site.stack === shared ? templates.shared : templates.site;
        const stackConfig = respread(doc.config, example, sites) as Tree;
        for (const key of Object.keys(stackConfig).filter((k) => k.endsWith(":kubeContext"))) {
            stackConfig[key] = `${site.stack}-cluster`;
        }
        files[`Pulumi.${site.stack}.yaml`] = stringify({ ...doc, config: stackConfig });
    }
    return files;
}

/** This repository's project and stack files. */
function exampleTexts(): ProjectTexts {
    const stacks: Record<string, string> = {};
    for (const f of fs.readdirSync(ROOT)) {
        const stack = /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1];
        if (stack !== undefined) stacks[stack] = fs.readFileSync(path.join(ROOT, f), "utf8");
    }
    return { project: fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"), stacks };
}

// ---------------------------------------------------------------------------------------------
// Arithmetic and report (pure)

/** One sample of one child process. */
export interface Sample {
    /** Spawn to exit, ms. */
    readonly wall: number;
    /** User + system CPU of the child and its descendants, ms. */
    readonly cpu: number;
    /** The largest resident set of the child or a descendant, MiB. */
    readonly peakMiB: number;
    /**
     * The whole machine's CPU over the sample (`/proc/stat`, ms, every core), where it was read: what
     * a suite sample costs with the servers it talks to, and what other guests took meanwhile.
     */
    readonly machine?: { readonly busy: number; readonly steal: number };
}

/** Median, min and max. */
export function stats(values: readonly number[]): { median: number; min: number; max: number } {
    if (values.length === 0) throw new Error("no values");
    const s = [...values].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1] };
}

/** Per repetition `num[i].key / den[i].key`: both were sampled in the same round, under the same load. */
export function ratios(num: readonly Sample[], den: readonly Sample[], key: "wall" | "cpu"): number[] {
    return num.map((n, i) => n[key] / den[i][key]);
}

/** Per repetition, the cost of one more site from `small` to `large` sites: (t_large − t_small) / (large − small). */
export function marginal(
    large: readonly Sample[],
    small: readonly Sample[],
    sizes: { large: number; small: number },
    key: "wall" | "cpu",
): number[] {
    return large.map((l, i) => (l[key] - small[i][key]) / (sizes.large - sizes.small));
}

/** `/usr/bin/time -f "%e %U %S %M"` output: CPU (ms) and peak RSS (MiB; %M is in KiB). */
export function parseTime(text: string): { cpu: number; peakMiB: number } {
    const last = text.trim().split("\n").pop() ?? "";
    const m = /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(last.trim());
    if (m === null) throw new Error(`unexpected ${TIME} output: ${JSON.stringify(text)}`);
    return { cpu: Math.round((Number(m[2]) + Number(m[3])) * 1000), peakMiB: Number(m[4]) / 1024 };
}

/**
 * The machine's CPU time so far, from the text of Linux's `/proc/stat`: its first line, `cpu`, sums
 * every core's time in USER_HZ ticks (proc(5): `sysconf(_SC_CLK_TCK)` a second, 100 on most
 * architectures), in the columns user, nice, system, idle, iowait, irq, softirq, steal. Steal is the
 * time the hypervisor ran another guest while this machine wanted to run; busy is every column but
 * idle, iowait and steal. Undefined when the text has no such line (another kernel, no steal column).
 */
export function machineCpu(statText: string, ticksPerSecond: number): { busy: number; steal: number } | undefined {
    const line = statText.split("\n").find((l) => l.startsWith("cpu "));
    const ticks = line?.trim().split(/\s+/).slice(1).map(Number);
    if (ticks === undefined || ticks.length < 8 || ticks.some((t) => !Number.isFinite(t))) return undefined;
    const [user, nice, system, , , irq, softirq, steal] = ticks;
    return { busy: (user + nice + system + irq + softirq) / ticksPerSecond, steal: steal / ticksPerSecond };
}

/** USER_HZ, as `getconf CLK_TCK` gives it; 100 (proc(5)'s "most architectures") when it cannot run. */
function clockTicks(): number {
    const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    const ticks = Number(out.stdout?.trim());
    return out.status === 0 && Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
}

/** Reads {@link machineCpu} from `/proc/stat`; undefined where there is none. */
function readMachineCpu(ticksPerSecond: number): { busy: number; steal: number } | undefined {
    try {
        return machineCpu(fs.readFileSync("/proc/stat", "utf8"), ticksPerSecond);
    } catch {
        return undefined;
    }
}

/**
 * Starts counting the whole machine's CPU (`/proc/stat`, seconds, every core): the function
 * returned gives what was busy and stolen since, or undefined where it cannot be read.
 */
function machineCpuFrom(ticksPerSecond: number): () => { busy: number; steal: number } | undefined {
    const before = readMachineCpu(ticksPerSecond);
    return () => {
        const after = readMachineCpu(ticksPerSecond);
        if (before === undefined || after === undefined) return undefined;
        return { busy: after.busy - before.busy, steal: after.steal - before.steal };
    };
}

/** What the report is made of. */
export interface BenchResult {
    readonly date: string;
    readonly node: string;
    /** The machine's CPUs (`os.cpus()`): the cores `machine.busy` and a suite sample's busy time are summed over. */
    readonly cores: number;
    /** Their model, as the first of them names it. */
    readonly cpuModel: string;
    readonly reps: number;
    readonly command: string;
    /** The test command (`scripts.test`) when the suite was timed (`--suite`). */
    readonly testCommand?: string;
    /** 1-, 5- and 15-minute load averages before and after. */
    readonly load: { readonly before: readonly number[]; readonly after: readonly number[] };
    /**
     * The whole machine's CPU over the run (`/proc/stat`, seconds, every core): busy, and stolen by
     * the hypervisor for other guests; with the run's wall time. Undefined where it cannot be read.
     */
    readonly machine?: { readonly busy: number; readonly steal: number; readonly wall: number };
    readonly floorModules: number;
    /** Label → samples, in report order; must hold `floor`, `example` and `sites <n>` for each size. */
    readonly samples: ReadonlyMap<string, readonly Sample[]>;
    /** Extra lines at the end (the modules the floor loads). */
    readonly notes: readonly string[];
}

const fixed = (v: number, digits = 2) => v.toFixed(digits);
const range = (s: { min: number; max: number }, f: (v: number) => string) => `(${f(s.min)}–${f(s.max)})`;
const verdict = (pass: boolean | undefined) => (pass === undefined ? "" : pass ? "PASS" : "FAIL");

/** One row of the targets table. */
function targetRow(
    label: string,
    values: readonly number[],
    f: (v: number) => string,
    target?: string,
    pass?: (v: number) => boolean,
) {
    const s = stats(values);
    const measured = `${f(s.median)} ${range(s, f)}`;
    return `  ${label.padEnd(40)}${measured.padEnd(26)}${(target ?? "—").padEnd(12)}${verdict(pass?.(s.median))}`.trimEnd();
}

/**
 * The suite's rows: its wall time against the target; the whole machine's CPU over each run (the
 * suite's CPU is mostly in processes /usr/bin/time does not count: the PostgreSQL servers), that
 * CPU spread over every core (no run doing that work can take less wall) and what other guests
 * stole meanwhile, where read; and its wall time over the floor's in the same repetition, which,
 * like the per-site share, compares across machines where seconds do not.
 */
function suiteRows(suite: readonly Sample[], floor: readonly Sample[], cores: number): string[] {
    const secs = (v: number) => `${fixed(v, 1)} s`;
    const machine = suite.every((s) => s.machine !== undefined)
        ? suite.map((s) => s.machine as NonNullable<Sample["machine"]>)
        : undefined;
    return [
        targetRow(
            "npm test, wall",
            suite.map((s) => s.wall / 1000),
            secs,
            `≤ ${TARGETS.suiteWallS} s`,
            (v) => v <= TARGETS.suiteWallS,
        ),
        ...(machine === undefined
            ? []
            : [
                  targetRow(
                      "  the machine's CPU meanwhile",
                      machine.map((m) => m.busy / 1000),
                      secs,
                  ),
                  targetRow(
                      `  that CPU over ${cores} cores: least wall`,
                      machine.map((m) => m.busy / 1000 / cores),
                      secs,
                  ),
                  targetRow(
                      "  stolen by other guests meanwhile",
                      machine.map((m) => m.steal / 1000),
                      secs,
                  ),
              ]),
        targetRow("npm test / floor, wall", ratios(suite, floor, "wall"), (v) => `${fixed(v, 1)}×`),
    ];
}

/**
 * The SDK floor's rows: what the replay of the renders costs per added site (the SDK registering
 * the same resources with nothing of the program), the render's cost per site beyond it (what the
 * program and the renderer add, all the project can cut), and the render's cost over the floor's.
 */
function replayRows(perSiteCpu: readonly number[], small: readonly Sample[], large: readonly Sample[]): string[] {
    const ms = (v: number) => `${fixed(v, 0)} ms`;
    const floor = marginal(large, small, { large: REPLAYED[1], small: REPLAYED[0] }, "cpu");
    return [
        targetRow("SDK floor: CPU per added site, replayed", floor, ms),
        // What the per-site target leaves for the program and the renderer once the SDK has had its share.
        targetRow(
            "  the target less the SDK floor",
            floor.map((v) => TARGETS.cpuPerSiteMs - v),
            ms,
        ),
        targetRow(
            "  render − floor, per added site",
            perSiteCpu.map((v, i) => v - floor[i]),
            ms,
        ),
        targetRow(
            "  render / floor, per added site",
            perSiteCpu.map((v, i) => v / floor[i]),
            (v) => `${fixed(v)}×`,
        ),
    ];
}

/** The report, as printed. */
export function formatReport(r: BenchResult): string {
    const get = (label: string) => {
        const s = r.samples.get(label);
        if (s === undefined) throw new Error(`no samples "${label}"`);
        return s;
    };
    const [floor, example] = [get("floor"), get("example")];
    const [small, mid, large] = SIZES.map((n) => get(`sites ${n}`));
    const secs = (ms: number) => fixed(ms / 1000);
    const times = (v: number) => `${fixed(v)}×`;
    const ms = (v: number) => `${fixed(v, 0)} ms`;
    const mib = (v: number) => `${fixed(v, 0)} MiB`;
    const peak = stats(large.map((s) => s.peakMiB));
    const perSiteCpu = marginal(large, small, { large: SIZES[2], small: SIZES[0] }, "cpu");
    const head = (t: string, w: number) => t.padStart(w);
    const labels: Record<string, string> = {
        floor: `floor (load ${r.floorModules} Pulumi modules, exit)`,
        floorCached: "  the same, Node compile cache on",
        floorDeferred: "  the same, closure serialization deferred",
        example: "render example (2 sites, route53)",
        tsNode: "for reference: ts-node, empty program",
        ...Object.fromEntries(SIZES.map((n) => [`sites ${n}`, `render ${n} sites (traffic-manager, ${n} stacks)`])),
        ...Object.fromEntries(SHARED_ONLY.map((n) => [`shared ${n}`, `  the same, shared stack only, ${n} sites`])),
        ...Object.fromEntries(REPLAYED.map((n) => [`replay ${n}`, `SDK floor: the ${n}-site render replayed`])),
        suite: "npm test (package.json scripts.test)",
    };
    const row = (label: string, values: readonly Sample[]) => {
        const cols = (key: "wall" | "cpu" | "peakMiB", f: (v: number) => string) => {
            const s = stats(values.map((v) => v[key]));
            return [s.median, s.min, s.max].map((v) => head(f(v), 7)).join("");
        };
        return `  ${(labels[label] ?? label).padEnd(46)}${cols("wall", secs)}   ${cols("cpu", secs)}   ${cols("peakMiB", (v) => fixed(v, 0))}`;
    };
    const sub = ["median", "min", "max"].map((h) => head(h, 7)).join("");
    return [
        `quay-georep bench, ${r.date}: node ${r.node}, ${r.cores} CPUs (${r.cpuModel}); ${r.reps} repetitions after 1 warm-up of each kind`,
        `render command (package.json scripts.render): ${r.command}`,
        ...(r.testCommand === undefined ? [] : [`test command (package.json scripts.test): ${r.testCommand}`]),
        `each sample is a fresh child process under ${TIME}: wall = spawn to exit, CPU = user + system of the`,
        `child and its descendants, peak = the largest RSS among them; load average (1/5/15 min) before`,
        `${r.load.before.map((v) => fixed(v)).join(" ")}, after ${r.load.after.map((v) => fixed(v)).join(" ")} (other work on the machine skews wall times)`,
        r.machine === undefined
            ? "steal time: not read (no /proc/stat)"
            : `the machine over the run (/proc/stat, all cores): ${fixed(r.machine.busy, 1)} s busy, ${fixed(r.machine.steal, 1)} s stolen by ` +
              `the hypervisor for other guests, in ${fixed(r.machine.wall, 1)} s of wall (steal slows every sample unevenly)`,
        ``,
        `  ${"".padEnd(46)}${head("wall (s)", 21)}   ${head("CPU (s)", 21)}   ${head("peak RSS (MiB)", 21)}`,
        `  ${"".padEnd(46)}${sub}   ${sub}   ${sub}`,
        ...[...r.samples].map(([label, values]) => row(label, values)),
        ``,
        `  ${"median of per-repetition values (range)".padEnd(40)}${"measured".padEnd(26)}${"target".padEnd(12)}verdict`,
        targetRow(
            "render example / floor, CPU",
            ratios(example, floor, "cpu"),
            times,
            `≤ ${TARGETS.renderOverFloorCpu}×`,
            (v) => v <= TARGETS.renderOverFloorCpu,
        ),
        targetRow("render example / floor, wall", ratios(example, floor, "wall"), times),
        ...(r.samples.has("floorCached")
            ? [targetRow("render example / cached floor, CPU", ratios(example, get("floorCached"), "cpu"), times)]
            : []),
        ...(r.samples.has("floorDeferred")
            ? [targetRow("render example / deferred floor, CPU", ratios(example, get("floorDeferred"), "cpu"), times)]
            : []),
        targetRow(`${SIZES[1]} sites / ${SIZES[0]} sites, CPU`, ratios(mid, small, "cpu"), times),
        targetRow(`${SIZES[1]} sites / ${SIZES[0]} sites, wall`, ratios(mid, small, "wall"), times),
        targetRow(`${SIZES[2]} sites / ${SIZES[0]} sites, CPU`, ratios(large, small, "cpu"), times),
        targetRow(`${SIZES[2]} sites / ${SIZES[0]} sites, wall`, ratios(large, small, "wall"), times),
        targetRow(
            `CPU per added site (t${SIZES[2]} − t${SIZES[0]})/${SIZES[2] - SIZES[0]}`,
            perSiteCpu,
            ms,
            `≤ ${TARGETS.cpuPerSiteMs} ms`,
            (v) => v <= TARGETS.cpuPerSiteMs,
        ),
        // The same cost as a share of the floor's CPU in the same repetition: loading the SDK is what
        // the machine's speed changes most visibly, so this travels between machines where ms do not.
        targetRow(
            "  the same, per floor CPU",
            perSiteCpu.map((v, i) => v / floor[i].cpu),
            (v) => `${fixed(v * 100, 1)}%`,
        ),
        targetRow(`wall per added site`, marginal(large, small, { large: SIZES[2], small: SIZES[0] }, "wall"), ms),
        ...(r.samples.has(`shared ${SHARED_ONLY[1]}`)
            ? [
                  targetRow(
                      "CPU per added site, shared stack only",
                      marginal(
                          get(`shared ${SHARED_ONLY[1]}`),
                          get(`shared ${SHARED_ONLY[0]}`),
                          { large: SHARED_ONLY[1], small: SHARED_ONLY[0] },
                          "cpu",
                      ),
                      ms,
                  ),
              ]
            : []),
        ...(r.samples.has(`replay ${REPLAYED[1]}`)
            ? replayRows(perSiteCpu, get(`replay ${REPLAYED[0]}`), get(`replay ${REPLAYED[1]}`))
            : []),
        `  ${`peak RSS at ${SIZES[2]} sites (largest sample)`.padEnd(40)}${`${mib(peak.max)} (${fixed(peak.min, 0)}–${fixed(peak.max, 0)})`.padEnd(26)}${`< ${TARGETS.peakMiB100} MiB`.padEnd(12)}${verdict(peak.max < TARGETS.peakMiB100)}`,
        ...(r.samples.has("suite") ? suiteRows(get("suite"), floor, r.cores) : []),
        ...(r.notes.length > 0 ? ["", ...r.notes] : []),
    ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Running

/** A package.json script's command, as npm would run it (its `pre` script is run once, untimed). */
function packageScript(name: "render" | "test"): { command: string; pre?: string } {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
        scripts?: Record<string, string>;
    };
    const command = pkg.scripts?.[name];
    if (command === undefined) throw new Error(`package.json has no scripts.${name}`);
    return { command, pre: pkg.scripts?.[`pre${name}`] };
}

/** Runs a `pre` script once, untimed, as npm would before the script. */
function runPre(name: string, pre: string | undefined): void {
    if (pre === undefined) return;
    process.stderr.write(`bench: running pre${name} once, untimed: ${pre}\n`);
    const run = spawnSync("sh", ["-c", pre], { cwd: ROOT, env: scriptEnv(), stdio: "inherit" });
    if (run.status !== 0) throw new Error(`pre${name} exited ${run.status}`);
}

/** npm's environment for a script, minus npm: node_modules/.bin first on PATH. */
function scriptEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PATH: `${path.join(ROOT, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
        ...extra,
    };
}

/** Runs `sh -c <command> <args…>` (args appended as npm appends them) under /usr/bin/time. */
function measure(work: string, command: string, args: readonly string[], env = scriptEnv()): Promise<Sample> {
    const timeFile = path.join(work, "time.txt");
    return new Promise((resolve, reject) => {
        const start = process.hrtime.bigint();
        const child = spawn(TIME, ["-f", "%e %U %S %M", "-o", timeFile, "sh", "-c", `${command} "$@"`, "sh", ...args], {
            cwd: ROOT,
            env,
            stdio: ["ignore", "pipe", "pipe"],
        });
        // The output's end, for the error when the command fails (mocha reports failures on stdout).
        let output = "";
        const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
        child.stdout.on("data", keep);
        child.stderr.on("data", keep);
        child.on("error", reject);
        child.on("exit", (code) => {
            const wall = Number(process.hrtime.bigint() - start) / 1e6;
            if (code !== 0) return reject(new Error(`${command} ${args.join(" ")} exited ${code}:\n${output}`));
            resolve({ wall, ...parseTime(fs.readFileSync(timeFile, "utf8")) });
        });
    });
}

/**
 * {@link measure}, with the whole machine's busy and stolen CPU over the sample (`/proc/stat`): a
 * suite's CPU is mostly in processes that are not its descendants (the PostgreSQL servers).
 */
async function measureMachine(work: string, command: string, ticks: number): Promise<Sample> {
    const since = machineCpuFrom(ticks);
    // CI=true: a skipped test fails the run (scripts/test.js), so a sample is always the whole suite,
    // never a shorter one that skipped what it could not find (PostgreSQL, the schemas, cloud-init).
    const sample = await measure(work, command, [], scriptEnv({ CI: "true" }));
    const used = since();
    return used === undefined ? sample : { ...sample, machine: { busy: used.busy * 1000, steal: used.steal * 1000 } };
}

// Loaded into every node process of the discovery render (NODE_OPTIONS): records the `@pulumi/*`
// modules the project's own files (anything outside node_modules) require.
const HOOK = `const Module = require("node:module");
const entries = [];
const load = Module._load;
Module._load = function (request, parent, isMain) {
    if (/^@pulumi\\//.test(request) && parent && parent.filename && !parent.filename.includes("/node_modules/")) {
        entries.push({ request, resolved: Module._resolveFilename(request, parent, isMain) });
    }
    return load.apply(this, arguments);
};
process.on("exit", () => {
    if (entries.length) require("node:fs").writeFileSync(process.env.BENCH_LOADS + "." + process.pid, JSON.stringify(entries));
});
`;

/** The `@pulumi/*` files the project's own code loads during one untimed render. */
async function discoverFloor(work: string, command: string): Promise<string[]> {
    const hook = path.join(work, "hook.js");
    const loads = path.join(work, "loads");
    fs.writeFileSync(hook, HOOK);
    const env = scriptEnv({
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${hook}`.trim(),
        BENCH_LOADS: loads,
    });
    await measure(work, command, ["--dir", ROOT, "--out", path.join(work, "out-hook")], env);
    const files = fs.readdirSync(work).filter((f) => f.startsWith("loads."));
    const entries = files.flatMap(
        (f) => JSON.parse(fs.readFileSync(path.join(work, f), "utf8")) as { resolved: string }[],
    );
    return [...new Set(entries.map((e) => e.resolved))].sort();
}

async function main(argv: string[]): Promise<number> {
    const args = parseArgs(argv);
    if (args === undefined) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
    }
    const { reps } = args;
    if (!fs.existsSync(TIME)) {
        process.stderr.write(`bench: needs GNU time at ${TIME} (Debian/Ubuntu: apt-get install time)\n`);
        return 2;
    }
    const before = os.loadavg();
    const ticks = clockTicks();
    const machineSince = machineCpuFrom(ticks);
    const started = process.hrtime.bigint();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "quay-georep-bench-"));
    try {
        const script = packageScript("render");
        runPre("render", script.pre);
        const test = args.suite ? packageScript("test") : undefined;
        runPre("test", test?.pre);
        const base = exampleTexts();
        const dirs = new Map<number, string>();
        for (const n of SIZES) {
            const dir = path.join(work, `sites-${n}`);
            fs.mkdirSync(dir);
            for (const [name, text] of Object.entries(topologyFiles(base, benchSites(n)))) {
                fs.writeFileSync(path.join(dir, name), text);
            }
            dirs.set(n, dir);
        }
        const floorModules = await discoverFloor(work, script.command);
        const floor = path.join(work, "floor.js");
        const requires = floorModules.map((f) => `require(${JSON.stringify(f)});`).join("\n");
        fs.writeFileSync(floor, `${requires}\n`);
        // Node ≥ 22.1: V8 code cache on disk, as a render script may turn on for itself.
        const floorCached = path.join(work, "floor-cached.js");
        const cacheDir = JSON.stringify(path.join(work, "compile-cache"));
        const cacheOn = `require("node:module").enableCompileCache?.(${cacheDir});\n`;
        fs.writeFileSync(floorCached, `${cacheOn}${requires}\n`);
        // The least the renderer loads: as the cached floor, with the SDK's function serialization
        // left out until called (offline/deferClosure.ts, which the renderer loads first); measured
        // when the build has it (the first render above built bin/).
        const floorDeferred = path.join(work, "floor-deferred.js");
        const defer = path.join(ROOT, "bin", "offline", "deferClosure.js");
        fs.writeFileSync(floorDeferred, `${cacheOn}require(${JSON.stringify(defer)});\n${requires}\n`);

        const render =
            (dir: string, out: string, more: string[] = []) =>
            () =>
                measure(work, script.command, ["--dir", dir, "--out", path.join(work, out), ...more]);
        const shared = benchSites(2)[0].stack;
        const replay = replayCommand(script.command);
        const kinds = new Map<string, () => Promise<Sample>>([
            ["floor", () => measure(work, "node", [floor])],
            ["floorCached", () => measure(work, "node", [floorCached])],
            ...(fs.existsSync(defer) ? [["floorDeferred", () => measure(work, "node", [floorDeferred])] as const] : []),
            // While the renderer runs under ts-node, its start-up (the TypeScript compiler) is part of every render.
            ...(/\bts-node\b/.test(script.command)
                ? [["tsNode", () => measure(work, "ts-node --transpile-only -e 0", [])] as const]
                : []),
            ["example", render(ROOT, "out-example")],
            ...SIZES.map((n) => [`sites ${n}`, render(dirs.get(n) as string, `out-${n}`)] as const),
            ...SHARED_ONLY.map(
                (n) => [`shared ${n}`, render(dirs.get(n) as string, `out-s${n}`, ["--stack", shared])] as const,
            ),
            // After the renders whose folders they replay (the warm-up runs every kind once, in order).
            ...(replay === undefined
                ? []
                : REPLAYED.map(
                      (n) =>
                          [`replay ${n}`, () => measure(work, replay, ["--dir", path.join(work, `out-${n}`)])] as const,
                  )),
            ...(test === undefined ? [] : [["suite", () => measureMachine(work, test.command, ticks)] as const]),
        ]);

        process.stderr.write(`bench: 1 warm-up, then ${reps} repetitions of ${kinds.size} kinds …\n`);
        for (const run of kinds.values()) await run();
        const samples = new Map<string, Sample[]>([...kinds.keys()].map((k) => [k, []]));
        for (let i = 0; i < reps; i++) {
            for (const [kind, run] of kinds) {
                samples.get(kind)?.push(await run());
                process.stderr.write(".");
            }
        }
        process.stderr.write("\n");
        const cpu = os.cpus();
        const machineUsed = machineSince();
        const report = formatReport({
            date: new Date().toISOString().slice(0, 10),
            node: spawnSync("node", ["--version"], { env: scriptEnv(), encoding: "utf8" }).stdout.trim(),
            cores: cpu.length,
            cpuModel: cpu[0]?.model ?? "?",
            reps,
            command: script.command,
            testCommand: test?.command,
            load: { before, after: os.loadavg() },
            machine:
                machineUsed === undefined
                    ? undefined
                    : { ...machineUsed, wall: Number(process.hrtime.bigint() - started) / 1e9 },
            floorModules: floorModules.length,
            samples,
            notes: [
                ...(replay === undefined
                    ? [
                          `no SDK floor rows: the render script does not run offline/render.ts, so there is no replay to run`,
                      ]
                    : []),
                `Pulumi modules the floor loads:`,
                ...floorModules.map((f) => `  ${f.slice(f.lastIndexOf("/node_modules/") + "/node_modules/".length)}`),
            ],
        });
        process.stdout.write(`${report}\n`);
        return 0;
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err) => {
            process.stderr.write(`bench failed: ${(err as Error).message}\n`);
            process.exit(1);
        },
    );
}
