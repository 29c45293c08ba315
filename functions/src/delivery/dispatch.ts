import { Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { devicesCollection } from "../devices/collection";
import { deviceDoc, type DeviceDoc } from "../devices/schema";
import { buildFcmMessage, RecipientError } from "../fcm/build";
import { messagingClient } from "../fcm/client";
import { classify, type SendOutcome } from "../fcm/outcome";
import { messageRef } from "../messages/collection";
import { messageDoc, type MessageDoc } from "../messages/schema";
import { metricsRef, outcomeWrites, retirementIncrements, slotFor } from "../ops/metrics";
import { readSwitch } from "../ops/pause";
import { describeZodError } from "../shared/callable";
import { COLLECTIONS, STATUS, type RetiredReason } from "../shared/contract";
import { commitFenced, type FencedUpdate } from "../shared/fenced";
import { db } from "../shared/firestore";
import { BATCH_SIZE, LEASE_SECONDS, MAX_ATTEMPTS, MESSAGE_WAIT_SECONDS, RETRY_BASE_MS, RETRY_MAX_SECONDS, SHARDS, WINDOW_SECONDS } from "../shared/params";
import { claimBatch, type ClaimedRecipient } from "./claim";
import { holdDispatch } from "./hold";
import { shardRange } from "./shards";
import { enqueueContinuation, enqueueRetry, windowOf, type DispatchTask } from "./tasks";

/** How soon a task comes back for recipients it could not claim because of contention. */
const CONTENDED_RETRY_MS = 2000;

/** Contention retries in a row before a shard is left to the sweep's pending pass (and logged as such). */
const MAX_CONTENDED_RETRIES = 10;

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

interface Settings {
  batchSize: number;
  shards: number;
  leaseSeconds: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  windowSeconds: number;
}

function settings(): Settings {
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

/** The update that ends (or re-queues) one claimed recipient. */
type RecipientUpdate = Record<string, unknown> & { status: number };

interface Retirement {
  deviceId: string;
  token: string;
  reason: RetiredReason;
}

function finalUpdate(status: number, statusMessage: string | null): RecipientUpdate {
  return { status, statusMessage, leaseExpiresAt: null, retryAt: null };
}

/**
 * One dispatch task: claim a batch of one shard of a message, send it with one
 * `sendEach`, write every outcome back. Safe to run twice: only pending
 * recipients are claimed, each by a compare-and-set (see claim.ts).
 */
export async function dispatchBatch(task: DispatchTask, taskId: string): Promise<DispatchSummary> {
  const config = settings();
  const summary: DispatchSummary = { messageId: task.messageId, shard: task.shard, claimed: 0, accepted: 0, retrying: 0, final: 0, reads: 0, writes: 0 };
  const [messageSnapshot, deliverySwitch] = await Promise.all([messageRef(task.messageId).get(), readSwitch()]);
  summary.reads += 2;
  if (!messageSnapshot.exists) return awaitMessage(task, taskId, config, summary);
  // Sending (issue #5): a cancelled message claims nothing more; a scheduled one waits for its sendAt.
  if (await holdDispatch(task, taskId, messageSnapshot.data(), config.shards)) return summary;
  // The emergency stop: claim nothing, touch nothing. Resuming dispatches every pending shard again.
  if (deliverySwitch.paused) {
    logger.info("dispatch: delivery paused; nothing claimed", { messageId: task.messageId, shard: task.shard });
    return summary;
  }
  const parsedMessage = messageDoc.safeParse(messageSnapshot.data());

  const claim = await claimBatch(task.messageId, shardRange(task.shard, config.shards), task.after, config.batchSize, config.leaseSeconds);
  summary.reads += claim.reads;
  summary.writes += claim.claimed.length;
  summary.claimed = claim.claimed.length;
  const { window } = windowOf(Date.now(), config.windowSeconds);
  if (claim.full && claim.lastId !== undefined) {
    // More may follow in this shard: schedule the rest now so it is sent while this batch is.
    await enqueueContinuation(task, claim.lastId, window);
  }
  if (claim.nextRetryAt) await enqueueRetry({ ...task, contended: undefined }, taskId, claim.nextRetryAt);
  // Recipients whose claim failed on contention (a sweep's transaction holding them, say) are still
  // pending with no task of their own: come back for them shortly.
  if (claim.contended) {
    const contended = (task.contended ?? 0) + 1;
    if (contended <= MAX_CONTENDED_RETRIES) await enqueueRetry({ ...task, contended }, taskId, Timestamp.fromMillis(Date.now() + CONTENDED_RETRY_MS * contended));
    else logger.error("dispatch: claims keep failing; the shard is left to the sweep's pending pass", { messageId: task.messageId, shard: task.shard, contended });
  }
  if (claim.claimed.length === 0) {
    logger.debug("dispatch: nothing to claim", { messageId: task.messageId, shard: task.shard, waiting: claim.nextRetryAt !== undefined });
    return summary;
  }

  const updates = new Map<string, RecipientUpdate>();
  // A recipient written wrong (no deviceId, a number there, …) ends here, with the reason.
  for (const recipient of claim.claimed) if (recipient.problem) updates.set(recipient.id, finalUpdate(400, recipient.problem));
  const sendable = claim.claimed.filter((recipient) => !recipient.problem);
  if (!parsedMessage.success) {
    const { field, message } = describeZodError(parsedMessage.error);
    for (const recipient of sendable) updates.set(recipient.id, finalUpdate(400, `message document is invalid (${field}): ${message}`));
  } else if (sendable.length > 0) {
    await sendClaimed(task.messageId, parsedMessage.data, sendable, config, updates, summary);
  }

  await writeUpdates(claim.claimed, updates, summary);
  const latestRetry = [...updates.values()].reduce<number | undefined>((latest, update) => {
    const at = update.retryAt instanceof Timestamp ? update.retryAt.toMillis() : undefined;
    return at === undefined ? latest : Math.max(latest ?? 0, at);
  }, undefined);
  if (latestRetry !== undefined) await enqueueRetry({ ...task, contended: undefined }, taskId, Timestamp.fromMillis(latestRetry));
  logger.info("dispatch: batch done", { ...summary, full: claim.full, contended: claim.contended });
  return summary;
}

async function sendClaimed(
  messageId: string,
  message: MessageDoc,
  claimed: ClaimedRecipient[],
  config: Settings,
  updates: Map<string, RecipientUpdate>,
  summary: DispatchSummary,
): Promise<void> {
  const deviceIds = claimed.map((r) => r.data.deviceId);
  const devices = await readDevices(deviceIds);
  summary.reads += new Set(deviceIds).size;

  const live: ClaimedRecipient[] = [];
  for (const recipient of claimed) {
    const device = devices.get(recipient.data.deviceId);
    if (!device) updates.set(recipient.id, finalUpdate(STATUS.notRegistered, "device not registered"));
    else if (device.retired) updates.set(recipient.id, finalUpdate(STATUS.notRegistered, `device retired (${device.retiredReason ?? "unknown reason"})`));
    else if (!device.enabled) updates.set(recipient.id, finalUpdate(STATUS.skippedDisabled, "device switched off by its owner"));
    else live.push(recipient);
  }

  const badges = await badgesFor(message, live, summary);
  const toSend: Array<{ recipient: ClaimedRecipient; device: DeviceDoc; badge?: number }> = [];
  const fcmMessages = [];
  for (const recipient of live) {
    const device = devices.get(recipient.data.deviceId) as DeviceDoc;
    const badge = badges.get(recipient.id);
    try {
      fcmMessages.push(
        buildFcmMessage({ messageId, recipientId: recipient.id, message, token: device.token, platform: device.platform, vars: recipient.data.vars ?? {}, badge }),
      );
      toSend.push({ recipient, device, badge });
    } catch (err) {
      if (!(err instanceof RecipientError)) throw err;
      updates.set(recipient.id, finalUpdate(400, err.message));
    }
  }
  if (fcmMessages.length === 0) return;

  const result = await messagingClient().sendEach(fcmMessages);
  const retirements: Retirement[] = [];
  const now = Date.now();
  result.responses.forEach((response, index) => {
    const sent = toSend[index];
    if (!sent) return;
    const outcome = classify(response);
    updates.set(sent.recipient.id, updateFor(outcome, sent.recipient.attempt, config, now, sent.badge));
    if (outcome.kind === "dead-token") retirements.push({ deviceId: sent.recipient.data.deviceId, token: sent.device.token, reason: outcome.retire });
  });
  if (retirements.length > 0) await retireDevices(retirements, summary);
}

function updateFor(outcome: SendOutcome, attempt: number, config: Settings, nowMs: number, badge: number | undefined): RecipientUpdate {
  switch (outcome.kind) {
    case "accepted":
      return { ...finalUpdate(STATUS.accepted, null), sentAt: Timestamp.fromMillis(nowMs), fcmMessageId: outcome.fcmMessageId, ...(badge !== undefined && { badgeValue: badge }) };
    case "dead-token":
    case "failed":
      return finalUpdate(outcome.status, outcome.statusMessage);
    case "transient": {
      if (attempt >= config.maxAttempts) {
        return finalUpdate(outcome.status, `${outcome.statusMessage} (gave up after ${attempt} attempts)`);
      }
      const backoff = Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
      const wait = Math.max(backoff, (outcome.retryAfterSeconds ?? 0) * 1000);
      // Back to pending, not to be claimed before the backoff ends; the badge already shown is reused.
      return {
        status: STATUS.pending,
        statusMessage: `${outcome.statusMessage} (attempt ${attempt} of ${config.maxAttempts}, will retry)`,
        leaseExpiresAt: null,
        retryAt: Timestamp.fromMillis(nowMs + wait),
        ...(badge !== undefined && { badgeValue: badge }),
      };
    }
  }
}

async function readDevices(deviceIds: string[]): Promise<Map<string, DeviceDoc>> {
  const unique = [...new Set(deviceIds)];
  const devices = new Map<string, DeviceDoc>();
  if (unique.length === 0) return devices;
  // Read raw and parse here: a malformed device must fail its recipient, not the batch.
  const raw = db().collection(COLLECTIONS.devices);
  const snapshots = await db().getAll(...unique.map((id) => raw.doc(id)));
  for (const snapshot of snapshots) {
    if (!snapshot.exists) continue;
    const parsed = deviceDoc.safeParse(snapshot.data());
    // A malformed device document cannot be sent to; treating it as absent records -99 for it.
    if (parsed.success) devices.set(snapshot.id, parsed.data);
    else logger.warn("dispatch: malformed device document", { deviceId: snapshot.id });
  }
  return devices;
}

/**
 * The badge each live recipient shows. `"increment"` adds one to each device's
 * counter atomically (one transaction for the batch) and sends the new value;
 * a retried recipient reuses the value computed on its first attempt.
 */
async function badgesFor(message: MessageDoc, live: ClaimedRecipient[], summary: DispatchSummary): Promise<Map<string, number>> {
  const badges = new Map<string, number>();
  if (message.badge === undefined) return badges;
  const fresh: ClaimedRecipient[] = [];
  for (const recipient of live) {
    if (typeof recipient.data.badgeValue === "number") badges.set(recipient.id, recipient.data.badgeValue);
    else fresh.push(recipient);
  }
  if (fresh.length === 0) return badges;
  const badge = message.badge;
  const devicesRef = devicesCollection();
  const computed = await db().runTransaction(async (tx) => {
    const ids = [...new Set(fresh.map((r) => r.data.deviceId))];
    const snapshots = await tx.getAll(...ids.map((id) => devicesRef.doc(id)));
    const counters = new Map<string, number>();
    snapshots.forEach((snapshot, i) => {
      const id = ids[i] as string;
      const current = snapshot.exists ? (snapshot.data()?.badge ?? 0) : 0;
      const next = badge === "increment" ? current + 1 : badge;
      counters.set(id, next);
      if (snapshot.exists) tx.update(snapshot.ref, { badge: next });
    });
    summary.reads += ids.length;
    summary.writes += ids.length;
    return counters;
  });
  for (const recipient of fresh) badges.set(recipient.id, computed.get(recipient.data.deviceId) ?? 0);
  return badges;
}

/** Retires each device whose token FCM rejected, but only if it still holds that token (re-registered ones stay). */
async function retireDevices(retirements: Retirement[], summary: DispatchSummary): Promise<void> {
  const devicesRef = devicesCollection();
  await db().runTransaction(async (tx) => {
    let retired = 0;
    const snapshots = await tx.getAll(...retirements.map((r) => devicesRef.doc(r.deviceId)));
    const now = Timestamp.now();
    snapshots.forEach((snapshot, i) => {
      const retirement = retirements[i] as Retirement;
      const device = snapshot.data();
      if (device && !device.retired && device.token === retirement.token) {
        tx.update(snapshot.ref, { retired: true, retiredAt: now, retiredReason: retirement.reason });
        retired += 1;
      }
    });
    summary.reads += retirements.length;
    summary.writes += retired;
    if (retired > 0) tx.set(metricsRef(now.toMillis(), slotFor(summary.messageId, summary.shard)), retirementIncrements(retired, now.toMillis()), { merge: true });
  });
}

/**
 * Writes every outcome, together with the shard's outcome counters and the
 * hour's metrics in the same atomic commits (shared/fenced.ts). Each write
 * carries the claim's write time as a precondition: if the lease ran out and
 * the sweep (or another task) has moved the recipient since, this late
 * outcome is dropped rather than overwriting the newer state, and is not
 * counted; that recipient is then sent again, and its collapse id keeps the
 * phone to one notification.
 */
async function writeUpdates(claimed: ClaimedRecipient[], updates: Map<string, RecipientUpdate>, summary: DispatchSummary): Promise<void> {
  const { messageId, shard } = summary;
  const fenced: Array<FencedUpdate<number>> = [];
  for (const recipient of claimed) {
    const update = updates.get(recipient.id);
    if (update) fenced.push({ ref: recipient.ref, data: update, lastUpdateTime: recipient.claimedAt, tag: update.status });
  }
  const { landed, superseded } = await commitFenced(
    fenced,
    (chunk, first) => outcomeWrites(messageId, shard, chunk.map((u) => u.tag), { batches: first ? 1 : 0 }),
    { messageId, shard },
  );
  summary.writes += fenced.length;
  for (const { tag: status } of landed) {
    if (status === STATUS.pending) summary.retrying += 1;
    else {
      summary.final += 1;
      if (status === STATUS.accepted) summary.accepted += 1;
    }
  }
  if (superseded.length > 0) logger.warn("dispatch: outcomes dropped, claims had lapsed and been taken over", { messageId, shard, superseded: superseded.length });
}

/**
 * The message document does not exist (yet): a job may be writing the
 * message and its recipients in parallel, recipients first. Look again every
 * few seconds for a bounded time; after that, every pending recipient of the
 * shard ends with 400 and a reason instead of waiting forever.
 */
async function awaitMessage(task: DispatchTask, taskId: string, config: Settings, summary: DispatchSummary): Promise<DispatchSummary> {
  const now = Date.now();
  const since = task.waitingSince ?? now;
  if (now - since < MESSAGE_WAIT_SECONDS.value() * 1000) {
    logger.info("dispatch: message not found yet; looking again shortly", { messageId: task.messageId, shard: task.shard, waitedMs: now - since });
    await enqueueRetry({ ...task, waitingSince: since }, taskId, Timestamp.fromMillis(now + MESSAGE_WAIT_STEP_MS));
    return summary;
  }
  const claim = await claimBatch(task.messageId, shardRange(task.shard, config.shards), task.after, config.batchSize, config.leaseSeconds);
  summary.reads += claim.reads;
  summary.claimed = claim.claimed.length;
  if (claim.full && claim.lastId !== undefined) {
    await enqueueContinuation({ ...task, waitingSince: since }, claim.lastId, windowOf(now, config.windowSeconds).window);
  }
  const reason = `message document messages/${task.messageId} does not exist (waited ${Math.round((now - since) / 1000)} s for it)`;
  const updates = new Map(claim.claimed.map((recipient) => [recipient.id, finalUpdate(400, reason)] as const));
  await writeUpdates(claim.claimed, updates, summary);
  logger.warn("dispatch: message not found; its pending recipients were ended", { messageId: task.messageId, shard: task.shard, ended: summary.final });
  return summary;
}
