// Mocha's spec reporter, plus one plain closing line CI can count: "tests: N passed, N failed, N skipped".
"use strict";
const { reporters } = require("mocha");
const Spec = reporters.Spec;

class SpecWithTotals extends Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once("end", () => {
            const s = runner.stats;
            process.stdout.write(`tests: ${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
        });
    }
}

module.exports = SpecWithTotals;
