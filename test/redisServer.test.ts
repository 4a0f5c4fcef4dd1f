/**
 * The Redis VM's redis.conf, run for real: Debian's `/usr/bin/redis-server` (installed by
 * `.ci/redis.sh`) is started with the conf the cloud-config writes, changed only where this machine
 * must differ (data directory, port, loopback bind), and a RESP client checks what Quay relies on:
 * the password is required, writes work, and they survive a restart through the append-only file.
 */
import { strict as assert } from "node:assert";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { REDIS_PATHS, redisConf, renderRedisCloudInit } from "../lib/cloudInit";
import { RespClient, RespError, type RespValue } from "./support/resp";

const REDIS_SERVER = "/usr/bin/redis-server";
const INPUT = { image: "docker.io/library/redis:7.2.7", password: randomBytes(24).toString("hex"), port: 6379 };

/** The redis.conf inside the rendered `#cloud-config` text: what the VM really gets. */
function confInCloudConfig(): string {
    const doc = parse(renderRedisCloudInit(INPUT), { version: "1.1" }) as { write_files: Record<string, string>[] };
    return doc.write_files.find((f) => f.path === REDIS_PATHS.config)?.content ?? assert.fail("no redis.conf");
}

/** The conf with each overridden directive's line replaced; every other line kept as it is. */
function rewrite(conf: string, overrides: Record<string, string>): string {
    return conf
        .split("\n")
        .map((line) => {
            const key = line.split(" ")[0];
            return Object.hasOwn(overrides, key) ? `${key} ${overrides[key]}` : line;
        })
        .join("\n");
}

/** The directives whose lines differ between two confs of the same length. */
function changedDirectives(before: string, after: string): string[] {
    const [a, b] = [before.split("\n"), after.split("\n")];
    assert.equal(b.length, a.length, "the rewrite added or removed lines");
    return a.flatMap((line, i) => (line === b[i] ? [] : [line.split(" ")[0]])).sort();
}

/** A TCP port nothing listens on right now, on 127.0.0.1. */
async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

/** Rejects when `promise` has not settled after `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A running `redis-server`, its output so far, and its exit. */
interface Server {
    readonly child: ChildProcess;
    readonly output: () => string;
    readonly exited: Promise<string>;
}

/** Starts `redis-server <conf>` and waits (10 s at most) until it answers on `port`. */
async function startServer(conf: string, port: number): Promise<Server> {
    const child = spawn(REDIS_SERVER, [conf], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout?.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<string>((resolve) => {
        child.once("error", (err) => resolve(err.message));
        child.once("exit", (code, signal) => resolve(`exit ${code ?? signal}`));
    });
    const server = { child, output: () => log, exited };
    const deadline = Date.now() + 10_000;
    let gone: string | undefined;
    void exited.then((how) => (gone = how));
    for (;;) {
        if (gone !== undefined) assert.fail(`redis-server stopped while starting (${gone}):\n${log}`);
        const client = await RespClient.connect(port, "127.0.0.1", 500).catch(() => undefined);
        // Any reply but LOADING (NOAUTH included) means it serves commands.
        const reply = await client?.command(["PING"], 1000).catch(() => undefined);
        client?.close();
        if (reply !== undefined && !(reply instanceof RespError && reply.message.startsWith("LOADING"))) {
            return server;
        }
        if (Date.now() > deadline) {
            stopNow(server);
            assert.fail(`redis-server did not answer on 127.0.0.1:${port} within 10 s:\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/** Stops it the way `podman stop` does (SIGTERM: Redis fsyncs its files and exits), in 10 s at most. */
async function stopServer(server: Server): Promise<void> {
    server.child.kill("SIGTERM");
    try {
        assert.equal(await within(10_000, "redis-server stopping", server.exited), "exit 0", server.output());
    } finally {
        stopNow(server);
    }
}

/** Kills it if it is still running (for `after`/`finally`). */
function stopNow(server: Server | undefined): void {
    if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill("SIGKILL");
    }
}

/** Commands, in order, on a fresh connection (a new client: no AUTH carried over). */
async function once(port: number, ...commands: string[][]): Promise<RespValue[]> {
    const client = await RespClient.connect(port);
    try {
        const replies: RespValue[] = [];
        for (const command of commands) replies.push(await client.command(command));
        return replies;
    } finally {
        client.close();
    }
}

/** Fails under CI when `redis-server` is missing; elsewhere skips, saying so. */
function requireRedisServer(ctx: Mocha.Context): void {
    if (spawnSync(REDIS_SERVER, ["--version"]).status === 0) return;
    const message = "redis-server is not installed: run `bash .ci/redis.sh` (Debian's redis-server package)";
    if (process.env.CI === "true") assert.fail(`${message}; CI must run the Redis VM's redis.conf`);
    console.log(`      skipped: ${message}`);
    ctx.skip();
}

/** A throwaway data directory and a conf for this machine, written into it. */
async function machineConf(conf: string): Promise<{ dir: string; port: number; file: string }> {
    const dir = mkdtempSync(path.join(tmpdir(), "quay-redis-"));
    const port = await freePort();
    const text = rewrite(conf, { dir, port: String(port), bind: "127.0.0.1" });
    // Everything else is what the VM runs: a directive renamed in the conf must fail here, not be kept.
    assert.deepEqual(changedDirectives(conf, text), ["bind", "dir", "port"]);
    const file = path.join(dir, "redis.conf");
    writeFileSync(file, text, { mode: 0o600 });
    return { dir, port, file };
}

const NOAUTH = (reply: RespValue) => reply instanceof RespError && /^NOAUTH /.test(reply.message);

describe("the redis.conf under test", () => {
    it("is the one in the rendered cloud-config, which the VM writes to disk", () => {
        assert.equal(confInCloudConfig(), redisConf(INPUT));
    });

    it("differs from it on this machine only in dir, port and bind", () => {
        const text = rewrite(redisConf(INPUT), { dir: "/tmp/quay-redis-x", port: "16379", bind: "127.0.0.1" });
        assert.deepEqual(changedDirectives(redisConf(INPUT), text), ["bind", "dir", "port"]);
        assert.match(text, /^bind 127\.0\.0\.1$/m);
        assert.match(text, /^requirepass [0-9a-f]{48}$/m);
    });
});

describe("Redis running the VM's redis.conf (Debian's redis-server)", () => {
    const rendered = redisConf(INPUT);
    let machine: Awaited<ReturnType<typeof machineConf>>;
    let server: Server | undefined;

    before(async function () {
        requireRedisServer(this);
        machine = await machineConf(rendered);
        server = await startServer(machine.file, machine.port);
    });

    after(() => {
        stopNow(server);
        if (machine !== undefined) rmSync(machine.dir, { recursive: true, force: true });
    });

    it("listens on the port and runs with the rendered persistence settings", async () => {
        const [auth, ...settings] = await once(
            machine.port,
            ["AUTH", INPUT.password],
            ["CONFIG", "GET", "appendonly"],
            ["CONFIG", "GET", "appendfsync"],
            ["CONFIG", "GET", "protected-mode"],
            ["CONFIG", "GET", "dir"],
            ["CONFIG", "GET", "port"],
        );
        assert.equal(auth, "OK");
        assert.deepEqual(settings, [
            ["appendonly", "yes"],
            ["appendfsync", "everysec"],
            ["protected-mode", "yes"],
            ["dir", machine.dir],
            ["port", String(machine.port)],
        ]);
    });

    it("refuses PING and SET from a client that has not authenticated (NOAUTH)", async () => {
        const [ping, set] = await once(machine.port, ["PING"], ["SET", "quay", "unauthenticated"]);
        assert.ok(NOAUTH(ping), `PING: ${JSON.stringify(ping)}`);
        assert.ok(NOAUTH(set), `SET: ${JSON.stringify(set)}`);
    });

    it("refuses a wrong password, accepts the rendered one, then SET and GET work", async () => {
        const [wrong] = await once(machine.port, ["AUTH", `${INPUT.password}x`]);
        assert.ok(wrong instanceof RespError && /^WRONGPASS /.test(wrong.message), JSON.stringify(wrong));
        const replies = await once(machine.port, ["AUTH", INPUT.password], ["SET", "quay", "v1"], ["GET", "quay"]);
        assert.deepEqual(replies, ["OK", "OK", "v1"]);
    });

    it("keeps what was written across a restart, in its append-only files", async () => {
        assert.ok(server);
        const value = randomBytes(8).toString("hex");
        assert.deepEqual(await once(machine.port, ["AUTH", INPUT.password], ["SET", "survivor", value]), ["OK", "OK"]);
        await stopServer(server);

        // Redis 7: a manifest naming a base file and an incremental file, which holds the SET.
        const aofDir = path.join(machine.dir, "appendonlydir");
        assert.deepEqual(readdirSync(aofDir).sort(), [
            "appendonly.aof.1.base.rdb",
            "appendonly.aof.1.incr.aof",
            "appendonly.aof.manifest",
        ]);
        assert.ok(readFileSync(path.join(aofDir, "appendonly.aof.1.incr.aof"), "utf8").includes(value));
        // Without `save ""` Redis also writes an RDB snapshot at shutdown; remove it, so the value
        // can only come back from the append-only files.
        rmSync(path.join(machine.dir, "dump.rdb"), { force: true });

        server = await startServer(machine.file, machine.port);
        assert.deepEqual(await once(machine.port, ["AUTH", INPUT.password], ["GET", "survivor"]), ["OK", value]);
    });
});

describe("the NOAUTH check (its power)", () => {
    it("would catch a conf without requirepass: the unauthenticated SET is then accepted", async function () {
        requireRedisServer(this);
        const rendered = redisConf(INPUT);
        const withoutPassword = rendered
            .split("\n")
            .filter((line) => !line.startsWith("requirepass "))
            .join("\n");
        assert.notEqual(withoutPassword, rendered);
        const machine = await machineConf(withoutPassword);
        let server: Server | undefined;
        try {
            server = await startServer(machine.file, machine.port);
            assert.deepEqual(await once(machine.port, ["PING"], ["SET", "quay", "unauthenticated"]), ["PONG", "OK"]);
        } finally {
            stopNow(server);
            rmSync(machine.dir, { recursive: true, force: true });
        }
    });
});
