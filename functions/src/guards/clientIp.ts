import type { BlockList } from "node:net";
import type { Request } from "express";
import { logger } from "firebase-functions";
import { HOSTING_PROXY_RANGES } from "../shared/params";
import { blockOf, pickClientAddress, proxyList, type PickedAddress } from "./address";

/**
 * The keyed HTTPS functions, and whether each is served through a Firebase
 * Hosting rewrite (firebase.json; test/unit/client-address.test.ts checks
 * that the two agree). Only a route served through Hosting trusts Hosting's
 * CDN as a proxy: the partner API is called at its function URL, so a request
 * reaching it from Fastly is someone's own Fastly service, counted under
 * Fastly's address rather than under whatever that service wrote.
 */
export const SERVED_THROUGH_HOSTING = { api: false, airnotifier: true } as const;
export type KeyedFunction = keyof typeof SERVED_THROUGH_HOSTING;

let proxies: { spec: string; list: BlockList } | undefined;

/** HOSTING_PROXY_RANGES as a BlockList, built again only when the value changes. */
function hostingProxies(): BlockList {
  const spec = HOSTING_PROXY_RANGES.value();
  if (proxies?.spec !== spec) {
    const { list, invalid } = proxyList(spec);
    if (invalid.length > 0) logger.error("client address: HOSTING_PROXY_RANGES entries that are no address or CIDR range are ignored", { invalid });
    proxies = { spec, list };
  }
  return proxies.list;
}

/** Blocks already named in a warning by this instance (a bounded set: one line per block, not per request). */
const warned = new Set<string>();

/**
 * Says, once per block and instance, when a Hosting route sees a request that
 * does not fit the model: Fastly's header without a trusted last hop (a direct
 * call dressed as Hosting, or Hosting reaching the function from addresses
 * HOSTING_PROXY_RANGES lacks), or a trusted last hop with no client entry
 * before it. The block, not the address, is logged.
 */
function noteMismatch(req: Request, picked: PickedAddress): void {
  const dressed = picked.via === "direct" && req.get("fastly-client-ip") !== undefined;
  if (!dressed && picked.via !== "proxy-only") return;
  const block = blockOf(picked.address);
  if (warned.has(block) || warned.size >= 100) return;
  warned.add(block);
  if (dressed) {
    logger.warn("client address: a request carries Fastly-Client-IP but its last hop is not in HOSTING_PROXY_RANGES, so it counts as a direct call from that hop", { lastHopBlock: block });
  } else {
    logger.warn("client address: a request came from a trusted proxy with no client entry before it; it counts under the proxy", { proxyBlock: block });
  }
}

/**
 * The address a request of `fn` is counted under: bans, address quotas and
 * key allow-lists all act on it. See address.ts (pickClientAddress) for the
 * rule and docs/senders.md, "Client address", for why.
 */
export function clientIp(req: Request, fn: KeyedFunction): string {
  const throughHosting = SERVED_THROUGH_HOSTING[fn];
  const picked = pickClientAddress(req.headers["x-forwarded-for"], req.socket.remoteAddress, throughHosting ? hostingProxies() : undefined);
  if (throughHosting) noteMismatch(req, picked);
  return picked.address;
}
