-- readonly-service-key.sql: register the pre-shared instance service key that Quay's read-only
-- mode (REGISTRY_STATE: readonly) needs, approved, the way Quay registers its own instance keys.
--
-- USAGE (psql >= 10, against the shared Quay database, before the read-only config bundle is
-- written):
--
--   psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -v kid="$KID" -v jwk="$JWK" \
--        -v name=quay-readonly -v expires_days=30 [-v service=quay] \
--        -f sql/readonly-service-key.sql
--
--   kid           the key ID: exactly the content of the bundle file quay-readonly.kid
--                 (lib/serviceKey.ts). It must be the RFC 7638 thumbprint of jwk, as every key
--                 Quay generates is (authlib's as_dict()["kid"]); a kid from another key fails.
--   jwk           the public JWK, stored as given in servicekey.jwk (lib/serviceKey.ts
--                 quayJwkJson writes the text Quay writes: {"n": ..., "e": ..., "kty": "RSA",
--                 "kid": ...}). It must be an RSA public key ("kty", "n", "e", no "d") whose
--                 "kid" is kid.
--   name          servicekey.name, what the superuser UI shows (1 to 255 characters).
--   expires_days  the key expires this many whole days from now (>= 1). Nothing renews it while
--                 the registry is read-only (Quay's workers do not run then), and once it
--                 expires read-only pods fail to start and /health/instance (the liveness probe)
--                 fails: pick more than the read-only window, or run this again.
--   service       servicekey.service (default quay: Quay's INSTANCE_SERVICE_KEY_SERVICE
--                 default). Quay only uses keys of its INSTANCE_SERVICE_KEY_SERVICE.
--
-- WHAT IT DOES, in one transaction (under a transaction-level advisory lock, so concurrent runs
-- queue):
--   * no row with that kid: inserts a servicekeyapproval row as util/generatepresharedkey.py's
--     automatic approval does (approver_id NULL, approval_type 'ServiceKeyApprovalType.AUTOMATIC',
--     which is what peewee stores for ServiceKeyApprovalType.AUTOMATIC, approved_date now UTC)
--     and the servicekey row (created_date now UTC, expiration_date now UTC + expires_days,
--     metadata {"created_by": "quay-georep"}, rotation_duration NULL) pointing at it.
--   * a row with that kid exists: it is left alone except that it is approved if it was not
--     (a new approval row) and its expiration_date is moved to now UTC + expires_days if that is
--     later (never earlier; a key that never expires stays so). Running it again is therefore
--     harmless: one row, one approval, same id, name, jwk, created_date.
--   * the existing row holds another public key, or another service: error, nothing changes
--     (Quay would not verify tokens with our key; fix or delete that row by hand).
-- Times are naive UTC (now() AT TIME ZONE 'UTC'), as Quay writes datetime.utcnow(), whatever the
-- session time zone.
--
-- OUTPUT: exactly one line on stdout saying what it did, e.g.
--   readonly-service-key: inserted service key <kid> (service quay, name quay-readonly), approved, expires 2026-09-20 12:00:00 UTC
--   readonly-service-key: service key <kid> already registered and approved; expiration extended to 2026-09-20 12:00:00 UTC
-- ERRORS: psql exits 3 with "ERROR:  readonly-service-key: ..." on stderr and nothing is written
-- (bad or missing variables, a mismatching existing row, a database error).

\set ON_ERROR_STOP on
\set QUIET on
\pset format unaligned
\pset tuples_only on

-- A variable that was not passed is empty, which the checks below reject with a clear message
-- (psql would otherwise leave :'kid' in the SQL text and fail with a syntax error).
\if :{?kid}
\else
\set kid ''
\endif
\if :{?jwk}
\else
\set jwk ''
\endif
\if :{?name}
\else
\set name ''
\endif
\if :{?expires_days}
\else
\set expires_days ''
\endif
\if :{?service}
\else
\set service quay
\endif

BEGIN;

-- psql variables are not substituted inside the DO block's dollar quotes: hand them over as
-- transaction-local settings.
SELECT set_config('georep_servicekey.kid', :'kid', true),
       set_config('georep_servicekey.jwk', :'jwk', true),
       set_config('georep_servicekey.name', :'name', true),
       set_config('georep_servicekey.expires_days', :'expires_days', true),
       set_config('georep_servicekey.service', :'service', true)
\g /dev/null

DO $readonly_service_key$
DECLARE
    v_kid text := current_setting('georep_servicekey.kid');
    v_jwk_text text := current_setting('georep_servicekey.jwk');
    v_name text := current_setting('georep_servicekey.name');
    v_days_text text := current_setting('georep_servicekey.expires_days');
    v_service text := current_setting('georep_servicekey.service');
    v_now timestamp := now() AT TIME ZONE 'UTC';
    v_jwk jsonb;
    v_stored jsonb;
    v_thumbprint text;
    v_expiration timestamp;
    v_row servicekey%ROWTYPE;
    v_approval_id integer;
    v_what text;
BEGIN
    -- Inputs.
    IF v_kid = '' THEN
        RAISE EXCEPTION 'readonly-service-key: kid is empty: pass -v kid=<the content of quay-readonly.kid>';
    END IF;
    IF length(v_kid) > 255 THEN
        RAISE EXCEPTION 'readonly-service-key: kid is % characters long; servicekey.kid holds 255', length(v_kid);
    END IF;
    IF v_name = '' OR length(v_name) > 255 THEN
        RAISE EXCEPTION 'readonly-service-key: name must be 1 to 255 characters (-v name=...), got % characters',
            length(v_name);
    END IF;
    -- Two IFs, not one OR: the cast must never see text that is not a number.
    IF v_days_text !~ '^[0-9]{1,6}$' THEN
        RAISE EXCEPTION 'readonly-service-key: expires_days must be a whole number of days >= 1 (-v expires_days=...), got "%"',
            v_days_text;
    END IF;
    IF v_days_text::integer < 1 THEN
        RAISE EXCEPTION 'readonly-service-key: expires_days must be a whole number of days >= 1 (-v expires_days=...), got "%"',
            v_days_text;
    END IF;
    IF v_service !~ '^[a-z0-9_]+$' THEN
        -- data/model/service_keys.py _SERVICE_NAME_REGEX
        RAISE EXCEPTION 'readonly-service-key: service must match ^[a-z0-9_]+$ as Quay requires, got "%"', v_service;
    END IF;
    IF v_jwk_text = '' THEN
        RAISE EXCEPTION 'readonly-service-key: jwk is empty: pass -v jwk=<the public JWK as JSON>';
    END IF;
    BEGIN
        v_jwk := v_jwk_text::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'readonly-service-key: jwk is not JSON (%)', SQLERRM;
    END;
    IF jsonb_typeof(v_jwk) IS DISTINCT FROM 'object'
       OR v_jwk->>'kty' IS DISTINCT FROM 'RSA'
       OR jsonb_typeof(v_jwk->'n') IS DISTINCT FROM 'string' OR v_jwk->>'n' = ''
       OR jsonb_typeof(v_jwk->'e') IS DISTINCT FROM 'string' OR v_jwk->>'e' = '' THEN
        RAISE EXCEPTION 'readonly-service-key: jwk must be an RSA public JWK with "kty": "RSA" and string "n" and "e"';
    END IF;
    IF v_jwk ?| ARRAY['d', 'p', 'q', 'dp', 'dq', 'qi'] THEN
        RAISE EXCEPTION 'readonly-service-key: jwk holds private key members; pass the public JWK only';
    END IF;
    IF v_jwk->>'kid' IS DISTINCT FROM v_kid THEN
        RAISE EXCEPTION 'readonly-service-key: jwk "kid" is %, not kid %', coalesce(v_jwk->>'kid', 'missing'), v_kid;
    END IF;
    -- RFC 7638: SHA-256 of {"e":...,"kty":"RSA","n":...}, base64url without padding (32 bytes
    -- encode to 44 characters, so encode() adds no line break).
    v_thumbprint := rtrim(translate(encode(sha256(convert_to(
        format('{"e":%s,"kty":"RSA","n":%s}', to_json(v_jwk->>'e'), to_json(v_jwk->>'n')), 'UTF8')),
        'base64'), '+/', '-_'), '=');
    IF v_thumbprint <> v_kid THEN
        RAISE EXCEPTION 'readonly-service-key: kid % is not the RFC 7638 thumbprint of jwk (%): kid and jwk come from different keys',
            v_kid, v_thumbprint;
    END IF;
    v_expiration := v_now + make_interval(days => v_days_text::integer);

    PERFORM pg_advisory_xact_lock(hashtext('quay-georep readonly-service-key'));

    SELECT * INTO v_row FROM servicekey WHERE kid = v_kid FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO servicekeyapproval (approver_id, approval_type, approved_date, notes)
        VALUES (NULL, 'ServiceKeyApprovalType.AUTOMATIC', v_now,
                'Pre-shared instance key for REGISTRY_STATE: readonly (quay-georep)')
        RETURNING id INTO v_approval_id;
        INSERT INTO servicekey (name, kid, service, jwk, metadata, created_date, expiration_date,
                                rotation_duration, approval_id)
        VALUES (v_name, v_kid, v_service, v_jwk_text, '{"created_by": "quay-georep"}', v_now, v_expiration,
                NULL, v_approval_id);
        PERFORM set_config('georep_servicekey.result',
            format('inserted service key %s (service %s, name %s), approved, expires %s UTC',
                   v_kid, v_service, v_name, to_char(v_expiration, 'YYYY-MM-DD HH24:MI:SS')), true);
        RETURN;
    END IF;

    BEGIN
        v_stored := v_row.jwk::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        v_stored := NULL;
    END;
    IF v_stored IS NULL OR v_stored->>'n' IS DISTINCT FROM v_jwk->>'n'
       OR v_stored->>'e' IS DISTINCT FROM v_jwk->>'e' THEN
        RAISE EXCEPTION 'readonly-service-key: service key % (id %) exists with a different public key; left untouched, fix or delete it by hand',
            v_kid, v_row.id;
    END IF;
    IF v_row.service <> v_service THEN
        RAISE EXCEPTION 'readonly-service-key: service key % (id %) exists for service "%", not "%", so Quay would not use it; left untouched, fix or delete it by hand',
            v_kid, v_row.id, v_row.service, v_service;
    END IF;

    IF v_row.approval_id IS NULL THEN
        INSERT INTO servicekeyapproval (approver_id, approval_type, approved_date, notes)
        VALUES (NULL, 'ServiceKeyApprovalType.AUTOMATIC', v_now,
                'Pre-shared instance key for REGISTRY_STATE: readonly (quay-georep)')
        RETURNING id INTO v_approval_id;
        UPDATE servicekey SET approval_id = v_approval_id WHERE id = v_row.id;
        v_what := 'was unapproved, now approved';
    ELSE
        v_what := 'already registered and approved';
    END IF;

    IF v_row.expiration_date IS NULL THEN
        v_what := v_what || '; it never expires, left so';
    ELSIF v_row.expiration_date < v_expiration THEN
        UPDATE servicekey SET expiration_date = v_expiration WHERE id = v_row.id;
        v_what := v_what || '; expiration extended to ' || to_char(v_expiration, 'YYYY-MM-DD HH24:MI:SS') || ' UTC';
    ELSE
        v_what := v_what || '; expiration left at ' || to_char(v_row.expiration_date, 'YYYY-MM-DD HH24:MI:SS')
            || ' UTC (later than requested)';
    END IF;
    PERFORM set_config('georep_servicekey.result', format('service key %s %s', v_kid, v_what), true);
END
$readonly_service_key$;

SELECT 'readonly-service-key: ' || current_setting('georep_servicekey.result');

COMMIT;
