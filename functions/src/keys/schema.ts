import { BlockList, isIP } from "node:net";
import { z } from "zod";
import { APP_TENANT, KEY_SCOPES, KEY_SURFACES, type KeyScope } from "../shared/contract";
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

/** Tenants a key is given by default (one of its own) are named after it: nobody may choose such a name. */
export const OWN_TENANT_PREFIX = "key-";

export function ownTenant(keyId: string): string {
  return `${OWN_TENANT_PREFIX}${keyId}`;
}

/** A tenant's name: lower-case letters, digits and dashes, as in a host name. */
export const tenantSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "must be 1-63 lower-case letters, digits or dashes, starting and ending with a letter or digit")
  .refine((name) => !name.startsWith(OWN_TENANT_PREFIX), `must not start with "${OWN_TENANT_PREFIX}" (the names of keys' own tenants)`);

/** Scopes that mean nothing on the Moodle endpoints, and why. */
const API_ONLY_SCOPES: ReadonlyArray<readonly [KeyScope, string]> = [
  ["users:write", "the Moodle endpoints set no user attributes"],
  ["devices:import", "the Moodle endpoints import nothing"],
  ["messages:emergency", "a Moodle site's pushes are always normal urgency"],
  ["webhooks:write", "the Moodle endpoints register no webhooks"],
];

export const createKeyInput = z
  .strictObject({
    name: z.string().min(1, "must not be empty").max(100, "must be at most 100 characters"),
    scopes: z.array(z.enum(KEY_SCOPES, { error: `must be among ${KEY_SCOPES.join(", ")}` })).min(1, "must hold at least one scope"),
    ipRanges: z.array(ipRangeSchema).max(50).default([]),
    surface: z.enum(KEY_SURFACES, { error: `must be ${KEY_SURFACES.join(" or ")}: the endpoints the key works on` }),
    /** Omitted: a tenant of the key's own. */
    tenant: tenantSchema.optional(),
    /** A Moodle key's daily cap on new devices (default MOODLE_NEW_DEVICES_PER_KEY_PER_DAY). */
    newDevicesPerDay: z.number().int().min(1).max(10_000_000).optional(),
  })
  .superRefine((input, ctx) => {
    if (input.surface === "moodle") {
      for (const [scope, why] of API_ONLY_SCOPES) {
        if (input.scopes.includes(scope)) ctx.addIssue({ code: "custom", path: ["scopes"], message: `${scope} is for partner API keys (--surface api): ${why}` });
      }
    }
    if (input.tenant !== APP_TENANT) return;
    if (input.surface !== "api") ctx.addIssue({ code: "custom", path: ["tenant"], message: `"${APP_TENANT}" is for partner API keys (--surface api): a Moodle site's key registers devices` });
    for (const scope of ["devices:write", "devices:import"] as const) {
      if (input.scopes.includes(scope)) {
        ctx.addIssue({ code: "custom", path: ["scopes"], message: `a key of tenant "${APP_TENANT}" sends to the apps' users and cannot hold ${scope}: their devices come only from the signed-in app` });
      }
    }
  });
export type CreateKeyInput = z.input<typeof createKeyInput>;

/** `accessKeys/{keyId}`: never the secret itself, only its SHA-256. */
export const accessKeyDoc = z.object({
  name: z.string(),
  hash: z.string(),
  scopes: z.array(z.string()),
  ipRanges: z.array(z.string()).default([]),
  /** Absent on keys made before keys had surfaces and tenants: refused until `npm run keys -- migrate` gives them both. */
  surface: z.enum(KEY_SURFACES).optional(),
  tenant: z.string().optional(),
  newDevicesPerDay: z.number().optional(),
  disabled: z.boolean(),
  createdAt: zTimestamp,
  revokedAt: zTimestamp.nullable().optional(),
});
export type AccessKeyDoc = z.infer<typeof accessKeyDoc>;
