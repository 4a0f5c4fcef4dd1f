/**
 * `npm run schemas [-- --out DIR] [--base-url URL] [--if-missing]`: downloads the upstream schemas the tests
 * validate against (offline/manifests.ts's `UPSTREAM_SCHEMAS`: the QuayRegistry CRD, Quay's config.yaml
 * schema, OLM's Subscription and OperatorGroup CRDs) from GitHub at their pinned commits into `.schemas/`,
 * laid out like `../shared/reference/`, so the same lookup finds either.
 *
 *   --out DIR       write there instead of `<repo>/.schemas`
 *   --base-url URL  fetch `<URL>/<owner>/<repo>/<commit>/<path>` instead of raw.githubusercontent.com (a mirror)
 *   --if-missing    do nothing when the lookup already finds a complete set (`$QUAY_GEOREP_SCHEMAS`,
 *                   `.schemas/`, `../shared/reference/`): what `.ci/run` uses, so offline machines need no network
 *
 * Every file's SHA-256 is checked against its pin, and all are downloaded and checked before any is
 * written: a refused download leaves the folder as it was. Quay's schema is Python (`util/config/schema.py`);
 * once its hash matches, `python3` executes it and dumps `CONFIG_SCHEMA` as JSON, whose hash is checked too.
 * Exit codes: 0 done (or nothing to do), 1 a download or check failed, 2 bad arguments.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { FETCHED_SCHEMAS_DIR, findSchemaDir, UPSTREAM_SCHEMAS, type UpstreamSchema } from "../offline/manifests";

/** Where GitHub serves a file at a commit: `<base>/<owner>/<repo>/<commit>/<path>`. */
export const GITHUB_RAW = "https://raw.githubusercontent.com";

/** A slow mirror is an error, not a hung CI job. */
const DOWNLOAD_TIMEOUT_MS = 60_000;

function sha256Of(bytes: Buffer): string {
    return createHash("sha256").update(bytes).digest("hex");
}

/** The URL of a schema's upstream file under `baseUrl` (default {@link GITHUB_RAW}). */
export function upstreamUrl(schema: UpstreamSchema, baseUrl: string = GITHUB_RAW): string {
    return `${baseUrl.replace(/\/+$/, "")}/${schema.repo}/${schema.commit}/${schema.path}`;
}

/**
 * Downloads `url` and returns its body, refusing anything but HTTP 200 and a body whose SHA-256 is not
 * `sha256`.
 *
 * @throws Error `<url>: HTTP <status> <text>` or `<url>: SHA-256 is <actual>, not the pinned <sha256>`.
 */
export async function download(url: string, sha256: string): Promise<Buffer> {
    const response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (response.status !== 200) {
        throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
    }
    const body = Buffer.from(await response.arrayBuffer());
    const actual = sha256Of(body);
    if (actual !== sha256) {
        throw new Error(`${url}: SHA-256 is ${actual}, not the pinned ${sha256}`);
    }
    return body;
}

/**
 * Executes a Python module's source with `python3` and returns `variable` dumped the way
 * `../shared/reference/quay/config-schema.json` was made: `json.dumps(value, indent=2, ensure_ascii=False)`,
 * a newline, UTF-8. Only ever called on source whose hash matched its pin: this runs it.
 */
export function dumpPythonVariable(source: Buffer, variable: string): Buffer {
    const program = [
        "import json, sys",
        "namespace = {}",
        "exec(compile(sys.stdin.buffer.read(), 'schema.py', 'exec'), namespace)",
        "text = json.dumps(namespace[sys.argv[1]], indent=2, ensure_ascii=False) + '\\n'",
        "sys.stdout.buffer.write(text.encode('utf-8'))",
    ].join("\n");
    return execFileSync("python3", ["-c", program, variable], { input: source, maxBuffer: 64 * 1024 * 1024 });
}

/** Options of {@link fetchSchemas}; all optional. */
export interface FetchOptions {
    /** Folder to write, laid out like `../shared/reference/` (default `<repo>/.schemas`). */
    readonly out?: string;
    /** Base of the file URLs (default {@link GITHUB_RAW}); tests and mirrors override it. */
    readonly baseUrl?: string;
    /** The files to fetch (default every one of `UPSTREAM_SCHEMAS`). */
    readonly schemas?: readonly UpstreamSchema[];
}

/** One file {@link fetchSchemas} wrote, and where it came from. */
export interface FetchedFile {
    readonly path: string;
    readonly url: string;
}

/**
 * Downloads and checks every schema, then writes them all under `out`. A failure writes nothing.
 *
 * @throws Error `<reason>; nothing written to <out>`, the reason being {@link download}'s, or
 *   `<file> dumped from <url>: SHA-256 is <actual>, not the pinned <sha256>` for a converted file.
 */
export async function fetchSchemas(options: FetchOptions = {}): Promise<FetchedFile[]> {
    const out = path.resolve(options.out ?? FETCHED_SCHEMAS_DIR);
    const checked: { schema: UpstreamSchema; url: string; content: Buffer }[] = [];
    try {
        // One at a time, so the first failure is the one reported, whatever the network's timing.
        for (const schema of options.schemas ?? UPSTREAM_SCHEMAS) {
            const url = upstreamUrl(schema, options.baseUrl);
            const upstream = await download(url, schema.upstreamSha256);
            const content =
                schema.pythonVariable === undefined ? upstream : dumpPythonVariable(upstream, schema.pythonVariable);
            const actual = sha256Of(content);
            if (actual !== schema.sha256) {
                throw new Error(
                    `${schema.file} dumped from ${url}: SHA-256 is ${actual}, not the pinned ${schema.sha256}`,
                );
            }
            checked.push({ schema, url, content });
        }
    } catch (err) {
        throw new Error(`${(err as Error).message}; nothing written to ${out}`);
    }
    const written: FetchedFile[] = [];
    for (const { schema, url, content } of checked) {
        const target = path.join(out, schema.file);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        // Write then rename: an interrupted run never leaves a half file that the lookup would count.
        const partial = `${target}.partial-${process.pid}`;
        fs.writeFileSync(partial, content);
        fs.renameSync(partial, target);
        written.push({ path: target, url });
    }
    return written;
}

/** True when `dir` already holds every schema with its pinned hash (a second run downloads nothing). */
function upToDate(dir: string, schemas: readonly UpstreamSchema[]): boolean {
    return schemas.every((s) => {
        const file = path.join(dir, s.file);
        return fs.existsSync(file) && sha256Of(fs.readFileSync(file)) === s.sha256;
    });
}

const USAGE = "usage: npm run schemas [-- --out DIR] [--base-url URL] [--if-missing]";

async function main(argv: readonly string[]): Promise<number> {
    let out = FETCHED_SCHEMAS_DIR;
    let baseUrl = GITHUB_RAW;
    let ifMissing = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--if-missing") {
            ifMissing = true;
        } else if ((arg === "--out" || arg === "--base-url") && argv[i + 1] !== undefined) {
            if (arg === "--out") out = path.resolve(argv[++i]);
            else baseUrl = argv[++i];
        } else {
            process.stderr.write(`unexpected argument ${JSON.stringify(arg)}\n${USAGE}\n`);
            return 2;
        }
    }
    const found = ifMissing ? findSchemaDir() : undefined;
    if (found !== undefined) {
        process.stdout.write(`upstream schemas present in ${found}; nothing to download\n`);
        return 0;
    }
    if (upToDate(out, UPSTREAM_SCHEMAS)) {
        process.stdout.write(`upstream schemas in ${out} are up to date\n`);
        return 0;
    }
    for (const { path: file, url } of await fetchSchemas({ out, baseUrl })) {
        const shown = path.relative(process.cwd(), file);
        process.stdout.write(`wrote ${shown.startsWith("..") ? file : shown} (from ${url}, SHA-256 checked)\n`);
    }
    return 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err) => {
            process.stderr.write(`fetching the upstream schemas failed: ${(err as Error).message}\n`);
            process.exit(1);
        },
    );
}
