/**
 * Database rules: the shared PostgreSQL is encrypted at rest, accepts TLS connections only and has
 * no public endpoint (RDS), or only firewall-limited public access (Azure flexible server).
 *
 * RDS: `storageEncrypted: true`, `publiclyAccessible` false or absent, and a parameter group of
 * this stack with `rds.force_ssl = 1` (the default group forces TLS only from PostgreSQL 15 on).
 * Azure flexible server: a `require_secure_transport = on` configuration of that server. Its data is
 * always encrypted at rest (Azure offers no way to turn that off), so nothing is checked there; and
 * public network access is accepted because Azure admits nobody on it but the firewall rules, which
 * `no-internet-ingress-to-postgres-or-redis` keeps from opening to everyone.
 *
 * RDS data survives mistakes: automated backups kept at least `MIN_BACKUP_RETENTION_DAYS`,
 * deletion protection on, and a final snapshot when the instance is deleted anyway.
 */
import {
    describe,
    isUnknown,
    list,
    ofTypes,
    PolicyResource,
    refersTo,
    ResourceRule,
    shown,
    StackRule,
} from "./resource";

/** Type tokens these rules read. */
export const DATABASE_TYPES = {
    rdsInstance: "aws:rds/instance:Instance",
    parameterGroup: "aws:rds/parameterGroup:ParameterGroup",
    flexibleServer: "azure-native:dbforpostgresql:Server",
    configuration: "azure-native:dbforpostgresql:Configuration",
} as const;
const T = DATABASE_TYPES;

/** The RDS parameter that makes the server refuse connections without TLS. */
export const FORCE_SSL = "rds.force_ssl";
/** The flexible server parameter that makes the server refuse connections without TLS. */
export const REQUIRE_SECURE_TRANSPORT = "require_secure_transport";

type Found = { urn: string; message: string };

/** Problems of one RDS instance. */
function rdsProblems(instance: PolicyResource, resources: readonly PolicyResource[]): Found[] {
    const p = instance.props;
    const problems: string[] = [];
    if (p.storageEncrypted !== true && !isUnknown(p.storageEncrypted)) {
        problems.push(`storageEncrypted is ${shown(p.storageEncrypted)}; set it to true`);
    }
    if (p.publiclyAccessible === true) {
        problems.push("publiclyAccessible is true; set it to false (clusters reach the database privately)");
    }
    const group = p.parameterGroupName;
    if (group === undefined || group === "") {
        problems.push(`has no parameterGroupName; give it a parameter group of this stack with ${FORCE_SSL} = 1`);
    } else {
        const groups = ofTypes(resources, [T.parameterGroup]).filter((g) =>
            refersTo(instance, "parameterGroupName", g, ["name"]),
        );
        if (groups.length === 0 && !isUnknown(group)) {
            problems.push(
                `uses parameter group ${shown(group)}, which is not in this stack, so ${FORCE_SSL} cannot be checked; ` +
                    `create the group in this stack with ${FORCE_SSL} = 1`,
            );
        }
        for (const g of groups) {
            const params = g.props.parameters;
            if (isUnknown(params)) continue;
            const forced = list(params).some((e) => {
                const entry = e as Record<string, unknown> | null;
                return entry?.name === FORCE_SSL && String(entry.value) === "1";
            });
            if (!forced) {
                problems.push(
                    `uses ${describe(g)}, which does not set ${FORCE_SSL} = 1; ` +
                        `add { name: "${FORCE_SSL}", value: "1" } to its parameters`,
                );
            }
        }
    }
    return problems.map((message) => ({ urn: instance.urn, message }));
}

/** The name a flexible server configuration sets (an input on create, `name` in the engine's outputs). */
function configurationName(c: PolicyResource): unknown {
    return c.props.configurationName ?? c.props.name;
}

/** Problems of one flexible server: its TLS configuration. */
function flexibleServerProblems(server: PolicyResource, resources: readonly PolicyResource[]): Found[] {
    const tls = ofTypes(resources, [T.configuration]).filter((c) => {
        const name = configurationName(c);
        return (
            typeof name === "string" &&
            name.toLowerCase() === REQUIRE_SECURE_TRANSPORT &&
            refersTo(c, "serverName", server, ["name", "serverName"])
        );
    });
    if (tls.length === 0) {
        return [
            {
                urn: server.urn,
                message:
                    `has no ${REQUIRE_SECURE_TRANSPORT} configuration; ` +
                    `add a ${T.configuration} setting ${REQUIRE_SECURE_TRANSPORT} to "on"`,
            },
        ];
    }
    return tls
        .filter((c) => !isUnknown(c.props.value) && String(c.props.value).toLowerCase() !== "on")
        .map((c) => ({
            urn: c.urn,
            message: `sets ${REQUIRE_SECURE_TRANSPORT} of ${describe(server)} to ${shown(c.props.value)}; set it to "on"`,
        }));
}

/** Every database server is encrypted, TLS-only and not public. */
export const databaseEncryptedTlsOnlyPrivate: StackRule = {
    name: "database-encrypted-tls-only-private",
    description:
        "RDS instances are storage-encrypted, not publicly accessible and use a parameter group with rds.force_ssl = 1; Azure flexible servers set require_secure_transport on.",
    check(resources) {
        return [
            ...ofTypes(resources, [T.rdsInstance]).flatMap((i) => rdsProblems(i, resources)),
            ...ofTypes(resources, [T.flexibleServer]).flatMap((s) => flexibleServerProblems(s, resources)),
        ];
    },
};

/** The fewest days of automated backups (and of point-in-time recovery) an RDS instance keeps; Azure's own floor. */
export const MIN_BACKUP_RETENTION_DAYS = 7;

/** Every RDS instance keeps a week of backups, refuses deletion, and leaves a snapshot when deleted. */
export const rdsBackupsAndDeletionProtection: ResourceRule = {
    name: "rds-backups-and-deletion-protection",
    description: `RDS instances keep automated backups for at least ${MIN_BACKUP_RETENTION_DAYS} days, have deletionProtection on and do not skip the final snapshot.`,
    types: [T.rdsInstance],
    check(r) {
        const { backupRetentionPeriod: days, deletionProtection, skipFinalSnapshot } = r.props;
        const problems: string[] = [];
        if (!isUnknown(days) && !(typeof days === "number" && days >= MIN_BACKUP_RETENTION_DAYS)) {
            problems.push(
                `backupRetentionPeriod is ${shown(days)}; set it to at least ${MIN_BACKUP_RETENTION_DAYS} ` +
                    "(days of automated backups and point-in-time recovery)",
            );
        }
        if (deletionProtection !== true && !isUnknown(deletionProtection)) {
            problems.push(
                `deletionProtection is ${shown(deletionProtection)}; set it to true ` +
                    "(RDS then refuses to delete the instance, whatever the Pulumi state says)",
            );
        }
        if (skipFinalSnapshot === true) {
            problems.push(
                "skipFinalSnapshot is true; set it to false with a finalSnapshotIdentifier " +
                    "(deleting the instance then leaves a snapshot)",
            );
        }
        return problems;
    },
};
