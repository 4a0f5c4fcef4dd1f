/**
 * Pure rendering of the Redis VM's cloud-init document (`#cloud-config`). Values in, text out; the
 * same document boots the EC2 instance (user data) and the Azure VM (custom data).
 *
 * What it sets up, on Ubuntu 24.04 (podman 4.9):
 * - podman from the distribution's packages;
 * - `/etc/quay-redis/redis.conf` (mode 0600, owned by the image's `redis` user, uid 999) with
 *   `requirepass` and append-only-file persistence to `/var/lib/quay-redis` on the host;
 * - `quay-redis.service`, a systemd unit in the shape `podman generate systemd --new` writes: it runs
 *   the pinned image, restarts it whenever it stops, and is enabled, so it comes back after a reboot;
 * - `vm.overcommit_memory = 1`, which Redis asks for so background saves cannot fail on fork;
 * - no SSH passwords (`ssh_pwauth: false`): the VM is reached through SSM or Azure's Run Command.
 */
import { stringify } from "yaml";

/** The Redis VM's settings. */
export interface RedisCloudInitInput {
    /** Fully qualified, pinned image, e.g. `docker.io/library/redis:7.2.7`. */
    readonly image: string;
    /** The `requirepass` password: no whitespace, quotes or backslashes (it is written unquoted). */
    readonly password: string;
    /** Port Redis listens on (6379). */
    readonly port: number;
}

/** Where the unit, config and data live on the VM. */
export const REDIS_PATHS = {
    unit: "/etc/systemd/system/quay-redis.service",
    config: "/etc/quay-redis/redis.conf",
    data: "/var/lib/quay-redis",
    sysctl: "/etc/sysctl.d/90-quay-redis.conf",
} as const;

/** uid/gid of the `redis` user in the official image (it drops to it before starting Redis). */
const REDIS_UID = 999;

/** Redis's own config: password, persistence, and listening on every interface. */
export function redisConf(input: RedisCloudInitInput): string {
    if (!/^[^\s"'\\]{8,}$/.test(input.password)) {
        throw new Error("the Redis password must be at least 8 characters without whitespace, quotes or backslashes");
    }
    return [
        // Every interface: the security group / NSG is what limits who may connect.
        "bind * -::*",
        `port ${input.port}`,
        "protected-mode yes",
        `requirepass ${input.password}`,
        // Append-only file, fsync'd every second, in /data (the host's data directory).
        "appendonly yes",
        "appendfsync everysec",
        "dir /data",
        "",
    ].join("\n");
}

/** The systemd unit that runs Redis in podman. */
export function redisUnit(input: RedisCloudInitInput): string {
    if (!/^[a-z0-9.-]+(:[0-9]+)?\/[A-Za-z0-9._/:@-]+$/.test(input.image)) {
        throw new Error(`not a fully qualified image: ${input.image}`);
    }
    const run = [
        "/usr/bin/podman run",
        "--cidfile=%t/%n.ctr-id",
        "--cgroups=no-conmon",
        "--rm",
        "--sdnotify=conmon",
        "--replace",
        "-d",
        "--name quay-redis",
        "--pull=missing",
        // Host networking: no port-forwarding layer between the security group and Redis.
        "--network=host",
        `-v ${REDIS_PATHS.data}:/data`,
        `-v ${REDIS_PATHS.config}:/usr/local/etc/redis/redis.conf:ro`,
        input.image,
        "redis-server /usr/local/etc/redis/redis.conf",
    ].join(" ");
    return [
        "[Unit]",
        `Description=Redis for Quay (${input.image})`,
        "Wants=network-online.target",
        "After=network-online.target",
        `RequiresMountsFor=${REDIS_PATHS.data}`,
        "",
        "[Service]",
        "Environment=PODMAN_SYSTEMD_UNIT=%n",
        "Restart=always",
        "RestartSec=5",
        // The first start pulls the image.
        "TimeoutStartSec=900",
        "TimeoutStopSec=70",
        `ExecStart=${run}`,
        "ExecStop=/usr/bin/podman stop --ignore -t 10 --cidfile=%t/%n.ctr-id",
        "ExecStopPost=/usr/bin/podman rm -f --ignore -t 10 --cidfile=%t/%n.ctr-id",
        "Type=notify",
        "NotifyAccess=all",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

/** The cloud-config document as an object (for tests and for `renderRedisCloudInit`). */
export function redisCloudConfig(input: RedisCloudInitInput): Record<string, unknown> {
    return {
        package_update: true,
        packages: ["podman"],
        ssh_pwauth: false,
        write_files: [
            { path: REDIS_PATHS.sysctl, permissions: "0644", content: "vm.overcommit_memory = 1\n" },
            { path: REDIS_PATHS.config, permissions: "0600", content: redisConf(input) },
            { path: REDIS_PATHS.unit, permissions: "0644", content: redisUnit(input) },
        ],
        // runcmd runs once, at the end of the first boot, after the packages are installed.
        runcmd: [
            ["sysctl", "-p", REDIS_PATHS.sysctl],
            ["install", "-d", "-m", "0700", "-o", `${REDIS_UID}`, "-g", `${REDIS_UID}`, REDIS_PATHS.data],
            ["chown", `${REDIS_UID}:${REDIS_UID}`, REDIS_PATHS.config],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "quay-redis.service"],
        ],
    };
}

/** The `#cloud-config` document, byte-stable for the same input. */
export function renderRedisCloudInit(input: RedisCloudInitInput): string {
    // cloud-init reads YAML 1.1 (PyYAML): emit 1.1 so strings such as "0644" or "on" stay strings.
    const body = stringify(redisCloudConfig(input), { version: "1.1", lineWidth: 0, aliasDuplicateObjects: false });
    return `#cloud-config\n${body}`;
}
