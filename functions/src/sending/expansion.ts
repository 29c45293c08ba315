import { createHash } from "node:crypto";
import { Timestamp, type DocumentData } from "firebase-admin/firestore";
import { getFunctions } from "firebase-admin/functions";
import { logger } from "firebase-functions";
import { z } from "zod";
import { describeZodError } from "../shared/callable";
import { adminApp } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { EXPANSION_PARTS, EXPANSION_SENDS, EXPANSION_TIME_BUDGET_SECONDS } from "../shared/params";
import { expansionParts, messageRef, recipientsCollection } from "../messages/collection";
import { messageDoc, type ExpansionPartDoc } from "../messages/schema";
import { pageIdFor, sendPage } from "../delivery/pages";
import { readQuotaWait } from "../ops/fcm";
import { budgetSpentUntil } from "../ops/fcmBudget";
import { readSwitch } from "../ops/pause";
import { inTenant, messageTenant, partPages, type AudienceDevice } from "./audience";
import { planParts } from "./parts";
import { pageRecipients, writePendingRecipients, writeRecipientPage, type PageOptions } from "./recipients";
import { sendMessageInput, type SendMessageInput } from "./schema";
import { machineTranslationOff } from "../languages/machine";

/*
 * Background expansion of a message's audience into recipient documents.
 * Every message document created with an `audience` and no recipients yet —
 * by sendMessage, POST /v1/messages, or written directly (Firebase console,
 * a script) — takes this one path: the creation trigger validates it and
 * starts one task per part (parts.ts); each part task streams its devices,
 * sends them chunk by chunk (delivery/pages.ts: the recipient documents are
 * written behind the sends) or, when the message is not due or delivery is
 * stopped, writes them pending for the dispatch, and records its cursor on
 * its part document after each chunk; the last part to finish sets the
 * message's recipientCount.
 */

export const EXPANSION_FUNCTION = "expandAudience";
/** The expansion task function's time limit (functions/expandAudience.ts), and its tasks' dispatch deadline. */
export const EXPANSION_TIMEOUT_SECONDS = 540;

/** What an expansion task carries: the part to work on; `generation` counts its re-enqueues after a time budget. */
export const expansionTask = z.strictObject({
  messageId: z.string().min(1),
  part: z.number().int().min(0),
  generation: z.number().int().min(0),
});
export type ExpansionTask = z.infer<typeof expansionTask>;

const partId = (part: number) => String(part).padStart(2, "0");

/*
 * Expansion tasks have their own queue (the `expandAudience` function) and
 * one id scheme, beside the dispatch queue's schemes (delivery/tasks.ts):
 *
 * | id | made by                                  | keyed by                      | runs    |
 * |----|------------------------------------------|-------------------------------|---------|
 * | x  | message trigger (generation 0); a part   | message, part, generation     | at once |
 * |    | whose time budget is spent (its next)    |                               |         |
 *
 * A trigger delivered twice, or a task retried after it re-enqueued its
 * successor, asks for a task that already exists and gets nothing new.
 */
async function enqueuePart(task: ExpansionTask): Promise<void> {
  await enqueueOnExpansionQueue(task, `x-${createHash("sha256").update(`${task.messageId}\u0000${task.part}\u0000${task.generation}`).digest("hex").slice(0, 32)}`);
}

/** One task on the expansion queue (a part, or a resend's writer: resend.ts) under its id; one that exists already is not asked for again. */
export async function enqueueOnExpansionQueue(task: Record<string, unknown>, id: string): Promise<void> {
  try {
    // The deadline is the function's own time limit: the Cloud Tasks emulator's default (60 s) would cut a
    // task short of its time budget and run it again beside itself.
    await getFunctions(adminApp()).taskQueue(EXPANSION_FUNCTION).enqueue(task, { id, dispatchDeadlineSeconds: EXPANSION_TIMEOUT_SECONDS });
  } catch (err) {
    if ((err as { code?: string }).code !== "functions/task-already-exists") throw err;
  }
}

/**
 * The generation of a task the sweep enqueues again after its chain died:
 * one of its own per minute, so that it is a new task id (a dead task's id
 * stays taken in Cloud Tasks for a while) and a second sweep within the
 * minute asks for nothing more.
 */
export function rescueGeneration(nowMs: number): number {
  return 1_000_000 + Math.floor(nowMs / 60_000);
}

/** Enqueues a part again after its task chain died (the sweep's backstop, stranded.ts). */
export async function resumePart(messageId: string, part: number, nowMs: number): Promise<void> {
  await enqueuePart({ messageId, part, generation: rescueGeneration(nowMs) });
}

/** The fields of a message document that sendMessage's input also has (idempotencyKey aside: it is the sender's, not the message's). */
const INPUT_FIELDS = Object.keys(sendMessageInput.shape).filter((key) => key !== "idempotencyKey");

export type Validation = { ok: true; input: SendMessageInput } | { ok: false; field: string; message: string };

/**
 * A message document checked with the schema sendMessage uses, so a document
 * written directly is held to exactly what the callable accepts. Firestore
 * types are taken as they come: `sendAt` may be a Timestamp (or null).
 * The delivery's own schema of the document is checked too (the fields only
 * a document has, such as the localized-alert keys).
 */
export function validateMessageDocument(raw: DocumentData): Validation {
  const input: Record<string, unknown> = {};
  for (const key of INPUT_FIELDS) if (raw[key] !== undefined && raw[key] !== null) input[key] = raw[key];
  if (input.sendAt instanceof Timestamp) input.sendAt = input.sendAt.toDate().toISOString();
  else if (input.sendAt instanceof Date) input.sendAt = input.sendAt.toISOString();
  const parsed = sendMessageInput.safeParse(input);
  if (!parsed.success) return { ok: false, ...describeZodError(parsed.error) };
  const stored = messageDoc.safeParse(raw);
  if (!stored.success) return { ok: false, ...describeZodError(stored.error) };
  const off = parsed.data.autoTranslate ? machineTranslationOff() : undefined;
  if (off) return { ok: false, field: "autoTranslate", message: off };
  return { ok: true, input: parsed.data };
}

/** True for a document the expansion is for: it names an audience and its recipients are not written yet. */
export function needsExpansion(raw: DocumentData | undefined): raw is DocumentData {
  return raw !== undefined && raw.audience !== undefined && !(raw.recipientsWrittenAt instanceof Timestamp) && !raw.invalid;
}

/**
 * The creation trigger's work: validate, then create the part documents and
 * enqueue their tasks. Safe to run twice: the parts are created in a
 * transaction only if none exist, and the tasks have fixed ids.
 */
export async function startExpansion(messageId: string, raw: DocumentData | undefined): Promise<void> {
  if (!needsExpansion(raw)) return;
  const ref = messageRef(messageId);
  const checked = validateMessageDocument(raw);
  if (!checked.ok) {
    await ref.update({ invalid: { field: checked.field, message: checked.message }, recipientCount: 0 });
    logger.warn("expansion: message document invalid; nothing is sent", { messageId, field: checked.field });
    return;
  }
  const specs = planParts(inTenant(messageTenant(raw.tenant), checked.input.audience), EXPANSION_PARTS.value());
  const parts = expansionParts(messageId);
  await runTransaction("startExpansion", async (tx) => {
    const existing = await tx.get(parts.limit(1));
    if (!existing.empty) return;
    const now = Timestamp.now();
    specs.forEach((spec, part) => tx.create(parts.doc(partId(part)), { spec, cursor: null, written: 0, done: false, stopped: null, updatedAt: now }));
    // A document written directly has neither field: null says "being written" to reports and the console.
    tx.update(ref, { recipientCount: null, recipientsWrittenAt: null });
  });
  await Promise.all(specs.map((_, part) => enqueuePart({ messageId, part, generation: 0 })));
  logger.info("expansion: started", { messageId, parts: specs.length, kind: Object.keys(checked.input.audience)[0] });
}

/** What one chunk of a part came to. */
interface Chunk {
  /** Pending recipients this run created (a rival run of the chunk created the rest). */
  created: number;
  /** Recipients of the page sent for the chunk (their documents are written by its record task): counted once, by the run whose checkpoint lands. */
  sent: number;
}

interface PageOutcome {
  /** Another run of this part moved its cursor first: it owns the part now. */
  lost: boolean;
  done: boolean;
  cancelled: boolean;
  /** Set when this page finished the last part: what the parts wrote in all. */
  total?: number;
}

/**
 * Records one chunk on the part document (the checkpoint), in a transaction
 * on that document alone. `written` always grows by the pending recipients
 * this run created (a rival run of the same chunk created the rest), and by
 * the recipients of the chunk's sent page only when this run's checkpoint
 * lands (a page is counted once, by whichever run moves the cursor past it).
 * The cursor moves only if it is still where this run started, so two runs
 * of one part never both go on. A part that ends settles the message's count
 * (settleParts), in a transaction of its own: a checkpoint that also read the
 * message and its sibling parts could wait on their checkpoints while they
 * waited on it.
 *
 * The message's `cancelledAt` is read before the transaction: a cancel that
 * lands meanwhile is seen by the next chunk, which reads the message first.
 */
async function checkpoint(messageId: string, part: number, from: string | null, page: { next: string | undefined; read: boolean }, chunk: Chunk): Promise<PageOutcome> {
  const { next } = page;
  const finished = page.read && next === undefined;
  const ref = expansionParts(messageId).doc(partId(part));
  const cancelled = (await messageRef(messageId).get()).get("cancelledAt") instanceof Timestamp;
  const outcome = await runTransaction("checkpoint", async (tx): Promise<PageOutcome> => {
    const current = (await tx.get(ref)).data();
    if (!current) return { lost: true, done: true, cancelled };
    const now = Timestamp.now();
    if (current.done || current.cursor !== from) {
      tx.update(ref, { written: current.written + chunk.created, updatedAt: now });
      return { lost: true, done: current.done, cancelled };
    }
    const done = finished || cancelled;
    const update: Partial<ExpansionPartDoc> = { cursor: next ?? from, written: current.written + chunk.created + chunk.sent, done, updatedAt: now, ...(cancelled && !finished && { stopped: "cancelled" }) };
    tx.update(ref, update);
    return { lost: false, done, cancelled };
  });
  if (outcome.lost || !outcome.done) return outcome;
  const total = await settleParts(messageId);
  return total === undefined ? outcome : { ...outcome, total };
}

/**
 * Once every part is done, the message's `recipientCount` (what the parts
 * wrote in all) and `recipientsWrittenAt`; undefined while a part is still
 * going or once settled. Run by each part that ends: the last one to end
 * sees every part done. A part task run again after it ended (its run died
 * between the checkpoint and this) settles too, so no message is left
 * "being written".
 */
async function settleParts(messageId: string): Promise<number | undefined> {
  return runTransaction("settleParts", async (tx) => {
    const [message, snapshot] = await Promise.all([tx.get(messageRef(messageId)), tx.get(expansionParts(messageId))]);
    const parts = snapshot.docs.map((doc) => doc.data());
    if (message.get("recipientsWrittenAt") instanceof Timestamp || parts.length === 0 || parts.some((p) => !p.done)) return undefined;
    const total = parts.reduce((sum, p) => sum + p.written, 0);
    tx.update(messageRef(messageId), { recipientCount: total, recipientsWrittenAt: Timestamp.now() });
    return total;
  });
}

/**
 * One part task: its devices from the part's cursor, one stream (audience.ts)
 * read in chunks (100 first, then 500), each chunk sent or written pending
 * (deliverChunk) and then recorded (one transaction on the part document per
 * chunk: the checkpoint), until the part is done, the message is cancelled,
 * or the time budget is spent (then the successor task goes on from the
 * cursor). A task that dies mid-chunk is retried by Cloud Tasks and does that
 * chunk again: its page document keeps it from being sent twice, and pending
 * recipients are created with `create` under per-device ids, so nothing is
 * written twice.
 */
export async function expandPart(task: ExpansionTask): Promise<void> {
  const { messageId, part } = task;
  const deadline = Date.now() + EXPANSION_TIME_BUDGET_SECONDS.value() * 1000;
  const [messageSnap, partSnap] = await Promise.all([messageRef(messageId).get(), expansionParts(messageId).doc(partId(part)).get()]);
  const state = partSnap.data();
  if (!messageSnap.exists || !state) {
    logger.warn("expansion: part task for a message or part that does not exist; dropped", { messageId, part });
    return;
  }
  if (state.done) {
    const total = await settleParts(messageId);
    if (total !== undefined) await settleCount(messageId, total);
    return;
  }
  const checked = validateMessageDocument(messageSnap.data() ?? {});
  if (!checked.ok) {
    logger.error("expansion: message no longer valid; part dropped", { messageId, part, field: checked.field });
    return;
  }
  const tenant = messageTenant(messageSnap.get("tenant"));
  const audience = inTenant(tenant, checked.input.audience);
  const { category, vars, urgency, sendAtLocal, sendAt } = checked.input;
  let cursor = state.cursor;
  let pages = 0;
  const finish = async (outcome: PageOutcome) => {
    if (outcome.total !== undefined) await settleCount(messageId, outcome.total);
    logger.info("expansion: part finished", { messageId, part, pages, lost: outcome.lost, cancelled: outcome.cancelled });
  };
  // Cancelled before this part began: it stops where it is, reading nothing.
  if (messageSnap.get("cancelledAt") instanceof Timestamp) return finish(await checkpoint(messageId, part, cursor, { next: undefined, read: false }, { created: 0, sent: 0 }));
  // The last chunk has no `next`, so recording it (or any chunk once the message is cancelled) ends the part.
  for await (const page of partPages(audience, state.spec, cursor ?? undefined, tenant)) {
    const chunk = await deliverChunk({ messageId, category, vars, tenant, urgency, sendAtLocal, ...(sendAt && { sendAtMs: sendAt.getTime() }) }, part, cursor, page.devices);
    const outcome = await checkpoint(messageId, part, cursor, { next: page.next, read: true }, chunk);
    pages += 1;
    if (outcome.lost || outcome.done) return finish(outcome);
    cursor = page.next ?? cursor;
    if (Date.now() > deadline) {
      await enqueuePart({ messageId, part, generation: task.generation + 1 });
      logger.info("expansion: time budget spent; successor enqueued", { messageId, part, pages, generation: task.generation + 1 });
      return;
    }
  }
}

/**
 * One chunk of a part's devices. A message due now, while delivery runs, is
 * sent from the chunk itself (delivery/pages.ts): the page is the claim, the
 * recipients are written with their outcomes after the send. A scheduled
 * message, or any while the emergency stop holds, gets pending recipients
 * instead, which the dispatch holds and sends when due. Nothing is written
 * for a message cancelled meanwhile.
 */
async function deliverChunk(options: PageOptions, part: number, cursor: string | null, devices: AudienceDevice[]): Promise<Chunk> {
  const { messageId } = options;
  const [snapshot, deliverySwitch, quotaWait] = await Promise.all([messageRef(messageId).get(), readSwitch(), readQuotaWait()]);
  const raw = snapshot.data();
  if (!raw || raw.cancelledAt instanceof Timestamp) return { created: 0, sent: 0 };
  const message = messageDoc.safeParse(raw);
  const due = !(raw.sendAt instanceof Timestamp) || raw.sendAt.toMillis() <= Date.now();
  // Over FCM's quota or this window's FCM rate, the page is written pending like a paused one: the dispatch sends it when the project may send again.
  if (!EXPANSION_SENDS.value() || !message.success || !due || deliverySwitch.paused || quotaWait !== undefined || budgetSpentUntil("bulk") !== undefined) return { created: await writeRecipientPage(options, devices), sent: 0 };
  // Devices whose local time or quiet hours hold them get pending recipients, not before their moment (sending/hours.ts).
  const drafts = await pageRecipients(options, devices);
  const held = await writePendingRecipients(messageId, drafts.filter((r) => r.hold));
  // The page holds who the recipients are; their placeholders' values stay on the message.
  const recipients = drafts.filter((r) => !r.hold).map(({ id, deviceId, userId }) => ({ id, deviceId, userId }));
  if (recipients.length === 0) return { created: held, sent: 0 };
  const known = new Map(devices.flatMap((d) => (d.device ? [[d.deviceId, d.device] as const] : [])));
  const sent = await sendPage({ messageId, pageId: pageIdFor(part, cursor), part, message: message.data, recipients, devices: known });
  if (sent.kind === "busy") {
    // Another run of this part holds the page (or died holding it): Cloud Tasks tries this task again later.
    throw new Error(`page ${pageIdFor(part, cursor)} of message ${messageId} is held by another run until ${new Date(sent.untilMs).toISOString()}`);
  }
  // A page an earlier run made holds the devices the stream gave then: any device added since is written pending.
  const onPage = new Set(sent.recipients.map((r) => r.deviceId));
  const added = sent.earlier ? await writeRecipientPage(options, devices.filter((d) => !onPage.has(d.deviceId))) : 0;
  return { created: held + added, sent: sent.recipients.length };
}

/**
 * The parts' sum is exact unless a run died between writing pending
 * recipients and its checkpoint (its retry finds them already there and
 * does not count them again): a count() of the documents settles that. It
 * only ever raises the sum: the documents of sent pages may still be on their
 * way (record tasks), so fewer may exist yet than the sum rightly says.
 */
async function settleCount(messageId: string, total: number): Promise<void> {
  const counted = (await recipientsCollection(messageId).count().get()).data().count;
  if (counted > total) await messageRef(messageId).update({ recipientCount: counted });
  logger.info("expansion: recipients written", { messageId, recipients: Math.max(counted, total), documents: counted });
}
