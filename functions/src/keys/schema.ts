import { BlockList, isIP } from "node:net";
import { z } from "zod";
import { KEY_SCOPES } from "../shared/contract";
import { zTimestamp } from "../shared/firestore";

/** An IPv4 or IPv6 address, or a CIDR range of either (`10.0.0.0/8`, `2001:db8::/32`). */
export const ipRangeSchema = z.string().refine((value) => parseRange(value) !== undefined, "must be an IP address or a CIDR range such as 10.0.0.0/8 or 2001:db8::/32");

export function parseRange(value: string): { address: string; prefix: number; type: "ipv4" | "ipv6" } | undefined {
  const [address = "", prefixText, ...rest] = value.trim().split("/");
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, type: version === 4 ? "ipv4" : "ipv6" };
}

/** Node's own CIDR matching (BlockList), rather than hand-written bit arithmetic. */
export function rangeList(ranges: string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const parsed = parseRange(range);
    if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.type);
  }
  return list;
}

export const createKeyInput = z.strictObject({
  name: z.string().min(1, "must not be empty").max(100, "must be at most 100 characters"),
  scopes: z.array(z.enum(KEY_SCOPES, { error: `must be among ${KEY_SCOPES.join(", ")}` })).min(1, "must hold at least one scope"),
  ipRanges: z.array(ipRangeSchema).max(50).default([]),
});
export type CreateKeyInput = z.input<typeof createKeyInput>;

/** `accessKeys/{keyId}`: never the secret itself, only its SHA-256. */
export const accessKeyDoc = z.object({
  name: z.string(),
  hash: z.string(),
  scopes: z.array(z.string()),
  ipRanges: z.array(z.string()).default([]),
  disabled: z.boolean(),
  createdAt: zTimestamp,
  revokedAt: zTimestamp.nullable().optional(),
});
export type AccessKeyDoc = z.infer<typeof accessKeyDoc>;
