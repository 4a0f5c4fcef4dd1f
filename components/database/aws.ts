/**
 * RdsPostgres: the shared PostgreSQL as Amazon RDS, in an existing VPC, reachable only from the
 * configured CIDRs and only over TLS.
 */
import * as rds from "@pulumi/aws/rds";
import * as ec2 from "@pulumi/aws/ec2";
import * as vpc from "@pulumi/aws/vpc";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { cidrSlug } from "../../lib/cidr";
import { ADMIN_DATABASE, ADMIN_USER, PostgresServer, readyHost } from "./server";

const TYPE = "quay-georep:database:RdsPostgres";

/** Inputs of the RDS server; its region is the AWS provider's (`opts.providers`). */
export interface RdsPostgresArgs {
    /** The existing VPC the instance and its security group live in. */
    readonly vpcId: pulumi.Input<string>;
    /** At least two subnets of that VPC in different availability zones (the DB subnet group). */
    readonly subnetIds: pulumi.Input<readonly pulumi.Input<string>[]>;
    /** IPv4 CIDRs allowed to connect on the port; plain: one ingress rule each, named by the CIDR. */
    readonly allowedCidrs: readonly string[];
    /** Port the server listens on (default 5432). */
    readonly port?: pulumi.Input<number>;
    /** PostgreSQL major version, e.g. `17` (default `17`); RDS picks and patches the minor. */
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
}

/**
 * An RDS for PostgreSQL instance: storage encrypted, automated backups, deletion protection, a final
 * snapshot, TLS forced by its parameter group, and a security group that admits the port from the
 * configured CIDRs only. The instance is `protect`ed: deleting it takes two deliberate steps.
 */
export class RdsPostgres extends pulumi.ComponentResource implements PostgresServer {
    /** The instance's address; resolves once the instance and every ingress rule exist. */
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly adminUser: pulumi.Output<string>;
    /** The generated administrator password (a secret). */
    public readonly adminPassword: pulumi.Output<string>;
    public readonly adminDatabase: pulumi.Output<string>;
    public readonly superuser: pulumi.Output<boolean>;
    public readonly version: pulumi.Output<string>;
    /** The instance's `identifier` and ARN. */
    public readonly ids: pulumi.Output<Record<string, string>>;

    /**
     * Children inherit the `aws` provider (its region is the instance's) and the `random` provider
     * from `opts.providers`.
     */
    constructor(name: string, args: RdsPostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const port = args.port ?? 5432;
        const version = args.version ?? "17";
        const instanceClass = args.instanceClass ?? "db.t4g.medium";
        const storageGb = args.storageGb ?? 50;
        const multiAz = args.multiAz ?? false;
        const backupRetentionDays = args.backupRetentionDays ?? 7;
        const publiclyAccessible = args.publiclyAccessible ?? false;

        const password = new random.RandomPassword(
            `${name}-admin-password`,
            // RDS refuses '/', '@', '"' and spaces in the master password: letters and digits only.
            { length: 40, special: false },
            { parent: this },
        );

        const subnets = new rds.SubnetGroup(
            `${name}-subnets`,
            {
                subnetIds: pulumi.output(args.subnetIds).apply((ids) => [...ids]),
                description: "Quay's shared PostgreSQL",
            },
            { parent: this },
        );
        const group = new ec2.SecurityGroup(
            `${name}-sg`,
            { vpcId: args.vpcId, description: pulumi.interpolate`PostgreSQL ${port} from the Quay clusters only` },
            { parent: this },
        );
        // One rule per CIDR, named by the CIDR: editing the list touches only the rules that changed.
        const rules = args.allowedCidrs.map(
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
                    { parent: this },
                ),
        );
        // rds.force_ssl is dynamic ("immediate"); it defaults to 1 only from PostgreSQL 15 on.
        const parameters = new rds.ParameterGroup(
            `${name}-params`,
            {
                family: pulumi.interpolate`postgres${version}`,
                description: "Quay's shared PostgreSQL: TLS only",
                parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "immediate" }],
            },
            { parent: this },
        );

        const instance = new rds.Instance(
            `${name}-instance`,
            {
                engine: "postgres",
                // A major version only: RDS picks the minor and keeps it patched.
                engineVersion: version,
                autoMinorVersionUpgrade: true,
                // A major upgrade happens only when the user raises `version`.
                allowMajorVersionUpgrade: true,
                instanceClass,
                storageType: "gp3",
                allocatedStorage: storageGb,
                maxAllocatedStorage: args.maxStorageGb,
                storageEncrypted: true,
                username: ADMIN_USER,
                password: password.result,
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
            },
            { parent: this, protect: true, additionalSecretOutputs: ["password"] },
        );

        // Nothing can connect before the ingress rules exist: whoever connects waits through the host.
        this.host = readyHost(
            instance.address,
            rules.map((r) => r.urn),
        );
        this.port = instance.port;
        this.adminUser = instance.username;
        this.adminPassword = pulumi.secret(password.result);
        this.adminDatabase = pulumi.output(ADMIN_DATABASE);
        this.superuser = pulumi.output(false);
        this.version = pulumi.output(version);
        this.ids = pulumi
            .all({ identifier: instance.identifier, arn: instance.arn })
            .apply((v): Record<string, string> => ({ ...v }));
        this.registerOutputs({
            host: this.host,
            port: this.port,
            adminUser: this.adminUser,
            adminPassword: this.adminPassword,
            adminDatabase: this.adminDatabase,
            superuser: this.superuser,
            version: this.version,
            ids: this.ids,
        });
    }
}
