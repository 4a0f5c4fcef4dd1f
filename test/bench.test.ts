/**
 * The bench's pure parts (`scripts/bench.ts`): the generated topologies are valid projects of the
 * size asked, and the arithmetic and report turn samples into the right ratios and verdicts.
 * Nothing here is timed.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseConfig } from "../config/config";
import { readRawConfig } from "../config/load";
import { AWS_REGIONS, AZURE_REGIONS } from "../config/regions";
import { readStackConfig } from "../offline/stackConfig";
import {
    BenchResult,
    benchSites,
    formatReport,
    machineCpu,
    marginal,
    parseArgs,
    parseTime,
    ProjectTexts,
    ratios,
    replayCommand,
    Sample,
    stats,
    topologyFiles,
} from "../scripts/bench";
import { PROJECT_DIR } from "./mocks";

const EXAMPLE: ProjectTexts = {
    project: fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8"),
    stacks: Object.fromEntries(
        ["us", "eu"].map((s) => [s, fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${s}.yaml`), "utf8")]),
    ),
};

/** Parses one stack of a generated project as the program would. */
function parseStack(files: Record<string, string>, stack: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-test-"));
    try {
        for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
        const cfg = readStackConfig(dir, stack);
        const { raw, plaintextKeys } = readRawConfig(cfg.project, cfg.config, (k) => cfg.secretKeys.includes(k));
        return parseConfig(raw, { project: cfg.project, stack, plaintextKeys });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const sample = (wall: number, cpu: number, peakMiB = 300): Sample => ({ wall, cpu, peakMiB });

describe("bench topologies", () => {
    it("starts with the example's two sites and alternates clouds, every name, stack and region valid", () => {
        const sites = benchSites(100);
        assert.equal(sites.length, 100);
        assert.deepEqual(sites.slice(0, 3), [
            { name: "usstorage", stack: "us", cloud: "aws", region: "us-east-1" },
            { name: "eustorage", stack: "eu", cloud: "azure", region: "westeurope" },
            { name: "s003storage", stack: "s003", cloud: "aws", region: "af-south-1" },
        ]);
        assert.equal(sites[99].stack, "s100");
        assert.equal(new Set(sites.map((s) => s.name)).size, 100);
        assert.equal(new Set(sites.map((s) => s.stack)).size, 100);
        assert.deepEqual(
            sites.map((s) => s.cloud),
            sites.map((_, i) => (i % 2 === 0 ? "aws" : "azure")),
        );
        for (const s of sites) assert.ok((s.cloud === "aws" ? AWS_REGIONS : AZURE_REGIONS).has(s.region), s.region);
        // Only commercial AWS regions: other partitions need accounts of their own.
        assert.ok(!sites.some((s) => /^(cn-|us-gov-)|iso/.test(s.region)));
    });

    it("refuses a topology of fewer than two sites", () => {
        assert.throws(() => benchSites(1), /at least 2 sites, not 1/);
    });

    it("writes one stack file per site and a project the config parser accepts in traffic-manager mode", () => {
        const sites = benchSites(12);
        const files = topologyFiles(EXAMPLE, sites);
        assert.deepEqual(
            Object.keys(files).sort(),
            ["Pulumi.yaml", ...sites.map((s) => `Pulumi.${s.stack}.yaml`)].sort(),
        );
        const shared = parseStack(files, "us");
        const site = parseStack(files, "s012");
        assert.equal(shared.sites.length, 12);
        assert.equal(shared.entryPoint.mode, "traffic-manager");
        assert.equal(site.stack.name, "s012");
        assert.equal(site.stack.kubeContext, "s012-cluster");
        // An AWS site's endpoint is placed in a nearby Azure region; an Azure site's in its own.
        if (shared.entryPoint.mode !== "traffic-manager") assert.fail("not traffic-manager");
        assert.equal(shared.entryPoint.locations.usstorage, "eastus");
        assert.equal(shared.entryPoint.locations.s003storage, "southafricanorth");
        assert.equal(shared.entryPoint.locations.eustorage, "westeurope");
        assert.equal(Object.keys(shared.entryPoint.locations).length, 12);
    });

    it("accepts 100 active sites in traffic-manager mode", () => {
        const cfg = parseStack(topologyFiles(EXAMPLE, benchSites(100)), "us");
        assert.equal(cfg.sites.length, 100);
        assert.equal(cfg.sites.filter((s) => s.state === "active").length, 100);
    });
});

describe("bench arithmetic", () => {
    it("takes the median of an odd and an even count, with min and max", () => {
        assert.deepEqual(stats([3, 1, 2]), { median: 2, min: 1, max: 3 });
        assert.deepEqual(stats([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
    });

    it("pairs ratios by repetition", () => {
        const num = [sample(300, 1500), sample(400, 1200)];
        const den = [sample(100, 1000), sample(200, 1000)];
        assert.deepEqual(ratios(num, den, "cpu"), [1.5, 1.2]);
        assert.deepEqual(ratios(num, den, "wall"), [3, 2]);
    });

    it("divides the difference between 100 and 2 sites by the 98 sites added", () => {
        const t100 = [sample(0, 6920)];
        const t2 = [sample(0, 3000)];
        assert.deepEqual(marginal(t100, t2, { large: 100, small: 2 }, "cpu"), [40]);
    });

    it("reads the machine's busy and stolen CPU from /proc/stat's first line, in USER_HZ ticks", () => {
        // user nice system idle iowait irq softirq steal guest guest_nice, as Linux 6 writes them.
        const stat =
            "cpu  953079 10 126729 5684983 7935 0 4635 89284 0 0\ncpu0 467949 0 62934 2850692 5130 0 1621 45330 0 0\n";
        assert.deepEqual(machineCpu(stat, 100), { busy: 10844.53, steal: 892.84 });
        assert.deepEqual(machineCpu(stat, 1000), { busy: 1084.453, steal: 89.284 });
        // No aggregate line, or one without a steal column (Linux before 2.6.11): not read.
        assert.equal(machineCpu("cpu0 1 2 3 4 5 6 7 8\n", 100), undefined);
        assert.equal(machineCpu("cpu  1 2 3 4 5 6 7\n", 100), undefined);
        assert.equal(machineCpu("", 100), undefined);
    });

    it("reads GNU time's elapsed, user, system and max RSS (KiB)", () => {
        assert.deepEqual(parseTime("2.08 3.00 0.13 262144\n"), { cpu: 3130, peakMiB: 256 });
        assert.deepEqual(parseTime("Command exited with non-zero status 1\n0.10 0.05 0.01 1024"), {
            cpu: 60,
            peakMiB: 1,
        });
        assert.throws(() => parseTime("garbage"), /unexpected \/usr\/bin\/time output/);
    });
});

describe("bench command line", () => {
    it("reads --reps N and --suite in either order, 5 repetitions and no suite by default", () => {
        assert.deepEqual(parseArgs([]), { reps: 5, suite: false });
        assert.deepEqual(parseArgs(["--reps", "3"]), { reps: 3, suite: false });
        assert.deepEqual(parseArgs(["--suite", "--reps", "12"]), { reps: 12, suite: true });
        assert.deepEqual(parseArgs(["--reps", "2", "--suite"]), { reps: 2, suite: true });
    });

    it("refuses a missing, zero, negative or fractional count and anything else", () => {
        for (const argv of [
            ["--reps"],
            ["--reps", "0"],
            ["--reps", "-1"],
            ["--reps", "1.5"],
            ["--reps", "x"],
            ["--suit"],
            ["3"],
        ]) {
            assert.equal(parseArgs(argv), undefined, argv.join(" "));
        }
    });
});

describe("bench report", () => {
    /** Two repetitions: render example at 1.4× and 1.6× the floor's CPU; 45 ms and 35 ms per site. */
    const result = (peak100: number): BenchResult => ({
        date: "2026-01-01",
        node: "v22.0.0",
        cores: 2,
        cpuModel: "test",
        reps: 2,
        command: "node bin/offline/render.js",
        load: { before: [0.5, 0.6, 0.7], after: [1, 1.1, 1.2] },
        floorModules: 21,
        samples: new Map([
            ["floor", [sample(1000, 1000), sample(1000, 1000)]],
            ["example", [sample(1500, 1400), sample(1700, 1600)]],
            ["sites 2", [sample(1500, 2000), sample(1500, 2000)]],
            ["sites 12", [sample(2000, 2400), sample(2000, 2400)]],
            ["sites 100", [sample(6000, 6410, peak100), sample(5000, 5430, 350)]],
        ]),
        notes: ["a note"],
    });
    const line = (report: string, start: string) => report.split("\n").find((l) => l.trimStart().startsWith(start));

    it("states each target with the median, its range and a verdict", () => {
        const report = formatReport(result(399));
        assert.equal(
            line(report, "render example / floor, CPU"),
            "  render example / floor, CPU             1.50× (1.40×–1.60×)       ≤ 1.5×      PASS",
        );
        assert.equal(
            line(report, "render example / floor, wall"),
            "  render example / floor, wall            1.60× (1.50×–1.70×)       —",
        );
        assert.equal(
            line(report, "12 sites / 2 sites, CPU"),
            "  12 sites / 2 sites, CPU                 1.20× (1.20×–1.20×)       —",
        );
        assert.equal(
            line(report, "100 sites / 2 sites, CPU"),
            "  100 sites / 2 sites, CPU                2.96× (2.71×–3.21×)       —",
        );
        assert.equal(
            line(report, "CPU per added site"),
            "  CPU per added site (t100 − t2)/98       40 ms (35 ms–45 ms)       ≤ 40 ms     PASS",
        );
        // 45 and 35 ms against a floor of 1000 ms of CPU in each repetition.
        assert.equal(
            line(report, "the same, per floor CPU"),
            "    the same, per floor CPU               4.0% (3.5%–4.5%)          —",
        );
        assert.equal(
            line(report, "peak RSS at 100 sites"),
            "  peak RSS at 100 sites (largest sample)  399 MiB (350–399)         < 400 MiB   PASS",
        );
    });

    it("adds the ratio to the floor with Node's compile cache when that was measured, without a target", () => {
        const base = result(300);
        const samples = new Map([...base.samples, ["floorCached", [sample(500, 700), sample(500, 800)]]]);
        const report = formatReport({ ...base, samples });
        assert.equal(
            line(report, "render example / cached floor, CPU"),
            "  render example / cached floor, CPU      2.00× (2.00×–2.00×)       —",
        );
        assert.equal(line(formatReport(base), "render example / cached floor"), undefined);
    });

    it("adds the ratio to the floor with the closure serialization deferred when measured, without a target", () => {
        const base = result(300);
        const samples = new Map([...base.samples, ["floorDeferred", [sample(250, 350), sample(250, 400)]]]);
        const report = formatReport({ ...base, samples });
        assert.equal(
            line(report, "render example / deferred floor, CPU"),
            "  render example / deferred floor, CPU    4.00× (4.00×–4.00×)       —",
        );
        assert.match(report, /^ {2}\s+the same, closure serialization deferred\s+0\.\d\d/m);
        assert.equal(line(formatReport(base), "render example / deferred floor"), undefined);
    });

    it("adds the SDK floor per site from the replays when measured: the render's cost beyond it, and over it", () => {
        const base = result(300);
        // Render: 45 and 35 ms per added site. Replay: (3450 − 1000)/98 = 25 and (3842 − 1000)/98 = 29 ms.
        const samples = new Map([
            ...base.samples,
            ["replay 2", [sample(900, 1000), sample(900, 1000)]],
            ["replay 100", [sample(3000, 3450), sample(3100, 3842)]],
        ]);
        const report = formatReport({ ...base, samples });
        assert.equal(
            line(report, "SDK floor: CPU per added site"),
            "  SDK floor: CPU per added site, replayed 27 ms (25 ms–29 ms)       —",
        );
        // The per-site target (40 ms) less the replay's 25 and 29 ms.
        assert.equal(
            line(report, "the target less the SDK floor"),
            "    the target less the SDK floor         13 ms (11 ms–15 ms)       —",
        );
        assert.equal(
            line(report, "render − floor, per added site"),
            "    render − floor, per added site        13 ms (6 ms–20 ms)        —",
        );
        assert.equal(
            line(report, "render / floor, per added site"),
            "    render / floor, per added site        1.50× (1.21×–1.80×)       —",
        );
        assert.ok(
            line(report, "SDK floor: the 100-site render replayed")?.endsWith(
                "3.65   3.45   3.84       300    300    300",
            ),
        );
        assert.equal(line(formatReport(base), "SDK floor"), undefined);
    });

    it("replays with the render script's launcher and options, and not at all when the script runs no offline/render.ts", () => {
        assert.equal(
            replayCommand("node --expose-gc scripts/run.js offline/render.ts"),
            "node --expose-gc scripts/run.js offline/replay.ts",
        );
        assert.equal(replayCommand("ts-node offline/render.ts"), "ts-node offline/replay.ts");
        assert.equal(replayCommand("node bin/render.js"), undefined);
    });

    it("fails the memory target on the largest sample, not the median", () => {
        assert.match(line(formatReport(result(401)), "peak RSS") ?? "", /401 MiB \(350–401\) +< 400 MiB +FAIL$/);
    });

    it("names the command, the machine and the load, and lists the samples", () => {
        const report = formatReport(result(300)).split("\n");
        assert.equal(
            report[0],
            "quay-georep bench, 2026-01-01: node v22.0.0, 2 CPUs (test); 2 repetitions after 1 warm-up of each kind",
        );
        assert.equal(report[1], "render command (package.json scripts.render): node bin/offline/render.js");
        assert.match(report[4], /^0\.50 0\.60 0\.70, after 1\.00 1\.10 1\.20/);
        assert.equal(report[5], "steal time: not read (no /proc/stat)");
        const stolen = formatReport({ ...result(300), machine: { busy: 120.25, steal: 33.5, wall: 80 } }).split("\n");
        assert.equal(
            stolen[5],
            "the machine over the run (/proc/stat, all cores): 120.3 s busy, 33.5 s stolen by the hypervisor for " +
                "other guests, in 80.0 s of wall (steal slows every sample unevenly)",
        );
        assert.ok(
            line(report.join("\n"), "floor (load 21 Pulumi modules, exit)")?.endsWith(
                "1.00   1.00   1.00       300    300    300",
            ),
        );
        assert.equal(report[report.length - 1], "a note");
    });

    it("leaves the suite out unless it was timed", () => {
        const report = formatReport(result(300));
        assert.equal(line(report, "npm test"), undefined);
        assert.equal(line(report, "test command"), undefined);
    });

    it("states the suite's wall time against its target, with the machine's CPU and steal over each run", () => {
        const base = result(300);
        // Floor walls 1000 ms in both repetitions: the suite at 14 s and 17 s of wall.
        const suite = [
            { ...sample(14000, 20000, 500), machine: { busy: 30000, steal: 0 } },
            { ...sample(17000, 21000, 520), machine: { busy: 33000, steal: 4000 } },
        ];
        const report = formatReport({
            ...base,
            testCommand: "node scripts/test.js",
            samples: new Map([...base.samples, ["suite", suite]]),
        });
        assert.equal(line(report, "test command"), "test command (package.json scripts.test): node scripts/test.js");
        assert.ok(line(report, "npm test (package.json scripts.test)")?.endsWith("510    500    520"));
        assert.equal(
            line(report, "npm test, wall"),
            "  npm test, wall                          15.5 s (14.0 s–17.0 s)    ≤ 15 s      FAIL",
        );
        assert.equal(
            line(report, "the machine's CPU meanwhile"),
            "    the machine's CPU meanwhile           31.5 s (30.0 s–33.0 s)    —",
        );
        // 30 and 33 s of CPU over the result's 2 cores; with 4 cores, a quarter of it.
        assert.equal(
            line(report, "that CPU over 2 cores: least wall"),
            "    that CPU over 2 cores: least wall     15.8 s (15.0 s–16.5 s)    —",
        );
        const fourCores = formatReport({
            ...base,
            cores: 4,
            samples: new Map([...base.samples, ["suite", suite]]),
        });
        assert.match(line(fourCores, "that CPU over 4 cores: least wall") ?? "", / 7\.9 s \(7\.5 s–8\.3 s\) /);
        assert.equal(
            line(report, "stolen by other guests meanwhile"),
            "    stolen by other guests meanwhile      2.0 s (0.0 s–4.0 s)       —",
        );
        assert.equal(
            line(report, "npm test / floor, wall"),
            "  npm test / floor, wall                  15.5× (14.0×–17.0×)       —",
        );
        const fast = [sample(14000, 20000), sample(15000, 20000)];
        const passing = formatReport({ ...base, samples: new Map([...base.samples, ["suite", fast]]) });
        assert.match(line(passing, "npm test, wall") ?? "", /14\.5 s \(14\.0 s–15\.0 s\) +≤ 15 s +PASS$/);
        // Without /proc/stat readings for every run, no machine rows rather than a partial median.
        assert.equal(line(passing, "the machine's CPU meanwhile"), undefined);
        assert.equal(line(passing, "that CPU over"), undefined);
    });
});
