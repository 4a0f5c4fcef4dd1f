/**
 * A small toolkit for validating raw Pulumi config: it reads values out of plain objects, records
 * every problem instead of stopping at the first, and reports keys nobody read as unknown.
 *
 * Every message has the same shape, so users learn it once:
 * `<key path>: <bad value> <what is wrong>; <how to fix it>`.
 */

/** A secret string from config. It never prints its value (`toString`, JSON, `util.inspect`). */
export class SecretValue {
    readonly #value: string;

    constructor(value: string) {
        this.#value = value;
        Object.freeze(this);
    }

    /** The plain value, to be wrapped with `pulumi.secret` at the point of use. */
    reveal(): string {
        return this.#value;
    }

    toString(): string {
        return "<secret>";
    }

    toJSON(): string {
        return "<secret>";
    }

    [Symbol.for("nodejs.util.inspect.custom")](): string {
        return "<secret>";
    }
}

/** Thrown by the parser with every problem found; `index.ts` turns it into a `pulumi.RunError`. */
export class ConfigError extends Error {
    constructor(
        readonly problems: readonly string[],
        readonly stackName: string,
    ) {
        const n = problems.length;
        super(
            `quay-georep configuration for stack "${stackName}" has ${n} problem${n === 1 ? "" : "s"}:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** Renders a config value for a message: short, JSON-like, never a secret. */
export function show(value: unknown): string {
    if (value instanceof SecretValue) return "<secret>";
    if (value === undefined) return "(missing)";
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Collects problems; the parser throws once at the end when there are any. */
export class Problems {
    constructor(
        private readonly list: string[] = [],
        private readonly skip: (path: string) => boolean = () => false,
    ) {}

    /** Records `<path>: <value> <problem>; <fix>`. */
    add(path: string, value: unknown, problem: string, fix: string): void {
        if (!this.skip(path)) this.list.push(`${path}: ${show(value)} ${problem}; ${fix}`);
    }

    /**
     * A view into the same list that drops problems under some paths: once a site is reported
     * invalid, its follow-on problems elsewhere (its bucket, its credentials) would only be noise.
     */
    except(skip: (path: string) => boolean): Problems {
        return new Problems(this.list, (path) => this.skip(path) || skip(path));
    }

    get all(): readonly string[] {
        return this.list;
    }
}

/** Levenshtein distance, for "did you mean" suggestions on unknown keys. */
function distance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let diagonal = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const above = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
            diagonal = above;
        }
    }
    return row[b.length];
}

/** The closest known key, when it is close enough to be a likely typo. */
export function suggest(unknown: string, known: readonly string[]): string | undefined {
    const ranked = known
        .map((k) => ({ k, d: distance(unknown.toLowerCase(), k.toLowerCase()) }))
        .sort((x, y) => x.d - y.d);
    return ranked.length > 0 && ranked[0].d <= Math.max(2, Math.floor(unknown.length / 3)) ? ranked[0].k : undefined;
}

/** Reports an unknown key with the list of valid ones (and a suggestion when one is close). */
export function reportUnknownKey(problems: Problems, path: string, key: string, known: readonly string[]): void {
    const hint = suggest(key, known);
    problems.add(
        path,
        key,
        "is not a known key",
        hint ? `did you mean "${hint}"? Valid keys: ${known.join(", ")}` : `valid keys: ${known.join(", ")}`,
    );
}

/** Plain-object check that excludes arrays and null. */
export function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof SecretValue);
}

/**
 * Reads the fields of one config object. Each getter records a problem and returns `undefined`
 * (or the default) on bad input, so parsing continues and all problems surface together.
 * `done()` reports every key that no getter read.
 */
export class ObjectReader {
    constructor(
        readonly path: string,
        private readonly raw: Record<string, unknown>,
        readonly problems: Problems,
        private readonly known: readonly string[],
        private readonly seen = new Set<string>(),
    ) {}

    /** The same object read with another problem list (see `Problems.except`); read keys are shared. */
    withProblems(problems: Problems): ObjectReader {
        return new ObjectReader(this.path, this.raw, problems, this.known, this.seen);
    }

    /** Path of a child key, e.g. `sites[0].region`. */
    at(key: string): string {
        return this.path ? `${this.path}.${key}` : key;
    }

    /** The raw value, without marking the key as read. */
    peek(key: string): unknown {
        return this.raw[key];
    }

    /** The raw value, marking the key as read. */
    raw_(key: string): unknown {
        this.seen.add(key);
        return this.raw[key];
    }

    has(key: string): boolean {
        return this.raw[key] !== undefined && this.raw[key] !== null;
    }

    /** A string; `required` records a problem when absent; `check` may add its own problem. */
    string(key: string, opts: { required?: boolean; fix?: string } = {}): string | undefined {
        const value = this.raw_(key);
        if (value === undefined || value === null || value === "") {
            if (opts.required) {
                this.problems.add(this.at(key), value, "is required", opts.fix ?? `set ${this.at(key)}`);
            }
            return undefined;
        }
        if (value instanceof SecretValue) return value.reveal();
        if (typeof value !== "string") {
            this.problems.add(this.at(key), value, "is not a string", opts.fix ?? `set it to a string`);
            return undefined;
        }
        return value;
    }

    /** One of a closed set of strings. */
    oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T | undefined {
        const value = this.raw_(key);
        if (value === undefined || value === null) {
            if (fallback === undefined) {
                this.problems.add(this.at(key), value, "is required", `use one of: ${allowed.join(", ")}`);
            }
            return fallback;
        }
        if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
            this.problems.add(this.at(key), value, "is not allowed", `use one of: ${allowed.join(", ")}`);
            return undefined;
        }
        return value as T;
    }

    /** An integer within [min, max]; strings of digits are accepted (`pulumi config set` stores strings). */
    integer(key: string, fallback: number, min: number, max: number): number | undefined {
        const value = this.raw_(key);
        if (value === undefined || value === null) return fallback;
        const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
        if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
            this.problems.add(this.at(key), value, "is not a valid number", `use a whole number from ${min} to ${max}`);
            return undefined;
        }
        return n;
    }

    /** A boolean; the strings "true"/"false" are accepted (`pulumi config set` stores strings). */
    boolean(key: string, fallback: boolean): boolean {
        const value = this.raw_(key);
        if (value === undefined || value === null) return fallback;
        if (value === true || value === "true") return true;
        if (value === false || value === "false") return false;
        this.problems.add(this.at(key), value, "is not a boolean", "use true or false");
        return fallback;
    }

    /** A nested object, read with its own reader; `undefined` when absent or not an object. */
    object(key: string, known: readonly string[], opts: { required?: boolean; fix?: string } = {}) {
        const value = this.raw_(key);
        if (value === undefined || value === null) {
            if (opts.required) {
                this.problems.add(this.at(key), value, "is required", opts.fix ?? `set ${this.at(key)}`);
            }
            return undefined;
        }
        if (!isRecord(value)) {
            this.problems.add(this.at(key), value, "is not an object", opts.fix ?? `set it to an object`);
            return undefined;
        }
        return new ObjectReader(this.at(key), value, this.problems, [...new Set(known)]);
    }

    /** A list; `undefined` when absent or not a list. */
    array(key: string, opts: { required?: boolean; fix?: string } = {}): unknown[] | undefined {
        const value = this.raw_(key);
        if (value === undefined || value === null) {
            if (opts.required) {
                this.problems.add(this.at(key), value, "is required", opts.fix ?? `set ${this.at(key)}`);
            }
            return undefined;
        }
        if (!Array.isArray(value)) {
            this.problems.add(this.at(key), value, "is not a list", opts.fix ?? "set it to a YAML list");
            return undefined;
        }
        return value as unknown[];
    }

    /** Reports every key of the object that no getter read. */
    done(): void {
        for (const key of Object.keys(this.raw)) {
            if (!this.seen.has(key)) reportUnknownKey(this.problems, this.at(key), key, this.known);
        }
    }
}

/** RFC 1123 DNS name: labels of letters, digits and hyphens, at least two labels, ≤ 253 chars. */
export function isDnsName(value: string): boolean {
    if (value.length > 253) return false;
    const labels = value.split(".");
    return (
        labels.length >= 2 &&
        labels.every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(l)) &&
        !/^\d+$/.test(labels[labels.length - 1])
    );
}

export { isIpAddress } from "../lib/net";

/**
 * Records a problem when a DNS name has upper-case letters. DNS ignores case, but Quay builds URLs
 * from `SERVER_HOSTNAME` as written, and records and probes would each carry the name as given:
 * one spelling everywhere avoids two names for one thing.
 */
export function checkLowerCase(problems: Problems, path: string, value: string | undefined): void {
    if (value === undefined || value === value.toLowerCase()) return;
    problems.add(path, value, "has upper-case letters", `write it in lower case: "${value.toLowerCase()}"`);
}

/** A Kubernetes DNS-1123 label (namespaces, object names). */
export function isDnsLabel(value: string): boolean {
    return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value);
}
