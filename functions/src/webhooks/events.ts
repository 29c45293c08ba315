import { createHash } from "node:crypto";
import { getFunctions } from "firebase-admin/functions";
import { logger } from "firebase-functions";
import { localUserId } from "../devices/owner";
import { APP_TENANT, DELIVER_WEBHOOK_FUNCTION, type RetiredReason } from "../shared/contract";
import { adminApp } from "../shared/firestore";
import type { z } from "zod";
import type { DeliveryTask, deviceRetiredData, receiptsData, WebhookEnvelope, WebhookEvent } from "./schema";
import { endpointsOfKey, endpointsOfTenant, type Endpoint } from "./service";

/*
 * Events become one delivery task per endpoint. The event id is derived from
 * what the event is about (the endpoint, the type, the message or device and
 * its state), and the task id from the event id: a watch or tally that runs
 * twice enqueues the same task twice, and Cloud Tasks keeps one.
 */

const hash = (parts: Array<string | number>) => createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32);

/** A key's id from a message's `senderId` (`key:<keyId>`); undefined for staff and Moodle sites. */
export function senderKeyId(senderId: string | null | undefined): string | undefined {
  return senderId?.startsWith("key:") ? senderId.slice("key:".length) : undefined;
}

/** Enqueues the event for each endpoint; the body is fixed here, as it will be signed and sent on every attempt. */
export async function enqueueEvent(endpoints: Endpoint[], type: WebhookEvent, about: Array<string | number>, data: object): Promise<void> {
  const queue = getFunctions(adminApp()).taskQueue(DELIVER_WEBHOOK_FUNCTION);
  const createdAt = new Date().toISOString();
  await Promise.all(
    endpoints.map(async (endpoint) => {
      const eventId = `evt_${hash([endpoint.webhookId, type, ...about])}`;
      const envelope: WebhookEnvelope = { id: eventId, type, createdAt, data };
      const task: DeliveryTask = { webhookId: endpoint.webhookId, eventId, type, body: JSON.stringify(envelope) };
      try {
        await queue.enqueue(task, { id: `wh-${eventId.slice(4)}` });
      } catch (err) {
        if ((err as { code?: string }).code !== "functions/task-already-exists") throw err;
      }
    }),
  );
}

export interface RetiredDevice {
  deviceId: string;
  tenant: string | undefined;
  /** As stored (`<tenant>:<userId>`). */
  userId: string;
  token: string;
  reason: RetiredReason;
  retiredAt: string;
}

/**
 * `device.retired` for devices the dispatch just retired, to the endpoints of
 * each device's tenant. Called on the send path, but only for a batch that
 * retired something; a tenant's endpoints come from the per-instance cache,
 * so a tenant without webhooks costs nothing. A failure to enqueue is logged
 * and swallowed: the retirement itself is committed, and a lost event must
 * not make the batch (and its sends) run again.
 */
export async function announceRetirements(retired: RetiredDevice[]): Promise<void> {
  if (retired.length === 0) return;
  try {
    const byTenant = new Map<string, RetiredDevice[]>();
    for (const device of retired) {
      if (device.tenant === undefined || device.tenant === APP_TENANT) continue;
      byTenant.set(device.tenant, [...(byTenant.get(device.tenant) ?? []), device]);
    }
    for (const [tenant, devices] of byTenant) {
      const endpoints = await endpointsOfTenant(tenant, "device.retired");
      if (endpoints.length === 0) continue;
      // Side by side, not one after another: a batch that retired many devices must not wait on each enqueue in turn.
      await Promise.all(
        devices.map((device) => {
          const data: z.infer<typeof deviceRetiredData> = { deviceId: device.deviceId, userId: localUserId(tenant, device.userId), token: device.token, reason: device.reason, retiredAt: device.retiredAt };
          return enqueueEvent(endpoints, "device.retired", [device.deviceId, device.token], data);
        }),
      );
    }
  } catch (err) {
    logger.error("webhooks: device.retired events not enqueued", { devices: retired.length, error: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * `message.receipts` after a tally that counted something new: at most one
 * per message and tally window, since the tally itself runs at most once per
 * window. The key's endpoints come from the per-instance cache.
 */
export async function announceReceipts(messageId: string, senderId: string | null | undefined, receipts: { received: number; opened: number }): Promise<void> {
  const keyId = senderKeyId(senderId);
  if (!keyId) return;
  const endpoints = await endpointsOfKey(keyId, ["message.receipts"]);
  if (endpoints.length === 0) return;
  const data: z.infer<typeof receiptsData> = { messageId, receipts, talliedAt: new Date().toISOString() };
  await enqueueEvent(endpoints, "message.receipts", [messageId, receipts.received, receipts.opened], data);
}
