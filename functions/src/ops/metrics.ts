import { randomInt } from "node:crypto";
import { FieldValue, Timestamp, type DocumentData, type DocumentReference } from "firebase-admin/firestore";
import { z } from "zod";
import { counterRef, countIncrements, finalCountIncrements, randomCounterSlot } from "../messages/counters";
import { COLLECTIONS, STATUS } from "../shared/contract";
import { db, zTimestamp } from "../shared/firestore";
import type { HourRow } from "./schema";

/**
 * Delivery outcomes per hour. Each dispatch batch adds its counts in the same
 * commit as its outcomes (one write per batch, never per recipient), and each
 * sweep adds what it rescued and retired. An hour is spread over METRIC_SLOTS
 * documents (`metrics/{hour}_{slot}`, a slot chosen at random per commit) so
 * that parallel batches do not all write one document: at FCM's quota (~20
 * batches a second, some in two commits) each slot takes under one write a
 * second.
 */
export const METRIC_SLOTS = 32;

const HOUR_MS = 3_600_000;
/** How long an hour's figures are kept: a school year and the start of the next, to compare. A Firestore TTL policy on `metrics.expiresAt` deletes them. */
export const METRICS_RETENTION_DAYS = 400;

/** What every write to an hour's slot sets: which hour, and when the TTL policy may delete it. */
function hourFields(nowMs: number): { hour: Timestamp; expiresAt: Timestamp } {
  const hour = hourStart(nowMs);
  return { hour: Timestamp.fromMillis(hour), expiresAt: Timestamp.fromMillis(hour + METRICS_RETENTION_DAYS * 24 * HOUR_MS) };
}

export const metricsDoc = z.object({
  hour: zTimestamp,
  /** Final statuses by code (200 accepted, -99 unregistered, -4 skipped, -3 cancelled, others failed). */
  counts: z.record(z.string(), z.number()).default({}),
  /** Dispatch batches that sent or settled something. */
  batches: z.number().default(0),
  /** Transient failures sent back to pending for another attempt. */
  retries: z.number().default(0),
  /** Devices retired after FCM rejected their token. */
  tokensRetired: z.number().default(0),
  /** What sweeps did in this hour. */
  sweep: z.record(z.string(), z.number()).default({}),
  /** Devices whose app reported a notification arrived, and was tapped, counted by the receipts' tallies in this hour (each receipt once). */
  received: z.number().default(0),
  opened: z.number().default(0),
});
export type MetricsDoc = z.infer<typeof metricsDoc>;

export function hourStart(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** `2026-12-02T16`: sorts by time, and says which hour (UTC) it is. */
function hourKey(ms: number): string {
  return new Date(hourStart(ms)).toISOString().slice(0, 13);
}

export function metricsRef(ms: number, slot: number): DocumentReference {
  return db().collection(COLLECTIONS.metrics).doc(`${hourKey(ms)}_${slot}`);
}

/** A metrics slot for one commit, at random. */
export function randomSlot(): number {
  return randomInt(METRIC_SLOTS);
}

export interface BatchTally {
  statuses: number[];
  retries: number;
  /** 1 for the first commit of a batch, 0 for the rest of it. */
  batches: number;
}

/** The merge-set that adds one batch's outcomes to its hour; undefined when the batch settled nothing. */
export function batchIncrements(tally: BatchTally, nowMs = Date.now()): DocumentData | undefined {
  const counts = finalCountIncrements(tally.statuses);
  if (Object.keys(counts).length === 0 && tally.retries === 0) return undefined;
  return {
    ...hourFields(nowMs),
    counts,
    ...(tally.batches > 0 && { batches: FieldValue.increment(tally.batches) }),
    ...(tally.retries > 0 && { retries: FieldValue.increment(tally.retries) }),
  };
}

export interface SideWrite {
  ref: DocumentReference;
  data: DocumentData;
}

/**
 * What a set of recipient status changes of one message adds, to be committed
 * with them: one of its outcome counters (final statuses) and one of the
 * hour's metrics slots (final statuses, retries, and `batches` once per
 * batch), each chosen at random: one write each per commit.
 */
export function outcomeWrites(messageId: string, statuses: number[], options: { batches?: number; languages?: Array<string | undefined> } = {}, nowMs = Date.now()): SideWrite[] {
  const writes: SideWrite[] = [];
  const counts = countIncrements(statuses, options.languages);
  if (counts) writes.push({ ref: counterRef(messageId, randomCounterSlot()), data: counts });
  const retries = statuses.filter((status) => status === STATUS.pending).length;
  const metrics = batchIncrements({ statuses, retries, batches: options.batches ?? 0 }, nowMs);
  if (metrics) writes.push({ ref: metricsRef(nowMs, randomSlot()), data: metrics });
  return writes;
}

/**
 * What a receipts tally adds to the hour (the receipts counted since the
 * message's previous tally), to be committed with the tally's summary so
 * that each receipt is counted once; undefined when it adds nothing. One
 * write per tally, to a slot at random.
 */
export function receiptWrite(added: { received: number; opened: number }, nowMs = Date.now()): SideWrite | undefined {
  if (added.received <= 0 && added.opened <= 0) return undefined;
  return {
    ref: metricsRef(nowMs, randomSlot()),
    data: {
      ...hourFields(nowMs),
      ...(added.received > 0 && { received: FieldValue.increment(added.received) }),
      ...(added.opened > 0 && { opened: FieldValue.increment(added.opened) }),
    },
  };
}

/** The merge-set that adds token retirements to an hour. */
export function retirementIncrements(retired: number, nowMs = Date.now()): DocumentData {
  return { ...hourFields(nowMs), tokensRetired: FieldValue.increment(retired) };
}

/**
 * Adds a sweep's figures (the non-zero ones) to the current hour. The final
 * statuses a sweep sets are counted with them, in its transactions.
 */
export async function recordSweep(figures: Record<string, number>, nowMs = Date.now()): Promise<void> {
  const sweep: Record<string, FieldValue> = {};
  for (const [name, n] of Object.entries(figures)) if (n > 0) sweep[name] = FieldValue.increment(n);
  if (Object.keys(sweep).length === 0) return;
  await metricsRef(nowMs, 0).set({ ...hourFields(nowMs), sweep }, { merge: true });
}

/** The last `hours` hours (the current one included), oldest first, every hour present even when empty. */
export async function readHours(hours: number, nowMs = Date.now()): Promise<HourRow[]> {
  const first = hourStart(nowMs) - (hours - 1) * HOUR_MS;
  const snapshot = await db().collection(COLLECTIONS.metrics).where("hour", ">=", Timestamp.fromMillis(first)).get();
  const rows = new Map<number, HourRow>();
  for (let at = first; at <= hourStart(nowMs); at += HOUR_MS) {
    rows.set(at, { hour: new Date(at).toISOString(), counts: {}, batches: 0, retries: 0, tokensRetired: 0, sweep: {}, received: 0, opened: 0 });
  }
  for (const doc of snapshot.docs) {
    const parsed = metricsDoc.safeParse(doc.data());
    if (!parsed.success) continue;
    const row = rows.get(parsed.data.hour.toMillis());
    if (!row) continue;
    for (const [code, n] of Object.entries(parsed.data.counts)) row.counts[code] = (row.counts[code] ?? 0) + n;
    for (const [name, n] of Object.entries(parsed.data.sweep)) row.sweep[name] = (row.sweep[name] ?? 0) + n;
    row.batches += parsed.data.batches;
    row.retries += parsed.data.retries;
    row.tokensRetired += parsed.data.tokensRetired;
    row.received += parsed.data.received;
    row.opened += parsed.data.opened;
  }
  return [...rows.values()];
}
