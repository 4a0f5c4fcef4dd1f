/**
 * The shared Redis per mode: the VM and its network on AWS and Azure, nothing open to the world,
 * the generated password secret from end to end, the bundle pointing at the VM, and the exact
 * message of each validation rule.
 */
import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { RedisEc2, ubuntuAmiFilter } from "../components/redis/aws";
import { RedisAzureVm } from "../components/redis/azure";
import { isSecretInput, plain, RecordedResource, RunResult } from "../offline/runtime";
import type { AzureRedis } from "../config/services";
import { redisAzureArgs, redisEc2Args } from "../stacks/serviceArgs";
import { inputsOf, one, ofType } from "./mocks";
import {
    AZURE_SERVICES,
    bundleOf,
    created,
    descendants,
    EXISTING,
    EXISTING_SECRETS,
    parseStack,
    plainSecrets,
    problemsOf,
    runComponent,
    runOnce,
    shared,
} from "./support/infra";

const T = {
    instance: "aws:ec2/instance:Instance",
    ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    eip: "aws:ec2/eip:Eip",
    role: "aws:iam/role:Role",
    attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    profile: "aws:iam/instanceProfile:InstanceProfile",
    vm: "azure-native:compute:VirtualMachine",
    nic: "azure-native:network:NetworkInterface",
    nsg: "azure-native:network:NetworkSecurityGroup",
    pip: "azure-native:network:PublicIPAddress",
    vnet: "azure-native:network:VirtualNetwork",
    subnet: "azure-native:network:Subnet",
} as const;

const AZURE = AZURE_SERVICES.redis;

/**
 * The Redis VM component alone, from a `redis` block mapped as the shared stack maps it, with the
 * stack's providers; its `host` output is the run's output.
 */
function vmOnly(redis: Record<string, unknown>): Promise<RunResult> {
    const cfg = parseStack(shared({ redis })).redis;
    return runComponent((p) => ({
        host:
            cfg.mode === "aws"
                ? new RedisEc2("quay-georep-redis", redisEc2Args(cfg), { providers: [p.aws(cfg.region), p.random()] })
                      .host
                : new RedisAzureVm("quay-georep-redis", redisAzureArgs(cfg as AzureRedis), {
                      providers: [p.azure(), p.random()],
                  }).host,
    }));
}

/** The cloud-config a VM boots with, from its (secret) user data or custom data. */
function cloudConfig(value: unknown, base64: boolean): { conf: string; unit: string } {
    assert.ok(isSecretInput(value), "the cloud-init document carries the password: it must be secret");
    const text = base64 ? Buffer.from(String(value.secret), "base64").toString("utf8") : String(value.secret);
    assert.ok(text.startsWith("#cloud-config\n"));
    const files = (parse(text, { version: "1.1" }) as { write_files: { path: string; content: string }[] }).write_files;
    const content = (p: string) => files.find((f) => f.path === p)?.content ?? "";
    return { conf: content("/etc/quay-redis/redis.conf"), unit: content("/etc/systemd/system/quay-redis.service") };
}

/** Redis's two entries in config.yaml. */
function redisEntries(r: RunResult): unknown[] {
    const { config } = bundleOf(r);
    return [config.BUILDLOGS_REDIS, config.USER_EVENTS_REDIS];
}

const redisRules = (r: RunResult, type: string): RecordedResource[] =>
    ofType(r, type).filter((x) => x.name.startsWith("quay-georep-redis-"));

/** Which provider (by name) each custom resource under the Redis component uses; fails on a provider of its own. */
function providersUnder(r: RunResult, type: string): Record<string, string> {
    const component = one(r, type, "quay-georep-redis");
    const below = descendants(r, component);
    assert.deepEqual(
        below.filter((x) => x.type.startsWith("pulumi:providers:")),
        [],
        "no provider of its own",
    );
    const names = new Set(
        below.filter((x) => x.custom).map((x) => `${x.type.split(":")[0]} ${x.provider?.split("::").pop()}`),
    );
    return Object.fromEntries([...names].map((n) => n.split(" ") as [string, string]));
}

describe("shared Redis: mode aws (EC2)", () => {
    let r: RunResult;
    before(async () => {
        r = await runOnce(shared());
    });

    it("runs one instance with IMDSv2 required, an encrypted root volume, no key pair and no public address", () => {
        const vm = one(r, T.instance);
        const i = inputsOf(vm);
        assert.deepEqual(i.metadataOptions, {
            httpTokens: "required",
            httpEndpoint: "enabled",
            httpPutResponseHopLimit: 1,
        });
        assert.deepEqual(i.rootBlockDevice, {
            encrypted: true,
            volumeType: "gp3",
            volumeSize: 30,
            deleteOnTermination: true,
        });
        assert.deepEqual(
            [i.instanceType, i.subnetId, i.keyName, i.associatePublicIpAddress, i.userDataReplaceOnChange],
            ["t3.small", "subnet-0123456789abcdef0", undefined, false, true],
        );
        assert.equal(i.ami, `(known after lookup: newest AMI named ${ubuntuAmiFilter("x86_64")})`);
        assert.equal(ofType(r, T.eip).length, 0);
    });

    it("creates everything through the stack's providers for its region", () => {
        assert.deepEqual(providersUnder(r, "quay-georep:redis:RedisEc2"), {
            aws: "quay-georep-aws-us-east-1",
            random: "quay-georep-random",
        });
    });

    it("is managed through SSM: an instance profile with the SSM core policy, and no SSH rule", () => {
        const role = one(r, T.role, "quay-georep-redis-role");
        assert.deepEqual((JSON.parse(String(inputsOf(role).assumeRolePolicy)) as { Statement: unknown }).Statement, [
            { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
        ]);
        assert.equal(inputsOf(one(r, T.attachment)).policyArn, "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
        assert.equal(
            inputsOf(one(r, T.instance)).iamInstanceProfile,
            "(known after apply: quay-georep-redis-profile.name)",
        );
        for (const rule of redisRules(r, T.ingress)) assert.notEqual(inputsOf(rule).fromPort, 22);
    });

    it("admits 6379 only from the configured CIDRs, and opens only outbound traffic otherwise", () => {
        assert.deepEqual(
            redisRules(r, T.ingress)
                .map((x) => inputsOf(x))
                .map((i) => [i.securityGroupId, i.cidrIpv4, i.ipProtocol, i.fromPort, i.toPort]),
            [
                ["quay-georep-redis-sg-id", "10.0.0.0/16", "tcp", 6379, 6379],
                ["quay-georep-redis-sg-id", "10.1.0.0/16", "tcp", 6379, 6379],
            ],
        );
        assert.deepEqual(
            redisRules(r, T.egress).map((x) => [inputsOf(x).cidrIpv4, inputsOf(x).ipProtocol]),
            [["0.0.0.0/0", "-1"]],
        );
        assert.equal(inputsOf(one(r, T.sg, "quay-georep-redis-sg")).vpcId, "vpc-0123456789abcdef0");
    });

    it("boots the pinned image with the generated password", () => {
        const { conf, unit } = cloudConfig(one(r, T.instance).inputs.userData, false);
        assert.ok(conf.split("\n").includes("requirepass __secret__"));
        assert.match(unit, / docker\.io\/library\/redis:7\.2\.7 redis-server /);
    });

    it("puts the VM's private IP and the generated password into BUILDLOGS_REDIS and USER_EVENTS_REDIS", () => {
        const entry = {
            host: "(known after apply: quay-georep-redis-vm.privateIp)",
            port: 6379,
            password: "__secret__",
        };
        assert.deepEqual(redisEntries(r), [entry, entry]);
        assert.deepEqual(plainSecrets(r), []);
        assert.equal(parseStack(shared()).secrets?.redisPassword, undefined);
    });

    it("with publicIp: publishes an Elastic IP as its address; a Graviton type gets the arm64 image", async () => {
        const after = await vmOnly(created("redis", { publicIp: true, instanceType: "t4g.small" }));
        assert.deepEqual(inputsOf(one(after, T.eip)), { domain: "vpc", instance: "quay-georep-redis-vm-id" });
        assert.equal(plain(after.outputs.host), "(known after apply: quay-georep-redis-ip.publicIp)");
        assert.equal(
            inputsOf(one(after, T.instance)).ami,
            `(known after lookup: newest AMI named ${ubuntuAmiFilter("arm64")})`,
        );
        assert.match(ubuntuAmiFilter("arm64"), /ubuntu-noble-24\.04-arm64-server-\*$/);
    });
});

describe("shared Redis: mode azure (VM)", () => {
    let r: RunResult;
    before(async () => {
        r = await runOnce(shared(AZURE_SERVICES));
    });

    it("exports the resource group and VM name, for Run Command, and the database's group and server", () => {
        const services = plain(r.outputs.services) as Record<string, { ids?: Record<string, string> }>;
        assert.deepEqual(services.redis.ids, {
            resourceGroup: "(known after apply: quay-georep-redis-rg.name)",
            vm: "(known after apply: quay-georep-redis-vm.name)",
        });
        assert.deepEqual(services.database.ids, {
            // The resource ID too: a replica in the standby location names its source by it.
            id: "quay-georep-database-server-id",
            resourceGroup: "(known after apply: quay-georep-database-rg.name)",
            server: "(known after apply: quay-georep-database-server.name)",
        });
    });

    it("creates everything through the stack's providers", () => {
        assert.deepEqual(providersUnder(r, "quay-georep:redis:RedisAzureVm"), {
            "azure-native": "quay-georep-azure",
            random: "quay-georep-random",
        });
    });

    it("creates an Ubuntu 24.04 VM with trusted launch, boot diagnostics and the generated password in custom data", () => {
        const vm = one(r, T.vm);
        const i = inputsOf(vm) as Record<string, Record<string, unknown>>;
        assert.deepEqual(i.hardwareProfile, { vmSize: "Standard_B2s" });
        assert.deepEqual(i.storageProfile.imageReference, {
            publisher: "Canonical",
            offer: "ubuntu-24_04-lts",
            sku: "server",
            version: "latest",
        });
        assert.deepEqual(i.storageProfile.osDisk, {
            createOption: "FromImage",
            diskSizeGB: 30,
            caching: "ReadWrite",
            managedDisk: { storageAccountType: "StandardSSD_LRS" },
            deleteOption: "Delete",
        });
        assert.deepEqual(i.securityProfile, {
            encryptionAtHost: false,
            securityType: "TrustedLaunch",
            uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
        });
        assert.deepEqual(i.diagnosticsProfile, { bootDiagnostics: { enabled: true } });
        // The login's password and the custom data (it holds Redis's password) make osProfile secret.
        const os = vm.inputs.osProfile;
        assert.ok(isSecretInput(os), "osProfile must be secret");
        const profile = os.secret as Record<string, unknown>;
        assert.deepEqual([profile.adminUsername, profile.adminPassword], ["quayadmin", "__secret__"]);
        const { conf } = cloudConfig({ secret: profile.customData }, true);
        assert.ok(conf.split("\n").includes("requirepass __secret__"));
    });

    it("admits 6379 from the configured CIDRs only, through the NIC's NSG", () => {
        const rules = inputsOf(one(r, T.nsg)).securityRules as Record<string, unknown>[];
        assert.deepEqual(rules, [
            {
                name: "allow-redis",
                description: "Redis from the Quay clusters only",
                priority: 100,
                direction: "Inbound",
                access: "Allow",
                protocol: "Tcp",
                sourceAddressPrefixes: ["198.51.100.0/24", "203.0.113.0/24"],
                sourcePortRange: "*",
                destinationAddressPrefix: "*",
                destinationPortRange: "6379",
            },
        ]);
        const nic = inputsOf(one(r, T.nic));
        assert.deepEqual(nic.networkSecurityGroup, { id: "quay-georep-redis-nsg-id" });
    });

    it("gives the NIC a static private IP in a VNet of its own and a Standard static public IP, named in the bundle", () => {
        const config = (inputsOf(one(r, T.nic)).ipConfigurations as Record<string, unknown>[])[0];
        assert.deepEqual(config, {
            name: "redis",
            primary: true,
            subnet: { id: "quay-georep-redis-subnet-id" },
            privateIPAllocationMethod: "Static",
            privateIPAddress: "10.251.0.4",
            publicIPAddress: { id: "quay-georep-redis-ip-id" },
        });
        assert.deepEqual(inputsOf(one(r, T.vnet)).addressSpace, { addressPrefixes: ["10.251.0.0/24"] });
        assert.equal(inputsOf(one(r, T.subnet)).addressPrefix, "10.251.0.0/24");
        const pip = inputsOf(one(r, T.pip));
        assert.deepEqual([pip.sku, pip.publicIPAllocationMethod], [{ name: "Standard", tier: "Regional" }, "Static"]);
        const entry = {
            host: "(known after apply: quay-georep-redis-ip.ipAddress)",
            port: 6379,
            password: "__secret__",
        };
        assert.deepEqual(redisEntries(r), [entry, entry]);
        assert.deepEqual(plainSecrets(r), []);
    });

    it("in an existing subnet without a public IP: no VNet, and its address is the fixed private IP", async () => {
        const subnetId =
            "/subscriptions/0000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/services";
        const redis = { ...AZURE, publicIp: false, subnetId, privateIp: "10.40.2.10", vmSize: "Standard_D2ps_v5" };
        const after = await vmOnly(redis);
        assert.equal(ofType(after, T.vnet).length + ofType(after, T.pip).length, 0);
        const config = (inputsOf(one(after, T.nic)).ipConfigurations as Record<string, unknown>[])[0];
        assert.deepEqual([config.subnet, config.privateIPAddress], [{ id: subnetId }, "10.40.2.10"]);
        assert.equal(plain(after.outputs.host), "10.40.2.10");
        // An Arm64 size gets the Arm64 image, without trusted launch (x64 only).
        const vm = inputsOf(one(after, T.vm)) as Record<string, Record<string, Record<string, unknown>>>;
        assert.equal(vm.storageProfile.imageReference.sku, "server-arm64");
        assert.deepEqual(vm.securityProfile, { encryptionAtHost: false });
    });
});

describe("shared Redis: mode existing", () => {
    it("creates nothing and uses the configured host and password", async () => {
        const r = await runOnce(shared(EXISTING, EXISTING_SECRETS));
        assert.equal(ofType(r, T.instance).length + ofType(r, T.vm).length, 0);
        const entry = { host: "redis.example.com", port: 6379, password: "redis-pw" };
        assert.deepEqual(redisEntries(r), [entry, entry]);
    });
});

describe("shared Redis: config validation", () => {
    const problems = (changes: Record<string, unknown>) => problemsOf(shared({ redis: created("redis", changes) }));
    const azure = (changes: Record<string, unknown>) => problemsOf(shared({ redis: { ...AZURE, ...changes } }));

    it("requires a non-empty allow-list and refuses 0.0.0.0/0 unless allowInternet is true", () => {
        const fix = 'list the CIDRs that may reach Redis: every cluster\'s egress, e.g. ["203.0.113.0/24"]';
        assert.deepEqual(problems({ allowedCidrs: [] }), [`redis.allowedCidrs: [] is empty; ${fix}`]);
        assert.deepEqual(problems({ allowedCidrs: ["0.0.0.0/0", "10.0.0.0/33"] }), [
            'redis.allowedCidrs[0]: "0.0.0.0/0" opens Redis to the whole internet; list the clusters\' egress CIDRs instead, or set redis.allowInternet: true to accept that',
            'redis.allowedCidrs[1]: "10.0.0.0/33" is not an IPv4 CIDR; use e.g. "203.0.113.0/24" (a single address: "/32")',
        ]);
        assert.equal(
            parseStack(shared({ redis: created("redis", { allowedCidrs: ["0.0.0.0/0"], allowInternet: true }) })).redis
                .mode,
            "aws",
        );
    });

    it("checks instance types, disk size and that the image is pinned and fully qualified", () => {
        assert.deepEqual(problems({ instanceType: "db.t3.small", diskGb: 4, image: "redis:latest" }), [
            'redis.instanceType: "db.t3.small" is an RDS instance class; use an EC2 type, e.g. "t3.small"',
            'redis.image: "redis:latest" is not a pinned, fully qualified image; use e.g. "docker.io/library/redis:7.2.7" (registry host, name, and a version tag or @sha256 digest)',
            "redis.diskGb: 4 is not a valid number; use a whole number from 8 to 4095",
        ]);
        assert.deepEqual(problems({ instanceType: "large", image: "docker.io/library/redis" }).length, 2);
        const digest = `quay.io/example/redis@sha256:${"a".repeat(64)}`;
        assert.equal(parseStack(shared({ redis: created("redis", { image: digest }) })).redis.mode, "aws");
    });

    it("checks the Azure VM size, subnet and private IP", () => {
        assert.deepEqual(azure({ vmSize: "B2s", addressSpace: "10.251.0.0/24", privateIp: "10.251.0.2" }), [
            'redis.vmSize: "B2s" is not an Azure VM size; use e.g. "Standard_B2s"',
            'redis.privateIp: "10.251.0.2" is not a usable address of redis.addressSpace "10.251.0.0/24"; use e.g. "10.251.0.4" (Azure reserves the first four and the last address)',
        ]);
        assert.deepEqual(
            azure({
                subnetId: "/subscriptions/0/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
            }),
            [
                'redis.privateIp: (missing) is required with redis.subnetId; pick a free address in that subnet for Redis (the bundle names it), e.g. "10.1.2.10"',
            ],
        );
        assert.deepEqual(
            azure({ subnetId: "subnet-0123456789abcdef0", addressSpace: "10.9.0.0/16", privateIp: "10.9.0.9" }),
            [
                'redis.subnetId: "subnet-0123456789abcdef0" is not a subnet resource ID; use /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>',
                'redis.addressSpace: "10.9.0.0/16" is not used with redis.subnetId; remove one: addressSpace sizes a VNet created for Redis, subnetId uses yours',
            ],
        );
    });

    it("names keys of another mode, and warns about a Redis password left over from mode existing", () => {
        assert.deepEqual(
            problemsOf(shared({ ...EXISTING, redis: { ...EXISTING.redis, vmSize: "Standard_B2s" } }, EXISTING_SECRETS)),
            ['redis.vmSize: "Standard_B2s" is not used in mode existing; remove it, or set redis.mode to azure'],
        );
        assert.deepEqual(parseStack(shared({ redisPassword: "old" }, ["redisPassword"])).warnings, [
            "redisPassword is set but not used (redis.mode aws generates it); remove it: pulumi config rm quay-georep:redisPassword",
        ]);
    });

    it("refuses allow-lists that together cover more than a /16 of public IPv4, unless allowInternet is true", () => {
        const fix =
            "list only the networks that must connect (private ranges, or public ones of at most a /16 in all), " +
            "or set redis.allowInternet: true to accept that";
        assert.deepEqual(azure({ allowedCidrs: ["0.0.0.0/1", "128.0.0.0/1"] }), [
            `redis.allowedCidrs: ["0.0.0.0/1","128.0.0.0/1"] together cover 3,987,471,616 public IPv4 addresses (more than the 65,536 of a /16); ${fix}`,
        ]);
        assert.deepEqual(problems({ allowedCidrs: ["20.0.0.0/17", "20.0.128.0/17", "20.1.0.0/24"] }), [
            `redis.allowedCidrs: ["20.0.0.0/17","20.0.128.0/17","20.1.0.0/24"] together cover 65,792 public IPv4 addresses (more than the 65,536 of a /16); ${fix}`,
        ]);
        const accepted = (redis: Record<string, unknown>) => parseStack(shared({ redis })).redis;
        assert.equal(
            accepted(created("redis", { allowedCidrs: ["20.0.0.0/17", "20.0.128.0/17", "10.0.0.0/8"] })).mode,
            "aws",
        );
        const open = { allowedCidrs: ["0.0.0.0/1", "128.0.0.0/1"], allowInternet: true };
        assert.equal(accepted({ ...AZURE, ...open }).mode, "azure");
    });
});

describe("a released Redis VM (a standby no longer in config)", () => {
    it("unprotects and freezes every protected resource on both clouds; an unreleased one stays protected", async () => {
        for (const redis of [created("redis"), AZURE]) {
            const cfg = parseStack(shared({ redis })).redis;
            const run = (release: boolean) =>
                runComponent((p) => ({
                    host:
                        cfg.mode === "aws"
                            ? new RedisEc2(
                                  "quay-georep-redis-standby",
                                  { ...redisEc2Args(cfg), release },
                                  {
                                      providers: [p.aws(cfg.region), p.random()],
                                  },
                              ).host
                            : new RedisAzureVm(
                                  "quay-georep-redis-standby",
                                  { ...redisAzureArgs(cfg as AzureRedis), release },
                                  { providers: [p.azure(), p.random()] },
                              ).host,
                }));
            const kept = await run(false);
            const protectedNames = kept.resources.filter((r) => r.protect).map((r) => r.name);
            assert.ok(protectedNames.includes("quay-georep-redis-standby-vm"), `${cfg.mode}: ${protectedNames.join()}`);
            const released = await run(true);
            const children = released.resources.filter(
                (r) => r.name.startsWith("quay-georep-redis-standby-") && !r.type.startsWith("quay-georep:"),
            );
            assert.ok(children.length > 3, cfg.mode);
            for (const r of children) {
                assert.equal(r.protect, false, `${cfg.mode}: ${r.name}`);
                assert.equal(r.retainOnDelete, false, `${cfg.mode}: ${r.name}`);
                assert.deepEqual(r.ignoreChanges, ["*"], `${cfg.mode}: ${r.name}`);
            }
        }
    });
});
