import { Timestamp } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { DEVICES_PER_USER } from "../shared/params";
import { runTransaction } from "../shared/transaction";
import { APP_TENANT, type RetiredReason } from "../shared/contract";
import { readUserAttributes, refuseServerAttributes } from "./attributes";
import { devicesCollection } from "./collection";
import { isTenantShaped, type DeviceOwner } from "./owner";
import { preferencesCopy, readPreferences } from "./mutes";
import { holdsDeadToken } from "./retire";
import type { DeleteDeviceResult, DeviceDoc, RegisterDeviceInput, RegisterDeviceResult } from "./schema";

export interface DeviceSummary {
  deviceId: string;
  platform: DeviceDoc["platform"];
  enabled: boolean;
  badge: number;
  appVersion: string | null;
  osVersion: string | null;
  locale: string | null;
  timezone: string | null;
  userInfo: Record<string, string | number | boolean>;
  retired: boolean;
  retiredReason: string | null;
  createdAt: string;
  updatedAt: string;
}

const refusedDevice = () =>
  new HttpsError("failed-precondition", "This device is registered to another user. Reinstall the app on this device to register it for your account.", { field: "deviceId" });

/**
 * Registers (or refreshes) a device for an owner (an app's signed-in user, or
 * a key's tenant and one of its users: devices/owner.ts), in one transaction
 * so that two racing registrations of the same device leave one consistent
 * document:
 * - a live device owned by someone else is refused (one user per device; a
 *   reinstall gives the app a new device ID), and so is any device of another
 *   tenant, retired or not;
 * - any other live device of the same tenant holding the same token is
 *   retired as `replaced`, so one token never has two live devices in a
 *   tenant (the same phone may belong to an app user and to a Moodle site);
 * - a user has at most DEVICES_PER_USER live devices: a new one retires the
 *   user's least recently registered ones beyond that as `replaced`;
 * - the owner re-registering updates the token and un-retires the device,
 *   except that a token FCM declared dead is refused: only a new token
 *   brings the device back;
 * - the device gets a copy of the attributes the school set for its user
 *   (devices/attributes.ts), read in the same transaction, so a device
 *   registered while they change still ends with the latest. The app's own
 *   `userInfo` may not name an attribute the school owns;
 * - an app user's device gets a copy of the user's muted categories
 *   (devices/mutes.ts), read in the same transaction for the same reason.
 */
export async function registerDevice(owner: DeviceOwner, input: RegisterDeviceInput): Promise<RegisterDeviceResult> {
  if (owner.tenant === APP_TENANT && isTenantShaped(owner.userId)) {
    throw new HttpsError("failed-precondition", "This account's user id has the form of a partner's user (\"<tenant>:<id>\") and cannot register devices.");
  }
  refuseServerAttributes(input.userInfo);
  const devices = devicesCollection();
  const ref = devices.doc(input.deviceId);
  return runTransaction("registerDevice", async (tx) => {
    const [snapshot, sameToken, owned, attributes, preferences] = await Promise.all([
      tx.get(ref),
      tx.get(devices.where("token", "==", input.token)),
      tx.get(devices.where("userId", "==", owner.userId).where("retired", "==", false)),
      readUserAttributes(tx, owner.userId),
      // Only the apps' own users have preferences.
      owner.tenant === APP_TENANT ? readPreferences(tx, owner.userId).then(preferencesCopy) : undefined,
    ]);
    const existing = snapshot.data();
    if (heldByAnother(existing, owner)) throw refusedDevice();
    const now = Timestamp.now();
    for (const other of liveTokenHolders(sameToken.docs, input.deviceId, owner.tenant)) {
      tx.update(other.ref, { retired: true, retiredAt: now, retiredReason: "replaced" satisfies RetiredReason });
    }
    const refreshing = existing !== undefined && existing.userId === owner.userId;
    if (refreshing && existing.token === input.token && holdsDeadToken(existing)) {
      throw new HttpsError("failed-precondition", "FCM reported this token as no longer valid. Get a new token from FCM on the device and register that one.", { field: "token" });
    }
    // One live device more for this user: beyond the cap, the least recently registered ones make room.
    if (!refreshing || existing.retired) {
      const others = otherLiveDevices(owned.docs, input);
      const excess = others.length + 1 - Math.max(1, DEVICES_PER_USER.value());
      const oldest = others.sort((a, b) => a.data().updatedAt.toMillis() - b.data().updatedAt.toMillis()).slice(0, Math.max(0, excess));
      for (const doc of oldest) tx.update(doc.ref, { retired: true, retiredAt: now, retiredReason: "replaced" satisfies RetiredReason });
    }
    writeRegistration(tx, ref, owner, input, { refreshing, attributes, preferences, now });
    return { deviceId: input.deviceId, created: !refreshing };
  });
}

type DeviceSnapshot = FirebaseFirestore.QueryDocumentSnapshot<DeviceDoc>;

/** A device id the owner may not take: another user's live device, or any device of another tenant. */
export function heldByAnother(existing: DeviceDoc | undefined, owner: DeviceOwner): boolean {
  return existing !== undefined && ((!existing.retired && existing.userId !== owner.userId) || (existing.tenant !== undefined && existing.tenant !== owner.tenant));
}

/** The other live devices of a tenant that hold a token (devices without a tenant are the apps' users'). */
export function liveTokenHolders(sameToken: DeviceSnapshot[], deviceId: string, tenant: string): DeviceSnapshot[] {
  return sameToken.filter((other) => other.id !== deviceId && !other.data().retired && (other.data().tenant ?? APP_TENANT) === tenant);
}

/** The user's live devices (`owned`) other than this one and other than those holding its token: what the DEVICES_PER_USER cap counts. */
export function otherLiveDevices(owned: DeviceSnapshot[], input: Pick<RegisterDeviceInput, "deviceId" | "token">): DeviceSnapshot[] {
  return owned.filter((doc) => doc.id !== input.deviceId && doc.data().token !== input.token);
}

/**
 * The device document a registration leaves: a refresh updates the token,
 * what the app said and the copies, and brings the device back to life; a
 * new device (or a retired one claimed by a different user) starts from a
 * clean document. Fields the input leaves out are kept as they were.
 */
export function writeRegistration(
  tx: FirebaseFirestore.Transaction,
  ref: FirebaseFirestore.DocumentReference<DeviceDoc>,
  owner: DeviceOwner,
  input: RegisterDeviceInput,
  state: { refreshing: boolean; attributes: DeviceDoc["attributes"]; preferences: ReturnType<typeof preferencesCopy> | undefined; now: Timestamp },
): void {
  const { refreshing, attributes, preferences, now } = state;
  const optional = {
    ...(input.appVersion !== undefined && { appVersion: input.appVersion }),
    ...(input.osVersion !== undefined && { osVersion: input.osVersion }),
    ...(input.locale !== undefined && { locale: input.locale }),
    ...(input.timezone !== undefined && { timezone: input.timezone }),
    ...(input.userInfo !== undefined && { userInfo: input.userInfo }),
    attributes,
    // The copies of the user's preferences (devices/mutes.ts): what sends decide from.
    ...preferences,
  };
  const live = { updatedAt: now, retired: false, retiredAt: null, retiredReason: null };
  if (refreshing) {
    tx.update(ref, { token: input.token, platform: input.platform, tenant: owner.tenant, ...optional, ...live });
    return;
  }
  tx.set(ref, { userId: owner.userId, tenant: owner.tenant, token: input.token, platform: input.platform, enabled: true, badge: 0, ...optional, createdAt: now, ...live });
}

/** Runs `change` on the caller's own device inside a transaction; other users' devices are refused. */
async function withOwnDevice<R>(uid: string, deviceId: string, change: (tx: FirebaseFirestore.Transaction, ref: FirebaseFirestore.DocumentReference<DeviceDoc>) => R): Promise<R> {
  const ref = devicesCollection().doc(deviceId);
  return runTransaction("ownDevice", async (tx) => {
    const snapshot = await tx.get(ref);
    const device = snapshot.data();
    if (!device) throw new HttpsError("not-found", "No device with this ID is registered.", { field: "deviceId" });
    if (device.userId !== uid || (device.tenant ?? APP_TENANT) !== APP_TENANT) throw new HttpsError("permission-denied", "This device belongs to another user.", { field: "deviceId" });
    return change(tx, ref);
  });
}

export async function unregisterDevice(uid: string, deviceId: string): Promise<DeleteDeviceResult> {
  await withOwnDevice(uid, deviceId, (tx, ref) => tx.delete(ref));
  return { deviceId, deleted: true };
}

export async function setDeviceEnabled(uid: string, deviceId: string, enabled: boolean): Promise<{ deviceId: string; enabled: boolean }> {
  await withOwnDevice(uid, deviceId, (tx, ref) => tx.update(ref, { enabled }));
  return { deviceId, enabled };
}

export async function resetBadge(uid: string, deviceId: string): Promise<{ deviceId: string; badge: number }> {
  await withOwnDevice(uid, deviceId, (tx, ref) => tx.update(ref, { badge: 0 }));
  return { deviceId, badge: 0 };
}

/** The caller's devices, newest first, without tokens. */
export async function listDevices(uid: string): Promise<{ devices: DeviceSummary[] }> {
  const snapshot = await devicesCollection().where("userId", "==", uid).get();
  const devices = snapshot.docs.filter((doc) => (doc.data().tenant ?? APP_TENANT) === APP_TENANT).map((doc) => summarize(doc.id, doc.data()));
  devices.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return { devices };
}

function summarize(deviceId: string, device: DeviceDoc): DeviceSummary {
  return {
    deviceId,
    platform: device.platform,
    enabled: device.enabled,
    badge: device.badge,
    appVersion: device.appVersion ?? null,
    osVersion: device.osVersion ?? null,
    locale: device.locale ?? null,
    timezone: device.timezone ?? null,
    userInfo: device.userInfo ?? {},
    retired: device.retired,
    retiredReason: device.retiredReason ?? null,
    createdAt: device.createdAt.toDate().toISOString(),
    updatedAt: device.updatedAt.toDate().toISOString(),
  };
}

/**
 * Deletes a device of a tenant, whichever of its users owns it: for a partner
 * server holding the `devices:write` scope. Another tenant's device is "not
 * found", so an id says nothing about other tenants.
 */
export async function removeTenantDevice(tenant: string, deviceId: string): Promise<DeleteDeviceResult> {
  const ref = devicesCollection().doc(deviceId);
  await runTransaction("removeDevice", async (tx) => {
    const snapshot = await tx.get(ref);
    if (snapshot.data()?.tenant !== tenant) throw new HttpsError("not-found", "No device with this ID is registered.", { field: "deviceId" });
    tx.delete(ref);
  });
  return { deviceId, deleted: true };
}
