/**
 * Address checks every layer uses, with Node's own parser.
 */
import { isIP } from "node:net";

/** A dotted-quad IPv4 address or an IPv6 address (`::ffff:198.51.100.1` yes, `:::` and `ab:cd` no). */
export function isIpAddress(value: string): boolean {
    return isIP(value) !== 0;
}
