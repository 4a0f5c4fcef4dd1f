/**
 * URNs are what Pulumi knows a resource by: a resource whose URN changes, with no alias naming the
 * old one, is deleted and created again (a database, a bucket: its data with it). The example
 * stacks' URNs before the refactors of issue 12 are in `test/fixtures/example-urns.json`; the
 * program run as the renderer runs it must still have each of them, or name it in a resource's
 * `aliases` (resources.json), so that a refactor keeps every resource it does not mean to replace.
 *
 * Provider resources are exempt: the per-component providers are consolidated into one per cloud
 * account and region, and a resource that changes provider keeps its URN (docs/upgrading.md).
 * Every URN the program adds must be one this file expects.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { renderStacks } from "../offline/render";
import { PROJECT_DIR, runMemoized } from "./mocks";

/** The example stacks' URNs before the refactor, by stack. */
const SNAPSHOT = path.join(PROJECT_DIR, "test", "fixtures", "example-urns.json");

/**
 * URNs the program may have that the snapshot lacks, by stack: the stack-level providers that
 * replace the per-component ones (one AWS provider per region, one azure-native, one random).
 */
const EXPECTED_NEW: Readonly<Record<string, readonly string[]>> = {
    us: [
        "urn:pulumi:us::quay-georep::pulumi:providers:aws::quay-georep-aws-us-east-1",
        "urn:pulumi:us::quay-georep::pulumi:providers:azure-native::quay-georep-azure",
        "urn:pulumi:us::quay-georep::pulumi:providers:random::quay-georep-random",
        // Issue 14: the example gained a standby in eu-west-1 (a replica of the database, a warm Redis).
        "urn:pulumi:us::quay-georep::pulumi:providers:aws::quay-georep-aws-eu-west-1",
        "urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres$aws:ec2/securityGroup:SecurityGroup::quay-georep-database-standby-sg",
        "urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres$aws:kms/key:Key::quay-georep-database-standby-key",
        "urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres$aws:rds/instance:Instance::quay-georep-database-standby-instance",
        "urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres$aws:rds/parameterGroup:ParameterGroup::quay-georep-database-standby-params",
        "urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres$aws:rds/subnetGroup:SubnetGroup::quay-georep-database-standby-subnets",
        "urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::quay-georep-database-standby-allow-10-0-0-0-16",
        "urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::quay-georep-database-standby-allow-10-1-0-0-16",
        "urn:pulumi:us::quay-georep::quay-georep:database:RdsPostgres::quay-georep-database-standby",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2$aws:ec2/instance:Instance::quay-georep-redis-standby-vm",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2$aws:ec2/securityGroup:SecurityGroup::quay-georep-redis-standby-sg",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2$aws:iam/instanceProfile:InstanceProfile::quay-georep-redis-standby-profile",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2$aws:iam/role:Role::quay-georep-redis-standby-role",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2$aws:iam/rolePolicyAttachment:RolePolicyAttachment::quay-georep-redis-standby-ssm",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2$aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule::quay-georep-redis-standby-egress",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::quay-georep-redis-standby-allow-10-0-0-0-16",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::quay-georep-redis-standby-allow-10-1-0-0-16",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2$random:index/randomPassword:RandomPassword::quay-georep-redis-standby-password",
        "urn:pulumi:us::quay-georep::quay-georep:redis:RedisEc2::quay-georep-redis-standby",
    ],
    eu: [],
};

/** A resource as resources.json lists it, as far as URNs go. */
interface Listed {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly parent: string | null;
    readonly aliases?: readonly string[];
}

/** The `::`-separated parts of a URN: `urn:pulumi:<stack>`, project, qualified type, name. */
function urnParts(urn: string): { stack: string; project: string; qualifiedType: string; name: string } {
    const [head, project, qualifiedType, ...name] = urn.split("::");
    return { stack: head.replace(/^urn:pulumi:/, ""), project, qualifiedType, name: name.join("::") };
}

/** True for a provider resource (`pulumi:providers:<package>`), under any parent. */
function isProviderUrn(urn: string): boolean {
    return (urnParts(urn).qualifiedType.split("$").pop() ?? "").startsWith("pulumi:providers:");
}

/**
 * The alias a child gets from an alias of its parent, as the engine computes it (pulumi/pulumi
 * `pkg/resource/deploy/step_generator.go`, `inheritedChildAlias`): under the parent's old type
 * chain, and renamed along when the child's name starts with the parent's (`${name}-role`).
 */
function inheritedChildAlias(child: Listed, parentName: string, parentAlias: string): string {
    const { stack, project } = urnParts(child.urn);
    const old = urnParts(parentAlias);
    const name = child.name.startsWith(parentName) ? old.name + child.name.slice(parentName.length) : child.name;
    return `urn:pulumi:${stack}::${project}::${old.qualifiedType}$${child.type}::${name}`;
}

/**
 * Every URN each resource answers to besides its own: its `aliases`, and those it inherits from its
 * parent's (for each alias of the parent, the child under it; each of its own aliases too), as
 * the engine multiplies them out (`generateAliases`), all the way up.
 */
function aliasesOf(resources: readonly Listed[]): Map<string, string[]> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const memo = new Map<string, string[]>();
    const of = (r: Listed): string[] => {
        const known = memo.get(r.urn);
        if (known !== undefined) return known;
        const own = [...(r.aliases ?? [])];
        const parent = r.parent === null ? undefined : byUrn.get(r.parent);
        const inherited =
            parent === undefined
                ? []
                : of(parent).flatMap((pa) => [
                      inheritedChildAlias(r, parent.name, pa),
                      ...own.map((a) => {
                          const { qualifiedType, name } = urnParts(a);
                          const type = qualifiedType.split("$").pop() ?? qualifiedType;
                          return inheritedChildAlias({ ...r, type, name }, parent.name, pa);
                      }),
                  ]);
        const all = [...new Set([...own, ...inherited])];
        memo.set(r.urn, all);
        return all;
    };
    return new Map(resources.map((r) => [r.urn, of(r)]));
}

/** How the URNs of a stack now compare with the snapshot. */
interface UrnComparison {
    /** Snapshot URNs, not providers, that no resource has or names as an alias: Pulumi would delete them. */
    readonly missing: string[];
    /** Snapshot provider URNs gone (allowed: providers may be consolidated). */
    readonly providersGone: string[];
    /** Snapshot URNs a resource now answers to through an alias: `old → new`. */
    readonly aliased: string[];
    /** URNs the snapshot lacks, neither expected nor the new URN of an aliased resource. */
    readonly unexpected: string[];
}

/** Compares the URNs of a stack's resources now with the snapshot's, given the URNs it may add. */
function compareUrns(
    snapshot: readonly string[],
    resources: readonly Listed[],
    expectedNew: readonly string[] = [],
): UrnComparison {
    const now = new Set(resources.map((r) => r.urn));
    const aliases = aliasesOf(resources);
    const heir = new Map<string, string>();
    for (const [urn, list] of aliases) for (const a of list) if (!now.has(a)) heir.set(a, urn);
    const was = new Set(snapshot);
    const gone = snapshot.filter((u) => !now.has(u));
    const renamed = new Set(gone.filter((u) => heir.has(u)).map((u) => heir.get(u) as string));
    return {
        missing: gone.filter((u) => !heir.has(u) && !isProviderUrn(u)),
        providersGone: gone.filter((u) => !heir.has(u) && isProviderUrn(u)),
        aliased: gone.filter((u) => heir.has(u)).map((u) => `${u} → ${heir.get(u)}`),
        unexpected: [...now].filter((u) => !was.has(u) && !renamed.has(u) && !expectedNew.includes(u)).sort(),
    };
}

/** The failure message: what would be replaced, and (apart) the providers that went. */
function failureMessage(stack: string, c: UrnComparison): string {
    const list = (items: readonly string[]) => items.map((u) => `\n    - ${u}`).join("");
    return (
        `stack ${stack}: ${c.missing.length} URN(s) of ${path.relative(PROJECT_DIR, SNAPSHOT)} no longer exist ` +
        `and no resource names them in \`aliases\` (Pulumi would delete each and create it anew):${list(c.missing)}` +
        `\n  ${c.unexpected.length} URN(s) added that this test does not expect:${list(c.unexpected)}` +
        `\n  provider URNs gone (allowed, listed for review):${list(c.providersGone)}`
    );
}

/** A component and its children as resources.json lists them (for the comparison's own tests). */
function family(stack: string, component: string): Listed[] {
    const root = `urn:pulumi:${stack}::quay-georep::`;
    const parent = `${root}pulumi:pulumi:Stack::quay-georep-${stack}`;
    const c = `${root}quay-georep:storage:S3SiteBucket::${component}`;
    const under = (type: string, name: string): Listed => ({
        urn: `${root}quay-georep:storage:S3SiteBucket$${type}::${name}`,
        type,
        name,
        parent: c,
    });
    return [
        { urn: c, type: "quay-georep:storage:S3SiteBucket", name: component, parent },
        under("aws:s3/bucket:Bucket", `${component}-bucket`),
        under("pulumi:providers:aws", `${component}-aws`),
    ];
}

describe("URNs of the example stacks", () => {
    const snapshot = JSON.parse(fs.readFileSync(SNAPSHOT, "utf8")) as Record<string, string[]>;
    let listed: Record<string, Listed[]>;

    before(async function () {
        this.timeout(120000);
        const { rendered, failed } = await renderStacks(PROJECT_DIR, undefined, undefined, undefined, runMemoized);
        assert.deepEqual(failed, []);
        listed = Object.fromEntries(rendered.map((r) => [r.stack, JSON.parse(r.files["resources.json"]) as Listed[]]));
    });

    it("are those of every stack of the snapshot", () => {
        assert.deepEqual(Object.keys(listed).sort(), Object.keys(snapshot).sort());
        assert.deepEqual(Object.keys(EXPECTED_NEW).sort(), Object.keys(snapshot).sort());
    });

    for (const stack of ["us", "eu"]) {
        it(`keep every URN of the snapshot in stack ${stack}, or name it in an alias (providers aside)`, () => {
            const c = compareUrns(snapshot[stack], listed[stack], EXPECTED_NEW[stack]);
            assert.ok(c.missing.length === 0 && c.unexpected.length === 0, failureMessage(stack, c));
        });
    }
});

describe("URN comparison with the snapshot", () => {
    const stack = "us";
    const original = family(stack, "quay-georep-storage-usstorage");
    const snapshot = original.map((r) => r.urn);

    it("passes the same resources", () => {
        assert.deepEqual(compareUrns(snapshot, original), {
            missing: [],
            providersGone: [],
            aliased: [],
            unexpected: [],
        });
    });

    it("fails a renamed component: it and every child but its provider would be replaced", () => {
        const after = family(stack, "quay-georep-storage-us");
        const c = compareUrns(snapshot, after);
        assert.deepEqual(c.missing, [snapshot[0], snapshot[1]]);
        assert.deepEqual(c.providersGone, [snapshot[2]]);
        assert.deepEqual(c.unexpected, [after[0].urn, after[1].urn, after[2].urn].sort());
        assert.match(failureMessage(stack, c), /2 URN\(s\) of test\/fixtures\/example-urns\.json no longer exist/);
    });

    it("passes a renamed component that names its old URN in aliases, its children inheriting it", () => {
        const after = family(stack, "quay-georep-storage-us");
        const renamed = [{ ...after[0], aliases: [snapshot[0]] }, ...after.slice(1)];
        const c = compareUrns(snapshot, renamed);
        assert.deepEqual(c.missing, []);
        assert.deepEqual(c.unexpected, []);
        assert.deepEqual(c.aliased, [
            `${snapshot[0]} → ${after[0].urn}`,
            `${snapshot[1]} → ${after[1].urn}`,
            `${snapshot[2]} → ${after[2].urn}`,
        ]);
    });

    it("passes a component type token renamed with an alias, through two levels of children", () => {
        const retype = (u: string) => u.replace("quay-georep:storage:S3SiteBucket", "quay-georep:storage:Bucket");
        const grandchild = {
            urn: `urn:pulumi:us::quay-georep::quay-georep:storage:S3SiteBucket$aws:s3/bucket:Bucket$aws:s3/bucketPolicy:BucketPolicy::p`,
            type: "aws:s3/bucketPolicy:BucketPolicy",
            name: "p",
            parent: original[1].urn,
        };
        const after = [...original, grandchild].map((r, i) => ({
            ...r,
            urn: retype(r.urn),
            parent: r.parent === null ? null : retype(r.parent),
            ...(i === 0 ? { type: "quay-georep:storage:Bucket", aliases: [original[0].urn] } : {}),
        }));
        const c = compareUrns([...snapshot, grandchild.urn], after);
        assert.deepEqual([c.missing, c.providersGone, c.unexpected], [[], [], []]);
        assert.equal(c.aliased.length, 4);
    });

    it("fails a removed resource, and a resource added without being expected", () => {
        const c = compareUrns(snapshot, original.slice(0, 1).concat(original.slice(2)));
        assert.deepEqual(c.missing, [snapshot[1]]);
        const extra = { ...original[1], urn: `${original[1].urn}2`, name: `${original[1].name}2` };
        assert.deepEqual(compareUrns(snapshot, [...original, extra]).unexpected, [extra.urn]);
        assert.deepEqual(compareUrns(snapshot, [...original, extra], [extra.urn]).unexpected, []);
    });

    it("lets per-component providers go and the expected stack-level ones come", () => {
        const aws = "urn:pulumi:us::quay-georep::pulumi:providers:aws::quay-georep-aws-us-east-1";
        const after = [...original.slice(0, 2), { urn: aws, type: "pulumi:providers:aws", name: "x", parent: null }];
        const c = compareUrns(snapshot, after, EXPECTED_NEW.us);
        assert.deepEqual([c.missing, c.unexpected], [[], []]);
        assert.deepEqual(c.providersGone, [snapshot[2]]);
    });

    it("fails when the snapshot's non-provider URNs of the real stacks go, naming each", () => {
        // The real snapshot fed a stack with one component renamed: every URN under it is named.
        const real = JSON.parse(fs.readFileSync(SNAPSHOT, "utf8")) as Record<string, string[]>;
        const renamedUrns = real.us.map((u) => u.replace(/quay-georep-redis\b/g, "quay-georep-cache"));
        const listed = renamedUrns.map((urn) => {
            const { name, qualifiedType } = urnParts(urn);
            return { urn, type: qualifiedType.split("$").pop() as string, name, parent: null };
        });
        const c = compareUrns(real.us, listed, EXPECTED_NEW.us);
        const redis = real.us.filter((u) => /quay-georep-redis\b/.test(u));
        assert.ok(redis.length > 3, "the snapshot has the Redis component and its children");
        assert.deepEqual(
            c.missing,
            redis.filter((u) => !isProviderUrn(u)),
        );
        assert.deepEqual(c.providersGone, redis.filter(isProviderUrn));
    });
});
