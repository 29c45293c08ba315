import { FieldPath, Timestamp, type DocumentData } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { STATUS } from "../shared/contract";
import { commitFenced } from "../shared/fenced";
import { db } from "../shared/firestore";
import { SHARDS } from "../shared/params";
import { messagesCollection, recipientsCollection } from "../messages/collection";
import { readFinalCounts } from "../messages/counters";
import { outcomeWrites } from "../ops/metrics";
import { shardOf, type ShardRange } from "../delivery/shards";
import { assertMayManage, type Sender } from "./sender";

const PAGE = 500;
/** Rounds of re-reading before giving up on recipients that keep changing under us; dispatch finishes any left. */
const MAX_ROUNDS = 50;

/**
 * Moves the message's pending (-1) recipients to cancelled (-3), page by page.
 * Each update is a compare-and-set on the update time the query read (as the
 * dispatch's claims are), so a recipient claimed meanwhile (-2, in flight) or
 * already sent is never touched: only -1 → -3. Returns how many it moved.
 */
export async function cancelPending(messageId: string, range?: ShardRange): Promise<number> {
  const shards = SHARDS.value();
  let moved = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let query = recipientsCollection(messageId).where("status", "==", STATUS.pending).orderBy(FieldPath.documentId());
    if (range?.from !== undefined) query = query.where(FieldPath.documentId(), ">=", range.from);
    if (range?.to !== undefined) query = query.where(FieldPath.documentId(), "<", range.to);
    const snapshot = await query.limit(PAGE).get();
    if (snapshot.empty) return moved;
    const update: DocumentData = { status: STATUS.cancelled, statusMessage: "cancelled by the sender", leaseExpiresAt: null, retryAt: null };
    const { landed } = await commitFenced(
      snapshot.docs.map((doc) => ({ ref: doc.ref, data: update, lastUpdateTime: doc.updateTime, tag: shardOf(doc.id, shards) })),
      (chunk) => {
        // Each shard's cancelled recipients are added to that shard's counters.
        const perShard = new Map<number, number>();
        for (const { tag } of chunk) perShard.set(tag, (perShard.get(tag) ?? 0) + 1);
        return [...perShard].flatMap(([shard, n]) => outcomeWrites(messageId, shard, Array<number>(n).fill(STATUS.cancelled)));
      },
      { messageId, action: "cancel" },
    );
    moved += landed.length;
  }
  logger.warn("cancel: recipients still pending after many rounds; dispatch will cancel them", { messageId });
  return moved;
}

/**
 * Cancels a message: marks it `cancelledAt` (so no dispatch task claims any
 * more of it), then cancels what is pending. Recipients in flight (-2) when
 * the cancel lands are let finish: their batch is already at FCM. Running it
 * twice is harmless.
 */
export async function cancelMessage(sender: Sender, messageId: string): Promise<{ messageId: string; cancelled: number }> {
  const ref = messagesCollection().doc(messageId);
  await db().runTransaction(async (tx) => {
    const message = (await tx.get(ref)).data();
    assertMayManage(sender, message);
    if (!message.cancelledAt) tx.update(ref, { cancelledAt: Timestamp.now() });
  });
  const moved = await cancelPending(messageId);
  // Dispatch tasks that see `cancelledAt` cancel what is pending in their shard too, racing this
  // pass: the answer is every recipient now cancelled, from the counters, not only those moved here.
  const cancelled = (await readFinalCounts(messageId))[String(STATUS.cancelled)] ?? 0;
  logger.info("cancel: message cancelled", { messageId, cancelled, movedHere: moved });
  return { messageId, cancelled };
}
