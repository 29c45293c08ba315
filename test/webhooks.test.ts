/**
 * Webhooks through the real stack: a partner key registers endpoints on the
 * local receiver (tools/webhook-receiver.ts), sends, and the receiver records
 * what the deliverWebhook queue POSTed — signed, retried, scoped to the key's
 * tenant. The signature is checked with the snippet docs/webhooks.md shows.
 */
import assert from "node:assert/strict";
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { describe, it } from "node:test";
import { WEBHOOK_EVENT_BODIES } from "../functions/src/api/openapi.ts";
import { createKey } from "../functions/src/keys/service.ts";
import type { KeyScope } from "../functions/src/shared/contract.ts";
import { signedInUser } from "../tools/lib/client.ts";
import { stackEnv } from "../tools/lib/env.ts";
import { waitUntilFinal } from "../tools/lib/fixtures.ts";
import { waitFor } from "../tools/lib/wait.ts";
import type { ReceivedDelivery } from "../tools/webhook-receiver.ts";
import { api, errorCode, type ApiResponse } from "./support/api.ts";
import { openApiChecker } from "./support/openapi.ts";

const RECEIVER = stackEnv("WEBHOOK_RECEIVER_URL");

// docs/webhooks.md, "Verifying a delivery" (Node.js): kept word for word.
function verifyPushSignature(header: string, rawBody: string, secret: string, toleranceSeconds = 300): boolean {
  const fields = header.split(",").map((part) => part.trim().split("="));
  const t = Number(fields.find(([name]) => name === "t")?.[1]);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${rawBody}`).digest();
  return fields.some(([name, value]) => name === "v1" && /^[0-9a-f]{64}$/.test(value ?? "") && timingSafeEqual(Buffer.from(value ?? "", "hex"), expected));
}

interface Envelope {
  id: string;
  type: string;
  createdAt: string;
  data: Record<string, unknown>;
}

async function partner(scopes: KeyScope[]): Promise<{ secret: string; tenant: string }> {
  return createKey({ name: `webhooks ${randomUUID()}`, scopes, surface: "api" });
}

/** A path of the receiver of its own, so that tests never see each other's deliveries. */
const endpoint = (name: string) => `${RECEIVER}/${name}-${randomUUID()}`;

async function deliveries(url: string): Promise<ReceivedDelivery[]> {
  const res = await fetch(`${RECEIVER}/_receiver/deliveries`);
  const { deliveries: all } = (await res.json()) as { deliveries: ReceivedDelivery[] };
  return all.filter((d) => d.path === new URL(url).pathname);
}

let checker: ReturnType<typeof openApiChecker> | undefined;
/** Every answer of the webhook routes is checked against the served OpenAPI document, errors included. */
async function fits(method: string, path: string, res: ApiResponse): Promise<void> {
  checker ??= openApiChecker((await api("/v1/openapi.json")).body as Record<string, unknown>);
  assert.deepEqual(checker.check(method, path, res.status, res.body), [], `${method} ${path} ${res.status}: ${res.text}`);
}

/** A delivery's body, checked against its event's schema (the one the OpenAPI document's `webhooks` describe). */
function envelope(delivery: ReceivedDelivery): Envelope {
  const body = JSON.parse(delivery.body) as Envelope;
  const described = WEBHOOK_EVENT_BODIES[body.type as keyof typeof WEBHOOK_EVENT_BODIES];
  assert.ok(described, `an event type the document describes: ${body.type}`);
  const parsed = described.schema.safeParse(body);
  assert.ok(parsed.success, `${body.type} fits its schema: ${parsed.error?.message ?? ""}`);
  return body;
}

async function register(secret: string, url: string, events: string[]): Promise<{ webhookId: string; secret: string }> {
  const res = await api("/v1/webhooks", { key: secret, body: { url, events } });
  assert.equal(res.status, 201, res.text);
  await fits("post", "/v1/webhooks", res);
  return res.body as { webhookId: string; secret: string };
}

async function registerDevice(secret: string, token: string): Promise<{ userId: string; deviceId: string; token: string }> {
  const device = { userId: `u-${randomUUID()}`, deviceId: `dev-${randomUUID()}`, token, platform: "android" };
  const res = await api("/v1/devices", { key: secret, body: device });
  assert.equal(res.status, 201, res.text);
  return device;
}

async function send(secret: string, users: string[]): Promise<string> {
  const res = await api("/v1/messages", { key: secret, body: { title: "Webhooks", body: "A message with webhooks", audience: { users } } });
  assert.equal(res.status, 201, res.text);
  return (res.body as { messageId: string }).messageId;
}

describe("webhooks", () => {
  it("delivers a signed message.done holding the report, and the failed recipients", { timeout: 60_000 }, async () => {
    const key = await partner(["webhooks:write", "messages:send", "devices:write"]);
    const url = endpoint("done");
    const hook = await register(key.secret, url, ["message.done", "message.failed-recipients"]);
    assert.match(hook.secret, /^whsec_[A-Za-z0-9_-]{43}$/);
    const listed = await api("/v1/webhooks", { key: key.secret });
    await fits("get", "/v1/webhooks", listed);
    assert.deepEqual((listed.body as { webhooks: Array<Record<string, unknown>> }).webhooks.map((w) => [w.webhookId, w.url, w.events, "secret" in w]), [[hook.webhookId, url, ["message.done", "message.failed-recipients"], false]]);

    const good = await registerDevice(key.secret, `ok-${randomUUID()}`);
    const bad = await registerDevice(key.secret, `invalid-${randomUUID()}`);
    const messageId = await send(key.secret, [good.userId, bad.userId]);

    const arrived = await waitFor("message.done and message.failed-recipients at the receiver", async () => {
      const got = await deliveries(url);
      return got.length >= 2 ? got : undefined;
    }, 30_000);
    const done = arrived.find((d) => envelope(d).type === "message.done");
    const failed = arrived.find((d) => envelope(d).type === "message.failed-recipients");
    assert.ok(done && failed, JSON.stringify(arrived.map((d) => d.body)));
    for (const delivery of [done, failed]) {
      assert.equal(verifyPushSignature(delivery.headers["push-signature"] ?? "", delivery.body, hook.secret), true, "the signature verifies with the endpoint's secret");
      assert.equal(verifyPushSignature(delivery.headers["push-signature"] ?? "", delivery.body, "whsec_another"), false);
      assert.equal(delivery.headers["push-event-id"], envelope(delivery).id);
      assert.equal(delivery.headers["content-type"], "application/json");
    }
    const report = await api(`/v1/messages/${messageId}`, { key: key.secret });
    assert.deepEqual(envelope(done).data, report.body, "message.done carries the report as GET /v1/messages/{id} answers it");
    assert.equal((report.body as { state: string }).state, "done");
    assert.deepEqual(envelope(failed).data, {
      messageId,
      failed: 1,
      recipients: [{ deviceId: bad.deviceId, userId: bad.userId, status: 400, statusMessage: (envelope(failed).data.recipients as Array<{ statusMessage: string }>)[0]?.statusMessage }],
      truncated: false,
    });
    console.log(`[example] message.done: ${done.body}`);
    console.log(`[example] message.failed-recipients: ${failed.body}`);
    console.log(`[example] Push-Signature: ${done.headers["push-signature"]}`);
  });

  it("retries a delivery the receiver failed: the same event id again, then accepted", { timeout: 60_000 }, async () => {
    const key = await partner(["webhooks:write", "messages:send", "devices:write"]);
    const url = endpoint("retry");
    await register(key.secret, url, ["message.done"]);
    await fetch(`${RECEIVER}/_receiver/fail?count=1&path=${encodeURIComponent(new URL(url).pathname)}`, { method: "PUT" });
    const device = await registerDevice(key.secret, `ok-${randomUUID()}`);
    await send(key.secret, [device.userId]);
    const [first, second] = await waitFor("a failed delivery and its retry", async () => {
      const got = await deliveries(url);
      return got.length >= 2 ? got : undefined;
    }, 30_000);
    assert.ok(first && second);
    assert.deepEqual([first.answered, second.answered], [500, 200]);
    assert.equal(second.headers["push-event-id"], first.headers["push-event-id"]);
    assert.equal(second.body, first.body, "a retry sends the same body");
  });

  it("delivers nothing to an endpoint that was deleted", { timeout: 60_000 }, async () => {
    const key = await partner(["webhooks:write", "messages:send", "devices:write"]);
    const gone = endpoint("deleted");
    const kept = endpoint("kept");
    const deleted = await register(key.secret, gone, ["message.done"]);
    await register(key.secret, kept, ["message.done"]);
    const removed = await api(`/v1/webhooks/${deleted.webhookId}`, { key: key.secret, method: "DELETE" });
    assert.deepEqual([removed.status, removed.body], [200, { webhookId: deleted.webhookId, deleted: true }]);
    await fits("delete", "/v1/webhooks/{webhookId}", removed);
    const again = await api(`/v1/webhooks/${deleted.webhookId}`, { key: key.secret, method: "DELETE" });
    assert.equal(errorCode(again), "not-found");
    await fits("delete", "/v1/webhooks/{webhookId}", again);
    const device = await registerDevice(key.secret, `ok-${randomUUID()}`);
    await send(key.secret, [device.userId]);
    // The endpoint kept gets its event: by then the deleted one would have had its own.
    await waitFor("message.done at the endpoint kept", async () => ((await deliveries(kept)).length > 0 ? true : undefined), 30_000);
    assert.deepEqual(await deliveries(gone), []);
  });

  it("refuses private targets, keys without the scope and more than five endpoints, writing nothing", { timeout: 60_000 }, async () => {
    const key = await partner(["webhooks:write", "messages:send"]);
    const receiverPort = new URL(RECEIVER).port;
    for (const [url, why] of [
      ["https://10.0.0.5/hooks", /public address/],
      ["https://169.254.169.254/latest/meta-data", /public address/],
      ["https://[::1]/hooks", /public address/],
      ["http://93.184.215.14/hooks", /https/],
      // A name resolving to 127.0.0.1, and the receiver itself under another name: the local allowance is for 127.0.0.1:<port> only.
      ["https://localhost/hooks", /public address/],
      [`http://localhost:${receiverPort}/hooks`, /https/],
      ["https://user:pw@example.com/", /user name or password/],
    ] as const) {
      const res = await api("/v1/webhooks", { key: key.secret, body: { url, events: ["message.done"] } });
      assert.equal(res.status, 400, `${url}: ${res.text}`);
      assert.deepEqual([errorCode(res), (res.body as { error: { field?: string } }).error.field], ["invalid-argument", "url"], url);
      assert.match((res.body as { error: { message: string } }).error.message, why, url);
      await fits("post", "/v1/webhooks", res);
    }
    const bad = await api("/v1/webhooks", { key: key.secret, body: { url: endpoint("x"), events: ["message.nope"] } });
    assert.deepEqual([bad.status, (bad.body as { error: { field?: string } }).error.field], [400, "events.0"]);
    assert.deepEqual((await api("/v1/webhooks", { key: key.secret })).body, { webhooks: [] }, "a refused registration writes nothing");

    const noScope = await partner(["messages:send", "devices:write"]);
    const denied = await api("/v1/webhooks", { key: noScope.secret, body: { url: endpoint("x"), events: ["message.done"] } });
    assert.equal(denied.status, 403);
    await fits("post", "/v1/webhooks", denied);
    assert.equal((await api("/v1/webhooks", { key: noScope.secret })).status, 403);
    // device.retired carries tokens: a key that does not manage the tenant's devices may not subscribe to it.
    const tokens = await api("/v1/webhooks", { key: key.secret, body: { url: endpoint("x"), events: ["device.retired"] } });
    assert.deepEqual([tokens.status, errorCode(tokens)], [403, "permission-denied"]);

    for (let i = 0; i < 5; i += 1) await register(key.secret, endpoint(`bound${i}`), ["message.done"]);
    const sixth = await api("/v1/webhooks", { key: key.secret, body: { url: endpoint("bound5"), events: ["message.done"] } });
    assert.deepEqual([sixth.status, errorCode(sixth)], [409, "failed-precondition"]);
    await fits("post", "/v1/webhooks", sixth);
    assert.equal(((await api("/v1/webhooks", { key: key.secret })).body as { webhooks: unknown[] }).webhooks.length, 5);
    // Another key's endpoints are neither listed nor deletable.
    const other = await partner(["webhooks:write", "messages:send"]);
    assert.deepEqual((await api("/v1/webhooks", { key: other.secret })).body, { webhooks: [] });
    const mine = ((await api("/v1/webhooks", { key: key.secret })).body as { webhooks: Array<{ webhookId: string }> }).webhooks[0];
    assert.equal(errorCode(await api(`/v1/webhooks/${mine?.webhookId}`, { key: other.secret, method: "DELETE" })), "not-found");
  });

  it("announces tallied receipts as message.receipts, not an event per ack", { timeout: 60_000 }, async () => {
    // A key of tenant "app" sends to the apps' signed-in users, whose app acks.
    const key = await createKey({ name: `webhooks ${randomUUID()}`, scopes: ["webhooks:write", "messages:send"], surface: "api", tenant: "app" });
    const url = endpoint("receipts");
    const hook = await register(key.secret, url, ["message.receipts"]);
    const phone = await signedInUser();
    try {
      const device = { deviceId: `dev-${randomUUID()}`, token: `ok-${randomUUID()}`, platform: "android" };
      await phone.call("registerDevice", device);
      const messageId = await send(key.secret, [phone.uid ?? ""]);
      await waitUntilFinal(messageId, 1);
      await phone.call("ackMessage", { messageId, deviceId: device.deviceId, event: "received" });
      await phone.call("ackMessage", { messageId, deviceId: device.deviceId, event: "opened" });
      const got = await waitFor("message.receipts with both acks counted", async () => {
        const all = await deliveries(url);
        return all.some((d) => JSON.stringify(envelope(d).data.receipts) === JSON.stringify({ received: 1, opened: 1 })) ? all : undefined;
      }, 30_000);
      for (const delivery of got) {
        assert.equal(verifyPushSignature(delivery.headers["push-signature"] ?? "", delivery.body, hook.secret), true);
        assert.equal(envelope(delivery).type, "message.receipts");
        assert.equal(envelope(delivery).data.messageId, messageId);
      }
      // One event per tally that counted something new: two acks make one or two events (by id), never more.
      const events = new Set(got.map((d) => envelope(d).id));
      assert.ok(events.size <= 2, `${events.size} events for two acks`);
      console.log(`[example] message.receipts: ${got.at(-1)?.body}`);
    } finally {
      await phone.close();
    }
  });

  it("announces a retired device to its tenant's endpoints only", { timeout: 60_000 }, async () => {
    const scopes: KeyScope[] = ["webhooks:write", "messages:send", "devices:write"];
    const [mine, theirs] = [await partner(scopes), await partner(scopes)];
    const myUrl = endpoint("retired");
    const theirUrl = endpoint("retired-other");
    const hook = await register(mine.secret, myUrl, ["device.retired"]);
    await register(theirs.secret, theirUrl, ["device.retired"]);
    const device = await registerDevice(mine.secret, `unregistered-${randomUUID()}`);
    await send(mine.secret, [device.userId]);
    const [delivery] = await waitFor("device.retired at the tenant's endpoint", async () => {
      const got = await deliveries(myUrl);
      return got.length > 0 ? got : undefined;
    }, 30_000);
    assert.ok(delivery);
    assert.equal(verifyPushSignature(delivery.headers["push-signature"] ?? "", delivery.body, hook.secret), true);
    const event = envelope(delivery);
    assert.equal(event.type, "device.retired");
    assert.deepEqual({ ...event.data, retiredAt: undefined }, { deviceId: device.deviceId, userId: device.userId, token: device.token, reason: "unregistered", retiredAt: undefined });
    console.log(`[example] device.retired: ${delivery.body}`);
    assert.deepEqual(await deliveries(theirUrl), [], "another tenant's key learns nothing");
  });
});
