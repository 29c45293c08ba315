import { randomBytes } from "node:crypto";
import { Timestamp } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { COLLECTIONS } from "../shared/contract";
import { typedCollection } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { parseTarget, resolveTarget, TargetRefused, type Resolver } from "./address";
import { EVENT_SCOPES, WEBHOOKS_PER_KEY, webhookDoc, type CreatedWebhook, type CreateWebhookInput, type WebhookDoc, type WebhookEvent, type WebhookSummary } from "./schema";
import { localTargets } from "./settings";
import { newSigningSecret } from "./signature";

/*
 * A key's webhook endpoints: registered, listed and deleted by that key only
 * (a key sees its own endpoints, not those of other keys of its tenant: least
 * privilege, as it sees only its own messages), at most WEBHOOKS_PER_KEY.
 */

export function webhooksCollection() {
  return typedCollection(COLLECTIONS.webhooks, webhookDoc);
}

/** The key a request came with, as the webhooks need it. */
export interface WebhookOwner {
  keyId: string;
  tenant: string;
  scopes: readonly string[];
}

function summary(webhookId: string, doc: WebhookDoc): WebhookSummary {
  return { webhookId, url: doc.url, events: doc.events, createdAt: doc.createdAt.toDate().toISOString() };
}

/** Checks the URL (its shape, and every address its host resolves to) and stores the endpoint with a new secret. */
export async function createWebhook(owner: WebhookOwner, input: CreateWebhookInput, resolver?: Resolver): Promise<CreatedWebhook> {
  for (const event of input.events) {
    const needed = EVENT_SCOPES[event];
    if (!needed.some((scope) => owner.scopes.includes(scope))) {
      throw new HttpsError("permission-denied", `The event "${event}" needs a key with the ${needed.map((s) => `"${s}"`).join(" or ")} scope.`, { field: "events" });
    }
  }
  try {
    await resolveTarget(parseTarget(input.url, localTargets()), resolver);
  } catch (err) {
    if (err instanceof TargetRefused) throw new HttpsError("invalid-argument", `Invalid "url": ${err.message}.`, { field: "url" });
    throw err;
  }
  const webhookId = `wh_${randomBytes(12).toString("hex")}`;
  const doc: WebhookDoc = { keyId: owner.keyId, tenant: owner.tenant, url: input.url, events: input.events, secret: newSigningSecret(), createdAt: Timestamp.now() };
  const collection = webhooksCollection();
  await runTransaction("createWebhook", async (tx) => {
    // Read in the transaction: two registrations side by side cannot both take the last place.
    const existing = await tx.get(collection.where("keyId", "==", owner.keyId));
    if (existing.size >= WEBHOOKS_PER_KEY) {
      throw new HttpsError("failed-precondition", `This key already has ${WEBHOOKS_PER_KEY} webhooks, the most a key may have; delete one first.`);
    }
    tx.create(collection.doc(webhookId), doc);
  });
  forgetCached();
  logger.info("webhooks: created", { webhookId, keyId: owner.keyId, tenant: owner.tenant, events: input.events });
  return { ...summary(webhookId, doc), secret: doc.secret };
}

export async function listWebhooks(keyId: string): Promise<WebhookSummary[]> {
  const snapshot = await webhooksCollection().where("keyId", "==", keyId).get();
  return snapshot.docs.map((doc) => summary(doc.id, doc.data())).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.webhookId.localeCompare(b.webhookId));
}

/** Deletes one of the key's endpoints; another key's is "not found", so an id says nothing about others. */
export async function deleteWebhook(keyId: string, webhookId: string): Promise<{ webhookId: string; deleted: true }> {
  const ref = webhooksCollection().doc(webhookId);
  await runTransaction("deleteWebhook", async (tx) => {
    const snapshot = await tx.get(ref);
    if (snapshot.data()?.keyId !== keyId) throw new HttpsError("not-found", "No webhook with this id.", { field: "webhookId" });
    tx.delete(ref);
  });
  forgetCached();
  logger.info("webhooks: deleted", { webhookId, keyId });
  return { webhookId, deleted: true };
}

export interface Endpoint {
  webhookId: string;
  doc: WebhookDoc;
}

/**
 * Endpoints by key or by tenant, kept for CACHE_MS per instance: the receipts
 * tally and the dispatch's retirements ask on every occasion, and a tenant
 * without webhooks must cost them nothing but this lookup in memory. An
 * endpoint registered meanwhile is seen by a warm instance up to CACHE_MS
 * late; one deleted is never delivered to (the delivery reads it again).
 */
const CACHE_MS = 30_000;
const CACHE_MAX = 2_000;
const cache = new Map<string, { at: number; endpoints: Endpoint[] }>();

function forgetCached(): void {
  cache.clear();
}

async function cached(field: "keyId" | "tenant", value: string, fresh: boolean): Promise<Endpoint[]> {
  const name = `${field}\u0000${value}`;
  const hit = cache.get(name);
  if (!fresh && hit && Date.now() - hit.at < CACHE_MS) return hit.endpoints;
  const snapshot = await webhooksCollection().where(field, "==", value).get();
  const endpoints = snapshot.docs.map((doc) => ({ webhookId: doc.id, doc: doc.data() }));
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(name, { at: Date.now(), endpoints });
  return endpoints;
}

/** The key's endpoints subscribed to any of these events. `fresh`: read now, not from the cache. */
export async function endpointsOfKey(keyId: string, events: readonly WebhookEvent[], fresh = false): Promise<Endpoint[]> {
  return (await cached("keyId", keyId, fresh)).filter((endpoint) => endpoint.doc.events.some((event) => events.includes(event)));
}

/** The tenant's endpoints (of all its keys) subscribed to this event. */
export async function endpointsOfTenant(tenant: string, event: WebhookEvent): Promise<Endpoint[]> {
  return (await cached("tenant", tenant, false)).filter((endpoint) => endpoint.doc.events.includes(event));
}
