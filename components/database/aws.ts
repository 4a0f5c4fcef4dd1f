/**
 * RdsPostgres: the shared PostgreSQL as Amazon RDS, in an existing VPC, reachable only from the
 * configured CIDRs and only over TLS.
 */
import { Provider } from "@pulumi/aws/provider";
import * as rds from "@pulumi/aws/rds";
import * as ec2 from "@pulumi/aws/ec2";
import * as vpc from "@pulumi/aws/vpc";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { cidrSlug } from "../../lib/cidr";
import type { AwsDatabase } from "../../config/services";
import { ADMIN_USER, PostgresServer } from "./server";

const TYPE = "quay-georep:database:RdsPostgres";

/** The `database` config of mode `aws` (each field is documented on `AwsDatabase`). */
export type RdsPostgresArgs = Omit<AwsDatabase, "mode" | "quay" | "clair">;

/**
 * An RDS for PostgreSQL instance: storage encrypted, automated backups, deletion protection, a final
 * snapshot, TLS forced by its parameter group, and a security group that admits the port from the
 * configured CIDRs only. The instance is `protect`ed: deleting it takes two deliberate steps.
 */
export class RdsPostgres extends pulumi.ComponentResource implements PostgresServer {
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly adminUser: pulumi.Output<string>;
    public readonly adminPassword: pulumi.Output<string>;
    public readonly adminDatabase = "postgres";
    public readonly superuser = false;
    public readonly version: string;
    public readonly ready: readonly pulumi.Resource[];
    /** The instance's `identifier` and ARN. */
    public readonly ids: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: RdsPostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = new Provider(`${name}-aws`, { region: args.region }, { parent: this });
        const randomProvider = new random.Provider(`${name}-random`, {}, { parent: this });
        const password = new random.RandomPassword(
            `${name}-admin-password`,
            // RDS refuses '/', '@', '"' and spaces in the master password: letters and digits only.
            { length: 40, special: false },
            { parent: this, provider: randomProvider },
        );

        const subnets = new rds.SubnetGroup(
            `${name}-subnets`,
            { subnetIds: [...args.subnetIds], description: "Quay's shared PostgreSQL" },
            { parent: this, provider },
        );
        const group = new ec2.SecurityGroup(
            `${name}-sg`,
            { vpcId: args.vpcId, description: `PostgreSQL ${args.port} from the Quay clusters only` },
            { parent: this, provider },
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
                        fromPort: args.port,
                        toPort: args.port,
                        description: "PostgreSQL from a Quay cluster",
                    },
                    { parent: this, provider },
                ),
        );
        // rds.force_ssl is dynamic ("immediate"); it defaults to 1 only from PostgreSQL 15 on.
        const parameters = new rds.ParameterGroup(
            `${name}-params`,
            {
                family: `postgres${args.version}`,
                description: "Quay's shared PostgreSQL: TLS only",
                parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "immediate" }],
            },
            { parent: this, provider },
        );

        const instance = new rds.Instance(
            `${name}-instance`,
            {
                engine: "postgres",
                // A major version only: RDS picks the minor and keeps it patched.
                engineVersion: args.version,
                autoMinorVersionUpgrade: true,
                // A major upgrade happens only when the user raises `version`.
                allowMajorVersionUpgrade: true,
                instanceClass: args.instanceClass,
                storageType: "gp3",
                allocatedStorage: args.storageGb,
                maxAllocatedStorage: args.maxStorageGb,
                storageEncrypted: true,
                username: ADMIN_USER,
                password: password.result,
                port: args.port,
                dbSubnetGroupName: subnets.name,
                vpcSecurityGroupIds: [group.id],
                parameterGroupName: parameters.name,
                publiclyAccessible: args.publiclyAccessible,
                multiAz: args.multiAz,
                backupRetentionPeriod: args.backupRetentionDays,
                copyTagsToSnapshot: true,
                deletionProtection: true,
                skipFinalSnapshot: false,
                finalSnapshotIdentifier: `${name}-final`,
                tags: { Name: name },
            },
            { parent: this, provider, protect: true, additionalSecretOutputs: ["password"] },
        );

        this.host = instance.address;
        this.port = instance.port;
        this.adminUser = instance.username;
        this.adminPassword = pulumi.secret(password.result);
        this.version = args.version;
        this.ready = [instance, ...rules];
        this.ids = pulumi
            .all({ identifier: instance.identifier, arn: instance.arn })
            .apply((v): Record<string, string> => ({ ...v }));
        this.registerOutputs({ host: this.host, port: this.port, ids: this.ids });
    }
}
