/**
 * RedisEc2: the shared Redis as one EC2 instance running the pinned Redis image under podman.
 */
import * as ec2 from "@pulumi/aws/ec2";
import * as iam from "@pulumi/aws/iam";
import * as vpc from "@pulumi/aws/vpc";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { cidrSlug } from "../../lib/cidr";
import { renderRedisCloudInit } from "../../lib/cloudInit";
import { PUBLIC_IP_TAG, RedisServer, REDIS_PORT, VmArchitecture } from "./server";

const TYPE = "quay-georep:redis:RedisEc2";

/** Inputs of the Redis VM on EC2; its region is the AWS provider's (`opts.providers`). */
export interface RedisEc2Args {
    /** The existing VPC of the subnet (the security group's). */
    readonly vpcId: pulumi.Input<string>;
    /** The existing subnet the instance runs in. */
    readonly subnetId: pulumi.Input<string>;
    /** IPv4 CIDRs allowed to connect on 6379; plain: one ingress rule each, named by the CIDR. */
    readonly allowedCidrs: readonly string[];
    /** Give the VM an Elastic IP and report it as `host` (default false: the private IP); plain: it decides the EIP. */
    readonly publicIp?: boolean;
    /** EC2 instance type (default `t3.small`). */
    readonly instanceType?: pulumi.Input<string>;
    /** CPU architecture of `instanceType`, which picks the Ubuntu AMI (default `x86_64`; Graviton: `arm64`). */
    readonly architecture?: pulumi.Input<VmArchitecture>;
    /** A fixed private IP in the subnet (default: AWS picks one). */
    readonly privateIp?: pulumi.Input<string>;
    /** Fully qualified, pinned Redis image, e.g. `docker.io/library/redis:7.2.7`. */
    readonly image: pulumi.Input<string>;
    /** Root disk in GiB (default 30); Redis's append-only file lives on it. */
    readonly diskGb?: pulumi.Input<number>;
    /**
     * Frozen (default false): in a region lost in a failover (lib/standby.ts). Every child keeps its
     * last inputs (`ignoreChanges: ["*"]`) and no AMI is looked up, so nothing is asked of the region.
     */
    readonly frozen?: boolean;
    /**
     * Released (default false): a standby VM no longer in config (stacks/database.ts
     * `planRedisStandby`). Frozen as above, and its protected resources are unprotected, so the next
     * run, which no longer declares it, deletes it (Redis keeps only transient data: build logs and
     * user events).
     */
    readonly release?: boolean;
}

/** Canonical's account, which publishes the Ubuntu AMIs. */
const CANONICAL = "099720109477";

/**
 * The Ubuntu 24.04 AMI filter (Ubuntu ships podman and, on AWS, the SSM agent). Noble's images are
 * named `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-<arch>-server-<date>` (the same filter as
 * aws/aws-parallelcluster#6735).
 */
export function ubuntuAmiFilter(architecture: VmArchitecture): string {
    return `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${architecture === "arm64" ? "arm64" : "amd64"}-server-*`;
}

/**
 * An instance with IMDSv2 required, an encrypted gp3 root volume, an instance profile for SSM
 * Session Manager (no key pair, no SSH rule), and a security group that admits 6379 from the
 * configured CIDRs only. The password is generated and reaches the VM in its (secret) user data.
 *
 * The instance is protected, like every stateful resource (the policy pack and the preview guard
 * treat the Redis VM as one): a changed image or password would replace it
 * (`userDataReplaceOnChange`), so such a change is a deliberate, reviewed step (docs/services.md, "redis").
 */
export class RedisEc2 extends pulumi.ComponentResource implements RedisServer {
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;
    public readonly password: pulumi.Output<string>;
    /** The instance ID (for `aws ssm start-session --target`). */
    public readonly ids: pulumi.Output<Record<string, string>>;

    /** Children inherit the `aws` provider (its region is the VM's) and the `random` provider from `opts.providers`. */
    constructor(name: string, args: RedisEc2Args, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const architecture = pulumi.output(args.architecture ?? "x86_64");
        const instanceType = args.instanceType ?? "t3.small";
        const diskGb = args.diskGb ?? 30;
        const publicIp = args.publicIp ?? false;
        const release = args.release ?? false;
        const frozen = (args.frozen ?? false) || release;
        const freeze = frozen ? { ignoreChanges: ["*"] } : {};

        const password = new random.RandomPassword(
            `${name}-password`,
            { length: 40, special: false },
            { parent: this, ...freeze },
        );

        const role = new iam.Role(
            `${name}-role`,
            {
                description: "Quay's Redis VM: SSM Session Manager only",
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
                    ],
                }),
            },
            { parent: this, ...freeze },
        );
        new iam.RolePolicyAttachment(
            `${name}-ssm`,
            { role: role.name, policyArn: iam.ManagedPolicy.AmazonSSMManagedInstanceCore },
            { parent: this, ...freeze },
        );
        const profile = new iam.InstanceProfile(`${name}-profile`, { role: role.name }, { parent: this, ...freeze });

        const group = new ec2.SecurityGroup(
            `${name}-sg`,
            { vpcId: args.vpcId, description: "Redis 6379 from the Quay clusters only; no SSH" },
            { parent: this, ...freeze },
        );
        for (const cidr of args.allowedCidrs) {
            new vpc.SecurityGroupIngressRule(
                `${name}-allow-${cidrSlug(cidr)}`,
                {
                    securityGroupId: group.id,
                    cidrIpv4: cidr,
                    ipProtocol: "tcp",
                    fromPort: REDIS_PORT,
                    toPort: REDIS_PORT,
                    description: "Redis from a Quay cluster",
                },
                { parent: this, ...freeze },
            );
        }
        // Outbound: packages, the image registry and the SSM endpoints.
        new vpc.SecurityGroupEgressRule(
            `${name}-egress`,
            { securityGroupId: group.id, cidrIpv4: "0.0.0.0/0", ipProtocol: "-1", description: "Outbound" },
            { parent: this, ...freeze },
        );

        // A frozen VM keeps the AMI it was built from (its `ami` input is ignored below): no lookup.
        const ami = frozen
            ? pulumi.output({ id: "(frozen: the AMI it was built from)" })
            : ec2.getAmiOutput(
                  {
                      owners: [CANONICAL],
                      mostRecent: true,
                      filters: [
                          { name: "name", values: [architecture.apply(ubuntuAmiFilter)] },
                          { name: "architecture", values: [architecture] },
                          { name: "virtualization-type", values: ["hvm"] },
                      ],
                  },
                  { parent: this },
              );
        const userData = pulumi.secret(
            pulumi
                .all([password.result, args.image])
                .apply(([p, i]) => renderRedisCloudInit({ image: i, password: p, port: REDIS_PORT })),
        );
        const instance = new ec2.Instance(
            `${name}-vm`,
            {
                ami: ami.id,
                instanceType,
                subnetId: args.subnetId,
                privateIp: args.privateIp,
                vpcSecurityGroupIds: [group.id],
                iamInstanceProfile: profile.name,
                // A public address, when wanted, is the Elastic IP below: it survives stop/start.
                associatePublicIpAddress: false,
                metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
                rootBlockDevice: {
                    encrypted: true,
                    volumeType: "gp3",
                    volumeSize: diskGb,
                    deleteOnTermination: true,
                },
                userData,
                // cloud-init applies user data on first boot only; a new document needs a new instance.
                userDataReplaceOnChange: true,
                // Says redis.publicIp asked for the public address, for the policy pack (it sees no config).
                tags: { Name: name, ...(publicIp ? { [PUBLIC_IP_TAG]: "true" } : {}) },
            },
            // `mostRecent` finds a newer AMI every few weeks; that must not replace a running Redis.
            {
                parent: this,
                protect: !release,
                ignoreChanges: frozen ? ["*"] : ["ami"],
                additionalSecretOutputs: ["userData"],
            },
        );
        const address = publicIp
            ? new ec2.Eip(`${name}-ip`, { domain: "vpc", instance: instance.id }, { parent: this, ...freeze }).publicIp
            : instance.privateIp;

        this.host = address;
        this.port = pulumi.output(REDIS_PORT);
        this.password = pulumi.secret(password.result);
        this.ids = pulumi.all({ instanceId: instance.id }).apply((v): Record<string, string> => ({ ...v }));
        this.registerOutputs({ host: this.host, port: this.port, password: this.password, ids: this.ids });
    }
}
