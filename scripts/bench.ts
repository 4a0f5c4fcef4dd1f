/**
 * `npm run bench [-- --reps N]`: how far the offline render is from its floor, and how it scales.
 *
 * Everything is measured in one run, each sample a fresh child process (the way a user or CI runs
 * `npm run render`), timed wall-clock from spawn to exit and by its own CPU time:
 *   floor    a process that only loads the Pulumi packages the program loads, then exits. Which
 *            packages: a first, untimed render runs with a require hook that records every
 *            `@pulumi/*` module the project's own files require.
 *   example  the renderer on this repository: every example stack (2 sites, 2 stacks).
 *   twelve   the renderer on a generated project: 12 sites across AWS and Azure regions, one
 *            stack each, built from the example's Pulumi.yaml and stack files.
 *   ts-node  for reference, not in the ratios: node starting ts-node (as `npm run render` does)
 *            on an empty program, which loads the TypeScript compiler.
 * Samples are interleaved (floor, ts-node, example, twelve, floor, …) after one discarded warm-up of each,
 * and reported as median, min and max; the ratios are medians of per-repetition ratios.
 * It also lists the `@pulumi/azure-native` modules the program loads and who loads them.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";

const ROOT = path.resolve(__dirname, "..");
const RENDER = path.join(ROOT, "offline", "render.ts");
const TS_NODE = require.resolve("ts-node/dist/bin.js", { paths: [ROOT] });

/** One site of a generated topology. */
interface BenchSite {
    readonly stack: string;
    readonly cloud: "aws" | "azure";
    readonly region: string;
    /** Azure sites: a nearby AWS region for Route 53 latency records (one site per region). */
    readonly latencyRegion?: string;
}

/** The 12-site topology: the example's two sites first, then ten more across both clouds. */
export const TWELVE_SITES: readonly BenchSite[] = [
    { stack: "us", cloud: "aws", region: "us-east-1" },
    { stack: "eu", cloud: "azure", region: "westeurope", latencyRegion: "eu-central-1" },
    { stack: "usw", cloud: "aws", region: "us-west-2" },
    { stack: "ap", cloud: "aws", region: "ap-southeast-1" },
    { stack: "jp", cloud: "aws", region: "ap-northeast-1" },
    { stack: "sa", cloud: "aws", region: "sa-east-1" },
    { stack: "ca", cloud: "aws", region: "ca-central-1" },
    { stack: "eun", cloud: "azure", region: "northeurope", latencyRegion: "eu-west-1" },
    { stack: "use", cloud: "azure", region: "eastus", latencyRegion: "us-east-2" },
    { stack: "uk", cloud: "azure", region: "uksouth", latencyRegion: "eu-west-2" },
    { stack: "au", cloud: "azure", region: "australiaeast", latencyRegion: "ap-southeast-2" },
    { stack: "in", cloud: "azure", region: "centralindia", latencyRegion: "ap-south-1" },
];

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => v !== null && typeof v === "object" && !Array.isArray(v);

/** The per-site value of a site-keyed config map, made unique for the new site where it must be. */
function siteValue(key: string, template: unknown, site: BenchSite, index: number): unknown {
    switch (key) {
        case "healthCheckAddresses":
            return `198.51.100.${10 + index}`;
        case "latencyRegions":
            return site.latencyRegion;
        case "buckets":
            return site.cloud === "aws"
                ? { ...(template as Tree), bucket: `example-quay-georep-${site.stack}` }
                : { ...(template as Tree), accountName: `examplequay${site.stack}` };
        default:
            return structuredClone(template);
    }
}

/**
 * Rewrites every map keyed by the example's site names (storage buckets, health-check addresses,
 * credentials, …) for the new sites, each entry cloned from the example site of the same cloud.
 */
function respread(value: unknown, example: readonly Tree[], sites: readonly BenchSite[], key = ""): unknown {
    if (Array.isArray(value)) return value.map((v) => respread(v, example, sites));
    if (!isTree(value)) return value;
    const names = example.map((s) => String(s.name));
    const keys = Object.keys(value);
    if (keys.length > 0 && keys.every((k) => names.includes(k))) {
        const out: Tree = {};
        sites.forEach((site, i) => {
            const template = example.find((s) => s.cloud === site.cloud);
            const entry = template === undefined ? undefined : value[String(template.name)];
            if (entry !== undefined) out[`${site.stack}storage`] = siteValue(key, entry, site, i);
        });
        return out;
    }
    return Object.fromEntries(keys.map((k) => [k, respread(value[k], example, sites, k)]));
}

/** Writes a project folder with one site and one stack per entry, from this repository's files. */
export function writeTopology(dir: string, sites: readonly BenchSite[]): void {
    fs.mkdirSync(dir, { recursive: true });
    const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as Tree;
    const config = project.config as Tree;
    const shared = typeof config.sharedStack === "string" ? config.sharedStack : "us";
    const example = ((config.sites as Tree).value as Tree[]).map((s) => ({ ...s }));
    const newSites = sites.map((site, i) => ({
        ...example.find((s) => s.cloud === site.cloud),
        name: `${site.stack}storage`,
        stack: site.stack,
        region: site.region,
        endpoint: i < example.length ? example[i].endpoint : `router.apps.${site.stack}.example.com`,
    }));
    const rest = Object.fromEntries(Object.entries(config).filter(([k]) => k !== "sites"));
    project.config = { ...(respread(rest, example, sites) as Tree), sites: { value: newSites } };
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), stringify(project));

    const sharedFile = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${shared}.yaml`), "utf8")) as Tree;
    const other = example.find((s) => s.stack !== shared);
    const siteFile = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${String(other?.stack)}.yaml`), "utf8")) as Tree;
    for (const site of sites) {
        const base = site.stack === shared ? sharedFile : siteFile;
        const stackConfig = respread(base.config, example, sites) as Tree;
        for (const k of Object.keys(stackConfig).filter((k) => k.endsWith(":kubeContext"))) {
            stackConfig[k] = `${site.stack}-cluster`;
        }
        fs.writeFileSync(path.join(dir, `Pulumi.${site.stack}.yaml`), stringify({ ...base, config: stackConfig }));
    }
}

/** One sample: wall time from spawn to exit, and the child's own CPU time (user + system). */
interface Sample {
    readonly wall: number;
    readonly cpu: number;
}

// Loaded first into every timed child: reports its CPU time at exit (wall time alone is skewed
// by whatever else the machine runs; CPU time much less).
const CPU_HOOK = `process.on("exit", () => {
    const u = process.cpuUsage();
    require("node:fs").writeFileSync(process.env.BENCH_CPU, String((u.user + u.system) / 1000));
});
`;

/** Runs `node <args>` and returns its wall and CPU time in milliseconds; rejects on a non-zero exit. */
function timeChild(work: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Sample> {
    const hook = path.join(work, "cpu-hook.js");
    const cpuFile = path.join(work, "cpu.txt");
    if (!fs.existsSync(hook)) fs.writeFileSync(hook, CPU_HOOK);
    return new Promise((resolve, reject) => {
        const start = process.hrtime.bigint();
        const child = spawn(process.execPath, ["--require", hook, ...args], {
            cwd: ROOT,
            env: { ...env, BENCH_CPU: cpuFile },
            stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("exit", (code) => {
            const wall = Number(process.hrtime.bigint() - start) / 1e6;
            if (code === 0) resolve({ wall, cpu: Number(fs.readFileSync(cpuFile, "utf8")) });
            else reject(new Error(`node ${args.join(" ")} exited ${code}:\n${stderr}`));
        });
    });
}

const renderArgs = (dir: string, out: string) => [TS_NODE, "--transpile-only", RENDER, "--dir", dir, "--out", out];

/** What the program loads, from one render under a require hook. */
interface Loads {
    /** `@pulumi/*` specifiers required by the project's own files, resolved, with who asked. */
    readonly entries: readonly { readonly request: string; readonly resolved: string; readonly from: string }[];
    /** Every loaded file under node_modules/@pulumi/azure-native. */
    readonly azureNativeFiles: readonly string[];
}

const HOOK = `
const Module = require("node:module");
const fs = require("node:fs");
const load = Module._load;
const entries = [];
Module._load = function (request, parent, isMain) {
    if (/^@pulumi\\//.test(request) && parent && parent.filename && !parent.filename.includes("/node_modules/")) {
        entries.push({ request, resolved: Module._resolveFilename(request, parent, isMain), from: parent.filename });
    }
    return load.apply(this, arguments);
};
process.on("exit", () => {
    const azureNativeFiles = Object.keys(require.cache).filter((f) => f.includes("/node_modules/@pulumi/azure-native/"));
    fs.writeFileSync(process.env.BENCH_LOADS, JSON.stringify({ entries, azureNativeFiles }));
});
`;

async function discoverLoads(work: string): Promise<Loads> {
    const hook = path.join(work, "hook.js");
    const out = path.join(work, "loads.json");
    fs.writeFileSync(hook, HOOK);
    await timeChild(work, ["--require", hook, ...renderArgs(ROOT, path.join(work, "out-hook"))], {
        ...process.env,
        BENCH_LOADS: out,
    });
    return JSON.parse(fs.readFileSync(out, "utf8")) as Loads;
}

/** Median, min and max. */
export function stats(values: readonly number[]): { median: number; min: number; max: number } {
    const s = [...values].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1] };
}

/** `@pulumi/azure-native/dbforpostgresql/server.js` → `dbforpostgresql`; the root is `(root)`. */
function azureModule(file: string): string {
    const rel = file.split("/node_modules/@pulumi/azure-native/")[1];
    return rel.includes("/") ? rel.split("/")[0] : `(root) ${rel}`;
}

async function main(argv: string[]): Promise<number> {
    const repsAt = argv.indexOf("--reps");
    const reps = repsAt >= 0 ? Number(argv[repsAt + 1]) : 5;
    if (!Number.isInteger(reps) || reps < 1 || argv.some((a, i) => a !== "--reps" && i !== repsAt + 1)) {
        process.stderr.write("usage: npm run bench [-- --reps N]   (N ≥ 1, default 5)\n");
        return 2;
    }
    const load = { before: os.loadavg()[0].toFixed(2) };
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "quay-georep-bench-"));
    const twelveDir = path.join(work, "twelve");
    writeTopology(twelveDir, TWELVE_SITES);

    const loads = await discoverLoads(work);
    const pulumiFiles = [...new Set(loads.entries.map((e) => e.resolved))].sort();
    const floor = path.join(work, "floor.js");
    fs.writeFileSync(floor, pulumiFiles.map((f) => `require(${JSON.stringify(f)});`).join("\n") + "\n");

    const kinds = {
        floor: () => timeChild(work, [floor]),
        tsNode: () => timeChild(work, [TS_NODE, "--transpile-only", "-e", "0"]),
        example: () => timeChild(work, renderArgs(ROOT, path.join(work, "out-example"))),
        twelve: () => timeChild(work, renderArgs(twelveDir, path.join(work, "out-twelve"))),
    };
    process.stderr.write(`bench: 1 warm-up, then ${reps} repetitions of each kind …\n`);
    for (const run of Object.values(kinds)) await run();
    const samples: Record<keyof typeof kinds, Sample[]> = { floor: [], tsNode: [], example: [], twelve: [] };
    for (let i = 0; i < reps; i++) {
        for (const [kind, run] of Object.entries(kinds) as [keyof typeof kinds, () => Promise<Sample>][]) {
            samples[kind].push(await run());
        }
    }

    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const row = (label: string, values: Sample[]) => {
        const wall = stats(values.map((v) => v.wall));
        const cpu = stats(values.map((v) => v.cpu));
        const cols = [wall.median, wall.min, wall.max, cpu.median, cpu.min, cpu.max].map((v) => s(v).padStart(8));
        return `  ${label.padEnd(44)}${cols.slice(0, 3).join("")}  ${cols.slice(3).join("")}`;
    };
    const ratio = (label: string, num: Sample[], den: Sample[]) => {
        const part = (key: keyof Sample) => {
            const { median, min, max } = stats(num.map((n, i) => n[key] / den[i][key]));
            return `${key} ${median.toFixed(2)}× (${min.toFixed(2)}–${max.toFixed(2)}×)`;
        };
        return `  ${label.padEnd(44)}${part("wall")}   ${part("cpu")}`;
    };
    const stacks = fs.readdirSync(twelveDir).filter((f) => /^Pulumi\..+\.yaml$/.test(f)).length;
    const azure = new Map<string, Set<string>>();
    for (const e of loads.entries.filter((e) => e.request.startsWith("@pulumi/azure-native"))) {
        azure.set(e.request, (azure.get(e.request) ?? new Set()).add(path.relative(ROOT, e.from)));
    }
    const azureModules = [...new Set(loads.azureNativeFiles.map(azureModule))].sort();
    const lines = [
        `quay-georep bench: node ${process.version}, ${os.cpus().length} CPUs, ${reps} repetitions after 1 warm-up`,
        `load average before ${load.before}, after ${os.loadavg()[0].toFixed(2)} (other work on the machine skews times)`,
        `each sample is one child process: wall time from spawn to exit, and its CPU time (user + system)`,
        ``,
        `  ${"".padEnd(44)}${"   wall (spawn to exit)".padEnd(24)}  ${"   cpu (user + system)"}`,
        `  ${"".padEnd(44)}${["median", "min", "max"].map((h) => h.padStart(8)).join("")}  ${["median", "min", "max"].map((h) => h.padStart(8)).join("")}`,
        row(`floor (load ${pulumiFiles.length} Pulumi modules, exit)`, samples.floor),
        row("for reference: ts-node on an empty program", samples.tsNode),
        row("render example (2 sites, 2 stacks)", samples.example),
        row(`render 12 sites (${stacks} stacks)`, samples.twelve),
        ``,
        `ratios: median of the per-repetition ratios (their range)`,
        ratio("render example / floor", samples.example, samples.floor),
        ratio("render 12 sites / render example (2 sites)", samples.twelve, samples.example),
        ``,
        `Pulumi modules the program loads (the floor):`,
        ...pulumiFiles.map((f) => `  ${f.slice(f.lastIndexOf("/node_modules/") + "/node_modules/".length)}`),
        ``,
        `@pulumi/azure-native: ${azureModules.length} modules loaded (${loads.azureNativeFiles.length} files): ${azureModules.join(", ")}`,
        ...[...azure].map(([request, from]) => `  ${request}  ← ${[...from].sort().join(", ")}`),
        azure.has("@pulumi/azure-native")
            ? `  the package root is imported (every submodule loads): see the files above`
            : `  the package root is never imported`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    fs.rmSync(work, { recursive: true, force: true });
    return 0;
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
