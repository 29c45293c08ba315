import { FieldPath, Timestamp } from "firebase-admin/firestore";
import { STATUS } from "../shared/contract";
import { db } from "../shared/firestore";
import { recipientsCollection } from "../messages/collection";
import type { RecipientDoc } from "../messages/schema";
import type { ShardRange } from "./shards";

export interface ClaimedRecipient {
  id: string;
  ref: FirebaseFirestore.DocumentReference<RecipientDoc>;
  data: RecipientDoc;
  /** The attempt this claim starts (1 for a first send). */
  attempt: number;
}

export interface Claim {
  claimed: ClaimedRecipient[];
  /** The page was full: more pending recipients may follow `lastId` in this shard. */
  full: boolean;
  lastId?: string;
  /** Earliest backoff among pending recipients passed over because they are not due yet. */
  nextRetryAt?: Timestamp;
  /** Documents read by the claim (for the benchmark's count). */
  reads: number;
}

/**
 * Claims up to `limit` pending (-1) recipients of one shard of a message:
 * `-1 → -2`, `attempts + 1`, a lease. The query runs inside the transaction,
 * so each document is re-read and changed atomically: a task or trigger
 * delivered twice finds nothing left to claim and sends nothing twice.
 * Recipients still backing off (`retryAt` in the future) are left for later.
 */
export async function claimBatch(messageId: string, range: ShardRange, after: string | undefined, limit: number, leaseSeconds: number): Promise<Claim> {
  let query = recipientsCollection(messageId).where("status", "==", STATUS.pending).orderBy(FieldPath.documentId());
  const from = after ?? range.from;
  if (after !== undefined) query = query.startAfter(after);
  else if (from !== undefined) query = query.where(FieldPath.documentId(), ">=", from);
  if (range.to !== undefined) query = query.where(FieldPath.documentId(), "<", range.to);
  query = query.limit(limit);

  return db().runTransaction(async (tx) => {
    const snapshot = await tx.get(query);
    const now = Timestamp.now();
    const lease = Timestamp.fromMillis(now.toMillis() + leaseSeconds * 1000);
    const claimed: ClaimedRecipient[] = [];
    let nextRetryAt: Timestamp | undefined;
    for (const doc of snapshot.docs) {
      const data = doc.data();
      if (data.retryAt && data.retryAt.toMillis() > now.toMillis()) {
        if (!nextRetryAt || data.retryAt.toMillis() < nextRetryAt.toMillis()) nextRetryAt = data.retryAt;
        continue;
      }
      const attempt = (data.attempts ?? 0) + 1;
      tx.update(doc.ref, { status: STATUS.inProcess, attempts: attempt, leaseExpiresAt: lease });
      claimed.push({ id: doc.id, ref: doc.ref, data, attempt });
    }
    return {
      claimed,
      full: snapshot.size >= limit,
      lastId: snapshot.docs[snapshot.size - 1]?.id,
      nextRetryAt,
      reads: Math.max(1, snapshot.size),
    };
  });
}
