import { FieldPath } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { z } from "zod";
import { messageStates, pagesCollection, recipientsCollection } from "../messages/collection";
import { receiptsCollection, receiptTimes } from "../messages/receipts";
import { assertMayManage, type Sender } from "../sending/sender";
import { db } from "../shared/firestore";
import { STATUS, type ReceiptStage } from "../shared/contract";
import type { ReceiptListItem, ReceiptListPage } from "./schema";

/*
 * The recipients FCM accepted, at one stage of the funnel ("not received",
 * "not opened": the list a teacher follows up; "opened"). Accepted
 * recipients live in two places: recipient documents with status 200 (lists
 * of users or devices, rows a job wrote) and a broadcast's compact pages,
 * which hold their accepted devices (delivery/pages.ts). A call walks the
 * documents, then the pages, reading each chunk's receipts with one getAll,
 * and stops once it has ITEMS_WANTED items or has read READS_PER_CALL
 * documents: its cost is bounded whatever the audience, and a page of the
 * answer may hold fewer items than were read (the rest were at another stage).
 */

/** Recipient documents read per chunk (and as many receipts). */
const DOCUMENTS_PER_CHUNK = 200;
/** A call stops after about this many items… */
const ITEMS_WANTED = 100;
/** …or this many documents read (a chunk is at most a page of 500 and its 500 receipts). */
const READS_PER_CALL = 2000;

/** Where the walk goes on: after a recipient document, or after a compact page. */
const cursor = z.strictObject({ source: z.enum(["documents", "pages"]), after: z.string().min(1).max(1500).optional() });
type Cursor = z.infer<typeof cursor>;

const encode = (at: Cursor) => Buffer.from(JSON.stringify(at)).toString("base64url");

function decode(token: string | undefined): Cursor {
  if (token === undefined) return { source: "documents" };
  try {
    return cursor.parse(JSON.parse(Buffer.from(token, "base64url").toString("utf8")));
  } catch {
    throw new HttpsError("invalid-argument", "Invalid \"pageToken\": pass the nextPageToken of the previous answer.", { field: "pageToken" });
  }
}

function atStage(stage: ReceiptStage, item: ReceiptListItem): boolean {
  if (stage === "not-received") return item.receivedAt === null;
  if (stage === "not-opened") return item.openedAt === null;
  return item.openedAt !== null;
}

interface Chunk {
  accepted: Array<{ deviceId: string; userId: string | null }>;
  reads: number;
  next: Cursor | null;
}

async function documentsChunk(messageId: string, after: string | undefined): Promise<Chunk> {
  let query = recipientsCollection(messageId).where("status", "==", STATUS.accepted).orderBy(FieldPath.documentId()).limit(DOCUMENTS_PER_CHUNK);
  if (after) query = query.startAfter(after);
  const snapshot = await query.get();
  const last = snapshot.docs.at(-1);
  return {
    accepted: snapshot.docs.map((doc) => ({ deviceId: doc.data().deviceId, userId: doc.data().userId ?? null })),
    reads: Math.max(1, snapshot.size),
    next: snapshot.size === DOCUMENTS_PER_CHUNK && last ? { source: "documents", after: last.id } : { source: "pages" },
  };
}

async function pageChunk(messageId: string, after: string | undefined): Promise<Chunk> {
  let query = pagesCollection(messageId).where("compact", "==", true).orderBy(FieldPath.documentId()).limit(1);
  if (after) query = query.startAfter(after);
  const page = (await query.get()).docs[0];
  if (!page) return { accepted: [], reads: 1, next: null };
  const { recipients, outcomes = [] } = page.data();
  return {
    accepted: recipients.filter((_, i) => outcomes[i]?.status === STATUS.accepted).map((r) => ({ deviceId: r.deviceId, userId: r.userId })),
    reads: 1,
    next: { source: "pages", after: page.id },
  };
}

/** One page of the accepted recipients of a message the sender may manage, at `stage`. */
export async function listRecipientsByReceipt(sender: Sender, messageId: string, stage: ReceiptStage, pageToken?: string): Promise<ReceiptListPage> {
  let at: Cursor | null = decode(pageToken);
  assertMayManage(sender, (await messageStates().doc(messageId).get()).data());
  const items: ReceiptListItem[] = [];
  let reads = 0;
  while (at && items.length < ITEMS_WANTED && reads < READS_PER_CALL) {
    const chunk: Chunk = at.source === "documents" ? await documentsChunk(messageId, at.after) : await pageChunk(messageId, at.after);
    at = chunk.next;
    reads += chunk.reads + chunk.accepted.length;
    if (chunk.accepted.length === 0) continue;
    const receipts = await db().getAll(...chunk.accepted.map((r) => receiptsCollection(messageId).doc(r.deviceId)));
    chunk.accepted.forEach((recipient, i) => {
      const item = { ...recipient, ...receiptTimes(receipts[i]?.data()) };
      if (atStage(stage, item)) items.push(item);
    });
  }
  return { items, nextPageToken: at ? encode(at) : null };
}
