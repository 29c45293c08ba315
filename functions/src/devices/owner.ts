import { APP_TENANT } from "../shared/contract";

/**
 * Whose a device is: a tenant and a user of that tenant. The apps' own users
 * (tenant "app") are stored under their Firebase uid as it is; a site's or
 * partner's users under `<tenant>:<userId>`, so that one tenant's "42" is
 * neither another tenant's "42" nor the app user whose uid is "42". Every
 * query by user (an audience of users, an app's own devices, the rules'
 * owner check) is fenced by that alone; the `tenant` field serves the
 * queries that are not by user (a key's broadcast, a key's device ids).
 */
export interface DeviceOwner {
  tenant: string;
  /** As stored in `userId`. */
  userId: string;
}

/** A tenant name can hold no colon, so the first colon ends it. */
const TENANT_SHAPED = /^[a-z0-9-]+:/;

/** The stored user id of a tenant's user. */
export function tenantUserId(tenant: string, userId: string): string {
  return tenant === APP_TENANT ? userId : `${tenant}:${userId}`;
}

/** A stored user id as its tenant names it (the inverse of tenantUserId): how a message's `vars` are keyed. */
export function localUserId(tenant: string | undefined, stored: string): string {
  if (tenant === undefined || tenant === APP_TENANT) return stored;
  const prefix = `${tenant}:`;
  return stored.startsWith(prefix) ? stored.slice(prefix.length) : stored;
}

export function appOwner(uid: string): DeviceOwner {
  return { tenant: APP_TENANT, userId: uid };
}

export function tenantOwner(tenant: string, userId: string): DeviceOwner {
  return { tenant, userId: tenantUserId(tenant, userId) };
}

/**
 * The owner of a user named as stored, as staff name users (in `users`
 * audiences and setUserAttributes): `<tenant>:<userId>` is a tenant's user,
 * anything else an app user's uid.
 */
export function storedOwner(userId: string): DeviceOwner {
  const tenant = isTenantShaped(userId) ? userId.slice(0, userId.indexOf(":")) : APP_TENANT;
  return { tenant, userId };
}

/**
 * True for a Firebase uid shaped like a tenant's stored user id. Firebase
 * Auth's own uids never are (letters and digits); an account minted with
 * such a uid could pose as a partner's user, so it registers no device.
 */
export function isTenantShaped(uid: string): boolean {
  return TENANT_SHAPED.test(uid);
}
