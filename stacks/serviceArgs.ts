/**
 * From the parsed service config to each component's own Args: the one place where the config's
 * shapes meet the components' (components import nothing from config/).
 */
import type { RdsPostgresArgs } from "../components/database/aws";
import type { FlexiblePostgresArgs } from "../components/database/azure";
import type { RedisEc2Args } from "../components/redis/aws";
import type { RedisAzureVmArgs } from "../components/redis/azure";
import type { AwsDatabase, AwsRedis, AzureDatabase, AzureRedis } from "../config/services";

/** `database` of mode `aws` as RdsPostgres's inputs (the region picks its provider). */
export function rdsArgs(db: AwsDatabase): RdsPostgresArgs {
    return {
        vpcId: db.vpcId,
        subnetIds: db.subnetIds,
        allowedCidrs: db.allowedCidrs,
        port: db.port,
        version: db.version,
        instanceClass: db.instanceClass,
        storageGb: db.storageGb,
        maxStorageGb: db.maxStorageGb,
        multiAz: db.multiAz,
        backupRetentionDays: db.backupRetentionDays,
        publiclyAccessible: db.publiclyAccessible,
    };
}

/** `database` of mode `azure` as FlexiblePostgres's inputs. */
export function flexibleArgs(db: AzureDatabase): FlexiblePostgresArgs {
    return {
        location: db.location,
        allowedCidrs: db.allowedCidrs,
        version: db.version,
        skuName: db.skuName,
        tier: db.tier,
        storageGb: db.storageGb,
        backupRetentionDays: db.backupRetentionDays,
        geoRedundantBackup: db.geoRedundantBackup,
        highAvailability: db.highAvailability,
    };
}

/** `redis` of mode `aws` as RedisEc2's inputs (the region picks its provider). */
export function redisEc2Args(redis: AwsRedis): RedisEc2Args {
    return {
        vpcId: redis.vpcId,
        subnetId: redis.subnetId,
        allowedCidrs: redis.allowedCidrs,
        publicIp: redis.publicIp,
        instanceType: redis.instanceType,
        architecture: redis.architecture,
        privateIp: redis.privateIp,
        image: redis.image,
        diskGb: redis.diskGb,
    };
}

/** `redis` of mode `azure` as RedisAzureVm's inputs. */
export function redisAzureArgs(redis: AzureRedis): RedisAzureVmArgs {
    return {
        location: redis.location,
        privateIp: redis.privateIp,
        allowedCidrs: redis.allowedCidrs,
        image: redis.image,
        subnetId: redis.subnetId,
        addressSpace: redis.addressSpace,
        publicIp: redis.publicIp,
        vmSize: redis.vmSize,
        architecture: redis.architecture,
        diskGb: redis.diskGb,
        encryptionAtHost: redis.encryptionAtHost,
    };
}
