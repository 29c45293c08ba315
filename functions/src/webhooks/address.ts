import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/*
 * Where a webhook may point. The service POSTs to a URL a partner chose, from
 * inside Google's network: without these rules a key holder could make it
 * call the metadata server (169.254.169.254), the project's own private
 * services, or anything on loopback. So: https only; the host must resolve
 * to public unicast addresses only, checked when the endpoint is registered
 * AND again at every delivery (a name may resolve elsewhere later: DNS
 * rebinding), and the delivery connects to the very address it checked.
 * Pure apart from the DNS lookup, which is passed in for tests.
 */

/** Ranges that are not public unicast (IANA special-purpose registries, RFC 6890 and successors). */
const NON_PUBLIC: ReadonlyArray<readonly [string, number, "ipv4" | "ipv6"]> = [
  ["0.0.0.0", 8, "ipv4"], // "this network"
  ["10.0.0.0", 8, "ipv4"], // private
  ["100.64.0.0", 10, "ipv4"], // carrier-grade NAT
  ["127.0.0.0", 8, "ipv4"], // loopback
  ["169.254.0.0", 16, "ipv4"], // link-local, the cloud metadata server among them
  ["172.16.0.0", 12, "ipv4"], // private
  ["192.0.0.0", 24, "ipv4"], // IETF protocol assignments
  ["192.0.2.0", 24, "ipv4"], // documentation
  ["192.88.99.0", 24, "ipv4"], // 6to4 relay anycast
  ["192.168.0.0", 16, "ipv4"], // private
  ["198.18.0.0", 15, "ipv4"], // benchmarking
  ["198.51.100.0", 24, "ipv4"], // documentation
  ["203.0.113.0", 24, "ipv4"], // documentation
  ["224.0.0.0", 4, "ipv4"], // multicast
  ["240.0.0.0", 4, "ipv4"], // reserved, broadcast
  ["::", 128, "ipv6"], // unspecified
  ["::1", 128, "ipv6"], // loopback
  ["::ffff:0:0", 96, "ipv6"], // IPv4-mapped: judged by the IPv4 address inside (below)
  ["64:ff9b::", 96, "ipv6"], // NAT64: reaches an IPv4 address we did not check
  ["64:ff9b:1::", 48, "ipv6"], // local-use NAT64
  ["100::", 64, "ipv6"], // discard-only
  ["2001::", 23, "ipv6"], // IETF protocol assignments (Teredo among them)
  ["2001:db8::", 32, "ipv6"], // documentation
  ["2002::", 16, "ipv6"], // 6to4: reaches an IPv4 address we did not check
  ["fc00::", 7, "ipv6"], // unique local
  ["fe80::", 10, "ipv6"], // link-local
  ["fec0::", 10, "ipv6"], // site-local (deprecated)
  ["ff00::", 8, "ipv6"], // multicast
];

/** One list per family: a BlockList matches an IPv4 address against IPv6 ranges in its mapped form, so ::ffff:0:0/96 would take every IPv4 address. */
const nonPublic = { ipv4: new BlockList(), ipv6: new BlockList() };
for (const [address, prefix, type] of NON_PUBLIC) nonPublic[type].addSubnet(address, prefix, type);

/** True for a public unicast IPv4 or IPv6 address; false for anything else, a malformed address included. */
export function isPublicAddress(address: string): boolean {
  const version = isIP(address);
  if (version === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return isPublicAddress(mapped[1]);
  const type = version === 4 ? "ipv4" : "ipv6";
  return !nonPublic[type].check(address, type);
}

/** The longest URL a webhook may have. */
export const WEBHOOK_URL_MAX = 2048;

/** Why a URL is refused, as the API's error message says it. */
export class TargetRefused extends Error {}

export interface ParsedTarget {
  url: URL;
  /** The host as the URL names it, without IPv6 brackets. */
  hostname: string;
  port: number;
  /** An emulator-only allowance (localTargets) matched: no address rules apply. */
  local: boolean;
}

/** `host:port` of a URL as the local allowance lists it (`127.0.0.1:9394`, `[::1]:9394`). */
const hostPort = (url: URL) => `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;

/**
 * The URL's shape: https (or http to an allowed local target), no user
 * name or password in it, a host. `localTargets` lists `host:port`s the
 * emulator may call (webhooks/settings.ts); it is empty in production.
 */
export function parseTarget(raw: string, localTargets: readonly string[]): ParsedTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefused("must be an absolute URL such as https://example.com/hooks/push");
  }
  if (raw.length > WEBHOOK_URL_MAX) throw new TargetRefused(`must be at most ${WEBHOOK_URL_MAX} characters`);
  if (url.username || url.password) throw new TargetRefused("must not hold a user name or password");
  const local = localTargets.includes(hostPort(url));
  if (url.protocol !== "https:" && !(local && url.protocol === "http:")) throw new TargetRefused("must be an https:// URL");
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!hostname) throw new TargetRefused("must name a host");
  return { url, hostname, port: Number(url.port || (url.protocol === "https:" ? 443 : 80)), local };
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (getaddrinfo), as the connection itself would resolve the name. */
export const systemResolver: Resolver = async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));

/**
 * The address to connect to for this target, after checking every address
 * the name resolves to: one non-public address among them refuses the whole
 * name (a round-robin that mixes in 10.0.0.5 must not get through one time in
 * two). A local target is connected to as it is named.
 */
export async function resolveTarget(target: ParsedTarget, resolve: Resolver = systemResolver): Promise<ResolvedAddress> {
  const literal = isIP(target.hostname);
  if (target.local) return { address: target.hostname, family: literal === 6 ? 6 : 4 };
  let addresses: ResolvedAddress[];
  if (literal !== 0) addresses = [{ address: target.hostname, family: literal === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await resolve(target.hostname);
    } catch {
      throw new TargetRefused(`names a host that does not resolve (${target.hostname})`);
    }
  }
  const first = addresses[0];
  if (!first) throw new TargetRefused(`names a host that does not resolve (${target.hostname})`);
  if (addresses.some((entry) => !isPublicAddress(entry.address))) {
    throw new TargetRefused("must point at a public address: private, loopback, link-local, multicast, documentation and other special-purpose addresses are refused");
  }
  return first;
}
