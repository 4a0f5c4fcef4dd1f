/**
 * The Redis VM's cloud-init document: what it installs and runs, and that the real validator,
 * Debian's `cloud-init schema --config-file`, accepts it (installed by `.ci/cloud-init.sh`).
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { redisCloudConfig, REDIS_PATHS, renderRedisCloudInit } from "../lib/cloudInit";

const INPUT = { image: "docker.io/library/redis:7.2.7", password: "Abcdefghij0123456789Abcdefghij01", port: 6379 };

type WriteFile = { path: string; permissions: string; content: string };
const files = () => redisCloudConfig(INPUT).write_files as WriteFile[];
const file = (p: string) => files().find((f) => f.path === p)?.content ?? assert.fail(`no ${p}`);

/** Runs `cloud-init schema --config-file` on a document; `undefined` when the binary is missing. */
function schema(text: string): { status: number; output: string } | undefined {
    const dir = mkdtempSync(path.join(tmpdir(), "cloud-init-"));
    try {
        const config = path.join(dir, "user-data.yaml");
        writeFileSync(config, text);
        const run = spawnSync("cloud-init", ["schema", "--config-file", config], { encoding: "utf8" });
        if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * Whether `cloud-init` is on PATH: looked up, not started (it takes a third of a second of CPU to
 * start). One that is there but cannot run fails `schema` with its own error.
 */
function onPath(name: string): boolean {
    return (process.env.PATH ?? "")
        .split(path.delimiter)
        .filter((dir) => dir !== "")
        .some((dir) => {
            try {
                accessSync(path.join(dir, name), constants.X_OK);
                return true;
            } catch {
                return false;
            }
        });
}
let installed: boolean | undefined;

/** Fails under CI when `cloud-init` is missing; elsewhere skips, saying so. */
function requireCloudInit(ctx: Mocha.Context): void {
    installed ??= onPath("cloud-init");
    if (installed) return;
    const message = "cloud-init is not installed: run `bash .ci/cloud-init.sh` (Debian's cloud-init package)";
    if (process.env.CI === "true") assert.fail(`${message}; CI must validate the Redis VM's cloud-config`);
    console.log(`      skipped: ${message}`);
    ctx.skip();
}

describe("Redis cloud-init", () => {
    it("installs podman and runs the pinned image as an enabled systemd service", () => {
        const doc = redisCloudConfig(INPUT);
        assert.deepEqual(doc.packages, ["podman"]);
        assert.equal(doc.package_update, true);
        const unit = file(REDIS_PATHS.unit);
        assert.match(
            unit,
            /^ExecStart=\/usr\/bin\/podman run .* docker\.io\/library\/redis:7\.2\.7 redis-server \/usr\/local\/etc\/redis\/redis\.conf$/m,
        );
        assert.match(unit, /^WantedBy=multi-user\.target$/m, "enabled for boot: it survives reboots");
        assert.deepEqual(doc.runcmd, [
            ["sysctl", "-p", REDIS_PATHS.sysctl],
            ["install", "-d", "-m", "0700", "-o", "999", "-g", "999", REDIS_PATHS.data],
            ["chown", "999:999", REDIS_PATHS.config],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "quay-redis.service"],
        ]);
    });

    it("restarts Redis whenever it stops, and waits for the network and its data directory", () => {
        const unit = file(REDIS_PATHS.unit);
        for (const line of [
            "Restart=always",
            "RestartSec=5",
            "After=network-online.target",
            `RequiresMountsFor=${REDIS_PATHS.data}`,
        ]) {
            assert.ok(unit.split("\n").includes(line), `missing ${line}`);
        }
    });

    it("requires the password and persists an append-only file to a host directory", () => {
        assert.deepEqual(file(REDIS_PATHS.config).split("\n"), [
            "bind * -::*",
            "port 6379",
            "protected-mode yes",
            `requirepass ${INPUT.password}`,
            "appendonly yes",
            "appendfsync everysec",
            "dir /data",
            "",
        ]);
        assert.equal(files().find((f) => f.path === REDIS_PATHS.config)?.permissions, "0600");
        assert.match(file(REDIS_PATHS.unit), / -v \/var\/lib\/quay-redis:\/data /);
    });

    it("turns off SSH password logins", () => {
        assert.equal(redisCloudConfig(INPUT).ssh_pwauth, false);
    });

    it("renders a #cloud-config document, byte-identical for the same input, that YAML 1.1 reads back", () => {
        const text = renderRedisCloudInit(INPUT);
        assert.ok(text.startsWith("#cloud-config\n"));
        assert.equal(renderRedisCloudInit(INPUT), text);
        // cloud-init parses with PyYAML (YAML 1.1): "0600" must stay a string, not the octal 384.
        assert.deepEqual(parse(text, { version: "1.1" }), redisCloudConfig(INPUT));
    });

    it("refuses a password that cannot be written unquoted, and an unqualified image", () => {
        assert.throws(() => renderRedisCloudInit({ ...INPUT, password: "has space in it" }), /without whitespace/);
        assert.throws(() => renderRedisCloudInit({ ...INPUT, image: "redis:7" }), /not a fully qualified image/);
    });

    it("passes `cloud-init schema --config-file`", function () {
        requireCloudInit(this);
        const result = schema(renderRedisCloudInit(INPUT));
        assert.ok(result);
        assert.equal(result.status, 0, result.output);
        assert.match(result.output, /Valid cloud-config/);
    });

    it("is checked by a validator that does reject a broken document", function () {
        requireCloudInit(this);
        const result = schema("#cloud-config\npackages: podman\nruncmd: {start: redis}\n");
        assert.ok(result);
        assert.notEqual(result.status, 0);
        assert.match(result.output, /runcmd/);
    });
});
