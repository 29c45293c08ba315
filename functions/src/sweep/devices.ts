import { Timestamp, type Query, type QueryDocumentSnapshot, type Transaction } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import type { z } from "zod";
import { deviceDoc } from "../devices/schema";
import { COLLECTIONS, type RetiredReason } from "../shared/contract";
import { db } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { daysBefore, outOfTime, type SweepContext } from "./context";

/** Only the fields the sweep decides on are parsed: a device malformed elsewhere is still swept. */
const lifecycle = deviceDoc.pick({ retired: true, retiredAt: true, updatedAt: true });
type Lifecycle = z.infer<typeof lifecycle>;

export interface DevicePass {
  changed: number;
  done: boolean;
}

function devices() {
  return db().collection(COLLECTIONS.devices);
}

/**
 * Walks `query` page by page; each page is re-read in one transaction and
 * `change` is applied to the documents for which `still` holds on the fresh
 * read, so a device re-registered between the query and the write is left
 * alone, and two sweeps at once change each device once.
 */
async function sweepPages(
  ctx: SweepContext,
  query: Query,
  still: (device: Lifecycle) => boolean,
  change: (tx: Transaction, snapshot: FirebaseFirestore.DocumentSnapshot) => void,
): Promise<DevicePass> {
  const result: DevicePass = { changed: 0, done: false };
  let malformed = 0;
  let cursor: QueryDocumentSnapshot | undefined;
  while (!outOfTime(ctx)) {
    const page = await (cursor ? query.startAfter(cursor) : query).limit(ctx.pageSize).get();
    cursor = page.docs[page.size - 1];
    if (page.size > 0) {
      const outcome = await runTransaction("sweepDevice", async (tx) => {
        const snapshots = await tx.getAll(...page.docs.map((doc) => doc.ref));
        let changed = 0;
        let bad = 0;
        for (const snapshot of snapshots) {
          if (!snapshot.exists) continue;
          const parsed = lifecycle.safeParse(snapshot.data());
          if (!parsed.success) bad += 1;
          if (!parsed.success || !still(parsed.data)) continue;
          change(tx, snapshot);
          changed += 1;
        }
        return { changed, bad };
      });
      result.changed += outcome.changed;
      malformed += outcome.bad;
    }
    if (page.size < ctx.pageSize) {
      result.done = true;
      break;
    }
  }
  // Left as they are (the sweep cannot tell what a hand-written value meant), but said, so they can be fixed.
  if (malformed > 0) logger.warn("sweep: devices with malformed retired/retiredAt/updatedAt left alone", { count: malformed });
  return result;
}

/**
 * Retired devices are kept for `retentionDays` (so a late answer about their
 * token still finds them), then deleted. Index: devices (retired, retiredAt).
 */
export function deleteRetiredDevices(ctx: SweepContext, retentionDays: number): Promise<DevicePass> {
  const cutoff = Timestamp.fromMillis(daysBefore(ctx.now, retentionDays));
  const query = devices().where("retired", "==", true).where("retiredAt", "<", cutoff).orderBy("retiredAt");
  return sweepPages(
    ctx,
    query,
    (device) => device.retired && !!device.retiredAt && device.retiredAt.toMillis() < cutoff.toMillis(),
    (tx, snapshot) => tx.delete(snapshot.ref),
  );
}

/**
 * A live device whose token has not been re-registered for `staleDays` is
 * retired as `stale`: apps register their token on every start, so its app is
 * gone. Re-checked on the fresh read: a device re-registered meanwhile has a
 * new `updatedAt` and stays. Index: devices (retired, updatedAt).
 */
export function retireStaleDevices(ctx: SweepContext, staleDays: number): Promise<DevicePass> {
  const cutoff = Timestamp.fromMillis(daysBefore(ctx.now, staleDays));
  const query = devices().where("retired", "==", false).where("updatedAt", "<", cutoff).orderBy("updatedAt");
  const retiredAt = Timestamp.now();
  return sweepPages(
    ctx,
    query,
    (device) => !device.retired && device.updatedAt.toMillis() < cutoff.toMillis(),
    (tx, snapshot) => tx.update(snapshot.ref, { retired: true, retiredAt, retiredReason: "stale" satisfies RetiredReason }),
  );
}
