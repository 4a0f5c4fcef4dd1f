// Mocha's spec reporter, plus one plain closing line CI can count: "tests: N passed, N failed, N skipped".
// Under CI=true a skipped test also fails the run (exit code non-zero): CI must run every test, and a test
// skips only when something it needs is missing (the upstream schemas, cloud-init, redis-server).
"use strict";
const { reporters } = require("mocha");
const Spec = reporters.Spec;

class SpecWithTotals extends Spec {
    constructor(runner, options) {
        super(runner, options);
        this.skipped = [];
        runner.on("pending", (test) => this.skipped.push(test.fullTitle()));
        runner.once("end", () => {
            const s = runner.stats;
            process.stdout.write(`tests: ${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
            // For scripts/test.js, which runs two groups and closes with one line for both.
            const summary = process.env.QUAY_GEOREP_TEST_SUMMARY;
            if (summary) {
                const totals = { passes: s.passes, failures: s.failures, pending: s.pending };
                require("node:fs").writeFileSync(summary, `${JSON.stringify(totals)}\n`);
            }
            if (this.failsOnSkips()) {
                const list = this.skipped.map((title) => `\n  ${title}`).join("");
                process.stdout.write(`CI=true: ${s.pending} skipped test(s) fail the run:${list}\n`);
            }
        });
    }

    failsOnSkips() {
        return process.env.CI === "true" && this.stats.pending > 0;
    }

    // Mocha hands the run's exit code (its failure count) through here when a reporter defines done().
    done(failures, exit) {
        exit(failures + (this.failsOnSkips() ? 1 : 0));
    }
}

module.exports = SpecWithTotals;
