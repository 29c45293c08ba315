import { BlockList, isIP, isIPv4 } from "node:net";
import { parseRange } from "../keys/schema";

/**
 * Client addresses as the keyed endpoints see them: which `X-Forwarded-For`
 * entry to believe (pickClientAddress), and the key a ban or an address
 * quota counts under (addressKey). Pure functions, no params: the request
 * side (clientIp.ts) says which proxies a route trusts.
 */

/**
 * Fastly's published edge ranges (https://api.fastly.com/public-ip-list), the
 * CDN Firebase Hosting serves through. `HOSTING_PROXY_RANGES=fastly` stands
 * for this list; Fastly adds ranges now and then, so compare it with the
 * published one before a deploy and add new ones to the param.
 */
export const FASTLY_RANGES: readonly string[] = [
  "23.235.32.0/20",
  "43.249.72.0/22",
  "103.244.50.0/24",
  "103.245.222.0/23",
  "103.245.224.0/24",
  "104.156.80.0/20",
  "140.248.64.0/18",
  "140.248.128.0/17",
  "146.75.0.0/17",
  "151.101.0.0/16",
  "157.52.64.0/18",
  "167.82.0.0/17",
  "167.82.128.0/20",
  "167.82.160.0/20",
  "167.82.224.0/20",
  "172.111.64.0/18",
  "185.31.16.0/22",
  "199.27.72.0/21",
  "199.232.0.0/16",
  "2a04:4e40::/32",
  "2a04:4e42::/32",
];

/** RFC 5952's form of an IPv6 address (lower case, zeros compressed), as the URL standard serialises it; undefined if it is none. */
function canonicalIPv6(address: string): string | undefined {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** The eight groups of a canonical IPv6 address (which has only hex groups and at most one `::`). */
function groupsOf(canonical: string): string[] {
  const [head = "", tail] = canonical.split("::");
  const left = head === "" ? [] : head.split(":");
  if (tail === undefined) return left;
  const right = tail === "" ? [] : tail.split(":");
  return [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
}

/**
 * One address as a proxy wrote it into a header, in one form per address: IPv4
 * as is, IPv6 canonical, IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as the IPv4
 * address it is. A port (`192.0.2.1:443`, `[2001:db8::1]:443`) is dropped.
 * Undefined for anything that is not an address (`unknown`, a name, junk).
 */
export function parseAddress(entry: string): string | undefined {
  let text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed?.[1]) text = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(":"));
  const version = isIP(text);
  if (version === 4) return text;
  if (version !== 6) return undefined;
  const canonical = canonicalIPv6(text);
  if (canonical === undefined) return undefined;
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!mapped) return canonical;
  const [high, low] = [Number.parseInt(mapped[1] ?? "0", 16), Number.parseInt(mapped[2] ?? "0", 16)];
  return [Math.floor(high / 256), high % 256, Math.floor(low / 256), low % 256].join(".");
}

/**
 * What bans and address quotas count under: an IPv4 address on its own, an
 * IPv6 address by its /64 (`2001:db8:1:2::/64`). A /64 is the smallest block
 * an ISP or a cloud gives one subscriber or one machine, and its holder picks
 * any of its 2^64 addresses at will, so banning one IPv6 address bans
 * nothing. Key IP allow-lists still match the exact address.
 */
export function addressKey(address: string): string {
  const parsed = parseAddress(address);
  if (parsed === undefined) return address;
  if (isIPv4(parsed)) return parsed;
  return `${canonicalIPv6(`${groupsOf(parsed).slice(0, 4).join(":")}::`) ?? parsed}/64`;
}

/**
 * The block an address lies in (/24 or /48), for a log line that helps an
 * operator recognise a proxy without printing a person's whole address.
 */
export function blockOf(address: string): string {
  if (isIPv4(address)) return `${address.split(".").slice(0, 3).join(".")}.0/24`;
  const canonical = canonicalIPv6(address);
  if (canonical === undefined) return "unknown";
  return `${canonicalIPv6(`${groupsOf(canonical).slice(0, 3).join(":")}::`) ?? canonical}/48`;
}

/**
 * The proxies a route trusts, from the comma-separated HOSTING_PROXY_RANGES:
 * CIDR ranges or single addresses, `fastly` for FASTLY_RANGES, `none` for
 * nothing. Entries that are none of these are returned as `invalid` and left
 * out (so a typo can only make fewer requests count as coming through Hosting).
 */
export function proxyList(spec: string): { list: BlockList; invalid: string[] } {
  const list = new BlockList();
  const invalid: string[] = [];
  const entries = spec.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "" && entry.toLowerCase() !== "none");
  for (const entry of entries.flatMap((entry) => (entry.toLowerCase() === "fastly" ? FASTLY_RANGES : [entry]))) {
    const range = parseRange(entry);
    if (range) list.addSubnet(range.address, range.prefix, range.type);
    else invalid.push(entry);
  }
  return { list, invalid };
}

export interface PickedAddress {
  /** The address the request is counted under. */
  address: string;
  /**
   * `direct`: the last entry, which Google's front end appended, is the client.
   * `proxied`: the last entry is a trusted proxy, and the client is the entry
   *   the proxies appended before their own.
   * `proxy-only`: the last entry is a trusted proxy but no usable entry is
   *   left of the proxies; the request is counted under the nearest proxy
   *   (never under an entry the client could have written).
   * `socket`: no usable X-Forwarded-For at all (the emulator without the
   *   header); the connection's peer.
   */
  via: "direct" | "proxied" | "proxy-only" | "socket";
}

/**
 * The client's address, read from the right of `X-Forwarded-For`, which
 * Cloud Run's (Cloud Functions') Google front end always ends with the
 * address it accepted the connection from. That last entry is the one a
 * client cannot write. When it is one of `trustedProxies` (Firebase Hosting's
 * CDN, on a route served through Hosting) the request came through that
 * proxy, which appended the address *it* saw: the walk steps left over
 * trusted entries (a shielding CDN appends its edge too) to the first entry
 * that is not one. Anything further left was sent by the client and is never
 * read. Without trusted proxies, or when the last entry is not one, the last
 * entry is the client: a direct caller cannot pose as Hosting by prepending
 * a Hosting-shaped chain, since the entry it cannot forge is its own.
 * `Fastly-Client-IP` is never read: Fastly keeps one the client sent.
 */
export function pickClientAddress(forwardedFor: string | string[] | undefined, socketAddress: string | undefined, trustedProxies?: BlockList): PickedAddress {
  const joined = Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? "");
  const entries = joined.split(",").map((entry) => entry.trim()).filter(Boolean);
  const last = entries.length > 0 ? parseAddress(entries[entries.length - 1] ?? "") : undefined;
  if (last === undefined) return { address: parseAddress(socketAddress ?? "") ?? "unknown", via: "socket" };
  const trusted = (address: string) => trustedProxies?.check(address, isIPv4(address) ? "ipv4" : "ipv6") === true;
  if (!trusted(last)) return { address: last, via: "direct" };
  let nearest = last;
  for (let i = entries.length - 2; i >= 0; i--) {
    const address = parseAddress(entries[i] ?? "");
    // A trusted proxy always writes an address; anything else here is not the proxies' chain.
    if (address === undefined) break;
    if (!trusted(address)) return { address, via: "proxied" };
    nearest = address;
  }
  return { address: nearest, via: "proxy-only" };
}
