import { FieldPath, type DocumentReference, type QueryDocumentSnapshot } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { shardCount, shardOf, shardRange } from "../delivery/shards";
import { messageDoc, recipientDoc } from "../messages/schema";
import { COLLECTIONS, NO_ANSWER_STATUS, STATUS } from "../shared/contract";
import { db } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { outcomeWrites } from "../ops/metrics";
import { outOfTime, type SweepContext } from "./context";
import type { Redispatcher } from "./redispatch";

/**
 * The final status of a recipient whose claims kept expiring until its
 * attempts were spent. No answer from FCM was ever recorded for the last
 * attempt, which is what a gateway timeout says (dispatch records a send
 * timeout the same way).
 */
export const LEASE_EXPIRED_STATUS = NO_ANSWER_STATUS;

export interface LeaseSweep {
  /** Moved back to pending (-1) and re-dispatched. */
  requeued: number;
  /** Attempts spent: given the final LEASE_EXPIRED_STATUS. */
  exhausted: number;
  /** Stuck documents the schema rejects; left alone, counted so they show up in the log. */
  malformed: number;
  done: boolean;
}

export function leaseExpiredMessage(attempts: number, lastError: string | null | undefined): string {
  const spent = `worker lease expired after ${attempts} attempt${attempts === 1 ? "" : "s"}`;
  return lastError ? `${spent}; last error: ${lastError}` : `${spent}; no error was recorded`;
}

function recipientsGroup() {
  return db().collectionGroup(COLLECTIONS.recipients);
}

/** The message a recipient document belongs to, or undefined for a `recipients` collection anywhere else. */
function messageIdOf(ref: DocumentReference): string | undefined {
  const message = ref.parent.parent;
  return message && message.parent.id === COLLECTIONS.messages && message.parent.parent === null ? message.id : undefined;
}

/**
 * Recipients at -2 whose lease has run out: the task that claimed them died
 * (or will never write back). Each page is moved in one transaction that
 * re-reads every document and only touches one still at -2 with an expired
 * lease, so a worker finishing late, a new claim, or a second sweep running
 * at the same time is never overwritten. A recipient with attempts left goes
 * back to pending and gets a dispatch task; one whose attempts are spent gets
 * a final status that says what happened.
 *
 * Query: collection group `recipients`, status == -2, leaseExpiresAt < now,
 * ordered by leaseExpiresAt (composite index in firestore.indexes.json).
 */
export async function requeueExpiredLeases(ctx: SweepContext, maxAttempts: number, redispatch: Redispatcher): Promise<LeaseSweep> {
  const result: LeaseSweep = { requeued: 0, exhausted: 0, malformed: 0, done: false };
  let cursor: QueryDocumentSnapshot | undefined;
  while (!outOfTime(ctx)) {
    let query = recipientsGroup()
      .where("status", "==", STATUS.inProcess)
      .where("leaseExpiresAt", "<", ctx.now)
      .orderBy("leaseExpiresAt")
      .limit(ctx.pageSize);
    // Moved documents leave the result, but a document the transaction skipped would not: the cursor makes progress certain.
    if (cursor) query = query.startAfter(cursor);
    const page = await query.get();
    cursor = page.docs[page.size - 1];
    const rows = page.docs.flatMap((doc) => {
      const messageId = messageIdOf(doc.ref);
      return messageId === undefined ? [] : [{ ref: doc.ref, messageId, shard: shardOf(doc.id, redispatch.shards) }];
    });
    if (rows.length > 0) {
      const outcome = await runTransaction("sweepLease", async (tx) => {
        const snapshots = await tx.getAll(...rows.map((row) => row.ref));
        const nowMs = Date.now();
        const moved = { requeued: [] as typeof rows, exhausted: 0, malformed: 0 };
        const exhaustedPerMessage = new Map<string, number>();
        for (const [index, snapshot] of snapshots.entries()) {
          const row = rows[index];
          if (!row || !snapshot.exists) continue;
          const parsed = recipientDoc.safeParse(snapshot.data());
          if (!parsed.success) {
            moved.malformed += 1;
            continue;
          }
          const recipient = parsed.data;
          const lease = recipient.leaseExpiresAt;
          if (recipient.status !== STATUS.inProcess || !lease || lease.toMillis() >= nowMs) continue;
          const attempts = recipient.attempts ?? 0;
          if (attempts >= maxAttempts) {
            tx.update(snapshot.ref, {
              status: LEASE_EXPIRED_STATUS,
              statusMessage: leaseExpiredMessage(attempts, recipient.statusMessage),
              leaseExpiresAt: null,
              retryAt: null,
            });
            moved.exhausted += 1;
            exhaustedPerMessage.set(row.messageId, (exhaustedPerMessage.get(row.messageId) ?? 0) + 1);
          } else {
            // The attempt stays counted: the dead worker may have sent it. statusMessage keeps the last real error.
            tx.update(snapshot.ref, { status: STATUS.pending, leaseExpiresAt: null, retryAt: null });
            moved.requeued.push(row);
          }
        }
        // Final statuses are counted in the same commit that sets them (messages/counters.ts).
        for (const [messageId, n] of exhaustedPerMessage) {
          for (const side of outcomeWrites(messageId, Array<number>(n).fill(LEASE_EXPIRED_STATUS))) tx.set(side.ref, side.data, { merge: true });
        }
        return moved;
      });
      result.requeued += outcome.requeued.length;
      result.exhausted += outcome.exhausted;
      result.malformed += outcome.malformed;
      // Enqueued after the commit, so the task finds them pending. If this enqueue is lost, the pending pass finds them.
      for (const row of outcome.requeued) await redispatch.dispatch(row.messageId, row.shard);
    }
    if (page.size < ctx.pageSize) {
      result.done = true;
      break;
    }
  }
  if (result.malformed > 0) logger.warn("sweep: malformed recipients at -2 left alone", { count: result.malformed });
  return result;
}

export interface PendingSweep {
  /** (message, shard) pairs given a dispatch task. */
  redispatched: number;
  /** Pending recipients whose message document is gone: nothing can send them. */
  orphanedMessages: number;
  done: boolean;
}

/**
 * Pending (-1) recipients whose dispatch task was lost: an enqueue that
 * failed, a task that ran out of retries, a retry that was never scheduled.
 *
 * Recipient documents carry no creation time (writers set only the contract's
 * fields, and the trigger adds none: that would be one more write per
 * recipient), so age is taken from the message: a message due for more than
 * `pendingAfterSeconds` (created that long ago, and its `sendAt`, if any,
 * that long past) that still has pending recipients in a shard gets a
 * dispatch task for that shard. A recipient is never older than its message,
 * and `retryAt` is always later than the message's creation, so no lost
 * recipient escapes this rule; it may give a healthy but slow message a spare
 * task, which is harmless: the task claims only what is due, in a
 * transaction, and schedules the rest. A message scheduled for later is
 * passed over. On the local stack this pass is also what sends a message
 * scheduled further ahead than dispatchBatch waits for an early task (the
 * Cloud Tasks emulator runs every task at once).
 *
 * The pass never reads every pending recipient. It walks the collection group
 * `recipients` (status == -1, in document-path order; a single-field
 * collection-group index on status) one document at a time and jumps: after
 * the first pending recipient of a shard, to the start of the next shard of
 * that message; after a young message, past the whole message. Each step is
 * one small query, so a run costs about one read per (message, shard) that
 * has pending recipients, however many there are.
 */
export async function redispatchPending(ctx: SweepContext, pendingAfterSeconds: number, redispatch: Redispatcher): Promise<PendingSweep> {
  const result: PendingSweep = { redispatched: 0, orphanedMessages: 0, done: false };
  const cutoffMs = ctx.now.toMillis() - pendingAfterSeconds * 1000;
  const shards = redispatch.shards;
  const ages = new Map<string, { exists: boolean; dueSinceMs?: number }>();
  const pending = recipientsGroup().where("status", "==", STATUS.pending).orderBy(FieldPath.documentId());
  /** Where the next step starts: a document path (it need not exist). */
  let from: { path: string; inclusive: boolean } | undefined;
  while (!outOfTime(ctx)) {
    const query = from === undefined ? pending : from.inclusive ? pending.startAt(from.path) : pending.startAfter(from.path);
    const page = await query.select().limit(1).get();
    const doc = page.docs[0];
    if (!doc) {
      result.done = true;
      break;
    }
    const messageId = messageIdOf(doc.ref);
    if (messageId === undefined) {
      // A `recipients` collection that is not under messages/: not ours; step over it.
      from = { path: doc.ref.path, inclusive: false };
      continue;
    }
    let age = ages.get(messageId);
    if (!age) {
      age = await messageAge(messageId);
      ages.set(messageId, age);
    }
    const shard = shardOf(doc.id, shards);
    if (!age.exists) {
      result.orphanedMessages += 1;
      from = await nextMessagePath(messageId);
    } else if (age.dueSinceMs !== undefined && age.dueSinceMs > cutoffMs) {
      // Young, or scheduled for later: its own tasks are still at work.
      from = await nextMessagePath(messageId);
    } else {
      // Old, or of unknown age (a directly written message without createdAt): a spare task is harmless.
      await redispatch.dispatch(messageId, shard);
      result.redispatched += 1;
      const nextShard = shardRange(shard + 1, shards).from;
      from = shard + 1 < shardCount(shards) && nextShard !== undefined ? { path: `${COLLECTIONS.messages}/${messageId}/${COLLECTIONS.recipients}/${nextShard}`, inclusive: true } : await nextMessagePath(messageId);
    }
    if (from === undefined) {
      result.done = true;
      break;
    }
  }
  if (result.orphanedMessages > 0) logger.warn("sweep: pending recipients of deleted messages", { messages: result.orphanedMessages });
  return result;
}

/**
 * Since when a message has been due: its creation, or its `sendAt` when that
 * is later (a scheduled message's own tasks are at work only from then on; one
 * still ahead counts as young). Undefined when neither is readable.
 */
async function messageAge(messageId: string): Promise<{ exists: boolean; dueSinceMs?: number }> {
  const snapshot = await db().collection(COLLECTIONS.messages).doc(messageId).get();
  if (!snapshot.exists) return { exists: false };
  const parsed = messageDoc.pick({ createdAt: true, sendAt: true }).safeParse(snapshot.data());
  if (!parsed.success) return { exists: true };
  const times = [parsed.data.createdAt, parsed.data.sendAt].flatMap((t) => (t ? [t.toMillis()] : []));
  return { exists: true, dueSinceMs: times.length > 0 ? Math.max(...times) : undefined };
}

/**
 * The path of the next message document after `messageId`: in document-path
 * order it comes after every recipient of `messageId` (a path sorts after all
 * paths under its predecessors) and before its own recipients. Undefined at
 * the end.
 */
async function nextMessagePath(messageId: string): Promise<{ path: string; inclusive: boolean } | undefined> {
  const next = await db().collection(COLLECTIONS.messages).orderBy(FieldPath.documentId()).startAfter(messageId).select().limit(1).get();
  const doc = next.docs[0];
  return doc ? { path: doc.ref.path, inclusive: true } : undefined;
}
