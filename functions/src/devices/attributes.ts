import { createHash } from "node:crypto";
import { Timestamp, type DocumentSnapshot, type Transaction } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { COLLECTIONS, LIMITS } from "../shared/contract";
import { db, typedCollection } from "../shared/firestore";
import { SERVER_ATTRIBUTES } from "../shared/params";
import { runTransaction } from "../shared/transaction";
import type { DeviceOwner } from "./owner";
import { userAttributesDoc } from "./schema";

/**
 * Attributes with an owner. What an app says about itself is its device's
 * `userInfo`: stored, shown back to the app, never matched by an audience.
 * What only the school may say about a user (role, school, grade, class…) is
 * set by staff or by a key with the `users:write` scope, kept per user in
 * `userAttributes`, and copied onto each of the user's devices as
 * `attributes`, the only map `where` audiences match. A device registered
 * later gets the copy in its registration's transaction.
 */

export type Attributes = Record<string, string | number | boolean>;

/** Devices updated per transaction when a user's attributes are copied onto them. */
const COPY_CHUNK = 200;

export function userAttributesCollection() {
  return typedCollection(COLLECTIONS.userAttributes, userAttributesDoc);
}

/** The id of a user's attributes document: a hash of the stored user id, since a partner's user id may hold "/" or be "..". */
export function userAttributesId(userId: string): string {
  return createHash("sha256").update(userId, "utf8").digest("hex");
}

export function userAttributesRef(userId: string) {
  return userAttributesCollection().doc(userAttributesId(userId));
}

/** The names the SERVER_ATTRIBUTES param gives the school, lower-cased. */
function serverAttributeNames(): Set<string> {
  return new Set(
    SERVER_ATTRIBUTES.value()
      .split(",")
      .map((name) => name.trim().toLowerCase())
      .filter((name) => name !== ""),
  );
}

/**
 * Refuses an app's `userInfo` that names an attribute the school owns.
 * Audiences would not match it anyway (they read `attributes` only); the
 * refusal tells an app developer at once that the app cannot say it. Names
 * are compared without regard to case, so `Role` is refused as `role` is.
 */
export function refuseServerAttributes(userInfo: Record<string, unknown> | undefined): void {
  if (!userInfo) return;
  const owned = serverAttributeNames();
  const name = Object.keys(userInfo).find((key) => owned.has(key.toLowerCase()));
  if (name === undefined) return;
  throw new HttpsError(
    "invalid-argument",
    `Invalid "userInfo.${name}": "${name}" is an attribute only the school sets (setUserAttributes, or PUT /v1/users/{userId}/attributes); an app may not send it. Leave it out of userInfo.`,
    { field: `userInfo.${name}` },
  );
}

/** Inside the caller's transaction (before its writes): the attributes the school set for a user, {} when none. */
export async function readUserAttributes(tx: Transaction, userId: string): Promise<Attributes> {
  return (await tx.get(userAttributesRef(userId))).data()?.attributes ?? {};
}

function sameAttributes(a: unknown, b: Attributes): boolean {
  if (a === null || typeof a !== "object" || Array.isArray(a)) return false;
  const entries = Object.entries(a as Record<string, unknown>);
  return entries.length === Object.keys(b).length && entries.every(([name, value]) => Object.hasOwn(b, name) && b[name] === value);
}

/**
 * Changes a user's attributes (a value sets one, null removes it, the rest
 * stay) in a transaction on the user's document, then copies them onto the
 * user's devices. Returns the user's attributes after the change and how
 * many devices' copies changed.
 */
export async function setUserAttributes(owner: DeviceOwner, changes: Record<string, string | number | boolean | null>, updatedBy: string): Promise<{ attributes: Attributes; devices: number }> {
  const ref = userAttributesRef(owner.userId);
  const attributes = await runTransaction("userAttributes", async (tx) => {
    const current = (await tx.get(ref)).data()?.attributes ?? {};
    const next: Attributes = Object.fromEntries(Object.entries(current).filter(([name]) => !Object.hasOwn(changes, name)));
    for (const [name, value] of Object.entries(changes)) if (value !== null) next[name] = value;
    const count = Object.keys(next).length;
    if (count > LIMITS.userAttributesMax) {
      throw new HttpsError("invalid-argument", `Invalid "attributes": the user would have ${count} attributes, more than ${LIMITS.userAttributesMax}; remove some (null) first.`, { field: "attributes" });
    }
    tx.set(ref, { userId: owner.userId, tenant: owner.tenant, attributes: next, updatedAt: Timestamp.now(), updatedBy });
    return next;
  });
  const devices = await copyToDevices(owner.userId);
  logger.info("attributes: set", { tenant: owner.tenant, changed: Object.keys(changes).length, devices, by: updatedBy });
  return { attributes, devices };
}

/**
 * Copies a user's attributes onto every device the user holds, a chunk of
 * devices per transaction (a Moodle site's one user may hold thousands). Each
 * transaction reads the user's document again, so that of two changes racing
 * the later one's attributes are what every device ends with; and a device
 * is written only while it still belongs to the user (it may have been
 * re-registered by someone else since the query) and its copy differs. A
 * device registered meanwhile either read the new attributes in its own
 * transaction or committed before the query below, which then finds it.
 * Devices are read raw: one malformed device document must not stop the copy.
 */
async function copyToDevices(userId: string): Promise<number> {
  const devices = db().collection(COLLECTIONS.devices);
  const ids = (await devices.where("userId", "==", userId).select().get()).docs.map((doc) => doc.id);
  let updated = 0;
  for (let i = 0; i < ids.length; i += COPY_CHUNK) {
    const refs = ids.slice(i, i + COPY_CHUNK).map((id) => devices.doc(id));
    updated += await runTransaction("copyAttributes", async (tx) => {
      const [attributes, snapshots] = await Promise.all([readUserAttributes(tx, userId), tx.getAll(...refs)]);
      const stale = snapshots.filter((snapshot: DocumentSnapshot) => snapshot.exists && snapshot.get("userId") === userId && !sameAttributes(snapshot.get("attributes"), attributes));
      for (const snapshot of stale) tx.update(snapshot.ref, { attributes });
      return stale.length;
    });
  }
  return updated;
}
