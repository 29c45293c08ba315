import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { logger } from "firebase-functions";
import { keysCollection } from "../keys/service";
import { parseTarget, resolveTarget, TargetRefused, type ResolvedAddress } from "./address";
import type { DeliveryTask } from "./schema";
import { webhooksCollection } from "./service";
import { localTargets } from "./settings";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader } from "./signature";

/** How long a partner's endpoint has to answer, connection included. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** How much of an answer is read (and then dropped): a partner cannot make us hold a large body. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** A delivery that did not get a 2xx: thrown, so that Cloud Tasks tries it again later. */
export class DeliveryFailed extends Error {}

/**
 * A `lookup` for the connection that answers with the address already
 * checked, whatever the name resolves to by now: the check and the connection
 * see one and the same address, so a rebinding DNS server gains nothing. The
 * certificate is still checked against the URL's host name.
 */
function pinned(to: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, [{ address: to.address, family: to.family }]);
    else callback(null, to.address, to.family);
  }) as LookupFunction;
}

/** POSTs the body; resolves with the HTTP status. Redirects are not followed (a 3xx is a failed delivery). */
function post(url: URL, to: ResolvedAddress, headers: Record<string, string>, body: string): Promise<number> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const options: RequestOptions = { method: "POST", headers, lookup: pinned(to), timeout: DELIVERY_TIMEOUT_MS, agent: false };
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res) => {
      let read = 0;
      res.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_ANSWER_BYTES) res.destroy();
      });
      res.on("close", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(res.statusCode ?? 0));
    });
    // One deadline for the whole exchange, not only for idle sockets.
    const deadline = setTimeout(() => req.destroy(new DeliveryFailed(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)), DELIVERY_TIMEOUT_MS);
    req.on("timeout", () => req.destroy(new DeliveryFailed(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)));
    req.on("error", (err) => reject(err instanceof DeliveryFailed ? err : new DeliveryFailed(`connection failed (${(err as NodeJS.ErrnoException).code ?? "error"})`)));
    req.on("close", () => clearTimeout(deadline));
    req.end(body);
  });
}

/**
 * One delivery of one event to one endpoint. An endpoint deleted since (or
 * whose key was disabled or revoked) is delivered nothing: the task ends
 * there. Anything else short of a 2xx throws, and Cloud Tasks tries again
 * with backoff (functions/deliverWebhook.ts). The body is the exact text
 * stored in the task, signed afresh with the current time on each attempt.
 */
export async function deliverWebhook(task: DeliveryTask): Promise<void> {
  const snapshot = await webhooksCollection().doc(task.webhookId).get();
  const endpoint = snapshot.data();
  if (!endpoint) {
    logger.info("webhooks: endpoint deleted, event dropped", { webhookId: task.webhookId, eventId: task.eventId, type: task.type });
    return;
  }
  const key = (await keysCollection().doc(endpoint.keyId).get()).data();
  if (!key || key.disabled) {
    logger.info("webhooks: key disabled, event dropped", { webhookId: task.webhookId, keyId: endpoint.keyId, eventId: task.eventId });
    return;
  }
  let url: URL;
  let to: ResolvedAddress;
  try {
    const target = parseTarget(endpoint.url, localTargets());
    url = target.url;
    to = await resolveTarget(target);
  } catch (err) {
    // The name may resolve to a public address again later: retried like any other failure.
    if (err instanceof TargetRefused) throw new DeliveryFailed(`target refused: ${err.message}`);
    throw err;
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    "Content-Type": "application/json",
    "User-Agent": "push-service-webhooks/1",
    [SIGNATURE_HEADER]: signatureHeader(endpoint.secret, timestamp, task.body),
    [EVENT_ID_HEADER]: task.eventId,
    [EVENT_TYPE_HEADER]: task.type,
  };
  const started = Date.now();
  const status = await post(url, to, headers, task.body);
  const context = { webhookId: task.webhookId, eventId: task.eventId, type: task.type, status, ms: Date.now() - started };
  if (status < 200 || status >= 300) {
    logger.warn("webhooks: delivery refused, to be retried", context);
    throw new DeliveryFailed(`the endpoint answered ${status}`);
  }
  logger.info("webhooks: delivered", context);
}
