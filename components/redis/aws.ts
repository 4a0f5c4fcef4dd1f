/**
 * RedisEc2: the shared Redis as one EC2 instance running the pinned Redis image under podman.
 */
import * as ec2 from "@pulumi/aws/ec2";
import * as iam from "@pulumi/aws/iam";
import { Provider } from "@pulumi/aws/provider";
import * as vpc from "@pulumi/aws/vpc";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { cidrSlug } from "../../lib/cidr";
import { renderRedisCloudInit } from "../../lib/cloudInit";
import type { AwsRedis } from "../../config/services";
import { PUBLIC_IP_TAG, RedisServer, REDIS_PORT } from "./server";

const TYPE = "quay-georep:redis:RedisEc2";

/** The `redis` config of mode `aws` (each field is documented on `AwsRedis`). */
export type RedisEc2Args = Omit<AwsRedis, "mode" | "port" | "tls">;

/** Canonical's account, which publishes the Ubuntu AMIs. */
const CANONICAL = "099720109477";

/**
 * The Ubuntu 24.04 AMI filter (Ubuntu ships podman and, on AWS, the SSM agent). Noble's images are
 * named `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-<arch>-server-<date>` (the same filter as
 * aws/aws-parallelcluster#6735).
 */
export function ubuntuAmiFilter(architecture: "x86_64" | "arm64"): string {
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

    constructor(name: string, args: RedisEc2Args, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const provider = new Provider(`${name}-aws`, { region: args.region }, { parent: this });
        const randomProvider = new random.Provider(`${name}-random`, {}, { parent: this });
        const password = new random.RandomPassword(
            `${name}-password`,
            { length: 40, special: false },
            { parent: this, provider: randomProvider },
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
            { parent: this, provider },
        );
        new iam.RolePolicyAttachment(
            `${name}-ssm`,
            { role: role.name, policyArn: iam.ManagedPolicy.AmazonSSMManagedInstanceCore },
            { parent: this, provider },
        );
        const profile = new iam.InstanceProfile(`${name}-profile`, { role: role.name }, { parent: this, provider });

        const group = new ec2.SecurityGroup(
            `${name}-sg`,
            { vpcId: args.vpcId, description: "Redis 6379 from the Quay clusters only; no SSH" },
            { parent: this, provider },
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
                { parent: this, provider },
            );
        }
        // Outbound: packages, the image registry and the SSM endpoints.
        new vpc.SecurityGroupEgressRule(
            `${name}-egress`,
            { securityGroupId: group.id, cidrIpv4: "0.0.0.0/0", ipProtocol: "-1", description: "Outbound" },
            { parent: this, provider },
        );

        const ami = ec2.getAmiOutput(
            {
                owners: [CANONICAL],
                mostRecent: true,
                filters: [
                    { name: "name", values: [ubuntuAmiFilter(args.architecture)] },
                    { name: "architecture", values: [args.architecture] },
                    { name: "virtualization-type", values: ["hvm"] },
                ],
            },
            { parent: this, provider },
        );
        const userData = pulumi.secret(
            password.result.apply((p) => renderRedisCloudInit({ image: args.image, password: p, port: REDIS_PORT })),
        );
        const instance = new ec2.Instance(
            `${name}-vm`,
            {
                ami: ami.id,
                instanceType: args.instanceType,
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
                    volumeSize: args.diskGb,
                    deleteOnTermination: true,
                },
                userData,
                // cloud-init applies user data on first boot only; a new document needs a new instance.
                userDataReplaceOnChange: true,
                // Says redis.publicIp asked for the public address, for the policy pack (it sees no config).
                tags: { Name: name, ...(args.publicIp ? { [PUBLIC_IP_TAG]: "true" } : {}) },
            },
            // `mostRecent` finds a newer AMI every few weeks; that must not replace a running Redis.
            { parent: this, provider, protect: true, ignoreChanges: ["ami"], additionalSecretOutputs: ["userData"] },
        );
        const address = args.publicIp
            ? new ec2.Eip(`${name}-ip`, { domain: "vpc", instance: instance.id }, { parent: this, provider }).publicIp
            : instance.privateIp;

        this.host = address;
        this.port = pulumi.output(REDIS_PORT);
        this.password = pulumi.secret(password.result);
        this.ids = pulumi.all({ instanceId: instance.id }).apply((v): Record<string, string> => ({ ...v }));
        this.registerOutputs({ host: this.host, ids: this.ids });
    }
}
