// lib/serviceKey.ts (the pre-shared service key of Quay's read-only mode) and
// sql/readonly-service-key.sql, the latter run for real: the real psql binary against a real
// PostgreSQL (`bash .ci/postgres.sh`) holding Quay's service key tables
// (test/fixtures/servicekey-schema.sql). Fails loudly, never skips, without a server.
import { strict as assert } from "node:assert";
import {
    createHash,
    createPrivateKey,
    createPublicKey,
    generateKeyPairSync,
    JsonWebKey,
    KeyObject,
    sign,
    verify,
} from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import {
    generateServiceKey,
    jwkThumbprint,
    QUAY_EXPIRED_SERVICE_KEY_TTL_SEC,
    QUAY_GET_SERVICE_KEY_SQL,
    QUAY_INSTANCE_SERVICE,
    QUAY_LIST_SERVICE_KEYS_SQL,
    QUAY_UNAPPROVED_SERVICE_KEY_TTL_SEC,
    quayJwkJson,
    SERVICE_KEY_APPROVAL_TYPE,
    SERVICE_KEY_CONFIG,
    SERVICE_KEY_FILES,
    SERVICE_KEY_NAME,
    SERVICE_KEY_SQL,
    ServiceKey,
    serviceKeyBundleFiles,
    serviceKeyFrom,
    serviceKeyPsqlVariables,
} from "../lib/serviceKey";
import { Client } from "pg";
import { ExecResult, pgSettings, REPO_ROOT, run, TestDatabase } from "./support/postgres";

const SQL_FILE = path.join(REPO_ROOT, SERVICE_KEY_SQL);
const SCHEMA_FIXTURE = path.join(REPO_ROOT, "test", "fixtures", "servicekey-schema.sql");

/**
 * A row Quay itself wrote: servicekey id 1 of internal/dal/dbcore/testdata/omr_v2.0.11_3f8d7acdf7f9.sql
 * in github.com/quay/quay (ffba0c70), dumped from a real Quay 3.12 install; its `jwk` column verbatim.
 */
const QUAY_ROW = {
    kid: "4Aa9NP_lSNbvHRTs1LD6x5_GQ_85MYisCciOx6wTbHc",
    jwkText:
        '{"n": "pM-pneU9dirbaK83RlyBigvrkIsMsVwRFaC7Pd_FJYVnjHGhEv4MjZ63aM9_QJ-XyHAKDZEZqo3S8n08Hy_Zk1znLsQcL3UGZWaS7NfX0RSwzlhiaFWw7Sw3M7bHuQZmKkZ-wRs0fMCaxp6RqNmbZwNNgCNFDkdhiEu3EgWy8MnIyHw6FK_Sdf5a4FredBpxqcSYTVntCvUitLJ2N824fm2NXF8ZJYJmJqQ2YHbjNleimu1nwl1UGuFujwNQ5MT6Spa2nJaO_fiuVYdQzAjHmgB80aPke2Dze0tw7wwV2cpvggY6eoRcc94LMMN62LSkDx8-PsI9fA0XDIo1K4z19Q", "e": "AQAB", "kty": "RSA", "kid": "4Aa9NP_lSNbvHRTs1LD6x5_GQ_85MYisCciOx6wTbHc"}',
};

/** RFC 7638 computed independently of lib/serviceKey.ts: Node's JWK export, hand-written canonical JSON. */
function independentThumbprint(pem: string): string {
    const jwk = createPublicKey(pem).export({ format: "jwk" });
    const canonical = '{"e":"' + String(jwk.e) + '","kty":"' + String(jwk.kty) + '","n":"' + String(jwk.n) + '"}';
    return createHash("sha256")
        .update(Buffer.from(canonical, "utf8"))
        .digest("base64")
        .replace(/\+/g, "-")
        .replace(/\//g, "_")
        .replace(/=+$/, "");
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A compact RS256 JWT with a `kid` header, as util/security/registry_jwt.py makes (PyJWT). */
function signJwt(privateKeyPem: string, kid: string, payload: Record<string, unknown>): string {
    const input = `${b64url({ alg: "RS256", kid, typ: "JWT" })}.${b64url(payload)}`;
    return `${input}.${sign("sha256", Buffer.from(input), privateKeyPem).toString("base64url")}`;
}

/** Verifies an RS256 JWT with a public JWK (as Quay does with the servicekey.jwk column). */
function verifyJwt(token: string, jwk: object): boolean {
    const [header, payload, signature] = token.split(".");
    const key: KeyObject = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
    return verify("sha256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, "base64url"));
}

/**
 * Two new keys (`generateServiceKey`, as the program makes them), made once for this file: RSA
 * key generation takes tens to hundreds of milliseconds of CPU a key, and no test changes a key.
 */
let generated: { key: ServiceKey; other: ServiceKey } | undefined;
const twoKeys = () => (generated ??= { key: generateServiceKey(), other: generateServiceKey() });

describe("service key for read-only mode (lib/serviceKey.ts)", function () {
    let key: ServiceKey;
    let other: ServiceKey;

    before(function () {
        ({ key, other } = twoKeys());
    });

    it("points Quay at the two bundle files under /conf/stack, with Quay's default service name", function () {
        assert.deepEqual(SERVICE_KEY_FILES, { kid: "quay-readonly.kid", pem: "quay-readonly.pem" });
        assert.deepEqual(SERVICE_KEY_CONFIG, {
            INSTANCE_SERVICE_KEY_KID_LOCATION: "/conf/stack/quay-readonly.kid",
            INSTANCE_SERVICE_KEY_LOCATION: "/conf/stack/quay-readonly.pem",
        });
        assert.equal(QUAY_INSTANCE_SERVICE, "quay");
        assert.equal(SERVICE_KEY_APPROVAL_TYPE, "ServiceKeyApprovalType.AUTOMATIC");
    });

    it("generates a 2048-bit RSA key (e=65537) in PKCS#1 PEM, as boot.py writes it", function () {
        const priv = createPrivateKey(key.privateKeyPem);
        assert.equal(priv.asymmetricKeyType, "rsa");
        assert.equal(priv.asymmetricKeyDetails?.modulusLength, 2048);
        assert.equal(priv.asymmetricKeyDetails?.publicExponent, 65537n);
        assert.match(
            key.privateKeyPem,
            /^-----BEGIN RSA PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END RSA PRIVATE KEY-----\n$/,
        );
        assert.notEqual(key.kid, other.kid, "two generated keys share a kid");
    });

    it("derives kid and jwk deterministically from the PEM", function () {
        const again = serviceKeyFrom(key.privateKeyPem);
        assert.deepEqual(again, key);
        assert.deepEqual(serviceKeyFrom(key.privateKeyPem), again);
        assert.notDeepEqual(serviceKeyFrom(other.privateKeyPem).jwk, key.jwk);
    });

    it("reads a PKCS#8 PEM of the same key to the same kid, jwk and PKCS#1 PEM", function () {
        const pkcs8 = createPrivateKey(key.privateKeyPem).export({ type: "pkcs8", format: "pem" }) as string;
        assert.match(pkcs8, /^-----BEGIN PRIVATE KEY-----/);
        assert.deepEqual(serviceKeyFrom(pkcs8), key);
    });

    it("uses the RFC 7638 thumbprint as kid, computed here another way", function () {
        assert.equal(key.kid, independentThumbprint(key.privateKeyPem));
        assert.equal(other.kid, independentThumbprint(other.privateKeyPem));
        assert.match(key.kid, /^[A-Za-z0-9_-]{43}$/, "SHA-256 in base64url without padding is 43 characters");
    });

    it("reproduces a kid and jwk text Quay itself wrote", function () {
        const stored = JSON.parse(QUAY_ROW.jwkText) as { n: string; e: string; kty: "RSA"; kid: string };
        assert.equal(jwkThumbprint(stored), QUAY_ROW.kid);
        assert.equal(quayJwkJson(stored), QUAY_ROW.jwkText);
        // Quay's member order whatever the object's own order.
        const { n, e, kty, kid } = stored;
        assert.equal(quayJwkJson({ kid, kty, e, n }), QUAY_ROW.jwkText);
        assert.notEqual(jwkThumbprint({ ...stored, e: "AQAC" }), QUAY_ROW.kid);
    });

    it("keeps only the public members, in Quay's order n, e, kty, kid", function () {
        assert.deepEqual(Object.keys(key.jwk), ["n", "e", "kty", "kid"]);
        assert.equal(key.jwk.kty, "RSA");
        assert.equal(key.jwk.e, "AQAB");
        assert.equal(key.jwk.kid, key.kid);
        assert.equal(Buffer.from(key.jwk.n, "base64url").length, 256);
        const pub = createPublicKey(key.privateKeyPem).export({ format: "jwk" });
        assert.equal(key.jwk.n, pub.n);
        assert.match(
            quayJwkJson(key.jwk),
            /^\{"n": "[A-Za-z0-9_-]+", "e": "AQAB", "kty": "RSA", "kid": "[A-Za-z0-9_-]{43}"\}$/,
        );
    });

    it("signs an RS256 JWT with the PEM that the JWK verifies, and only that JWK", function () {
        const now = Math.floor(Date.now() / 1000);
        const payload = { iss: "quay", aud: "quay.example.com", sub: "(anonymous)", nbf: now, iat: now, exp: now + 60 };
        const token = signJwt(key.privateKeyPem, key.kid, payload);
        assert.equal(verifyJwt(token, key.jwk), true);
        assert.equal(verifyJwt(token, JSON.parse(quayJwkJson(key.jwk)) as object), true);
        assert.equal(verifyJwt(token, other.jwk), false, "another key's JWK verified the token");
        const [h, , s] = token.split(".");
        assert.equal(verifyJwt(`${h}.${b64url({ ...payload, sub: "admin" })}.${s}`, key.jwk), false);
    });

    it("rejects what is not an unencrypted RSA private key of 2048 bits or more", function () {
        assert.throws(() => serviceKeyFrom("not a pem"), /not an unencrypted PEM private key/);
        const publicPem = createPublicKey(key.privateKeyPem).export({ type: "spki", format: "pem" }) as string;
        assert.throws(() => serviceKeyFrom(publicPem), /not an unencrypted PEM private key/);
        const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
        assert.throws(
            () => serviceKeyFrom(ec.export({ type: "pkcs8", format: "pem" }) as string),
            /must be an RSA key/,
        );
        const small = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
        assert.throws(
            () => serviceKeyFrom(small.export({ type: "pkcs1", format: "pem" }) as string),
            /1024 bits is too short/,
        );
        const encrypted = createPrivateKey(key.privateKeyPem).export({
            type: "pkcs8",
            format: "pem",
            cipher: "aes-256-cbc",
            passphrase: "secret",
        }) as string;
        assert.throws(() => serviceKeyFrom(encrypted), /not an unencrypted PEM private key/);
    });

    it("writes the kid file without a newline (Quay reads it unstripped) and the PEM file as is", function () {
        const files = serviceKeyBundleFiles(key);
        assert.deepEqual(Object.keys(files).sort(), ["quay-readonly.kid", "quay-readonly.pem"]);
        assert.equal(files["quay-readonly.kid"], key.kid);
        assert.doesNotMatch(files["quay-readonly.kid"], /\s/);
        assert.equal(files["quay-readonly.pem"], key.privateKeyPem);
    });

    it("builds the psql variables and refuses a bad expiry", function () {
        assert.deepEqual(serviceKeyPsqlVariables(key, { expiresDays: 30 }), {
            kid: key.kid,
            jwk: quayJwkJson(key.jwk),
            name: "quay-readonly",
            expires_days: "30",
        });
        assert.equal(serviceKeyPsqlVariables(key, { expiresDays: 1, name: "dr" }).name, "dr");
        for (const bad of [0, -1, 1.5, Number.NaN]) {
            assert.throws(
                () => serviceKeyPsqlVariables(key, { expiresDays: bad }),
                /expiresDays must be a whole number/,
            );
        }
    });
});

interface KeyRow extends Record<string, unknown> {
    id: number;
    name: string;
    kid: string;
    service: string;
    jwk: string;
    metadata: string;
    created_date: string;
    expiration_date: string | null;
    rotation_duration: number | null;
    approval_id: number | null;
}

interface ApprovalRow extends Record<string, unknown> {
    id: number;
    approver_id: number | null;
    approval_type: string;
    approved_date: string;
    notes: string;
}

describe("sql/readonly-service-key.sql (real PostgreSQL + psql)", function () {
    let db: TestDatabase;
    let key: ServiceKey;
    let other: ServiceKey;

    /** Runs the shipped SQL through psql as the Job does; `vars` null values are left out. */
    function runSql(vars: Record<string, string | null>, env: NodeJS.ProcessEnv = {}): Promise<ExecResult> {
        const args = [db.url, "-X", "-v", "ON_ERROR_STOP=1"];
        for (const [name, value] of Object.entries(vars)) {
            if (value !== null) args.push("-v", `${name}=${value}`);
        }
        args.push("-f", SQL_FILE);
        return run(process.env.PSQL || "psql", args, { env: { ...process.env, ...env } });
    }

    function varsFor(k: ServiceKey, expiresDays = 30, name = SERVICE_KEY_NAME): Record<string, string | null> {
        return serviceKeyPsqlVariables(k, { expiresDays, name });
    }

    async function runOk(vars: Record<string, string | null>, env: NodeJS.ProcessEnv = {}): Promise<string> {
        const r = await runSql(vars, env);
        assert.equal(r.code, 0, `psql exited ${r.code}: ${r.stderr}`);
        assert.equal(r.stderr, "");
        assert.match(r.stdout, /^readonly-service-key: [^\n]+\n$/, "not exactly one line");
        return r.stdout.trimEnd();
    }

    async function runFails(vars: Record<string, string | null>, message: RegExp): Promise<void> {
        const r = await runSql(vars);
        assert.equal(r.code, 3, `expected psql's ON_ERROR_STOP exit 3, got ${r.code}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /ERROR: {2}readonly-service-key: /);
        assert.match(r.stderr, message);
        assert.equal(r.stdout, "");
    }

    const keys = (): Promise<KeyRow[]> =>
        db.query<KeyRow>(
            "SELECT id, name, kid, service, jwk, metadata, created_date::text, expiration_date::text, " +
                "rotation_duration, approval_id FROM servicekey ORDER BY id",
        );
    const approvals = (): Promise<ApprovalRow[]> =>
        db.query<ApprovalRow>(
            "SELECT id, approver_id, approval_type, approved_date::text, notes FROM servicekeyapproval ORDER BY id",
        );

    /** Quay's get_service_key(kid, approved_only=False), as boot.py calls it in read-only mode. */
    async function quayBootFinds(kid: string): Promise<boolean> {
        return (await db.query(QUAY_GET_SERVICE_KEY_SQL, [kid, QUAY_EXPIRED_SERVICE_KEY_TTL_SEC])).length === 1;
    }

    /** Quay's list_service_keys("quay"): InstanceKeys (token verification) and /health/instance. */
    async function quayInstanceKids(): Promise<string[]> {
        const rows = await db.query<{ kid: string }>(QUAY_LIST_SERVICE_KEYS_SQL, [
            QUAY_INSTANCE_SERVICE,
            QUAY_EXPIRED_SERVICE_KEY_TTL_SEC,
            QUAY_UNAPPROVED_SERVICE_KEY_TTL_SEC,
        ]);
        return rows.map((r) => r.kid).sort();
    }

    /** Seconds from UTC now to the key's expiration (negative when expired). */
    async function expiresInSeconds(kid: string): Promise<number | null> {
        const [row] = await db.query<{ s: string | null }>(
            "SELECT extract(epoch FROM expiration_date - (now() AT TIME ZONE 'UTC'))::text AS s FROM servicekey WHERE kid = $1",
            [kid],
        );
        return row.s === null ? null : Number(row.s);
    }

    const setExpiration = (kid: string, sqlExpr: string): Promise<unknown> =>
        db.query(`UPDATE servicekey SET expiration_date = ${sqlExpr} WHERE kid = $1`, [kid]);

    /** A key row as Quay's create_service_key leaves it before approval. */
    async function insertQuayKey(k: ServiceKey, service: string, approved: boolean): Promise<void> {
        let approvalId: number | null = null;
        if (approved) {
            [{ id: approvalId }] = await db.query<{ id: number }>(
                "INSERT INTO servicekeyapproval (approver_id, approval_type, approved_date, notes) " +
                    "VALUES (NULL, 'ServiceKeyApprovalType.SUPERUSER', now() AT TIME ZONE 'UTC', '') RETURNING id",
            );
        }
        await db.query(
            "INSERT INTO servicekey (name, kid, service, jwk, metadata, created_date, expiration_date, approval_id) " +
                "VALUES ('https://quay.example.com:443', $1, $2, $3, '{\"created_by\": \"CLI tool\"}', " +
                "now() AT TIME ZONE 'UTC', (now() AT TIME ZONE 'UTC') + interval '2 hours', $4)",
            [k.kid, service, quayJwkJson(k.jwk), approvalId],
        );
    }

    const DAY = 24 * 60 * 60;
    const DATE = "\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} UTC";

    before(async function () {
        db = await TestDatabase.create();
        await db.client.query(readFileSync(SCHEMA_FIXTURE, "utf8"));
        ({ key, other } = twoKeys());
    });

    after(async function () {
        if (db) await db.drop();
    });

    beforeEach(async function () {
        await db.query("TRUNCATE servicekey, servicekeyapproval RESTART IDENTITY CASCADE");
    });

    it("inserts one approved key the way Quay registers its instance keys", async function () {
        // A session time zone far from UTC: the stored times must still be naive UTC.
        const out = await runOk(varsFor(key, 30), { PGTZ: "Pacific/Kiritimati" });
        assert.match(
            out,
            new RegExp(
                `^readonly-service-key: inserted service key ${key.kid} \\(service quay, name quay-readonly\\), approved, expires ${DATE}$`,
            ),
        );

        const [row, ...more] = await keys();
        assert.equal(more.length, 0);
        assert.equal(row.kid, key.kid);
        assert.equal(row.name, "quay-readonly");
        assert.equal(row.service, "quay");
        assert.equal(row.jwk, quayJwkJson(key.jwk));
        assert.deepEqual(JSON.parse(row.metadata), { created_by: "quay-georep" });
        assert.equal(row.rotation_duration, null);

        const [approval, ...moreApprovals] = await approvals();
        assert.equal(moreApprovals.length, 0);
        assert.equal(row.approval_id, approval.id);
        assert.equal(approval.approval_type, "ServiceKeyApprovalType.AUTOMATIC");
        assert.equal(approval.approver_id, null);
        assert.equal(approval.approved_date, row.created_date);

        const [times] = await db.query<{ age: string; span: string }>(
            "SELECT extract(epoch FROM (now() AT TIME ZONE 'UTC') - created_date)::text AS age, " +
                "(expiration_date - created_date)::text AS span FROM servicekey",
        );
        assert.ok(Number(times.age) >= 0 && Number(times.age) < 60, `created_date is not UTC now: ${times.age}s ago`);
        assert.equal(times.span, "30 days");
        assert.equal(out.endsWith(`expires ${row.expiration_date!.slice(0, 19)} UTC`), true, out);

        assert.equal(await quayBootFinds(key.kid), true);
        assert.deepEqual(await quayInstanceKids(), [key.kid]);
    });

    it("stores a JWK that verifies tokens signed with the PEM file", async function () {
        await runOk(varsFor(key));
        const [row] = await keys();
        const token = signJwt(key.privateKeyPem, row.kid, { sub: "(anonymous)" });
        assert.equal(verifyJwt(token, JSON.parse(row.jwk) as object), true);
        assert.equal(
            verifyJwt(signJwt(other.privateKeyPem, row.kid, { sub: "x" }), JSON.parse(row.jwk) as object),
            false,
        );
    });

    it("is idempotent: a second run keeps the one row and approval, only moving the expiration later", async function () {
        await runOk(varsFor(key, 30));
        const [first] = await keys();
        const firstApprovals = await approvals();

        const out = await runOk(varsFor(key, 30, "another-name"));
        assert.match(
            out,
            new RegExp(
                `^readonly-service-key: service key ${key.kid} already registered and approved; expiration extended to ${DATE}$`,
            ),
        );
        const [second, ...more] = await keys();
        assert.equal(more.length, 0);
        assert.deepEqual(await approvals(), firstApprovals);
        const { expiration_date: e1, ...rest1 } = first;
        const { expiration_date: e2, ...rest2 } = second;
        assert.deepEqual(rest2, rest1, "a re-run changed more than the expiration");
        assert.ok(e2! >= e1!, `expiration moved earlier: ${e1} -> ${e2}`);
        assert.equal(await quayBootFinds(key.kid), true);
    });

    it("extends a sooner expiration, never shortens a later one, and keeps a key that never expires", async function () {
        await runOk(varsFor(key, 30));

        await setExpiration(key.kid, "(now() AT TIME ZONE 'UTC') + interval '1 day'");
        await runOk(varsFor(key, 30));
        const extended = (await expiresInSeconds(key.kid))!;
        assert.ok(Math.abs(extended - 30 * DAY) < 60, `expected ~30 days, got ${extended}s`);

        await setExpiration(key.kid, "(now() AT TIME ZONE 'UTC') + interval '400 days'");
        const out = await runOk(varsFor(key, 30));
        assert.match(out, /expiration left at .* UTC \(later than requested\)$/);
        const kept = (await expiresInSeconds(key.kid))!;
        assert.ok(Math.abs(kept - 400 * DAY) < 60, `a later expiration was shortened: ${kept}s`);

        await setExpiration(key.kid, "NULL");
        assert.match(await runOk(varsFor(key, 30)), /it never expires, left so$/);
        assert.equal(await expiresInSeconds(key.kid), null);
        assert.equal((await approvals()).length, 1);
    });

    it("is found by Quay's lookups only while unexpired; a re-run revives an expired key", async function () {
        await runOk(varsFor(key, 7));
        await setExpiration(key.kid, "(now() AT TIME ZONE 'UTC') + interval '1 minute'");
        assert.equal(await quayBootFinds(key.kid), true);
        assert.deepEqual(await quayInstanceKids(), [key.kid]);

        await setExpiration(key.kid, "(now() AT TIME ZONE 'UTC') - interval '1 minute'");
        assert.equal(await quayBootFinds(key.kid), false, "boot.py would accept an expired key");
        assert.deepEqual(await quayInstanceKids(), []);

        assert.match(await runOk(varsFor(key, 7)), /expiration extended to/);
        assert.equal(await quayBootFinds(key.kid), true);
        assert.deepEqual(await quayInstanceKids(), [key.kid]);
    });

    it("approves a key Quay registered unapproved, which only boot.py's lookup found before", async function () {
        await insertQuayKey(key, "quay", false);
        await insertQuayKey(other, "quay", true);
        assert.equal(
            await quayBootFinds(key.kid),
            true,
            "get_service_key(approved_only=False) must find unapproved keys",
        );
        assert.deepEqual(await quayInstanceKids(), [other.kid], "list_service_keys must skip unapproved keys");

        const out = await runOk(varsFor(key, 30));
        assert.match(
            out,
            new RegExp(
                `^readonly-service-key: service key ${key.kid} was unapproved, now approved; expiration extended to ${DATE}$`,
            ),
        );
        assert.deepEqual(await quayInstanceKids(), [key.kid, other.kid].sort());
        const [row] = (await keys()).filter((k) => k.kid === key.kid);
        const [approval] = (await approvals()).filter((a) => a.id === row.approval_id);
        assert.equal(approval.approval_type, SERVICE_KEY_APPROVAL_TYPE);
        assert.equal(row.name, "https://quay.example.com:443", "an existing key's name was changed");
    });

    it("registers keys of another service only for that service", async function () {
        await runOk({ ...varsFor(key), service: "other_service" });
        assert.equal(await quayBootFinds(key.kid), true);
        assert.deepEqual(await quayInstanceKids(), [], "list_service_keys('quay') returned another service's key");
        await runFails({ ...varsFor(key), service: "Not Valid" }, /service must match/);
    });

    it("refuses an existing row with the same kid but another public key or service, and leaves it alone", async function () {
        await insertQuayKey(key, "quay", false);
        const forged = quayJwkJson({ ...other.jwk, kid: key.kid });
        await db.query("UPDATE servicekey SET jwk = $1 WHERE kid = $2", [forged, key.kid]);
        const before = await keys();
        await runFails(varsFor(key), /exists with a different public key/);
        assert.deepEqual(await keys(), before);
        assert.deepEqual(await approvals(), []);

        await db.query("UPDATE servicekey SET jwk = $1, service = 'clair' WHERE kid = $2", [
            quayJwkJson(key.jwk),
            key.kid,
        ]);
        await runFails(varsFor(key), /exists for service "clair", not "quay"/);
        assert.deepEqual(await approvals(), []);
    });

    for (const [what, change, message] of [
        ["an empty kid", { kid: "" }, /kid is empty: pass -v kid=/],
        ["a missing kid", { kid: null }, /kid is empty: pass -v kid=/],
        ["a missing jwk", { jwk: null }, /jwk is empty/],
        ["a jwk that is not JSON", { jwk: "{nope" }, /jwk is not JSON/],
        ["a jwk that is not RSA", { jwk: '{"kty": "EC", "x": "a", "y": "b"}' }, /must be an RSA public JWK/],
        ["an empty name", { name: "" }, /name must be 1 to 255 characters/],
        ["a missing expires_days", { expires_days: null }, /expires_days must be a whole number of days >= 1/],
        [
            "expires_days 0",
            { expires_days: "0" },
            /expires_days must be a whole number of days >= 1 \(-v expires_days=\.\.\.\), got "0"/,
        ],
        ["negative expires_days", { expires_days: "-3" }, /got "-3"/],
        ["non-numeric expires_days", { expires_days: "30d" }, /got "30d"/],
    ] as [string, Record<string, string | null>, RegExp][]) {
        it(`fails with ON_ERROR_STOP and a clear message on ${what}, writing nothing`, async function () {
            await runFails({ ...varsFor(key), ...change }, message);
            assert.deepEqual(await keys(), []);
            assert.deepEqual(await approvals(), []);
        });
    }

    it("refuses a private JWK, a kid differing from the jwk's, and a kid that is not the jwk's thumbprint", async function () {
        const priv = createPrivateKey(key.privateKeyPem).export({ format: "jwk" });
        await runFails(
            { ...varsFor(key), jwk: JSON.stringify({ ...priv, kid: key.kid }) },
            /holds private key members/,
        );
        await runFails({ ...varsFor(key), kid: other.kid }, /jwk "kid" is .*, not kid /);
        await runFails(
            { ...varsFor(key), kid: other.kid, jwk: quayJwkJson({ ...key.jwk, kid: other.kid }) },
            /is not the RFC 7638 thumbprint of jwk \([A-Za-z0-9_-]{43}\): kid and jwk come from different keys/,
        );
        assert.deepEqual(await keys(), []);
    });

    it("runs in one transaction: a failed key insert leaves no approval behind", async function () {
        await db.query(
            "CREATE FUNCTION fail_servicekey_insert() RETURNS trigger LANGUAGE plpgsql AS " +
                "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
        );
        await db.query(
            "CREATE TRIGGER fail_servicekey_insert BEFORE INSERT ON servicekey " +
                "FOR EACH ROW EXECUTE FUNCTION fail_servicekey_insert()",
        );
        try {
            const r = await runSql(varsFor(key));
            assert.equal(r.code, 3, r.stderr);
            assert.match(r.stderr, /injected failure/);
        } finally {
            await db.query("DROP TRIGGER fail_servicekey_insert ON servicekey");
            await db.query("DROP FUNCTION fail_servicekey_insert()");
        }
        assert.deepEqual(await approvals(), [], "the approval was committed without its key");
        assert.deepEqual(await keys(), []);
    });

    it("serializes concurrent runs: one row, one approval", async function () {
        // Hold servicekeyapproval so that the runs pile up inside the script, then let them all
        // go at once: without the script's own lock each would find no row and insert one.
        const s = pgSettings();
        const holder = new Client({
            host: s.host,
            port: s.port,
            user: s.user,
            password: s.password,
            database: db.name,
        });
        await holder.connect();
        let results: ExecResult[];
        try {
            await holder.query("BEGIN");
            await holder.query("LOCK TABLE servicekeyapproval IN ACCESS EXCLUSIVE MODE");
            const runs = [1, 2, 3, 4].map(() => runSql(varsFor(key)));
            const deadline = Date.now() + 10000;
            for (;;) {
                const [{ n }] = await db.query<{ n: number }>(
                    "SELECT count(*)::int AS n FROM pg_stat_activity " +
                        "WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'psql'",
                );
                if (n === 4) break;
                if (Date.now() > deadline) throw new Error(`only ${n} of 4 psql runs are waiting`);
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            await holder.query("COMMIT");
            results = await Promise.all(runs);
        } finally {
            await holder.end();
        }
        for (const r of results) assert.equal(r.code, 0, r.stderr);
        assert.equal(results.filter((r) => /: inserted service key/.test(r.stdout)).length, 1);
        assert.equal(results.filter((r) => /already registered and approved/.test(r.stdout)).length, 3);
        assert.equal((await keys()).length, 1);
        assert.equal((await approvals()).length, 1);
    });
});
