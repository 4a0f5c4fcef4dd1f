/**
 * `quay-georep:database`: the shared PostgreSQL, in mode `existing` (a server the team runs, roles
 * managed when an admin is given), `aws` (RDS) or `azure` (flexible server).
 */
import { checkHost, checkRegion, isAwsId, matching, openModal, readAllowList } from "./serviceFields";
import { ObjectReader, Problems } from "./validate";

/** A database and the role Quay or Clair logs in as. */
export interface DatabaseLogin {
    /** Database name. */
    readonly name: string;
    /** Role (user) name. */
    readonly user: string;
}

/** What every database mode has. */
interface DatabaseCommon {
    /** Port the server listens on (5432 unless set; fixed at 5432 on Azure). */
    readonly port: number;
    /** Quay's database and role (default `quay`/`quay`). */
    readonly quay: DatabaseLogin;
    /** Clair's database and role (default `clair`/`clair`). */
    readonly clair: DatabaseLogin;
    /**
     * `database.caCertificate`: PEM CA certificate(s) the server's certificate chains to (public,
     * not a secret). Set: Quay and Clair verify the server (`sslmode: verify-full`); unset: `require`.
     */
    readonly caCertificate?: string;
    /** `database.clair.poolMaxConns`: `pool_max_conns` of each of Clair's three pools (default 33). */
    readonly clairPoolMaxConns: number;
}

/** An administrator of an existing server; when set, this program creates the roles and databases. */
export interface DatabaseAdmin {
    /** Role to log in as (its password is the secret `databaseAdminPassword`). */
    readonly user: string;
    /** Database the admin connects to (default `postgres`). */
    readonly database: string;
    /** True only for a real PostgreSQL superuser (default false: RDS and Azure admins are not). */
    readonly superuser: boolean;
}

/**
 * An existing PostgreSQL server. Without `admin`, it already holds both databases (`pg_trgm`
 * installed in Quay's) and the role passwords are config secrets; with `admin`, this program
 * creates roles, databases and extensions and generates the passwords. TLS is always required.
 */
export interface ExistingDatabase extends DatabaseCommon {
    readonly mode: "existing";
    readonly host: string;
    readonly admin?: DatabaseAdmin;
    /**
     * `database.new`: the user states the database holds no Quay data yet (default false), so
     * `SECRET_KEY` and `DATABASE_SECRET_KEY` may be generated; otherwise they must be given.
     */
    readonly isNew: boolean;
    /** `database.standby`: a standby server in another region, kept in sync by the user (see `standby`). */
    readonly standby?: ExistingDatabase;
}

/** Amazon RDS for PostgreSQL, created in an existing VPC. */
export interface AwsDatabase extends DatabaseCommon {
    readonly mode: "aws";
    readonly region: string;
    /** Major version (default `17`). */
    readonly version: string;
    /** RDS instance class (default `db.t4g.medium`). */
    readonly instanceClass: string;
    /** Allocated gp3 storage in GiB (default 50). */
    readonly storageGb: number;
    /** Storage autoscaling ceiling in GiB; undefined turns autoscaling off. */
    readonly maxStorageGb?: number;
    /** A standby in a second availability zone (default false). */
    readonly multiAz: boolean;
    /** Days of automated backups, 1-35 (default 7). */
    readonly backupRetentionDays: number;
    /** Give the instance a public address (default false); access is still limited to `allowedCidrs`. */
    readonly publiclyAccessible: boolean;
    readonly vpcId: string;
    /** At least two subnets in different availability zones (the DB subnet group). */
    readonly subnetIds: readonly string[];
    /** IPv4 CIDRs allowed to connect on the port. */
    readonly allowedCidrs: readonly string[];
    /**
     * `database.standby`: a cross-region read replica, as a whole RDS config of its own: its
     * placement (region, network, class, allow-list) from `database.standby`, the rest from `database`.
     */
    readonly standby?: AwsDatabase;
}

/** Azure Database for PostgreSQL flexible server, public access limited by firewall rules. */
export interface AzureDatabase extends DatabaseCommon {
    readonly mode: "azure";
    readonly location: string;
    /** Major version (default `17`). */
    readonly version: string;
    /** Compute size (default `Standard_D2ds_v5`). */
    readonly skuName: string;
    /** Tier implied by the size: `Standard_B*`, `Standard_D*`, `Standard_E*`. */
    readonly tier: "Burstable" | "GeneralPurpose" | "MemoryOptimized";
    /** Storage in GiB, one of the sizes Azure offers (default 128). */
    readonly storageGb: number;
    /** Days of backups, 7-35 (default 7). */
    readonly backupRetentionDays: number;
    /** Geo-redundant backups (default false; fixed at creation). */
    readonly geoRedundantBackup: boolean;
    /** A zone-redundant standby (default false; not on the Burstable tier). */
    readonly highAvailability: boolean;
    /** IPv4 CIDRs given firewall rules. */
    readonly allowedCidrs: readonly string[];
    /** `database.standby`: a read replica in another location (placement from `database.standby`, the rest from `database`). */
    readonly standby?: AzureDatabase;
}
export type DatabaseConfig = ExistingDatabase | AwsDatabase | AzureDatabase;

/** True when this program creates the Quay and Clair roles (every mode but `existing` without `admin`). */
export function managesRoles(db: DatabaseConfig): boolean {
    return db.mode !== "existing" || db.admin !== undefined;
}

const POSTGRES_VERSIONS = ["13", "14", "15", "16", "17"] as const;
const AZURE_STORAGE_GB = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767];

/** Config keys of each database mode (a key of another mode is reported as such). */
export const DATABASE_KEYS = {
    existing: ["mode", "host", "port", "quay", "clair", "admin", "new", "caCertificate", "standby"],
    aws: [
        "mode",
        "region",
        "version",
        "instanceClass",
        "storageGb",
        "maxStorageGb",
        "multiAz",
        "backupRetentionDays",
        "publiclyAccessible",
        "vpcId",
        "subnetIds",
        "allowedCidrs",
        "allowInternet",
        "port",
        "quay",
        "clair",
        "caCertificate",
        "standby",
    ],
    azure: [
        "mode",
        "location",
        "version",
        "skuName",
        "storageGb",
        "backupRetentionDays",
        "geoRedundantBackup",
        "highAvailability",
        "allowedCidrs",
        "allowInternet",
        "quay",
        "clair",
        "caCertificate",
        "standby",
    ],
} as const;

/**
 * Keys of `database.standby` per mode: where the standby is (and what may differ there); everything
 * else (version, storage, backups, logins, port, CA) is the primary's, which a replica inherits.
 */
export const DATABASE_STANDBY_KEYS = {
    existing: ["host", "port"],
    aws: [
        "region",
        "vpcId",
        "subnetIds",
        "allowedCidrs",
        "allowInternet",
        "instanceClass",
        "publiclyAccessible",
        "multiAz",
    ],
    azure: ["location", "allowedCidrs", "allowInternet", "skuName"],
} as const;

const DB_CLIENTS = {
    service: "PostgreSQL",
    clients: "every cluster's egress and the machine running pulumi (it creates the roles)",
    optInKey: "allowInternet",
};

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const RESERVED_ROLE = /^(postgres|public|quayadmin|pg_.*|rds.*|azure.*)$/;
const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?\r?\n-----END CERTIFICATE-----$/;

/**
 * Clair's pool size when not set: what the operator writes when it renders Clair's database config
 * with the HPA managed (quay-operator pkg/kustomize/secrets.go `clairConfigFor`: 33, so that 10 Clair
 * pods × 3 pools stay under its PostgreSQL's 1000 connections).
 */
export const CLAIR_POOL_MAX_CONNS = 33;

function parseVersion(r: ObjectReader): string {
    const raw = r.raw_("version");
    // YAML gives a number (17) or a string ("17"); anything else is no version and is reported below.
    const version =
        raw === undefined || raw === null
            ? "17"
            : typeof raw === "string" || typeof raw === "number"
              ? String(raw)
              : "";
    if (!(POSTGRES_VERSIONS as readonly string[]).includes(version)) {
        r.problems.add(
            r.at("version"),
            raw,
            "is not a supported PostgreSQL major version",
            `use one of: ${POSTGRES_VERSIONS.join(", ")}`,
        );
    }
    return version;
}

/** Parses `database`; problems are recorded, never thrown. */
export function parseDatabase(top: ObjectReader, problems: Problems): DatabaseConfig {
    const { r, mode } = openModal(
        top,
        "database",
        DATABASE_KEYS,
        "set quay-georep:database in Pulumi.yaml (mode: aws, azure or existing; see docs/services.md)",
    );
    let clairPoolMaxConns = CLAIR_POOL_MAX_CONNS;
    const login = (key: "quay" | "clair"): DatabaseLogin => {
        const l = r?.object(key, key === "clair" ? ["name", "user", "poolMaxConns"] : ["name", "user"]);
        const result = { name: l?.string("name") ?? key, user: l?.string("user") ?? key };
        if (key === "clair" && l !== undefined) {
            clairPoolMaxConns = l.integer("poolMaxConns", CLAIR_POOL_MAX_CONNS, 1, 1000) ?? CLAIR_POOL_MAX_CONNS;
        }
        l?.done();
        return result;
    };
    const quay = login("quay");
    const clair = login("clair");
    const port = mode === "azure" ? 5432 : (r?.integer("port", 5432, 1, 65535) ?? 5432);
    const caCertificate = parseCaCertificate(r);
    const common = { port, quay, clair, clairPoolMaxConns, ...(caCertificate ? { caCertificate } : {}) };
    let result: DatabaseConfig;
    if (r === undefined || mode === undefined || mode === "existing") {
        const host = r?.string("host", { required: mode === "existing", fix: "set the PostgreSQL server's hostname" });
        checkHost(problems, "database.host", host);
        const admin = parseAdmin(r);
        const isNew = r?.boolean("new", false) ?? false;
        result = { mode: "existing", host: host ?? "", ...common, isNew, ...(admin ? { admin } : {}) };
    } else if (mode === "aws") {
        result = { mode, ...common, ...parseRds(r) };
    } else {
        result = { mode, ...common, ...parseFlexibleServer(r) };
    }
    if (r !== undefined && managesRoles(result)) checkManagedLogins(problems, quay, clair);
    const standby = r === undefined ? undefined : parseStandby(r, result);
    r?.done();
    return standby === undefined ? result : ({ ...result, standby } as DatabaseConfig);
}

/**
 * `database.standby`: the same mode in another region. A replica inherits the primary's data,
 * roles and passwords, so only its placement is configured; the rest is the primary's.
 */
function parseStandby(r: ObjectReader, home: DatabaseConfig): DatabaseConfig | undefined {
    const s = r.object("standby", DATABASE_STANDBY_KEYS[home.mode]);
    if (s === undefined) return undefined;
    const sameRegion = (key: string, value: string, homeKey: string) => {
        if (value !== "" && value === homeValue(home, homeKey)) {
            s.problems.add(
                s.at(key),
                value,
                `is the primary's ${homeKey === "host" ? "server" : "region"} too (database.${homeKey}), so losing it loses both`,
                home.mode === "existing"
                    ? "name the standby server in another region"
                    : `use another ${key === "location" ? "location" : "region"}; for a standby in the same region use ${home.mode === "aws" ? "database.multiAz" : "database.highAvailability"}`,
            );
        }
    };
    let standby: DatabaseConfig;
    switch (home.mode) {
        case "existing": {
            const host = s.string("host", { required: true, fix: "set the standby server's hostname" });
            checkHost(s.problems, s.at("host"), host);
            sameRegion("host", host ?? "", "host");
            const { admin: _admin, ...rest } = home;
            standby = { ...rest, host: host ?? "", port: s.integer("port", home.port, 1, 65535) ?? home.port };
            break;
        }
        case "aws": {
            const placement = rdsPlacement(s, home);
            sameRegion("region", placement.region, "region");
            standby = { ...home, ...placement };
            break;
        }
        case "azure": {
            const location = checkRegion(s, "location", "azure");
            sameRegion("location", location, "location");
            const { skuName, tier } = flexibleSize(s, home.skuName);
            standby = {
                ...home,
                location,
                skuName,
                tier,
                allowedCidrs:
                    s.has("allowedCidrs") || s.has("allowInternet") ? flexibleAllowList(s) : home.allowedCidrs,
            };
            break;
        }
        default: {
            const unknown: never = home;
            throw new Error(`unknown database mode in ${JSON.stringify(unknown)}`);
        }
    }
    s.done();
    const { standby: _nested, ...flat } = standby;
    return flat;
}

function homeValue(home: DatabaseConfig, key: string): string {
    const value = (home as unknown as Record<string, unknown>)[key];
    return typeof value === "string" || typeof value === "number" ? String(value) : "";
}

/**
 * `database.caCertificate`: one or more PEM certificates, nothing else (a private key pasted by
 * mistake would land in every cluster's bundle). Returned trimmed.
 */
function parseCaCertificate(r: ObjectReader | undefined): string | undefined {
    const text = r?.string("caCertificate")?.trim();
    if (r === undefined || text === undefined) return undefined;
    const fix =
        "give the CA certificate(s) the server's certificate chains to, as PEM (-----BEGIN CERTIFICATE----- …), e.g. your cloud's regional CA bundle";
    if (/PRIVATE KEY/.test(text)) {
        r.problems.add(r.at("caCertificate"), "<PEM>", "contains a private key", `remove it; ${fix}`);
        return undefined;
    }
    const blocks = text.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((b) => b !== "");
    if (blocks.length === 0 || !blocks.every((b) => PEM_CERTIFICATE.test(b))) {
        r.problems.add(r.at("caCertificate"), text, "is not a PEM certificate", fix);
        return undefined;
    }
    return text;
}

function parseAdmin(r: ObjectReader | undefined): DatabaseAdmin | undefined {
    const a = r?.object("admin", ["user", "database", "superuser"]);
    if (a === undefined) return undefined;
    const admin = {
        user: a.string("user", { required: true, fix: "name the role this program logs in as to create roles" }) ?? "",
        database: a.string("database") ?? "postgres",
        superuser: a.boolean("superuser", false),
    };
    a.done();
    return admin;
}

/** Roles and databases this program creates must be plain, distinct, and not reserved. */
function checkManagedLogins(problems: Problems, quay: DatabaseLogin, clair: DatabaseLogin): void {
    for (const [who, l] of [
        ["quay", quay],
        ["clair", clair],
    ] as const) {
        for (const field of ["name", "user"] as const) {
            if (!IDENTIFIER.test(l[field])) {
                problems.add(
                    `database.${who}.${field}`,
                    l[field],
                    "is not a plain PostgreSQL identifier",
                    "use lower-case letters, digits and '_', starting with a letter (at most 63)",
                );
            } else if (field === "user" && RESERVED_ROLE.test(l.user)) {
                problems.add(
                    `database.${who}.user`,
                    l.user,
                    "is a reserved or administrative role name",
                    `use a role of its own, e.g. "${who}"`,
                );
            }
        }
    }
    if (clair.user === quay.user) {
        problems.add("database.clair.user", clair.user, "is also Quay's role", "give Clair a role of its own");
    }
    if (clair.name === quay.name) {
        problems.add("database.clair.name", clair.name, "is also Quay's database", "give Clair a database of its own");
    }
}

function parseRds(r: ObjectReader): Omit<AwsDatabase, "mode" | keyof DatabaseCommon> {
    const region = checkRegion(r, "region", "aws");
    const version = parseVersion(r);
    const instanceClass = rdsClass(r, "db.t4g.medium");
    const storageGb = r.integer("storageGb", 50, 20, 65536) ?? 50;
    const maxStorageGb = r.has("maxStorageGb") ? r.integer("maxStorageGb", 0, 21, 65536) : undefined;
    if (maxStorageGb !== undefined && maxStorageGb <= storageGb) {
        r.problems.add(
            r.at("maxStorageGb"),
            maxStorageGb,
            `is not larger than ${r.at("storageGb")} (${storageGb})`,
            "raise it, or remove it to turn storage autoscaling off",
        );
    }
    return {
        region,
        version,
        instanceClass,
        storageGb,
        ...(maxStorageGb !== undefined ? { maxStorageGb } : {}),
        // At least 7, like the Azure mode: the policy pack (rds-backups-and-deletion-protection) asks as much.
        backupRetentionDays: r.integer("backupRetentionDays", 7, 7, 35) ?? 7,
        ...rdsNetwork(r),
    };
}

/** An RDS standby: its region, class and network (the rest is the primary's, which a replica inherits). */
function rdsPlacement(
    r: ObjectReader,
    home: AwsDatabase,
): Pick<
    AwsDatabase,
    "region" | "instanceClass" | "multiAz" | "publiclyAccessible" | "vpcId" | "subnetIds" | "allowedCidrs"
> {
    const region = checkRegion(r, "region", "aws");
    return { region, instanceClass: rdsClass(r, home.instanceClass), ...rdsNetwork(r, home) };
}

function rdsClass(r: ObjectReader, fallback: string): string {
    return matching(
        r,
        "instanceClass",
        fallback,
        /^db\.[a-z0-9-]+\.[a-z0-9]+$/,
        "an RDS instance class",
        "db.t4g.medium",
    );
}

/** Where an RDS instance's network is and who may reach it (defaults of a standby: `home`'s). */
function rdsNetwork(
    r: ObjectReader,
    home?: AwsDatabase,
): Pick<AwsDatabase, "multiAz" | "publiclyAccessible" | "vpcId" | "subnetIds" | "allowedCidrs"> {
    const multiAz = r.boolean("multiAz", false);
    const publiclyAccessible = r.boolean("publiclyAccessible", home?.publiclyAccessible ?? false);
    const vpcId = r.string("vpcId", {
        required: true,
        fix: 'set the VPC of the subnets, e.g. "vpc-0123456789abcdef0"',
    });
    if (vpcId !== undefined && !isAwsId("vpc", vpcId)) {
        r.problems.add(r.at("vpcId"), vpcId, "is not a VPC ID", 'use e.g. "vpc-0123456789abcdef0"');
    }
    const subnetIds = subnetList(r);
    const allowInternet = r.boolean("allowInternet", false);
    // A standby without its own list admits the primary's clients (every cluster's egress).
    const inherit = home !== undefined && !r.has("allowedCidrs");
    return {
        multiAz,
        publiclyAccessible,
        vpcId: vpcId ?? "",
        subnetIds,
        allowedCidrs: inherit ? home.allowedCidrs : readAllowList(r, "allowedCidrs", { ...DB_CLIENTS, allowInternet }),
    };
}

function subnetList(r: ObjectReader): string[] {
    const fix = 'list subnets in two or more availability zones, e.g. ["subnet-0123456789abcdef0", "subnet-…"]';
    const list = r.array("subnetIds", { required: true, fix });
    if (list === undefined) return [];
    const ids: string[] = [];
    list.forEach((v, i) => {
        if (typeof v !== "string" || !isAwsId("subnet", v)) {
            r.problems.add(
                `${r.at("subnetIds")}[${i}]`,
                v,
                "is not a subnet ID",
                'use e.g. "subnet-0123456789abcdef0"',
            );
        } else if (ids.includes(v)) {
            r.problems.add(`${r.at("subnetIds")}[${i}]`, v, "is listed twice", "list each subnet once");
        } else {
            ids.push(v);
        }
    });
    if (list.length < 2) {
        r.problems.add(r.at("subnetIds"), list, "has fewer than two subnets (an RDS subnet group needs two AZs)", fix);
    }
    return ids;
}

function parseFlexibleServer(r: ObjectReader): Omit<AzureDatabase, "mode" | keyof DatabaseCommon> {
    const location = checkRegion(r, "location", "azure");
    const version = parseVersion(r);
    const { skuName, tier } = flexibleSize(r, "Standard_D2ds_v5");
    const storageGb = r.integer("storageGb", 128, 32, 32767) ?? 128;
    if (!AZURE_STORAGE_GB.includes(storageGb)) {
        r.problems.add(
            r.at("storageGb"),
            storageGb,
            "is not a size Azure offers",
            `use one of ${AZURE_STORAGE_GB.join(", ")}`,
        );
    }
    const highAvailability = r.boolean("highAvailability", false);
    if (highAvailability && tier === "Burstable") {
        r.problems.add(
            r.at("highAvailability"),
            true,
            `is not available on the Burstable tier (${r.at("skuName")} "${skuName}")`,
            "use a Standard_D or Standard_E size, or set highAvailability: false",
        );
    }
    return {
        location,
        version,
        skuName,
        tier,
        storageGb,
        backupRetentionDays: r.integer("backupRetentionDays", 7, 7, 35) ?? 7,
        geoRedundantBackup: r.boolean("geoRedundantBackup", false),
        highAvailability,
        allowedCidrs: flexibleAllowList(r),
    };
}

/** A flexible server's compute size and the tier it implies. */
function flexibleSize(r: ObjectReader, fallback: string): Pick<AzureDatabase, "skuName" | "tier"> {
    const skuName = matching(
        r,
        "skuName",
        fallback,
        /^Standard_[BDE][0-9]+[a-z]*(_v[0-9]+)?$/,
        "an Azure Database for PostgreSQL compute size (Standard_B*, Standard_D* or Standard_E*)",
        "Standard_D2ds_v5",
    );
    const tier = skuName.startsWith("Standard_B")
        ? "Burstable"
        : skuName.startsWith("Standard_E")
          ? "MemoryOptimized"
          : "GeneralPurpose";
    return { skuName, tier };
}

/** `allowedCidrs` with its `allowInternet` opt-in. */
function flexibleAllowList(r: ObjectReader): string[] {
    const allowInternet = r.boolean("allowInternet", false);
    return readAllowList(r, "allowedCidrs", { ...DB_CLIENTS, allowInternet });
}
