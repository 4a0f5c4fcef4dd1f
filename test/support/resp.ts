/**
 * A minimal Redis client for tests: RESP2 over a TCP socket, so a test talks to a real
 * `redis-server` the way any client does, without an npm dependency. Commands may be pipelined;
 * replies come back in order. Error replies (`-NOAUTH …`) are returned as {@link RespError}
 * values, not thrown, so a test can assert on them. Every wait has a deadline.
 */
import * as net from "node:net";

/** An error reply (`-ERR …`, `-NOAUTH …`); its text is `message`. */
export class RespError {
    constructor(readonly message: string) {}
}

/** A reply: simple/bulk string, integer, null (nil bulk or array), error, or array of replies. */
export type RespValue = string | number | null | RespError | RespValue[];

/** Encodes a command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
    const parts = [`*${args.length}\r\n`];
    for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
    return Buffer.from(parts.join(""));
}

/** Parses the reply starting at `at`; `undefined` while the buffer does not hold all of it yet. */
export function parseReply(buf: Buffer, at = 0): { value: RespValue; next: number } | undefined {
    const eol = buf.indexOf("\r\n", at);
    if (eol < 0) return undefined;
    const line = buf.toString("utf8", at + 1, eol);
    const next = eol + 2;
    switch (String.fromCharCode(buf[at])) {
        case "+":
            return { value: line, next };
        case "-":
            return { value: new RespError(line), next };
        case ":":
            return { value: Number(line), next };
        case "$": {
            const length = Number(line);
            if (length < 0) return { value: null, next };
            if (buf.length < next + length + 2) return undefined;
            return { value: buf.toString("utf8", next, next + length), next: next + length + 2 };
        }
        case "*": {
            const count = Number(line);
            if (count < 0) return { value: null, next };
            const items: RespValue[] = [];
            let from = next;
            for (let i = 0; i < count; i++) {
                const item = parseReply(buf, from);
                if (item === undefined) return undefined;
                items.push(item.value);
                from = item.next;
            }
            return { value: items, next: from };
        }
        default:
            throw new Error(`not a RESP2 reply: ${JSON.stringify(buf.toString("utf8", at, eol))}`);
    }
}

type Waiter = { resolve: (value: RespValue) => void; reject: (err: Error) => void };

/** One connection to a Redis server. */
export class RespClient {
    private buffer = Buffer.alloc(0);
    private readonly waiting: Waiter[] = [];
    private failure: Error | undefined;

    private constructor(private readonly socket: net.Socket) {
        socket.on("data", (chunk: Buffer) => this.receive(chunk));
        socket.on("error", (err) => this.fail(err));
        socket.on("close", () => this.fail(new Error("connection closed by the server")));
    }

    /** Connects to `host:port`, failing after `timeoutMs`. */
    static connect(port: number, host = "127.0.0.1", timeoutMs = 2000): Promise<RespClient> {
        return new Promise((resolve, reject) => {
            const socket = net.connect({ port, host });
            const timer = setTimeout(() => {
                socket.destroy();
                reject(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`));
            }, timeoutMs);
            socket.once("error", (err) => {
                clearTimeout(timer);
                reject(err);
            });
            socket.once("connect", () => {
                clearTimeout(timer);
                socket.removeAllListeners("error");
                resolve(new RespClient(socket));
            });
        });
    }

    /** Sends one command and resolves with its reply; after `timeoutMs` the connection is dropped. */
    command(args: readonly string[], timeoutMs = 5000): Promise<RespValue> {
        if (this.failure !== undefined) return Promise.reject(this.failure);
        return new Promise((resolve, reject) => {
            // A late reply would be taken for the next command's: give up the whole connection.
            const timer = setTimeout(() => {
                this.fail(new Error(`no reply to ${args[0]} within ${timeoutMs} ms`));
            }, timeoutMs);
            this.waiting.push({
                resolve: (value) => {
                    clearTimeout(timer);
                    resolve(value);
                },
                reject: (err) => {
                    clearTimeout(timer);
                    reject(err);
                },
            });
            this.socket.write(encodeCommand(args));
        });
    }

    /** Closes the connection; pending commands fail. */
    close(): void {
        this.socket.destroy();
    }

    private receive(chunk: Buffer): void {
        this.buffer = Buffer.concat([this.buffer, chunk]);
        for (;;) {
            let reply: ReturnType<typeof parseReply>;
            try {
                reply = parseReply(this.buffer);
            } catch (err) {
                this.fail(err as Error);
                return;
            }
            if (reply === undefined) return;
            this.buffer = this.buffer.subarray(reply.next);
            const waiter = this.waiting.shift();
            if (waiter === undefined) {
                this.fail(new Error("a reply nobody asked for"));
                return;
            }
            waiter.resolve(reply.value);
        }
    }

    private fail(err: Error): void {
        this.failure ??= err;
        this.socket.destroy();
        for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure);
    }
}
