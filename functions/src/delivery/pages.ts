import { createHash } from "node:crypto";
import { FieldValue, GrpcStatus, Timestamp, type DocumentData, type DocumentReference } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { localUserId } from "../devices/owner";
import type { DeviceDoc } from "../devices/schema";
import { messageRef, pagesCollection } from "../messages/collection";
import type { MessageDoc, PageDoc, PageRecipient } from "../messages/schema";
import { messageDoc, pageDoc } from "../messages/schema";
import { outcomeWrites } from "../ops/metrics";
import { COLLECTIONS, NO_ANSWER_STATUS, STATUS } from "../shared/contract";
import { COMPACT_BROADCASTS } from "../shared/params";
import { db } from "../shared/firestore";
import { commitFenced, type FencedUpdate } from "../shared/fenced";
import { ended, toUpdate, type Decision, type RecipientUpdate } from "./decide";
import { dispatchSettings, sendClaimed } from "./dispatch";
import type { ClaimedRecipient } from "./claim";
import { enqueueRecordPage, type RecordPageTask } from "./tasks";

/*
 * A page of up to 500 devices that an expansion part sends itself, before any
 * of their recipient documents exist, and records after: the broadcast path
 * (docs/scale.md). Writing a million recipient documents into a new
 * collection is held to Firestore's 500/50/5 ramp (~18 minutes); sending does
 * not wait for that: a page costs one document written before its sendEach
 * and one after, and the recipient documents follow with their outcomes,
 * written by a task of their own while the part sends its next page.
 *
 * The page document is the claim. It is created ("sending", with a lease)
 * before the send, so a part task that runs twice finds it and does not send
 * it again; FCM's answers are stored on it ("sent") before any recipient is
 * written, so whatever dies after that is followed by recording, not sending;
 * "recorded" once every recipient document exists. A page found at "sending"
 * after its lease ran out belonged to a run that died during its sendEach: it
 * is sent again, as a lapsed claim of the dispatch is, and the collapse id
 * derived from each recipient keeps a device that got it the first time to
 * one notification.
 */

/** The id of the page a part sends from `cursor` on (the device id after which its stream started; null at the part's start). */
export function pageIdFor(part: number, cursor: string | null): string {
  return `${String(part).padStart(2, "0")}-${createHash("sha256").update(cursor ?? "").digest("base64url").slice(0, 16)}`;
}

export interface PageInput {
  messageId: string;
  pageId: string;
  part: number;
  message: MessageDoc;
  recipients: PageRecipient[];
  /** The devices as the part's query just read them (any not here is read again before the send). */
  devices?: Map<string, DeviceDoc>;
}

export type PageResult =
  /**
   * The page is sent, and its recipient documents are written or on their
   * way (a record task). `recipients`: the page's own (an earlier run's page
   * may hold other devices than this run's chunk); `earlier`: an earlier run
   * made the page.
   */
  | { kind: "sent"; recipients: PageRecipient[]; earlier: boolean }
  /** Another run holds the page (its lease is running): try again after `untilMs`. */
  | { kind: "busy"; untilMs: number };

type Held =
  | { kind: "send"; page: Pick<PageDoc, "recipients" | "attempt">; writeTime: Timestamp; earlier: boolean }
  | { kind: "sent"; page: PageDoc; updatedAt: Timestamp }
  | { kind: "recorded"; page: PageDoc }
  | { kind: "busy"; untilMs: number };

/** What a recipient becomes if the send gave no answer for it (never expected: sendEach answers every message). */
const NO_OUTCOME: Decision = ended(NO_ANSWER_STATUS, "no outcome was recorded for this recipient");

/** Recipient documents untyped: they are written whole here, with fields the converter would not know. */
function rawRecipients(messageId: string) {
  return db().collection(`${COLLECTIONS.messages}/${messageId}/${COLLECTIONS.recipients}`);
}

/** A recipient's `vars`: its user's values in the message's `vars` (keyed as the sender named the user), if any. */
function varsOf(message: MessageDoc, userId: string | null): { vars?: Record<string, string | number | boolean> } {
  const vars = userId === null ? undefined : message.vars?.[localUserId(message.tenant, userId)];
  return vars ? { vars } : {};
}

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown }).code;
}

/**
 * Sends one page, stores FCM's answers on it and hands its recipient
 * documents to a record task, so the part reads on while they are written;
 * safe to call again for the same page.
 */
export async function sendPage(input: PageInput): Promise<PageResult> {
  const config = dispatchSettings();
  const ref = pagesCollection(input.messageId).doc(input.pageId);
  const task = { messageId: input.messageId, pageId: input.pageId };
  const held = await holdPage(input, config.leaseSeconds);
  if (held.kind === "busy") return held;
  if (held.kind === "recorded") return { kind: "sent", recipients: held.page.recipients, earlier: true };
  if (held.kind === "sent") {
    // Its record task may be spent (it failed every attempt): a page sent long ago is recorded here.
    if (Date.now() - held.updatedAt.toMillis() > 2 * config.leaseSeconds * 1000) await recordPageOutcomes(task);
    else await enqueueRecordPage(task, held.page.attempt);
    return { kind: "sent", recipients: held.page.recipients, earlier: true };
  }

  let outcomes: RecipientUpdate[];
  if (held.page.attempt > config.maxAttempts) {
    // Runs kept dying during this page's send: say so on each recipient instead of trying forever.
    const reason = `worker died during the send ${held.page.attempt - 1} times; delivery unknown`;
    outcomes = held.page.recipients.map(() => toUpdate(ended(NO_ANSWER_STATUS, reason)));
  } else {
    outcomes = await sendRecipients(input, held.page, config.leaseSeconds);
  }
  try {
    await ref.update({ state: "sent", outcomes, updatedAt: Timestamp.now() }, { lastUpdateTime: held.writeTime });
  } catch (err) {
    // Our lease ran out and another run took the page over: it sends and records it.
    if (codeOf(err) === GrpcStatus.FAILED_PRECONDITION) return { kind: "busy", untilMs: Date.now() + config.leaseSeconds * 1000 };
    throw err;
  }
  await enqueueRecordPage(task, held.page.attempt);
  return { kind: "sent", recipients: held.page.recipients, earlier: held.earlier };
}

/**
 * The record task's work: a sent page's recipient documents, each created
 * with its outcome; then the page is "recorded" and its outcomes dropped.
 * Run twice, it writes nothing twice.
 */
export async function recordPageOutcomes(task: RecordPageTask): Promise<void> {
  const ref = db().doc(pagesCollection(task.messageId).doc(task.pageId).path);
  const snapshot = await ref.get();
  if (!snapshot.exists) {
    logger.warn("pages: record task for a page that does not exist; dropped", task);
    return;
  }
  const parsed = pageDoc.safeParse(snapshot.data());
  if (!parsed.success) throw new Error(`page ${ref.path} does not match its schema: ${parsed.error.issues[0]?.message ?? "unknown"}`);
  const page = parsed.data;
  if (page.state !== "sent") {
    if (page.state === "sending") logger.warn("pages: record task for a page not sent yet; dropped", task);
    return;
  }
  // The placeholders' values are the message's (a page holds none: 500 devices of one user would repeat them 500 times).
  const parsedMessage = messageDoc.safeParse((await messageRef(task.messageId).get()).data());
  const message = parsedMessage.success ? parsedMessage.data : undefined;
  if (message && isBroadcast(message)) return recordCompactly(task, ref, page, snapshot.updateTime as Timestamp, message);
  const created = await recordOutcomes(task.messageId, page, message);
  await ref.update({ state: "recorded", outcomes: FieldValue.delete(), created, updatedAt: Timestamp.now() });
  logger.info("pages: recorded", { ...task, recipients: page.recipients.length, created });
}

/** A message to everyone or to a `where` audience: its pages are recorded compactly (unless COMPACT_BROADCASTS is off). Lists of users or devices keep a document per recipient. */
function isBroadcast(message: MessageDoc): boolean {
  return COMPACT_BROADCASTS.value() && message.audience !== undefined && ("all" in message.audience || "where" in message.audience);
}

/**
 * A broadcast's page, recorded compactly: a recipient document only for each
 * recipient that was not accepted (failed, unregistered, or waiting for a
 * retry: what resend-to-failed, the console's failure list and the dispatch
 * work on); the accepted ones stay on the page, their outcomes kept there
 * (sending/lookup.ts answers for them), and are counted in the commit that
 * marks the page recorded, fenced on the page's update time, so a second run
 * counts nothing twice. A broadcast to a million devices then writes a few
 * thousand documents, not a million, and fires no per-recipient trigger for
 * the devices FCM accepted.
 */
async function recordCompactly(task: RecordPageTask, ref: DocumentReference, page: PageDoc, readAt: Timestamp, message: MessageDoc): Promise<void> {
  const outcomes = page.outcomes ?? [];
  const accepted = (i: number) => outcomes[i]?.status === STATUS.accepted;
  const others = page.recipients.flatMap((recipient, i) => (accepted(i) ? [] : [{ recipient, outcome: outcomes[i] ?? toUpdate(NO_OUTCOME) }]));
  const created = await recordOutcomes(task.messageId, { recipients: others.map((o) => o.recipient), outcomes: others.map((o) => o.outcome), attempt: page.attempt }, message);
  const acceptedCount = page.recipients.length - others.length;
  const batch = db().batch();
  batch.update(ref, { state: "recorded", compact: true, accepted: acceptedCount, created, updatedAt: Timestamp.now() }, { lastUpdateTime: readAt });
  const languages = outcomes.flatMap((outcome, i) => (accepted(i) ? [outcome.language] : []));
  for (const side of outcomeWrites(task.messageId, Array<number>(acceptedCount).fill(STATUS.accepted), { batches: others.length === 0 ? 1 : 0, languages })) batch.set(side.ref, side.data, { merge: true });
  try {
    await batch.commit();
  } catch (err) {
    // Another run recorded the page first: it counted the accepted ones.
    if (codeOf(err) === GrpcStatus.FAILED_PRECONDITION) return;
    throw err;
  }
  logger.info("pages: recorded compactly", { ...task, recipients: page.recipients.length, accepted: acceptedCount, created });
}

/**
 * Makes the page this run's to send: creates it, or takes over one whose
 * lease ran out. A page already sent or recorded, or held by a live run, is
 * not sent again.
 */
async function holdPage(input: PageInput, leaseSeconds: number): Promise<Held> {
  const ref = pagesCollection(input.messageId).doc(input.pageId);
  const now = Timestamp.now();
  const leaseExpiresAt = Timestamp.fromMillis(now.toMillis() + leaseSeconds * 1000);
  try {
    const lastDeviceId = input.recipients.reduce((last, r) => (r.deviceId > last ? r.deviceId : last), "");
    const fresh: PageDoc = { state: "sending", part: input.part, attempt: 1, recipients: input.recipients, lastDeviceId, leaseExpiresAt, updatedAt: now };
    const result = await ref.create(fresh);
    return { kind: "send", page: fresh, writeTime: result.writeTime, earlier: false };
  } catch (err) {
    if (codeOf(err) !== GrpcStatus.ALREADY_EXISTS) throw err;
  }
  const snapshot = await db().doc(ref.path).get();
  const parsed = pageDoc.safeParse(snapshot.data());
  if (!parsed.success) throw new Error(`page ${ref.path} does not match its schema: ${parsed.error.issues[0]?.message ?? "unknown"}`);
  const page = parsed.data;
  if (page.state === "recorded") return { kind: "recorded", page };
  if (page.state === "sent") return { kind: "sent", page, updatedAt: page.updatedAt };
  if (page.leaseExpiresAt.toMillis() > Date.now()) return { kind: "busy", untilMs: page.leaseExpiresAt.toMillis() };
  const attempt = page.attempt + 1;
  try {
    const result = await ref.update({ attempt, leaseExpiresAt, updatedAt: now }, { lastUpdateTime: snapshot.updateTime });
    logger.warn("pages: a page whose run died during its send is sent again", { messageId: input.messageId, pageId: input.pageId, attempt });
    return { kind: "send", page: { recipients: page.recipients, attempt }, writeTime: result.writeTime, earlier: true };
  } catch (err) {
    if (codeOf(err) === GrpcStatus.FAILED_PRECONDITION) return { kind: "busy", untilMs: Date.now() + leaseSeconds * 1000 };
    throw err;
  }
}

/** One sendEach for the page (the dispatch's own send: device checks, badges, payloads, token retirement); an outcome per recipient, in page order. */
async function sendRecipients(input: PageInput, page: Pick<PageDoc, "recipients" | "attempt">, leaseSeconds: number): Promise<RecipientUpdate[]> {
  const recipients = rawRecipients(input.messageId);
  const now = Timestamp.now();
  const claimed: ClaimedRecipient[] = page.recipients.map((r) => ({
    id: r.id,
    ref: recipients.doc(r.id),
    data: { deviceId: r.deviceId, userId: r.userId, ...varsOf(input.message, r.userId), status: STATUS.inProcess, attempts: page.attempt - 1, leaseExpiresAt: Timestamp.fromMillis(now.toMillis() + leaseSeconds * 1000) },
    attempt: page.attempt,
    claimedAt: now,
  }));
  const { decisions } = await sendClaimed(input.messageId, input.part, input.message, claimed, dispatchSettings(), input.devices);
  return page.recipients.map((r) => toUpdate(decisions.get(r.id) ?? NO_OUTCOME));
}

/**
 * Creates the page's recipient documents with their outcomes, together with
 * the message's outcome counters and the hour's metrics in the same atomic
 * commits (shared/fenced.ts). A recipient that already exists (written
 * by an earlier run of this page) is left as it is and not counted again.
 * Transient failures are written pending with their `retryAt`: their
 * creation trigger hands them to the dispatch, which retries them.
 */
async function recordOutcomes(messageId: string, page: Pick<PageDoc, "recipients" | "attempt" | "outcomes">, message: MessageDoc | undefined): Promise<number> {
  const recipients = rawRecipients(messageId);
  const outcomes = page.outcomes ?? [];
  const creates: Array<FencedUpdate<RecipientUpdate>> = page.recipients.map((r, i) => {
    const outcome = outcomes[i] ?? toUpdate(NO_OUTCOME);
    const doc: DocumentData = { deviceId: r.deviceId, userId: r.userId, ...(message && varsOf(message, r.userId)), attempts: page.attempt, ...outcome };
    return { ref: recipients.doc(r.id), create: doc, tag: outcome };
  });
  // Counted with their outcomes in the same commits; the page counts as one batch.
  const { landed } = await commitFenced(creates, (chunk, first) => outcomeWrites(messageId, chunk.map((c) => c.tag.status), { batches: first ? 1 : 0, languages: chunk.map((c) => c.tag.language) }), { messageId });
  return landed.length;
}

