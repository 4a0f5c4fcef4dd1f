/**
 * IP address arithmetic for allow-lists: IPv4 CIDR parsing, canonical form, ranges and stable
 * resource names; and what a list of IPv4 and IPv6 blocks exposes, judged by its union: how many
 * public addresses it covers (outside `NON_PUBLIC`), against `PUBLIC_BOUND_PREFIX`.
 * Pure: no Pulumi, no config, no imports.
 *
 * The policy pack holds a verbatim copy, `policy/cidr.ts` (the pack imports nothing from outside
 * `policy/`); test/cidr.test.ts fails when the two differ.
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

/** An address family: IPv4 or IPv6. */
export type Family = 4 | 6;

/** Address bits per family. */
const BITS: Readonly<Record<Family, number>> = { 4: 32, 6: 128 };

/** An inclusive range of addresses of one family, as BigInts (IPv6 needs 128 bits). */
export interface AddressBlock {
    readonly family: Family;
    readonly first: bigint;
    readonly last: bigint;
}

/**
 * IPv6 text (`2001:db8::1`, `::ffff:192.0.2.1`) as a 128-bit number; `undefined` when it is not
 * one (a zone such as `%eth0` included: rules never carry one).
 */
export function ipv6Number(address: string): bigint | undefined {
    let text = address.toLowerCase();
    const tail = /^(.*:)([0-9.]+)$/.exec(text);
    if (tail && tail[2].includes(".")) {
        const n = ipv4Number(tail[2]);
        if (n === undefined) return undefined;
        text = `${tail[1]}${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
    }
    const halves = text.split("::");
    if (halves.length > 2) return undefined;
    const groups = (s: string) => (s === "" ? [] : s.split(":"));
    const head = groups(halves[0]);
    const rest = halves.length === 2 ? groups(halves[1]) : [];
    const missing = 8 - head.length - rest.length;
    if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
    const all = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
    if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
    return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/**
 * A rule's source as the addresses it admits: an IPv4 or IPv6 CIDR (`203.0.113.0/24`,
 * `2001:db8::/32`), a single address, or an IPv4 range `start-end` (a firewall rule's, counted as
 * it is, not cut into CIDRs). Host bits are dropped: the block is the network the prefix names, as
 * the clouds read it. `undefined` for anything else (a service tag, a prefix-list ID).
 */
export function parseBlock(text: string): AddressBlock | undefined {
    const range = /^([0-9.]+)\s*-\s*([0-9.]+)$/.exec(text.trim());
    if (range) {
        const [first, last] = [ipv4Number(range[1]), ipv4Number(range[2])];
        if (first === undefined || last === undefined || first > last) return undefined;
        return { family: 4, first: BigInt(first), last: BigInt(last) };
    }
    const match = /^([^/]+)(?:\/([0-9]{1,3}))?$/.exec(text.trim());
    if (!match) return undefined;
    const v4 = ipv4Number(match[1]);
    const family: Family = v4 === undefined ? 6 : 4;
    const address = v4 === undefined ? ipv6Number(match[1]) : BigInt(v4);
    const prefix = match[2] === undefined ? BITS[family] : Number(match[2]);
    if (address === undefined || prefix > BITS[family]) return undefined;
    const size = 1n << BigInt(BITS[family] - prefix);
    const first = address - (address % size);
    return { family, first, last: first + size - 1n };
}

/**
 * The union of blocks, per family (IPv4 first), sorted by first address with overlapping and
 * adjacent blocks merged: n log n, so thousands of entries cost nothing.
 */
export function mergeBlocks(blocks: readonly AddressBlock[]): AddressBlock[] {
    const sorted = [...blocks].sort(
        (a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0),
    );
    const merged: { family: Family; first: bigint; last: bigint }[] = [];
    for (const block of sorted) {
        const top = merged[merged.length - 1];
        if (top !== undefined && top.family === block.family && block.first <= top.last + 1n) {
            if (block.last > top.last) top.last = block.last;
        } else {
            merged.push({ ...block });
        }
    }
    return merged;
}

/**
 * Address space that is not public: the IETF set it aside so that it is never routed on the
 * internet, or it can never be the source of a connection. An allow-list may cover any amount of
 * it. Deliberately left out, so counted as public: `0.0.0.0/8` (Azure reads a firewall rule from
 * `0.0.0.0` as "every Azure service"), `240.0.0.0/4` and IPv6 outside these ranges (reserved space
 * may be allocated one day), `192.0.0.0/24` (parts are globally reachable).
 */
export const NON_PUBLIC: Readonly<Record<Family, readonly { readonly cidr: string; readonly what: string }[]>> = {
    4: [
        { cidr: "10.0.0.0/8", what: "private use (RFC 1918)" },
        { cidr: "100.64.0.0/10", what: "shared address space, carrier-grade NAT (RFC 6598)" },
        { cidr: "127.0.0.0/8", what: "loopback" },
        { cidr: "169.254.0.0/16", what: "link-local" },
        { cidr: "172.16.0.0/12", what: "private use (RFC 1918)" },
        { cidr: "192.0.2.0/24", what: "documentation, TEST-NET-1 (RFC 5737)" },
        { cidr: "192.168.0.0/16", what: "private use (RFC 1918)" },
        { cidr: "198.18.0.0/15", what: "benchmarking (RFC 2544)" },
        { cidr: "198.51.100.0/24", what: "documentation, TEST-NET-2 (RFC 5737)" },
        { cidr: "203.0.113.0/24", what: "documentation, TEST-NET-3 (RFC 5737)" },
        { cidr: "224.0.0.0/4", what: "multicast (never a source)" },
    ],
    6: [
        { cidr: "::/128", what: "unspecified" },
        { cidr: "::1/128", what: "loopback" },
        { cidr: "2001:db8::/32", what: "documentation (RFC 3849)" },
        { cidr: "3fff::/20", what: "documentation (RFC 9637)" },
        { cidr: "fc00::/7", what: "unique local (RFC 4193)" },
        { cidr: "fe80::/10", what: "link-local" },
        { cidr: "ff00::/8", what: "multicast (never a source)" },
    ],
};

const NON_PUBLIC_BLOCKS = mergeBlocks(
    [...NON_PUBLIC[4], ...NON_PUBLIC[6]].flatMap(({ cidr }) => parseBlock(cidr) ?? []),
);

/**
 * The most public address space an allow-list may cover in all, as a prefix length per family:
 * a /16 of IPv4 (65,536 addresses) and a /48 of IPv6. Clients are a few clusters' NAT egress
 * addresses (a handful of /32s) or an organisation's own range; a /16 is already a large
 * provider's allocation and a /48 a whole site's, so beyond them a list admits other people's
 * networks, and on a public endpoint (the Azure flexible server) strangers.
 */
export const PUBLIC_BOUND_PREFIX: Readonly<Record<Family, number>> = { 4: 16, 6: 48 };

/** The bound as a number of addresses: 65,536 for IPv4, 2^80 for IPv6. */
export function publicBound(family: Family): bigint {
    return 1n << BigInt(BITS[family] - PUBLIC_BOUND_PREFIX[family]);
}

/** How many public addresses (outside `NON_PUBLIC`) the union of `blocks` covers, per family. */
export function publicAddresses(blocks: readonly AddressBlock[]): Record<Family, bigint> {
    const count: Record<Family, bigint> = { 4: 0n, 6: 0n };
    for (const block of mergeBlocks(blocks)) {
        let n = block.last - block.first + 1n;
        // Both lists are merged, so each reserved address is subtracted at most once.
        for (const reserved of NON_PUBLIC_BLOCKS) {
            if (reserved.family !== block.family) continue;
            const lo = reserved.first > block.first ? reserved.first : block.first;
            const hi = reserved.last < block.last ? reserved.last : block.last;
            if (lo <= hi) n -= hi - lo + 1n;
        }
        count[block.family] += n;
    }
    return count;
}

/** A family in which a list covers more public addresses than the bound. */
export interface Overexposure {
    readonly family: Family;
    /** Public addresses the list covers. */
    readonly addresses: bigint;
}

/** The families in which the union of `blocks` covers more public addresses than the bound. */
export function overBound(blocks: readonly AddressBlock[]): Overexposure[] {
    const count = publicAddresses(blocks);
    return ([4, 6] as const)
        .filter((family) => count[family] > publicBound(family))
        .map((family) => ({ family, addresses: count[family] }));
}

/** What a list of sources (as `parseBlock` reads them) exposes. */
export interface Breadth {
    /** The sources that cover at least one public address, each once, trimmed, in the order given. */
    readonly sources: readonly string[];
    /** The families in which their union is over the bound (empty: within it). */
    readonly over: readonly Overexposure[];
}

/** Which sources cover public addresses, and where their union is over the bound; other strings (tags) count for nothing. */
export function breadth(sources: readonly string[]): Breadth {
    const blocks = new Map<string, AddressBlock>();
    for (const source of sources) {
        const block = parseBlock(source);
        if (block !== undefined && publicAddresses([block])[block.family] > 0n) blocks.set(source.trim(), block);
    }
    return { sources: [...blocks.keys()], over: overBound([...blocks.values()]) };
}

/** A count with thousands separators (`3,702,258,432`), the same in every locale. */
export function grouped(n: bigint): string {
    return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** For messages: `3,702,258,432 public IPv4 addresses (more than the 65,536 of a /16)`, families joined by "and". */
export function describeOverexposure(over: readonly Overexposure[]): string {
    return over
        .map(
            ({ family, addresses }) =>
                `${grouped(addresses)} public IPv${family} addresses ` +
                `(more than the ${grouped(publicBound(family))} of a /${PUBLIC_BOUND_PREFIX[family]})`,
        )
        .join(" and ");
}
