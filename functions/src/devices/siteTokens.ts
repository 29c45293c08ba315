import { createHash } from "node:crypto";
import { Timestamp, type DocumentReference } from "firebase-admin/firestore";
import type { Platform } from "../shared/contract";
import { runTransaction } from "../shared/transaction";
import { readUserAttributes } from "./attributes";
import { devicesCollection } from "./collection";
import { tenantUserId } from "./owner";
import { holdsDeadToken } from "./retire";
import type { DeviceDoc } from "./schema";

/** A key's allowance of new devices today (guards/counters.ts): `fullForSeconds` (until it refills) once spent; `take` counts one more. */
export interface NewDeviceAllowance {
  fullForSeconds?: number;
  take(): Promise<void>;
}

/**
 * Devices a server registers by token alone (a Moodle site through the
 * AirNotifier-compatible endpoints): the app never tells us its device ID, so
 * the document id is derived from the site's tenant and the token (`moodle-`
 * + 43 characters of their SHA-256, base64url) and the owner is the tenant's
 * one user `moodle` (AirNotifier knows devices, not users).
 *
 * A site reaches only its own tenant's devices: the same phone registered by
 * an app user or by another site is a separate device of theirs. Within the
 * tenant, one token never has two live devices.
 */
export function siteDeviceId(tenant: string, token: string): string {
  return `moodle-${createHash("sha256").update(`${tenant}\n${token}`).digest("base64url")}`;
}

/** The one user of a Moodle site's devices. */
export const SITE_USER = "moodle";

export type SiteTokenResult =
  /** A live device holds the token (the site's own, found or just created, or another owner's). */
  | { kind: "live"; deviceId: string; created: boolean }
  /** FCM reported the token dead and no live device holds it. */
  | { kind: "dead"; deviceId: string }
  /** The token is new and the key may create no more devices today. */
  | { kind: "limited"; retryAfterSeconds: number };

/**
 * The live device of a token, creating the site's own when none exists. The
 * lookup reads without a transaction (a burst of pushes must not queue on
 * locks); creating or reviving the site's own device is a transaction on that
 * one document, so two requests for a new token meet on it. A token FCM
 * reported dead is not revived: it would only fail again. The site's own
 * device retired as stale or replaced comes back when nothing else holds the
 * token, since the site has just shown the token is in use. Only the
 * tenant's own devices are looked at (devices registered before tenants,
 * once `npm run keys -- migrate` gave them the tenant, under their old ids).
 * A new device must fit the key's daily allowance, read beside the lookup.
 */
export async function liveDeviceForToken(tenant: string, token: string, platform: Platform, allowance: () => Promise<NewDeviceAllowance>): Promise<SiteTokenResult> {
  const devices = devicesCollection();
  const ownId = siteDeviceId(tenant, token);
  const ownRef = devices.doc(ownId);
  const [own, holders, allowed] = await Promise.all([ownRef.get(), devices.where("token", "==", token).where("tenant", "==", tenant).limit(20).get(), allowance()]);
  const all = new Map<string, DeviceDoc>(holders.docs.map((doc) => [doc.id, doc.data()]));
  const ownDevice = own.data();
  if (ownDevice) all.set(ownId, ownDevice);
  const live = [...all].filter(([, device]) => !device.retired && device.token === token);
  // Prefer the site's own device, then any other live holder.
  const chosen = live.find(([id]) => id === ownId) ?? live[0];
  if (chosen) return { kind: "live", deviceId: chosen[0], created: false };
  const dead = [...all].find(([, device]) => device.token === token && holdsDeadToken(device));
  if (dead) return { kind: "dead", deviceId: dead[0] };
  // A device document more: within the key's daily allowance, and counted against it.
  if (!ownDevice && allowed.fullForSeconds !== undefined) return { kind: "limited", retryAfterSeconds: allowed.fullForSeconds };
  const [result] = await Promise.all([createOrRevive(ownRef, ownId, tenant, token, platform), ownDevice ? undefined : allowed.take()]);
  return result;
}

/** The site's own device of a token, created or revived in a transaction on its document (two requests for a new token meet on it). */
function createOrRevive(ownRef: DocumentReference<DeviceDoc>, ownId: string, tenant: string, token: string, platform: Platform): Promise<SiteTokenResult> {
  const userId = tenantUserId(tenant, SITE_USER);
  return runTransaction("siteToken", async (tx) => {
    // The site's user may have attributes of the school's (devices/attributes.ts): a new or revived device gets their copy.
    const [current, attributes] = await Promise.all([tx.get(ownRef).then((snapshot) => snapshot.data()), readUserAttributes(tx, userId)]);
    const now = Timestamp.now();
    if (current && !current.retired) return { kind: "live", deviceId: ownId, created: false };
    if (current && holdsDeadToken(current)) return { kind: "dead", deviceId: ownId };
    if (current) {
      tx.update(ownRef, { retired: false, retiredAt: null, retiredReason: null, updatedAt: now, attributes });
      return { kind: "live", deviceId: ownId, created: false };
    }
    tx.create(ownRef, {
      userId,
      tenant,
      attributes,
      token,
      platform,
      enabled: true,
      badge: 0,
      createdAt: now,
      updatedAt: now,
      retired: false,
      retiredAt: null,
      retiredReason: null,
    });
    return { kind: "live", deviceId: ownId, created: true };
  });
}
