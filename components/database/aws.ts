/**
 * RdsPostgres: the shared PostgreSQL as Amazon RDS, in an existing VPC, reachable only from the
 * configured CIDRs and only over TLS; a primary, or (issue 14) a cross-region read replica of one.
 */
import * as rds from "@pulumi/aws/rds";
import * as ec2 from "@pulumi/aws/ec2";
import * as kms from "@pulumi/aws/kms";
import * as vpc from "@pulumi/aws/vpc";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { cidrSlug } from "../../lib/cidr";
import {
    ADMIN_DATABASE,
    ADMIN_USER,
    CreatedServerArgs,
    createdServer,
    PostgresServer,
    readyHost,
    ServerRole,
} from "./server";

const TYPE = "quay-georep:database:RdsPostgres";

/** Inputs of the RDS server; its region is the AWS provider's (`opts.providers`). */
export interface RdsPostgresArgs extends CreatedServerArgs {
    /** The existing VPC the instance and its security group live in. */
    readonly vpcId: pulumi.Input<string>;
    /** At least two subnets of that VPC in different availability zones (the DB subnet group). */
    readonly subnetIds: pulumi.Input<readonly pulumi.Input<string>[]>;
    /** IPv4 CIDRs allowed to connect on the port; plain: one ingress rule each, named by the CIDR. */
    readonly allowedCidrs: readonly string[];
    /** Port the server listens on (default 5432). */
    readonly port?: pulumi.Input<number>;
    /** PostgreSQL major version, e.g. `17` (default `17`; a replica's is its source's); RDS patches the minor. */
    readonly version?: pulumi.Input<string>;
    /** RDS instance class (default `db.t4g.medium`). */
    readonly instanceClass?: pulumi.Input<string>;
    /** Allocated gp3 storage in GiB (default 50). */
    readonly storageGb?: pulumi.Input<number>;
    /** Storage autoscaling ceiling in GiB (default: none, autoscaling off). */
    readonly maxStorageGb?: pulumi.Input<number>;
    /** A standby in a second availability zone (default false). */
    readonly multiAz?: pulumi.Input<boolean>;
    /** Days of automated backups, 1-35 (default 7). */
    readonly backupRetentionDays?: pulumi.Input<number>;
    /** Give the instance a public address (default false); access is still limited to `allowedCidrs`. */
    readonly publiclyAccessible?: pulumi.Input<boolean>;
    /** The source instance's ARN (a cross-region replica names its source by ARN); replica and promoted only. */
    readonly replicaOf?: pulumi.Input<string>;
    /** Resources the promotion waits for (the lag gate); only with `role: "promoted"`. */
    readonly promoteAfter?: pulumi.Input<pulumi.Resource>[];
}

/**
 * An RDS for PostgreSQL instance: storage encrypted, automated backups, deletion protection, a final
 * snapshot, TLS forced by its parameter group, and a security group that admits the port from the
 * configured CIDRs only. The instance is `protect`ed: deleting it takes two deliberate steps.
 *
 * A `replica` is a cross-region read replica (`replicateSourceDb`), encrypted with a key of its own
 * region; a `promoted` one is declared with the very same arguments minus `replicateSourceDb`, which
 * the provider applies as a promotion and nothing else (pulumi-aws rds/instance.d.ts: "Removing the
 * `replicateSourceDb` attribute from an existing RDS Replicate database managed by the provider will
 * promote the database to a fully standalone database"). A `retain`ed (released) server loses its
 * ingress rules, which fences it: nothing can connect to a stale primary.
 */
export class RdsPostgres extends pulumi.ComponentResource implements PostgresServer {
    /** The instance's address; resolves once the instance and every ingress rule exist. */
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly adminUser: pulumi.Output<string>;
    /** The master password in use (a secret): generated, given, or (replicas) the source's. */
    public readonly adminPassword: pulumi.Output<string>;
    public readonly adminDatabase: pulumi.Output<string>;
    public readonly superuser: pulumi.Output<boolean>;
    public readonly version: pulumi.Output<string>;
    /** The instance's `identifier` and ARN. */
    public readonly ids: pulumi.Output<Record<string, string>>;
    /** What the server is in its replication set. */
    public readonly role: pulumi.Output<ServerRole>;

    /**
     * Children inherit the `aws` provider (its region is the instance's) and the `random` provider
     * from `opts.providers`.
     */
    constructor(name: string, args: RdsPostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const { role, source, retain, keep } = createdServer(`RdsPostgres ${name}`, args, "the source instance's ARN");
        const port = args.port ?? 5432;
        const version = args.version ?? "17";
        const instanceClass = args.instanceClass ?? "db.t4g.medium";
        const storageGb = args.storageGb ?? 50;
        const multiAz = args.multiAz ?? false;
        const backupRetentionDays = args.backupRetentionDays ?? 7;
        const publiclyAccessible = args.publiclyAccessible ?? false;

        const password =
            args.adminPassword === undefined
                ? new random.RandomPassword(
                      `${name}-admin-password`,
                      // RDS refuses '/', '@', '"' and spaces in the master password: letters and digits only.
                      { length: 40, special: false },
                      { parent: this, ...keep() },
                  ).result
                : pulumi.secret(args.adminPassword);

        const subnets = new rds.SubnetGroup(
            `${name}-subnets`,
            {
                subnetIds: pulumi.output(args.subnetIds).apply((ids) => [...ids]),
                description: "Quay's shared PostgreSQL",
            },
            { parent: this, ...keep() },
        );
        const group = new ec2.SecurityGroup(
            `${name}-sg`,
            { vpcId: args.vpcId, description: pulumi.interpolate`PostgreSQL ${port} from the Quay clusters only` },
            { parent: this, ...keep() },
        );
        // One rule per CIDR, named by the CIDR: editing the list touches only the rules that changed.
        // A released server gets none: deleting them is the fence.
        const rules = (retain ? [] : args.allowedCidrs).map(
            (cidr) =>
                new vpc.SecurityGroupIngressRule(
                    `${name}-allow-${cidrSlug(cidr)}`,
                    {
                        securityGroupId: group.id,
                        cidrIpv4: cidr,
                        ipProtocol: "tcp",
                        fromPort: port,
                        toPort: port,
                        description: "PostgreSQL from a Quay cluster",
                    },
                    { parent: this, ...(args.frozen ? { ignoreChanges: ["*"] } : {}) },
                ),
        );
        // rds.force_ssl is dynamic ("immediate"); it defaults to 1 only from PostgreSQL 15 on. A
        // replica's parameters are its own (RDS does not copy them), and its family is the source's.
        const parameters = new rds.ParameterGroup(
            `${name}-params`,
            {
                family: pulumi.interpolate`postgres${version}`,
                description: "Quay's shared PostgreSQL: TLS only",
                parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "immediate" }],
            },
            { parent: this, ...keep() },
        );

        // What every role asks of RDS. backupRetentionPeriod "Must be greater than `0` if the database
        // is used as a source for a Read Replica" (rds/instance.d.ts): a promoted server is the source
        // of the next generation. A final snapshot is kept, though the same file says of
        // finalSnapshotIdentifier "Must not be provided when deleting a read replica": this program
        // never deletes one (protected, deletion protection on), and promoted must equal replica.
        const common = {
            // A major version only: RDS picks the minor and keeps it patched.
            autoMinorVersionUpgrade: true,
            // A major upgrade happens only when the user raises `version`.
            allowMajorVersionUpgrade: true,
            instanceClass,
            storageType: "gp3",
            // "If `replicateSourceDb` is set, the value is ignored during the creation of the
            // instance": a replica starts with the source's storage; it applies once promoted.
            allocatedStorage: storageGb,
            maxAllocatedStorage: args.maxStorageGb,
            storageEncrypted: true,
            port,
            dbSubnetGroupName: subnets.name,
            vpcSecurityGroupIds: [group.id],
            parameterGroupName: parameters.name,
            publiclyAccessible,
            multiAz,
            backupRetentionPeriod: backupRetentionDays,
            copyTagsToSnapshot: true,
            deletionProtection: true,
            skipFinalSnapshot: false,
            finalSnapshotIdentifier: `${name}-final`,
            tags: { Name: name },
        };
        const instanceArgs: rds.InstanceArgs =
            source === undefined
                ? { ...common, engine: "postgres", engineVersion: version, username: ADMIN_USER, password }
                : {
                      ...common,
                      // Engine, version, master user and password are the source's: username and dbName
                      // "Cannot be specified for a replica" (rds/instance.d.ts). Absent, they stay as
                      // they are when promoted. storageEncrypted "is ignored" for "a cross-region read
                      // replica ... you should instead declare `kmsKeyId`", but stays: the provider
                      // replaces an instance whose storageEncrypted changes, and the replica reads true.
                      kmsKeyId: this.storageKey(name, keep(true)).arn,
                      replicateSourceDb: role === "replica" ? source : undefined,
                  };
        const instance = new rds.Instance(`${name}-instance`, instanceArgs, {
            parent: this,
            ...keep(true),
            ...(args.promoteAfter !== undefined ? { dependsOn: args.promoteAfter } : {}),
            additionalSecretOutputs: ["password"],
        });

        // Nothing can connect before the ingress rules exist: whoever connects waits through the host.
        this.host = readyHost(
            instance.address,
            rules.map((r) => r.urn),
        );
        this.port = instance.port;
        // A replica's master user is its source's, which this program created as ADMIN_USER.
        this.adminUser = source === undefined ? instance.username : pulumi.output(ADMIN_USER);
        this.adminPassword = pulumi.secret(password);
        this.adminDatabase = pulumi.output(ADMIN_DATABASE);
        this.superuser = pulumi.output(false);
        this.version = pulumi.output(version);
        this.ids = pulumi
            .all({ identifier: instance.identifier, arn: instance.arn })
            .apply((v): Record<string, string> => ({ ...v }));
        this.role = pulumi.output(role);
        this.registerOutputs({
            host: this.host,
            port: this.port,
            adminUser: this.adminUser,
            adminPassword: this.adminPassword,
            adminDatabase: this.adminDatabase,
            superuser: this.superuser,
            version: this.version,
            ids: this.ids,
            role: this.role,
        });
    }

    /**
     * The customer-managed key a replica's storage is encrypted with, in the replica's region (the
     * inherited provider's): kmsKeyId is the "ARN for the KMS encryption key. If creating an
     * encrypted replica, set this to the destination KMS ARN" (rds/instance.d.ts). Kept like the
     * instance: without the key the data cannot be read.
     */
    private storageKey(name: string, keep: pulumi.CustomResourceOptions): kms.Key {
        return new kms.Key(
            `${name}-key`,
            {
                description: `Storage of the PostgreSQL replica ${name}`,
                enableKeyRotation: true,
                // The longest wait KMS allows ("between `7` and `30`"): a scheduled deletion can be cancelled.
                deletionWindowInDays: 30,
            },
            { parent: this, ...keep },
        );
    }
}
