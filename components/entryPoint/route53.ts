/**
 * Route53EntryPoint: latency-routed records for the global hostname in a public hosted zone, one
 * per active site, each answered only while its own HTTPS health check passes.
 */
import * as route53 from "@pulumi/aws/route53";
import * as pulumi from "@pulumi/pulumi";
import { EntryPointTarget, route53HealthCheckArgs, route53RecordArgs } from "../../lib/entryPoint";

const TYPE = "quay-georep:entrypoint:Route53EntryPoint";

/** Inputs of the Route 53 entry point; Route 53 is global, so any region's AWS provider (`opts.providers`) will do. */
export interface Route53EntryPointArgs {
    /** The global hostname (`SERVER_HOSTNAME`), the records' name and the probes' Host/SNI (the targets carry it too). */
    readonly hostname: pulumi.Input<string>;
    /** ID of the public hosted zone that holds `hostname`. */
    readonly zoneId: pulumi.Input<string>;
    /** Record TTL in seconds (default 60, as Route 53 advises for records with health checks). */
    readonly ttl?: pulumi.Input<number>;
    /** Every non-retired site; plain: each gets a health check, active ones a record. */
    readonly targets: readonly EntryPointTarget[];
}

/**
 * Creates, per non-retired site, `<name>-<site>-health` (an HTTPS health check on the site's IP
 * with Host/SNI = hostname) and, per active site, `<name>-<site>-record` (a latency record whose
 * set identifier is the site name). Children are keyed by site name, so adding or removing a site
 * touches only that site's pair.
 */
export class Route53EntryPoint extends pulumi.ComponentResource {
    /** The name clients resolve: the hostname itself. */
    public readonly dnsName: pulumi.Output<string>;
    /** Health check ID per non-retired site. */
    public readonly healthCheckIds: pulumi.Output<Record<string, string>>;

    /** Children inherit the `aws` provider from `opts.providers`. */
    constructor(name: string, args: Route53EntryPointArgs, opts?: pulumi.ComponentResourceOptions) {
        super(TYPE, name, {}, opts);
        const ttl = args.ttl ?? 60;
        const ids: Record<string, pulumi.Output<string>> = {};
        for (const target of args.targets) {
            const check = new route53.HealthCheck(`${name}-${target.site}-health`, route53HealthCheckArgs(target), {
                parent: this,
            });
            ids[target.site] = check.id;
            // A draining site keeps its check (its cluster still runs and stays visible) but loses its record.
            if (!target.inRotation) continue;
            // The record's shape is pure (lib/entryPoint.ts); zone and TTL may be outputs, so they are set here.
            new route53.Record(
                `${name}-${target.site}-record`,
                { ...route53RecordArgs(target, "", 0), zoneId: args.zoneId, ttl, healthCheckId: check.id },
                { parent: this },
            );
        }
        this.dnsName = pulumi.output(args.hostname);
        this.healthCheckIds = pulumi.output(ids);
        this.registerOutputs({ dnsName: this.dnsName, healthCheckIds: this.healthCheckIds });
    }
}
