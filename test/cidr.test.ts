/**
 * Allow-lists judged by what they cover (lib/cidr.ts): IPv4 and IPv6 parsing, the union of a list,
 * the public addresses it covers outside the non-public ranges, and the bound. The policy pack's
 * copy (policy/cidr.ts) must be the same file.
 */
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
    AddressBlock,
    breadth,
    describeOverexposure,
    ipv6Number,
    mergeBlocks,
    NON_PUBLIC,
    overBound,
    parseBlock,
    PUBLIC_BOUND_PREFIX,
    publicAddresses,
    publicBound,
} from "../lib/cidr";
import { PROJECT_ROOT } from "../lib/projectRoot";

/** The blocks of a list of sources; fails on one that does not parse. */
function blocks(sources: readonly string[]): AddressBlock[] {
    return sources.map((s) => {
        const block = parseBlock(s);
        assert.ok(block, `not a block: ${s}`);
        return block;
    });
}

const count = (sources: readonly string[]) => publicAddresses(blocks(sources));

/** Every address of a family, less the non-public ranges (disjoint, so their sizes add up). */
const allPublic = (family: 4 | 6) =>
    (1n << (family === 4 ? 32n : 128n)) -
    blocks(NON_PUBLIC[family].map((e) => e.cidr)).reduce((n, b) => n + b.last - b.first + 1n, 0n);

describe("cidr: allow-lists judged by what they cover", () => {
    it("is copied verbatim into the policy pack (which imports nothing from outside policy/)", () => {
        const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), "utf8");
        assert.ok(read("lib/cidr.ts") === read("policy/cidr.ts"), "copy lib/cidr.ts to policy/cidr.ts");
    });

    it("reads IPv6 in every written form, and refuses what is not IPv6", () => {
        assert.equal(ipv6Number("::"), 0n);
        assert.equal(ipv6Number("::1"), 1n);
        assert.equal(ipv6Number("1::"), 1n << 112n);
        assert.equal(ipv6Number("2001:DB8::1"), 0x20010db8000000000000000000000001n);
        assert.equal(ipv6Number("::ffff:192.0.2.1"), 0xffffc0000201n);
        assert.equal(ipv6Number("1:2:3:4:5:6:7:8"), 0x00010002000300040005000600070008n);
        for (const bad of ["1:2:3:4:5:6:7:8:9", "1::2::3", ":1::", "12345::", "g::", "fe80::1%eth0", "::1.2.3"]) {
            assert.equal(ipv6Number(bad), undefined, bad);
        }
    });

    it("reads a source as the block the cloud admits: CIDR, single address or IPv4 range; not a tag", () => {
        assert.deepEqual(parseBlock("10.0.0.5/16"), { family: 4, first: 0x0a000000n, last: 0x0a00ffffn });
        assert.deepEqual(parseBlock("203.0.113.7"), { family: 4, first: 0xcb007107n, last: 0xcb007107n });
        assert.deepEqual(parseBlock("20.0.0.0-20.1.0.0"), { family: 4, first: 0x14000000n, last: 0x14010000n });
        assert.deepEqual(parseBlock("2001:db8::/32"), {
            family: 6,
            first: 0x20010db8n << 96n,
            last: (0x20010db9n << 96n) - 1n,
        });
        for (const other of ["Internet", "VirtualNetwork", "pl-0123", "10.0.0.0/33", "::/129", "2.0.0.0-1.0.0.0"]) {
            assert.equal(parseBlock(other), undefined, other);
        }
    });

    it("counts the internet split into /1s or 256 /8s as the whole internet, IPv4 and IPv6", () => {
        assert.equal(allPublic(4), 3_987_471_616n);
        assert.equal(count(["0.0.0.0/1", "128.0.0.0/1"])[4], allPublic(4));
        assert.equal(count(Array.from({ length: 256 }, (_, i) => `${i}.0.0.0/8`))[4], allPublic(4));
        assert.equal(count(["::/1", "8000::/1"])[6], allPublic(6));
        assert.deepEqual(count(["0.0.0.0/0", "::/0"]), { 4: allPublic(4), 6: allPublic(6) });
    });

    it("counts nothing for private and reserved space, however large", () => {
        const reserved = [...NON_PUBLIC[4], ...NON_PUBLIC[6]].map((e) => e.cidr);
        assert.deepEqual(count(reserved), { 4: 0n, 6: 0n });
        assert.deepEqual(overBound(blocks(["10.0.0.0/8", "172.16.0.0/12", "fc00::/7", "fe80::/10"])), []);
        // Left out on purpose: 0.0.0.0/8 (Azure's firewall reads 0.0.0.0 as "Azure services"), 240.0.0.0/4.
        assert.deepEqual(count(["0.0.0.0/8", "240.0.0.0/4"])[4], (1n << 24n) + (1n << 28n));
    });

    it("counts overlaps and duplicates once", () => {
        assert.equal(count(["20.0.0.0/16", "20.0.0.0/16", "20.0.128.0/17", "20.0.0.7/32", "20.0.0.7"])[4], 65_536n);
        assert.equal(count(["2001:db9::/48", "2001:db9::/64", "2001:db9::/48"])[6], 1n << 80n);
        assert.deepEqual(
            mergeBlocks(blocks(["20.1.0.0/16", "::/0", "20.0.0.0/16", "20.0.255.0/24"])).map((b) => b.family),
            [4, 6],
        );
    });

    it("allows up to a /16 of public IPv4 and a /48 of public IPv6 in all, and no more", () => {
        assert.deepEqual(PUBLIC_BOUND_PREFIX, { 4: 16, 6: 48 });
        assert.deepEqual([publicBound(4), publicBound(6)], [65_536n, 1n << 80n]);
        assert.deepEqual(overBound(blocks(["20.0.0.0/16", "2001:db9::/48", "10.0.0.0/8"])), []);
        assert.deepEqual(overBound(blocks(["20.0.0.0/15"])), [{ family: 4, addresses: 131_072n }]);
        assert.deepEqual(overBound(blocks(["20.0.0.0/16", "20.1.0.0"])), [{ family: 4, addresses: 65_537n }]);
        assert.deepEqual(overBound(blocks(["2001:db9::/47"])), [{ family: 6, addresses: 1n << 81n }]);
    });

    it("says how many public addresses a list covers, and the bound", () => {
        assert.equal(
            describeOverexposure(overBound(blocks(["0.0.0.0/1", "128.0.0.0/1", "2001:db9::/47"]))),
            "3,987,471,616 public IPv4 addresses (more than the 65,536 of a /16) and " +
                "2,417,851,639,229,258,349,412,352 public IPv6 addresses " +
                "(more than the 1,208,925,819,614,629,174,706,176 of a /48)",
        );
    });

    it("names the sources that cover public addresses, each once, and skips tags", () => {
        const found = breadth(["10.0.0.0/8", "0.0.0.0/1", " 128.0.0.0/1", "0.0.0.0/1", "Internet", "fc00::/7"]);
        assert.deepEqual(found.sources, ["0.0.0.0/1", "128.0.0.0/1"]);
        assert.deepEqual(found.over, [{ family: 4, addresses: allPublic(4) }]);
    });

    it("judges thousands of entries at once quickly", () => {
        const many = Array.from({ length: 20_000 }, (_, i) => `${20 + (i % 64)}.${(i * 7) % 256}.${i % 256}.0/24`);
        const start = performance.now();
        const over = overBound(blocks([...many, ...Array.from({ length: 256 }, (_, i) => `${i}.0.0.0/8`)]));
        assert.deepEqual(over, [{ family: 4, addresses: allPublic(4) }]);
        assert.ok(performance.now() - start < 1000, `took ${Math.round(performance.now() - start)} ms`);
    });
});
