import { randomInt } from "node:crypto";
import { FieldValue, Timestamp, type DocumentData, type DocumentReference } from "firebase-admin/firestore";
import { counterDoc } from "./progress";
import { COLLECTIONS, isFinalStatus, RECEIPTS_SUMMARY_ID, STATUS } from "../shared/contract";
import { messageRef } from "./collection";

/**
 * A message's outcome counters: up to COUNTER_SLOTS documents, each holding
 * how many recipients reached each final status, summed on read. Every status
 * change that makes a recipient final is committed together with its
 * increment (shared/fenced.ts, or the sweep's transaction), so the counters
 * equal a recount of the recipients at all times, and a report or a live view
 * reads at most COUNTER_SLOTS small documents however large the message is.
 *
 * Each commit adds its counts to one slot chosen at random: a broadcast at
 * FCM's full rate commits about 20 batches a second, so no slot takes more
 * than about one write a second (Firestore's sustained limit per document).
 */
export const COUNTER_SLOTS = 32;

export function countersCollection(messageId: string) {
  return messageRef(messageId).collection(COLLECTIONS.counters);
}

export function counterRef(messageId: string, slot: number): DocumentReference {
  return countersCollection(messageId).doc(String(slot));
}

/** A counter slot for one commit, at random. */
export function randomCounterSlot(): number {
  return randomInt(COUNTER_SLOTS);
}

/** `{ "<code>": increment(n) }` for the final statuses among these; non-final codes are not counted. */
export function finalCountIncrements(statuses: Iterable<number>): Record<string, FieldValue> {
  const tally = new Map<number, number>();
  for (const status of statuses) if (isFinalStatus(status)) tally.set(status, (tally.get(status) ?? 0) + 1);
  const counts: Record<string, FieldValue> = {};
  for (const [status, n] of tally) counts[String(status)] = FieldValue.increment(n);
  return counts;
}

/**
 * `{ "<tag>" | "default": increment(n) }`: the languages accepted recipients'
 * payloads carried (`languages[i]` goes with `statuses[i]`), counted in the
 * same commit as their outcomes, so the report's per-language figures cost
 * no more than its status counts.
 */
export function languageIncrements(statuses: readonly number[], languages: ReadonlyArray<string | undefined> | undefined): Record<string, FieldValue> {
  const tally = new Map<string, number>();
  statuses.forEach((status, i) => {
    const language = languages?.[i];
    if (status === STATUS.accepted && language !== undefined) tally.set(language, (tally.get(language) ?? 0) + 1);
  });
  return Object.fromEntries([...tally].map(([language, n]) => [language, FieldValue.increment(n)]));
}

/** The merge-set that adds these statuses (and the languages of the accepted ones) to a counters document; undefined when none is final. */
export function countIncrements(statuses: readonly number[], languages?: ReadonlyArray<string | undefined>): DocumentData | undefined {
  const counts = finalCountIncrements(statuses);
  if (Object.keys(counts).length === 0) return undefined;
  const served = languageIncrements(statuses, languages);
  return { counts, ...(Object.keys(served).length > 0 && { languages: served }), updatedAt: Timestamp.now() };
}

/** The final-status counts of a message, summed over its shards' counter documents. */
export async function readFinalCounts(messageId: string): Promise<Record<string, number>> {
  return (await readCounters(messageId)).finalCounts;
}

/**
 * The message's counter documents in one query: the final-status counts
 * summed over the slots, and the receipts summary (its own document among
 * them, not a slot: messages/receipts.ts) as it was stored.
 */
export async function readCounters(messageId: string): Promise<{ finalCounts: Record<string, number>; receiptSummary: DocumentData | undefined; languages: Record<string, number> }> {
  const snapshot = await countersCollection(messageId).get();
  const total: Record<string, number> = {};
  const languages: Record<string, number> = {};
  let receiptSummary: DocumentData | undefined;
  for (const doc of snapshot.docs) {
    if (doc.id === RECEIPTS_SUMMARY_ID) {
      receiptSummary = doc.data();
      continue;
    }
    const parsed = counterDoc.safeParse(doc.data());
    if (!parsed.success) continue;
    for (const [code, n] of Object.entries(parsed.data.counts)) total[code] = (total[code] ?? 0) + n;
    for (const [language, n] of Object.entries(parsed.data.languages ?? {})) languages[language] = (languages[language] ?? 0) + n;
  }
  return { finalCounts: total, receiptSummary, languages };
}
