import { isIPv4 } from "node:net";
import type { Request } from "express";

/**
 * The caller's IP address. Behind Cloud Functions' (Cloud Run's) Google front
 * end the socket peer is the front end, which appends the address it saw to
 * `X-Forwarded-For`. Entries before it are whatever the client sent and can be
 * forged, so the last entry is the one to trust: honouring the first would
 * let anyone dodge a ban or pass an IP allow-list with a made-up header. (The
 * emulator has no front end; tests set the header to act as other addresses.)
 * IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) are reported as IPv4.
 */
export function clientIp(req: Request): string {
  const header = req.headers["x-forwarded-for"];
  const forwarded = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",").map((s) => s.trim()).filter(Boolean);
  const ip = forwarded[forwarded.length - 1] ?? req.socket.remoteAddress ?? "unknown";
  const mapped = /^::ffff:(.+)$/i.exec(ip)?.[1];
  return mapped && isIPv4(mapped) ? mapped : ip;
}
