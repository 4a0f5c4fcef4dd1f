/**
 * IPv4 CIDR arithmetic for allow-lists: parsing, canonical form, ranges and stable resource names.
 * Pure: no Pulumi, no config.
 */

/** A parsed IPv4 CIDR block. */
export interface Cidr {
    /** The block as written, e.g. `203.0.113.0/24`. */
    readonly text: string;
    /** The block written from its network address; differs from `text` when host bits are set. */
    readonly canonical: string;
    /** First address as an unsigned 32-bit number. */
    readonly first: number;
    /** Last address as an unsigned 32-bit number. */
    readonly last: number;
    /** Prefix length, 0-32. */
    readonly prefix: number;
}

/** A dotted quad as an unsigned 32-bit number; `undefined` when it is not one. */
export function ipv4Number(address: string): number | undefined {
    const parts = address.split(".");
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
        return undefined;
    }
    return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** The dotted-quad form of an unsigned 32-bit number. */
export function ipv4(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** Parses `a.b.c.d/n`; `undefined` for anything else. */
export function parseCidr(text: string): Cidr | undefined {
    const match = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
    if (!match) return undefined;
    const address = ipv4Number(match[1]);
    const prefix = Number(match[2]);
    if (address === undefined || prefix > 32) return undefined;
    const size = 2 ** (32 - prefix);
    const first = address - (address % size);
    return { text, canonical: `${ipv4(first)}/${prefix}`, first, last: first + size - 1, prefix };
}

/** True when `address` (dotted quad) lies inside `cidr`. */
export function cidrContains(cidr: Cidr, address: string): boolean {
    const n = ipv4Number(address);
    return n !== undefined && n >= cidr.first && n <= cidr.last;
}

/** First and last address of a block, as firewalls that take ranges want them. */
export function cidrRange(text: string): { start: string; end: string } {
    const cidr = parseCidr(text);
    if (cidr === undefined) throw new Error(`not an IPv4 CIDR: ${text}`);
    return { start: ipv4(cidr.first), end: ipv4(cidr.last) };
}

/**
 * A name fragment for one allow-list entry (`203.0.113.0/24` → `203-0-113-0-24`): resources are
 * keyed by the CIDR itself, so adding or removing one entry renames no other rule.
 */
export function cidrSlug(text: string): string {
    return text.replace(/[./]/g, "-");
}
