import { Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { devicesCollection } from "../devices/collection";
import { mutedFilter } from "../devices/mutes";
import { retireIfStillHeld } from "../devices/retire";
import { deviceDoc, type DeviceDoc } from "../devices/schema";
import { buildLocalizedFcmMessage, RecipientError } from "../fcm/build";
import { withMachineTranslations } from "../languages/machine";
import { messagingClient } from "../fcm/client";
import { classify, type SendOutcome } from "../fcm/outcome";
import { messageRef } from "../messages/collection";
import { messageDoc, type MessageDoc } from "../messages/schema";
import { metricsRef, outcomeWrites, randomSlot, retirementIncrements } from "../ops/metrics";
import { DEFAULT_QUOTA_WAIT_SECONDS, holdForQuota, readQuotaWait, stopForFcmFault } from "../ops/fcm";
import { budgetSpentUntil, laneOf, takeFcmBudget } from "../ops/fcmBudget";
import { readSwitch } from "../ops/pause";
import { guardRetirements } from "../ops/retirementGuard";
import { describeZodError } from "../shared/callable";
import { APP_TENANT, COLLECTIONS, STATUS, type RetiredReason } from "../shared/contract";
import { commitFenced, type FencedUpdate } from "../shared/fenced";
import { db } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { BATCH_SIZE, FCM_PROJECT_QUOTA_ANSWERS, LEASE_SECONDS, MAX_ATTEMPTS, MESSAGE_WAIT_SECONDS, RETRY_BASE_MS, RETRY_MAX_SECONDS, SHARDS, WINDOW_SECONDS } from "../shared/params";
import { claimBatch, type Claim, type ClaimedRecipient } from "./claim";
import { contendedRetryAt, decideOutcome, ended, latestRetryAt, statusOf, tally, toUpdate, triage, type Decision, type Settings } from "./decide";
import { holdDispatch } from "./hold";
import { shardOf, shardRange } from "./shards";
import { enqueueContinuation, enqueueHeld, enqueueRetry, windowOf, type DispatchTask } from "./tasks";
import { DISPATCH_EARLY_WAIT_MS } from "./eta";
import { announceRetirements, type RetiredDevice } from "../webhooks/events";

/** How often recipients whose message document does not exist yet look for it again (for MESSAGE_WAIT_SECONDS in all). */
const MESSAGE_WAIT_STEP_MS = 5_000;

/** FCM's sendEach takes at most 500 messages. */
const FCM_BATCH_LIMIT = 500;

export interface DispatchSummary {
  messageId: string;
  shard: number;
  claimed: number;
  accepted: number;
  retrying: number;
  final: number;
  reads: number;
  writes: number;
}

/** Documents a step read and wrote (the benchmark's cost per recipient). */
interface Cost {
  reads: number;
  writes: number;
}

/** The delivery params, read once per task. */
export function dispatchSettings(): Settings {
  return {
    batchSize: Math.max(1, Math.min(FCM_BATCH_LIMIT, BATCH_SIZE.value())),
    shards: SHARDS.value(),
    leaseSeconds: LEASE_SECONDS.value(),
    maxAttempts: Math.max(1, MAX_ATTEMPTS.value()),
    retryBaseMs: RETRY_BASE_MS.value(),
    retryMaxMs: RETRY_MAX_SECONDS.value() * 1000,
    windowSeconds: WINDOW_SECONDS.value(),
  };
}

interface Retirement {
  deviceId: string;
  token: string;
  reason: RetiredReason;
}

/**
 * One dispatch task: claim a batch of one shard of a message, send it with one
 * `sendEach`, write every outcome back. Safe to run twice: only pending
 * recipients are claimed, each by a compare-and-set (see claim.ts). The
 * decisions in between are decide.ts's; each step here does one kind of I/O
 * and returns what it did.
 */
export async function dispatchBatch(task: DispatchTask, taskId: string): Promise<DispatchSummary> {
  const config = dispatchSettings();
  const empty: DispatchSummary = { messageId: task.messageId, shard: task.shard, claimed: 0, accepted: 0, retrying: 0, final: 0, reads: 2, writes: 0 };
  const [messageSnapshot, deliverySwitch, fcmQuotaWait] = await Promise.all([messageRef(task.messageId).get(), readSwitch(), readQuotaWait()]);
  if (!messageSnapshot.exists) return awaitMessage(task, taskId, config, empty);
  // A cancelled message claims nothing more; a scheduled one waits for its sendAt.
  if (await holdDispatch(task, messageSnapshot.data(), config.shards)) return empty;
  // The emergency stop: claim nothing, touch nothing. Resuming dispatches every pending shard again.
  if (deliverySwitch.paused) {
    logger.info("dispatch: delivery paused; nothing claimed", { messageId: task.messageId, shard: task.shard });
    return empty;
  }
  // The project is over FCM's quota, or this instance found the window's FCM rate spent: claim nothing, come back when it may send again.
  const quotaWait = fcmQuotaWait ?? budgetSpentUntil(laneOf(messageSnapshot.data() ?? {}));
  if (quotaWait !== undefined) {
    await enqueueRetry({ ...task, contended: undefined }, taskId, Timestamp.fromMillis(quotaWait));
    logger.info("dispatch: waiting for FCM's quota; nothing claimed", { messageId: task.messageId, shard: task.shard, until: new Date(quotaWait).toISOString() });
    return { ...empty, reads: empty.reads + 1 };
  }

  const started = performance.now();
  const claim = await claimBatch(task.messageId, shardRange(task.shard, config.shards), task.after, config.batchSize, config.leaseSeconds);
  const claimed = performance.now();
  await scheduleFollowUps(task, taskId, claim, config);
  if (claim.claimed.length === 0) {
    logger.debug("dispatch: nothing to claim", { messageId: task.messageId, shard: task.shard, waiting: claim.nextRetryAt !== undefined });
    return { ...empty, reads: empty.reads + claim.reads };
  }

  const parsedMessage = messageDoc.safeParse(messageSnapshot.data());
  const followedUp = performance.now();
  let decided: Decided;
  if (parsedMessage.success) decided = await sendClaimed(task.messageId, task.shard, parsedMessage.data, claim.claimed, config);
  else {
    // Every recipient of a malformed message ends with the field at fault.
    const { field, message } = describeZodError(parsedMessage.error);
    const reason = `message document is invalid (${field}): ${message}`;
    decided = { decisions: new Map(claim.claimed.map((r) => [r.id, r.problem ? ended(400, r.problem) : ended(400, reason)])), reads: 0, writes: 0 };
  }

  const sent = performance.now();
  const written = await writeDecisions(task.messageId, task.shard, claim.claimed, decided.decisions);
  const recorded = performance.now();
  const retryAt = latestRetryAt(decided.decisions.values());
  if (retryAt !== undefined) await enqueueRetry({ ...task, contended: undefined }, taskId, Timestamp.fromMillis(retryAt));
  const summary: DispatchSummary = {
    ...empty,
    claimed: claim.claimed.length,
    ...tally(written.landed),
    reads: empty.reads + claim.reads + decided.reads,
    writes: claim.claimed.length + decided.writes + written.writes,
  };
  // Where the batch's time went (ms): the claim, its follow-up enqueues, reading devices and sending, writing outcomes.
  const ms = { claim: Math.round(claimed - started), followUps: Math.round(followedUp - claimed), send: Math.round(sent - followedUp), record: Math.round(recorded - sent) };
  logger.info("dispatch: batch done", { ...summary, full: claim.full, contended: claim.contended, ms });
  return summary;
}

/**
 * Sends recipients a caller has written already claimed (in-process, under a
 * lease: the priority lane, sending/small.ts), as a dispatch batch sends its
 * claim: one sendEach, every outcome written fenced on the claim, and a
 * retry task for each shard with recipients backing off or held.
 */
export async function sendOwnClaims(messageId: string, message: MessageDoc, claimed: ClaimedRecipient[], known: Map<string, DeviceDoc>): Promise<DispatchSummary> {
  const config = dispatchSettings();
  const decided = await sendClaimed(messageId, 0, message, claimed, config, known);
  const written = await writeDecisions(messageId, 0, claimed, decided.decisions);
  const retries = new Map<number, number>();
  for (const recipient of claimed) {
    const decision = decided.decisions.get(recipient.id);
    const at = decision ? latestRetryAt([decision]) : undefined;
    const shard = shardOf(recipient.id, config.shards);
    if (at !== undefined) retries.set(shard, Math.max(retries.get(shard) ?? 0, at));
  }
  await Promise.all([...retries].map(([shard, at]) => enqueueRetry({ messageId, shard }, "lane", Timestamp.fromMillis(at))));
  return { messageId, shard: 0, claimed: claimed.length, ...tally(written.landed), reads: decided.reads, writes: decided.writes + written.writes };
}

/**
 * Further ahead than this, the shard's next task is its one "h" task rather
 * than a retry of this task's own: no longer than dispatchBatch waits for a
 * task that arrives early (which only the emulator does), so an early retry
 * never finds its recipients still not due and asks for yet another.
 */
const HELD_AFTER_MS = DISPATCH_EARLY_WAIT_MS;

/**
 * The shard again when its earliest pending recipient is due: after a short
 * backoff, a retry task of this task's own; later (a long backoff, or a
 * recipient held for its device's local time or quiet hours), the shard's
 * one "h" task for that second.
 */
function enqueueNextDue(task: DispatchTask, taskId: string, at: Timestamp): Promise<string | false> {
  if (at.toMillis() - Date.now() > HELD_AFTER_MS) return enqueueHeld(task, at);
  return enqueueRetry({ ...task, contended: undefined }, taskId, at);
}

/**
 * The tasks a claim leaves behind: the rest of a full shard at once (sent
 * while this batch is), the shard again when its earliest backoff ends, and a
 * quick return for recipients whose claim failed on contention (bounded:
 * after that the sweep's pending pass has them).
 */
async function scheduleFollowUps(task: DispatchTask, taskId: string, claim: Claim, config: Settings): Promise<void> {
  if (claim.full && claim.lastId !== undefined) await enqueueContinuation(task, claim.lastId, windowOf(Date.now(), config.windowSeconds).window);
  if (claim.nextRetryAt) await enqueueNextDue(task, taskId, claim.nextRetryAt);
  if (!claim.contended) return;
  const contended = (task.contended ?? 0) + 1;
  const at = contendedRetryAt(contended, Date.now());
  if (at !== undefined) await enqueueRetry({ ...task, contended }, taskId, Timestamp.fromMillis(at));
  else logger.error("dispatch: claims keep failing; the shard is left to the sweep's pending pass", { messageId: task.messageId, shard: task.shard, contended });
}

/** A decision for every claimed recipient, and what it cost to reach them. */
export interface Decided extends Cost {
  decisions: Map<string, Decision>;
}

/**
 * Which claimed recipients' devices leave out `category`: from the devices
 * just read, each with its copy of its owner's mutes (devices/mutes.ts);
 * only app users' devices (only they have preferences).
 */
async function mutedDevices(devices: Map<string, DeviceDoc>, category: string): Promise<{ isMuted: (device: DeviceDoc) => boolean; reads: number }> {
  const appDevices = [...devices.values()].filter((device) => (device.tenant ?? APP_TENANT) === APP_TENANT);
  const { isMuted, reads } = await mutedFilter(appDevices, category);
  return { isMuted: (device) => (device.tenant ?? APP_TENANT) === APP_TENANT && isMuted(device), reads };
}

/**
 * Reads the devices, ends those that cannot be sent to, sends the rest in one
 * sendEach, and retires dead tokens. Also how an expansion part sends a page
 * of its own (pages.ts), with the devices its query has just read (`known`:
 * not read again); `shard` only picks the metrics slot of retirements.
 */
export async function sendClaimed(messageId: string, shard: number, message: MessageDoc, claimed: ClaimedRecipient[], config: Settings, known?: Map<string, DeviceDoc>): Promise<Decided> {
  const devices = await readDevices(claimed.filter((r) => !r.problem && !known?.has(r.data.deviceId)).map((r) => r.data.deviceId));
  for (const [id, device] of known ?? []) devices.found.set(id, device);
  const decisions = new Map<string, Decision>();
  const live: Array<{ recipient: ClaimedRecipient; device: DeviceDoc }> = [];
  // Recipients written directly (a message without an audience) were never filtered by mutes, as an audience's are.
  const mutes = message.category && message.audience === undefined ? await mutedDevices(devices.found, message.category) : { isMuted: () => false, reads: 0 };
  for (const recipient of claimed) {
    const device = recipient.problem ? undefined : devices.found.get(recipient.data.deviceId);
    const decision = triage(recipient.problem, device) ?? (device && mutes.isMuted(device) ? ended(STATUS.skippedDisabled, "the user muted this category") : undefined);
    if (decision) decisions.set(recipient.id, decision);
    else live.push({ recipient, device: device as DeviceDoc });
  }

  const badges = await assignBadges(message, live.map((l) => l.recipient));
  // autoTranslate: the languages these devices read that the sender did not write, made once per message and language.
  const localized = await withMachineTranslations(messageId, message, live.map((l) => l.device.locale));
  const toSend: Array<{ recipient: ClaimedRecipient; device: DeviceDoc; badge?: number; language?: string }> = [];
  const fcmMessages = [];
  for (const { recipient, device } of live) {
    const badge = badges.values.get(recipient.id);
    try {
      const built = buildLocalizedFcmMessage({ messageId, recipientId: recipient.id, message: localized.message, token: device.token, platform: device.platform, vars: recipient.data.vars ?? {}, badge, locale: device.locale });
      fcmMessages.push(built.fcm);
      toSend.push({ recipient, device, badge, language: built.language });
    } catch (err) {
      if (!(err instanceof RecipientError)) throw err;
      decisions.set(recipient.id, ended(400, err.message));
    }
  }
  // The project's FCM rate (ops/fcmBudget.ts): what the window cannot take waits for the next, attempt not counted.
  const budget = await takeFcmBudget(fcmMessages.length, laneOf(message));
  for (const { recipient, badge } of toSend.splice(budget.granted)) {
    const statusMessage = `waiting for the project's FCM rate (FCM_MESSAGES_PER_MINUTE): this window's sends are spent; attempt not counted`;
    decisions.set(recipient.id, { kind: "held", statusMessage, attempts: recipient.attempt - 1, retryAtMs: budget.retryAtMs ?? Date.now(), ...(badge !== undefined && { badge }) });
  }
  fcmMessages.splice(budget.granted);
  const cost: Cost = { reads: devices.reads + badges.reads + mutes.reads + budget.reads + localized.reads, writes: badges.writes + budget.writes + localized.writes };
  if (fcmMessages.length === 0) return { decisions, ...cost };

  const result = await messagingClient().sendEach(fcmMessages);
  const retirements: Retirement[] = [];
  const now = Date.now();
  let projectFault: Extract<SendOutcome, { kind: "project-fault" }> | undefined;
  const overQuota: Array<{ sent: (typeof toSend)[number]; outcome: Extract<SendOutcome, { kind: "transient" }> }> = [];
  result.responses.forEach((response, index) => {
    const sent = toSend[index];
    if (!sent) return;
    const outcome = classify(response);
    decisions.set(sent.recipient.id, { ...decideOutcome(outcome, sent.recipient.attempt, config, now, sent.badge), language: sent.language });
    if (outcome.kind === "dead-token") retirements.push({ deviceId: sent.recipient.data.deviceId, token: sent.device.token, reason: outcome.retire });
    if (outcome.kind === "project-fault") projectFault ??= outcome;
    if (outcome.kind === "transient" && outcome.quota) overQuota.push({ sent, outcome });
  });
  // FCM refused the project: stop delivery before anything else is sent (the held recipients wait for the resume).
  if (projectFault) await stopForFcmFault(projectFault, { messageId, shard });
  if (overQuota.length >= Math.max(1, FCM_PROJECT_QUOTA_ANSWERS.value())) await waitForQuota(overQuota, decisions, now, { messageId, shard });
  // Most of the last minute's sends answered "dead": hold these retirements for an operator instead (ops/retirementGuard.ts).
  const allowed = await guardRetirements(retirements, toSend.length, { messageId, shard });
  const retired = await retireDevices(messageId, shard, allowed);
  return { decisions, reads: cost.reads + retired.reads, writes: cost.writes + retired.writes };
}

/**
 * Many QUOTA_EXCEEDED answers in one batch: the project, not a device, is
 * over FCM's rate. The whole project waits for FCM's Retry-After (a minute
 * if it gave none: FCM's quota is per minute), and these recipients wait
 * with it, their attempt given back: quota alone never fails anyone.
 */
async function waitForQuota(overQuota: Array<{ sent: { recipient: ClaimedRecipient; badge?: number }; outcome: Extract<SendOutcome, { kind: "transient" }> }>, decisions: Map<string, Decision>, nowMs: number, context: Record<string, unknown>): Promise<void> {
  const waitSeconds = Math.max(0, ...overQuota.map((q) => q.outcome.retryAfterSeconds ?? 0)) || DEFAULT_QUOTA_WAIT_SECONDS;
  const untilMs = nowMs + waitSeconds * 1000;
  for (const { sent, outcome } of overQuota) {
    // Spread over a few seconds, so that the project does not come back in one burst.
    const retryAtMs = untilMs + Math.floor(Math.random() * 5_000);
    const statusMessage = `${outcome.statusMessage} (the project is over FCM's quota: waiting until ${new Date(untilMs).toISOString()}, attempt not counted)`;
    decisions.set(sent.recipient.id, { kind: "held", statusMessage, attempts: sent.recipient.attempt - 1, retryAtMs, ...(sent.badge !== undefined && { badge: sent.badge }) });
  }
  await holdForQuota(untilMs, { ...context, quotaAnswers: overQuota.length, waitSeconds });
}

async function readDevices(deviceIds: string[]): Promise<{ found: Map<string, DeviceDoc>; reads: number }> {
  const unique = [...new Set(deviceIds)];
  const found = new Map<string, DeviceDoc>();
  if (unique.length === 0) return { found, reads: 0 };
  // Read raw and parse here: a malformed device must fail its recipient, not the batch.
  const raw = db().collection(COLLECTIONS.devices);
  const snapshots = await db().getAll(...unique.map((id) => raw.doc(id)));
  for (const snapshot of snapshots) {
    if (!snapshot.exists) continue;
    const parsed = deviceDoc.safeParse(snapshot.data());
    // A malformed device document cannot be sent to; treating it as absent records -99 for it.
    if (parsed.success) found.set(snapshot.id, parsed.data);
    else logger.warn("dispatch: malformed device document", { deviceId: snapshot.id });
  }
  return { found, reads: unique.length };
}

/**
 * The badge each live recipient shows. `"increment"` adds one to each device's
 * counter atomically (one transaction for the batch) and sends the new value;
 * a retried recipient reuses the value computed on its first attempt.
 */
async function assignBadges(message: MessageDoc, live: ClaimedRecipient[]): Promise<Cost & { values: Map<string, number> }> {
  const values = new Map<string, number>();
  if (message.badge === undefined) return { values, reads: 0, writes: 0 };
  const fresh: ClaimedRecipient[] = [];
  for (const recipient of live) {
    if (typeof recipient.data.badgeValue === "number") values.set(recipient.id, recipient.data.badgeValue);
    else fresh.push(recipient);
  }
  if (fresh.length === 0) return { values, reads: 0, writes: 0 };
  const badge = message.badge;
  const devicesRef = devicesCollection();
  const ids = [...new Set(fresh.map((r) => r.data.deviceId))];
  const computed = await runTransaction("badges", async (tx) => {
    const snapshots = await tx.getAll(...ids.map((id) => devicesRef.doc(id)));
    const counters = new Map<string, number>();
    snapshots.forEach((snapshot, i) => {
      const id = ids[i] as string;
      const current: unknown = snapshot.exists ? snapshot.data()?.badge : undefined;
      const next = badge === "increment" ? (typeof current === "number" ? current : 0) + 1 : badge;
      counters.set(id, next);
      if (snapshot.exists) tx.update(snapshot.ref, { badge: next });
    });
    return counters;
  });
  for (const recipient of fresh) values.set(recipient.id, computed.get(recipient.data.deviceId) ?? 0);
  return { values, reads: ids.length, writes: ids.length };
}

/** Retires each device whose token FCM rejected, but only if it still holds that token (re-registered ones stay). */
async function retireDevices(messageId: string, shard: number, retirements: Retirement[]): Promise<Cost> {
  if (retirements.length === 0) return { reads: 0, writes: 0 };
  const devicesRef = devicesCollection();
  const retired = await runTransaction("retireDevices", async (tx) => {
    let count = 0;
    const snapshots = await tx.getAll(...retirements.map((r) => devicesRef.doc(r.deviceId)));
    const now = Timestamp.now();
    const devices: RetiredDevice[] = [];
    snapshots.forEach((snapshot, i) => {
      const retirement = retirements[i] as Retirement;
      if (!retireIfStillHeld(tx, snapshot, retirement.token, retirement.reason, now)) return;
      count += 1;
      const device = snapshot.data();
      if (device) devices.push({ deviceId: snapshot.id, tenant: device.tenant, userId: device.userId, token: retirement.token, reason: retirement.reason, retiredAt: now.toDate().toISOString() });
    });
    if (count > 0) tx.set(metricsRef(now.toMillis(), randomSlot()), retirementIncrements(count, now.toMillis()), { merge: true });
    return { count, devices };
  });
  // Only a batch that retired a device gets here; a tenant without webhooks costs a lookup in memory.
  await announceRetirements(retired.devices);
  return { reads: retirements.length, writes: retired.count };
}

/**
 * Writes every decision, together with the shard's outcome counters and the
 * hour's metrics in the same atomic commits (shared/fenced.ts). Each write
 * carries the claim's write time as a precondition: if the lease ran out and
 * the sweep (or another task) has moved the recipient since, this late
 * outcome is dropped rather than overwriting the newer state, and is not
 * counted; that recipient is then sent again, and its collapse id keeps the
 * phone to one notification. Returns the statuses that landed.
 */
async function writeDecisions(messageId: string, shard: number, claimed: ClaimedRecipient[], decisions: Map<string, Decision>): Promise<{ landed: number[]; writes: number }> {
  const fenced: Array<FencedUpdate<Decision>> = [];
  for (const recipient of claimed) {
    const decision = decisions.get(recipient.id);
    if (decision) fenced.push({ ref: recipient.ref, data: { ...toUpdate(decision) }, lastUpdateTime: recipient.claimedAt, tag: decision });
  }
  const { landed, superseded } = await commitFenced(
    fenced,
    (chunk, first) => outcomeWrites(messageId, chunk.map((u) => statusOf(u.tag)), { batches: first ? 1 : 0, languages: chunk.map((u) => u.tag.language) }),
    { messageId, shard },
  );
  if (superseded.length > 0) logger.warn("dispatch: outcomes dropped, claims had lapsed and been taken over", { messageId, shard, superseded: superseded.length });
  return { landed: landed.map((u) => statusOf(u.tag)), writes: fenced.length };
}

/**
 * The message document does not exist (yet): a job may be writing the
 * message and its recipients in parallel, recipients first. Look again every
 * few seconds for a bounded time; after that, every pending recipient of the
 * shard ends with 400 and a reason instead of waiting forever.
 */
async function awaitMessage(task: DispatchTask, taskId: string, config: Settings, empty: DispatchSummary): Promise<DispatchSummary> {
  const now = Date.now();
  const since = task.waitingSince ?? now;
  if (now - since < MESSAGE_WAIT_SECONDS.value() * 1000) {
    logger.info("dispatch: message not found yet; looking again shortly", { messageId: task.messageId, shard: task.shard, waitedMs: now - since });
    await enqueueRetry({ ...task, waitingSince: since }, taskId, Timestamp.fromMillis(now + MESSAGE_WAIT_STEP_MS));
    return empty;
  }
  const claim = await claimBatch(task.messageId, shardRange(task.shard, config.shards), task.after, config.batchSize, config.leaseSeconds);
  if (claim.full && claim.lastId !== undefined) {
    await enqueueContinuation({ ...task, waitingSince: since }, claim.lastId, windowOf(now, config.windowSeconds).window);
  }
  const reason = `message document messages/${task.messageId} does not exist (waited ${Math.round((now - since) / 1000)} s for it)`;
  const written = await writeDecisions(task.messageId, task.shard, claim.claimed, new Map(claim.claimed.map((r) => [r.id, ended(400, reason)])));
  const summary = { ...empty, claimed: claim.claimed.length, ...tally(written.landed), reads: empty.reads + claim.reads, writes: claim.claimed.length + written.writes };
  logger.warn("dispatch: message not found; its pending recipients were ended", { messageId: task.messageId, shard: task.shard, ended: summary.final });
  return summary;
}
