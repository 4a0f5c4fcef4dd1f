/**
 * The pre-shared instance service key that Quay's read-only mode (`REGISTRY_STATE: readonly`)
 * needs, made the way Quay itself makes one. Pure: Node's `crypto` only, no I/O.
 *
 * Why: at start-up, boot.py `setup_instance_service_key` reads the key ID from the file
 * INSTANCE_SERVICE_KEY_KID_LOCATION and, in read-only mode, only checks that
 * `get_service_key(kid, approved_only=False)` finds a live row for it and that the PEM file
 * INSTANCE_SERVICE_KEY_LOCATION exists; otherwise it raises "No valid service key found for
 * read-only registry." (in normal mode each pod generates and inserts its own key, which read-only
 * mode forbids: data/readreplica.py raises ReadOnlyModeException on the insert). After start-up the
 * key must also be *approved*, of service INSTANCE_SERVICE_KEY_SERVICE ("quay") and unexpired:
 * util/security/instancekeys.py loads the verification keys with `list_service_keys(service)`
 * (approved and alive only), which both the registry's bearer tokens (util/security/registry_jwt.py
 * `decode_bearer_token`) and the `service_key` check of /health/instance (health/services.py, the
 * operator's liveness probe) go through. No worker renews it in read-only mode (workers/worker.py
 * skips every worker), so its expiration must outlast the read-only window.
 *
 * So the program puts SERVICE_KEY_FILES in the config bundle (the operator mounts every bundle
 * file at /conf/stack), sets SERVICE_KEY_CONFIG in config.yaml, and a Job runs
 * sql/readonly-service-key.sql with `serviceKeyPsqlVariables(...)` before the read-only bundle is
 * written.
 *
 * Fidelity to Quay (github.com/quay/quay at ffba0c70, authlib 1.6.9 from its requirements.txt):
 * - key: data/model/service_keys.py `generate_service_key` calls authlib
 *   `JsonWebKey.generate_key("RSA", 2048, is_private=True)`: RSA 2048, public exponent 65537.
 * - kid: `jwk.as_dict()["kid"]`; authlib (jose/rfc7517/asymmetric_key.py `as_dict`) sets it to
 *   `thumbprint()` (jose/rfc7517/base_key.py): RFC 7638, SHA-256 of the compact JSON of the
 *   required members in sorted order, {"e":..,"kty":"RSA","n":..}, base64url without padding.
 * - jwk column: `jwk.as_dict()` of the private key with is_private=False keeps only "n", "e" (in
 *   that order), then "kty", then the "kid"; data/fields.py JSONField stores `json.dumps(value)`
 *   (separators ", " and ": "). `quayJwkJson` writes exactly that text.
 * - PEM: boot.py writes the key with cryptography's PrivateFormat.TraditionalOpenSSL, i.e. PKCS#1
 *   "-----BEGIN RSA PRIVATE KEY-----"; the reader (InstanceKeys.local_private_key, handed to
 *   PyJWT's RS256) would accept PKCS#8 too, but this module writes what Quay writes.
 * - kid file: read with `f.read()` and never stripped (boot.py `_verify_service_key`,
 *   util/security/instancekeys.py `_load_file_contents`), so it must hold the kid with no newline.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from "node:crypto";

/**
 * Environment variable naming a PEM file (an RSA private key) the program uses as a new read-only
 * service key instead of generating one. The offline renderer sets it to
 * `offline/readonly-service-key.pem` (a throwaway key, never deployed: renders hide secrets, so
 * without it every render would show a new key ID and bundle hash); a team that pre-registers
 * its own key may set it too.
 */
export const READONLY_KEY_FILE_ENV = "QUAY_GEOREP_READONLY_KEY_FILE";

/** Quay's INSTANCE_SERVICE_KEY_SERVICE default (config.py): the `service` of instance keys. */
export const QUAY_INSTANCE_SERVICE = "quay";

/** Where the Quay operator mounts the config bundle Secret (every key of it, as a file). */
export const QUAY_CONFIG_STACK_DIR = "/conf/stack";

/** The bundle files (Secret keys) holding the pre-shared key. */
export const SERVICE_KEY_FILES = { kid: "quay-readonly.kid", pem: "quay-readonly.pem" } as const;

/** The config.yaml fields pointing Quay at SERVICE_KEY_FILES (defaults: /conf/quay.kid, /conf/quay.pem). */
export const SERVICE_KEY_CONFIG = {
    INSTANCE_SERVICE_KEY_KID_LOCATION: `${QUAY_CONFIG_STACK_DIR}/${SERVICE_KEY_FILES.kid}`,
    INSTANCE_SERVICE_KEY_LOCATION: `${QUAY_CONFIG_STACK_DIR}/${SERVICE_KEY_FILES.pem}`,
} as const;

/** Default `servicekey.name` of the pre-shared key (what the superuser UI shows). */
export const SERVICE_KEY_NAME = "quay-readonly";

/**
 * `servicekeyapproval.approval_type` as Quay stores an automatic approval: peewee's CharField
 * stores `str(ServiceKeyApprovalType.AUTOMATIC)`, the enum's name, not its value "Automatic"
 * (data/database.py; the web UI and test/test_api_usage.py compare against these strings).
 */
export const SERVICE_KEY_APPROVAL_TYPE = "ServiceKeyApprovalType.AUTOMATIC";

/** The SQL script, relative to the project root. */
export const SERVICE_KEY_SQL = "sql/readonly-service-key.sql";

/** Quay's EXPIRED_SERVICE_KEY_TTL_SEC default (config.py): expired keys are kept this long. */
export const QUAY_EXPIRED_SERVICE_KEY_TTL_SEC = 60 * 60 * 24 * 7;

/** Quay's UNAPPROVED_SERVICE_KEY_TTL_SEC default (config.py): unapproved keys are kept this long. */
export const QUAY_UNAPPROVED_SERVICE_KEY_TTL_SEC = 60 * 60 * 24;

/** The public JWK exactly as Quay stores it in `servicekey.jwk`, members in Quay's order. */
export interface ServiceKeyJwk {
    n: string;
    e: string;
    kty: "RSA";
    kid: string;
}

export interface ServiceKey {
    /** The key ID: RFC 7638 thumbprint of the public key. Content of SERVICE_KEY_FILES.kid, as is. */
    kid: string;
    /** PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), as Quay writes it. Content of SERVICE_KEY_FILES.pem. */
    privateKeyPem: string;
    jwk: ServiceKeyJwk;
}

const MIN_MODULUS_BITS = 2048;

/** RFC 7638 JWK thumbprint of an RSA public key: what authlib's `thumbprint()` returns. */
export function jwkThumbprint(jwk: { n: string; e: string }): string {
    const canonical = `{"e":${JSON.stringify(jwk.e)},"kty":"RSA","n":${JSON.stringify(jwk.n)}}`;
    return createHash("sha256").update(canonical, "utf8").digest("base64url");
}

/**
 * The JWK as the text Quay writes into `servicekey.jwk`: Python's `json.dumps` of the dict
 * (separators ", " and ": ", members in the dict's order). Every member is base64url or ASCII.
 */
export function quayJwkJson(jwk: ServiceKeyJwk): string {
    const members: [string, string][] = [
        ["n", jwk.n],
        ["e", jwk.e],
        ["kty", jwk.kty],
        ["kid", jwk.kid],
    ];
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(", ")}}`;
}

/** The service key of an RSA private key in PEM (PKCS#1 or PKCS#8, unencrypted). Deterministic. */
export function serviceKeyFrom(privateKeyPem: string): ServiceKey {
    let key: KeyObject;
    try {
        key = createPrivateKey({ key: privateKeyPem, format: "pem" });
    } catch (err) {
        throw new Error(`service key: not an unencrypted PEM private key (${(err as Error).message})`);
    }
    if (key.asymmetricKeyType !== "rsa") {
        throw new Error(`service key: must be an RSA key (Quay generates RSA), got ${key.asymmetricKeyType}`);
    }
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_MODULUS_BITS) {
        throw new Error(`service key: RSA key of ${bits} bits is too short; Quay uses ${MIN_MODULUS_BITS}`);
    }
    const pub = createPublicKey(key).export({ format: "jwk" });
    if (typeof pub.n !== "string" || typeof pub.e !== "string") {
        throw new Error("service key: could not read the RSA public key");
    }
    const kid = jwkThumbprint({ n: pub.n, e: pub.e });
    return {
        kid,
        privateKeyPem: key.export({ type: "pkcs1", format: "pem" }) as string,
        jwk: { n: pub.n, e: pub.e, kty: "RSA", kid },
    };
}

/** A new 2048-bit RSA service key (public exponent 65537), as Quay's generate_service_key makes. */
export function generateServiceKey(): ServiceKey {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 0x10001 });
    return serviceKeyFrom(privateKey.export({ type: "pkcs1", format: "pem" }) as string);
}

/** The config bundle files: the kid with no trailing newline (Quay does not strip it) and the PEM. */
export function serviceKeyBundleFiles(key: ServiceKey): Record<string, string> {
    return { [SERVICE_KEY_FILES.kid]: key.kid, [SERVICE_KEY_FILES.pem]: key.privateKeyPem };
}

/** psql variables (`-v name=value`) for sql/readonly-service-key.sql. */
export function serviceKeyPsqlVariables(
    key: ServiceKey,
    options: { expiresDays: number; name?: string },
): { kid: string; jwk: string; name: string; expires_days: string } {
    if (!Number.isInteger(options.expiresDays) || options.expiresDays < 1) {
        throw new Error(`service key: expiresDays must be a whole number >= 1, got ${options.expiresDays}`);
    }
    return {
        kid: key.kid,
        jwk: quayJwkJson(key.jwk),
        name: options.name ?? SERVICE_KEY_NAME,
        expires_days: String(options.expiresDays),
    };
}

// Quay's own lookups, as SQL for PostgreSQL. Both replicate data/model/service_keys.py
// `_list_service_keys_query` clause for clause (peewee ANDs successive .where() calls), with
// Python's datetime.utcnow() as `now() AT TIME ZONE 'UTC'` (the columns hold naive UTC).

/**
 * `get_service_key(kid, approved_only=False)` as boot.py calls it in read-only mode (alive_only
 * stays True, service None): the key is found when it exists and is unexpired, approved or not.
 * Parameters: $1 kid, $2 EXPIRED_SERVICE_KEY_TTL_SEC. peewee's `.get()` adds LIMIT 1.
 */
export const QUAY_GET_SERVICE_KEY_SQL = `SELECT servicekey.id, servicekey.kid, servicekey.service, servicekey.approval_id,
       servicekey.expiration_date
  FROM servicekey
  LEFT OUTER JOIN servicekeyapproval ON (servicekey.approval_id = servicekeyapproval.id)
 WHERE ((servicekey.expiration_date > (now() AT TIME ZONE 'UTC')) OR (servicekey.expiration_date IS NULL))
   AND (servicekey.kid = $1)
   AND (NOT (servicekey.expiration_date <= ((now() AT TIME ZONE 'UTC') - make_interval(secs => $2)))
        OR (servicekey.expiration_date IS NULL))
 LIMIT 1`;

/**
 * `list_service_keys(service)` (approved_only and alive_only True): the keys InstanceKeys verifies
 * registry tokens with and /health/instance's `service_key` check looks the local kid up in.
 * Parameters: $1 service, $2 EXPIRED_SERVICE_KEY_TTL_SEC, $3 UNAPPROVED_SERVICE_KEY_TTL_SEC.
 */
export const QUAY_LIST_SERVICE_KEYS_SQL = `SELECT servicekey.id, servicekey.kid, servicekey.service, servicekey.approval_id,
       servicekey.expiration_date
  FROM servicekey
  LEFT OUTER JOIN servicekeyapproval ON (servicekey.approval_id = servicekeyapproval.id)
 WHERE (NOT (servicekey.approval_id IS NULL))
   AND ((servicekey.expiration_date > (now() AT TIME ZONE 'UTC')) OR (servicekey.expiration_date IS NULL))
   AND (servicekey.service = $1)
   AND ((NOT ((servicekey.service = $1) AND (servicekey.expiration_date <= (now() AT TIME ZONE 'UTC'))))
        OR (NOT ((servicekey.service = $1) AND (servicekey.approval_id IS NULL)
                 AND (servicekey.created_date <= ((now() AT TIME ZONE 'UTC') - make_interval(secs => $3))))))
   AND (NOT (servicekey.expiration_date <= ((now() AT TIME ZONE 'UTC') - make_interval(secs => $2)))
        OR (servicekey.expiration_date IS NULL))`;
