/**
 * The shared stack's part of a database switchover (lib/standby.ts plans it): the read-only
 * service key, the lag gate before a promotion, and the check of the promoted server, as Jobs in
 * the shared stack's cluster, each gating what must wait for it:
 * - the lag gate is made before the servers, and the promotion depends on it;
 * - the bundle (its Secrets, its output, everything built from it) resolves only once the
 *   service key is registered and the new primary verified.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LagGate, PrimaryCheck, ReadonlyServiceKey, SwitchoverJobArgs } from "../components/switchover";
import { hexDigest } from "../lib/names";
import { PROJECT_ROOT } from "../lib/projectRoot";
import { pem } from "../lib/quayConfig";
import {
    generateServiceKey,
    SERVICE_KEY_SQL,
    READONLY_KEY_FILE_ENV,
    ServiceKey,
    serviceKeyFrom,
    serviceKeyPsqlVariables,
} from "../lib/serviceKey";
import { locationKey, ServiceLocation, StandbyPlan } from "../lib/standby";
import type { QuayGeorepConfig } from "../config/config";
import type { DeployedState } from "./deployed";
import { accessUrl, DatabaseAccess, SharedDatabase } from "./database";
import type { Cluster } from "./site";

/**
 * Days the read-only service key stays valid. Nothing renews it while the registry is read-only
 * (quay/quay workers/worker.py runs no worker then), and once it expires read-only pods fail
 * /health/instance (the liveness probe): a switchover's read-only window must end before.
 */
export const READONLY_KEY_DAYS = 30;

/**
 * The read-only service key of this run: the one the last bundle carries while the registry
 * stays read-only (every step of one switchover runs the same key), else a new one (or the one of
 * `READONLY_KEY_FILE_ENV`).
 */
export function readonlyKey(plan: StandbyPlan, deployed: DeployedState): ServiceKey | undefined {
    if (!plan.readonly) return undefined;
    const last = deployed.lastServiceKeyPem;
    if (last !== undefined) return serviceKeyFrom(last.reveal());
    const file = process.env[READONLY_KEY_FILE_ENV];
    return file ? serviceKeyFrom(fs.readFileSync(file, "utf8")) : generateServiceKey();
}

/** Where a location's server is for the lag gate: its recorded host (created) or its configured one (existing). */
function recordedEndpoint(
    cfg: QuayGeorepConfig,
    plan: StandbyPlan,
    l: ServiceLocation,
): { host: string; port: number } {
    const db = l === "home" ? cfg.database : cfg.database.standby;
    if (db === undefined) throw new pulumi.RunError(`${locationKey(l)} is not configured`);
    if (db.mode === "existing") return { host: db.host, port: db.port };
    const host = plan.record.servers[l]?.host;
    if (host === undefined) {
        throw new pulumi.RunError(
            `the shared stack's standby record has no host for ${locationKey(l)}: run pulumi up -s ${cfg.sharedStack} with standby.active unchanged once, then switch`,
        );
    }
    return { host, port: db.port };
}

function jobArgs(cfg: QuayGeorepConfig, cluster: Cluster, jobName: string): SwitchoverJobArgs {
    return {
        namespace: cluster.namespace,
        psqlImage: cfg.lifecycle.psqlImage,
        ...(cfg.database.caCertificate !== undefined ? { databaseCa: pem(cfg.database.caCertificate) } : {}),
        timeoutMinutes: cfg.lifecycle.timeouts.gate,
        jobName,
    };
}

/** A stable Job name per switchover step: the step and the epoch it belongs to. */
function stepName(kind: string, plan: StandbyPlan, to: ServiceLocation): string {
    return `quay-georep-${kind}-${to}-e${plan.record.epoch}`;
}

/** The lag gate, before the servers: the promotion of this run depends on it. */
export function deployLagGate(
    cfg: QuayGeorepConfig,
    plan: StandbyPlan,
    cluster: Cluster | undefined,
    access: DatabaseAccess,
): LagGate | undefined {
    if (plan.gate === undefined) return undefined;
    if (cluster === undefined) throw new Error("the lag gate needs the shared cluster (refused in planning)");
    const primary = recordedEndpoint(cfg, plan, plan.gate.from);
    const standby = recordedEndpoint(cfg, plan, plan.gate.to);
    return new LagGate(
        `${cfg.project}-lag-gate`,
        {
            ...jobArgs(cfg, cluster, stepName("lag-gate", plan, plan.gate.to)),
            primaryUrl: accessUrl(cfg, access, primary.host, primary.port),
            standbyUrl: accessUrl(cfg, access, standby.host, standby.port),
        },
        { provider: cluster.provider },
    );
}

/**
 * The Jobs after the servers: the service key's registration (while read-only) and the check of
 * a promoted server. Returns a value that resolves once both passed: the bundle waits for it.
 */
export function deploySwitchoverChecks(
    cfg: QuayGeorepConfig,
    plan: StandbyPlan,
    cluster: Cluster | undefined,
    access: DatabaseAccess,
    database: SharedDatabase,
    databaseUrl: pulumi.Output<string>,
    key: ServiceKey | undefined,
): pulumi.Output<string[]> {
    const done: pulumi.Output<string>[] = [];
    if (cluster === undefined) return pulumi.output([]);
    if (key !== undefined) {
        const registered = new ReadonlyServiceKey(
            `${cfg.project}-readonly-key`,
            {
                // One per key: later runs with the same key change nothing (the SQL is idempotent too).
                ...jobArgs(cfg, cluster, `quay-georep-readonly-key-${hexDigest(key.kid, 10).toLowerCase()}`),
                databaseUrl,
                variables: serviceKeyPsqlVariables(key, { expiresDays: READONLY_KEY_DAYS }),
                sql: fs.readFileSync(path.join(PROJECT_ROOT, SERVICE_KEY_SQL), "utf8"),
            },
            { provider: cluster.provider },
        );
        done.push(registered.done);
    }
    if (plan.verify !== undefined) {
        const target = database.locations[plan.verify];
        if (target === undefined) throw new Error(`no server in ${plan.verify} to verify`);
        const check = new PrimaryCheck(
            `${cfg.project}-primary-check`,
            {
                ...jobArgs(cfg, cluster, stepName("verify-primary", plan, plan.verify)),
                // The host resolves once the promotion completed (a created server's host waits for its update).
                databaseUrl: accessUrl(cfg, access, target.host, target.port),
            },
            { provider: cluster.provider },
        );
        done.push(check.done);
    }
    return pulumi.all(done);
}
