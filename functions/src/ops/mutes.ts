import { FieldPath, GrpcStatus, type QueryDocumentSnapshot } from "firebase-admin/firestore";
import { mutesCopy, preferencesDoc, preferencesRef, sameMutes } from "../devices/mutes";
import { APP_TENANT, COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";

/** Devices read per page, with their users' preferences in one getAll. */
const PAGE = 500;

export interface MutesMigration {
  /** App users' devices read. */
  devices: number;
  /** Devices given their user's mutes (written before the copy existed, or holding a stale one). */
  copied: number;
  /** Devices that changed between this read and its write (re-registered, muted meanwhile): left alone; run again to be sure. */
  changed: number;
}

/**
 * Gives every app user's device a copy of its user's muted categories
 * (devices/mutes.ts), [] for a user without preferences, so that no send
 * reads preferences any more and estimates count every muted device. Reads
 * every device once (pages of PAGE by document id) and each page's users'
 * preferences in one getAll; writes only the copies that differ, each on
 * condition that the device is unchanged since it was read, so a mute set
 * or a device registered meanwhile (which wrote the current list) is never
 * overwritten with the list read here. Safe to run again.
 */
export async function migrateMutes(): Promise<MutesMigration> {
  const counts: MutesMigration = { devices: 0, copied: 0, changed: 0 };
  const writer = db().bulkWriter();
  writer.onWriteError((error) => error.code !== GrpcStatus.FAILED_PRECONDITION && error.failedAttempts < 5);
  const writes: Array<Promise<unknown>> = [];
  let cursor: string | undefined;
  for (;;) {
    let query = db().collection(COLLECTIONS.devices).select("userId", "tenant", "mutedCategories").orderBy(FieldPath.documentId()).limit(PAGE);
    if (cursor !== undefined) query = query.startAfter(cursor);
    const page = await query.get();
    const appDevices = page.docs.filter((doc) => typeof doc.get("userId") === "string" && (doc.get("tenant") ?? APP_TENANT) === APP_TENANT);
    counts.devices += appDevices.length;
    const mutes = await mutesOfUsers(appDevices.map((doc) => doc.get("userId") as string));
    for (const doc of appDevices) {
      const mutedCategories = mutes.get(doc.get("userId") as string) ?? [];
      if (sameMutes(mutesCopy(doc.get("mutedCategories")), mutedCategories)) continue;
      writes.push(writeCopy(writer, doc, mutedCategories, counts));
    }
    if (page.size < PAGE) break;
    cursor = page.docs[page.docs.length - 1]?.id;
  }
  await writer.close();
  await Promise.all(writes);
  return counts;
}

/** The muted categories of each of `userIds` that has preferences: one getAll. */
async function mutesOfUsers(userIds: string[]): Promise<Map<string, string[]>> {
  const unique = [...new Set(userIds)];
  const mutes = new Map<string, string[]>();
  if (unique.length === 0) return mutes;
  for (const snapshot of await db().getAll(...unique.map(preferencesRef))) {
    const parsed = preferencesDoc.safeParse(snapshot.data() ?? {});
    if (snapshot.exists && parsed.success) mutes.set(snapshot.id, parsed.data.mutedCategories);
  }
  return mutes;
}

function writeCopy(writer: FirebaseFirestore.BulkWriter, doc: QueryDocumentSnapshot, mutedCategories: string[], counts: MutesMigration): Promise<unknown> {
  return writer.update(doc.ref, { mutedCategories }, { lastUpdateTime: doc.updateTime }).then(
    () => (counts.copied += 1),
    (err: { code?: number }) => {
      if (err.code !== GrpcStatus.FAILED_PRECONDITION) throw err;
      counts.changed += 1;
    },
  );
}
