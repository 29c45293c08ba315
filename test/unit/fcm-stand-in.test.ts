/**
 * The FCM stand-in driven through firebase-admin's own `sendEach`, via the same
 * seam the functions use (`standInMessaging`): over HTTP/2, as in production.
 * Runs without the emulators: the stand-in is started in-process on a free port.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { BatchResponse, Message, SendResponse } from "firebase-admin/messaging";
import { startStandIn, type AcceptedMessage, type StandIn, type StandInStats } from "../../tools/fcm-stand-in.ts";
import { standInMessaging } from "../../functions/src/fcm/client.ts";
import { classify } from "../../functions/src/fcm/outcome.ts";
import { THIRD_PARTY_AUTH_STATUS } from "../../functions/src/shared/contract.ts";
import { PROJECT_ID } from "../../tools/lib/env.ts";

const PROJECT = PROJECT_ID;
const NAME = new RegExp(`^projects/${PROJECT}/messages/[0-9a-f-]{36}$`);
const TRANSIENT_CODES = ["messaging/server-unavailable", "messaging/internal-error", "messaging/message-rate-exceeded"];

const ok = () => `ok-${randomUUID()}`;
const prefixed = (prefix: string) => `${prefix}-${randomUUID()}`;

describe("FCM stand-in through firebase-admin", () => {
  let standIn: StandIn;
  let messaging: ReturnType<typeof standInMessaging>;

  const inspect = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${standIn.url}${path}`, init);
    assert.equal(res.status, 200, `${init?.method ?? "GET"} ${path}`);
    return (await res.json()) as T;
  };
  const acceptedMessages = async () => (await inspect<{ messages: AcceptedMessage[] }>("/_stand-in/messages")).messages;
  const attempts = async (token: string) =>
    (await inspect<{ token: string; attempts: number }>(`/_stand-in/attempts?token=${encodeURIComponent(token)}`)).attempts;
  const stats = () => inspect<StandInStats>("/_stand-in/stats");
  const clear = () => inspect<{ cleared: boolean }>("/_stand-in/messages", { method: "DELETE" });
  const configure = (config: { latencyMs?: number; failureRate?: number; outage?: boolean; projectFault?: string | null }) =>
    inspect<{ latencyMs: number; failureRate: number; outage: boolean; projectFault: string | null }>("/_stand-in/config", { method: "PUT", body: JSON.stringify(config) });

  const failed = (response: SendResponse | undefined, code: string, label: string) => {
    assert.ok(response, `${label}: no response`);
    assert.equal(response.success, false, `${label}: expected a failure`);
    assert.equal(response.messageId, undefined, label);
    assert.equal(response.error?.code, code, `${label}: ${response.error?.message}`);
    return response.error;
  };
  const succeeded = (response: SendResponse | undefined, label: string) => {
    assert.ok(response, `${label}: no response`);
    assert.equal(response.success, true, `${label}: ${response.error?.code} ${response.error?.message}`);
    assert.match(response.messageId ?? "", NAME, label);
    return response.messageId ?? "";
  };

  before(async () => {
    standIn = await startStandIn({});
    messaging = standInMessaging(new URL(standIn.url), PROJECT);
  });
  after(async () => {
    await configure({ latencyMs: 0, failureRate: 0, outage: false }).catch(() => undefined);
    await standIn.close();
  });

  it("maps every token scenario to firebase-admin's success flags and error codes in one sendEach", async () => {
    await clear();
    const okToken = ok();
    const flakyToken = prefixed("flaky");
    const bigToken = ok();
    const quotaToken = prefixed("quota");
    const unavailableToken = prefixed("unavailable");
    const messages: Message[] = [
      {
        token: okToken,
        notification: { title: "Field trip", body: "Buses leave at 8:15" },
        data: { kind: "announcement", id: "a-1" },
        android: { priority: "high", notification: { channelId: "news", tag: "trip" } },
        apns: { headers: { "apns-priority": "10" }, payload: { aps: { badge: 3, sound: "default" } } },
      },
      { token: prefixed("unregistered"), notification: { title: "t", body: "b" } },
      { token: prefixed("invalid"), notification: { title: "t", body: "b" } },
      { token: prefixed("mismatch"), notification: { title: "t", body: "b" } },
      { token: quotaToken, notification: { title: "t", body: "b" } },
      { token: unavailableToken, notification: { title: "t", body: "b" } },
      { token: flakyToken, notification: { title: "Flaky", body: "second time lucky" }, data: { n: "2" } },
      { token: bigToken, notification: { title: "Big", body: "x".repeat(4200) } },
    ];

    const result: BatchResponse = await messaging.sendEach(messages);
    const [okRes, unregistered, invalid, mismatch, quota, unavailable, flaky, big] = result.responses;

    assert.equal(result.responses.length, messages.length);
    const okName = succeeded(okRes, "normal token");
    failed(unregistered, "messaging/registration-token-not-registered", "unregistered-");
    failed(invalid, "messaging/invalid-argument", "invalid-");
    failed(mismatch, "messaging/mismatched-credential", "mismatch-");
    const quotaError = failed(quota, "messaging/message-rate-exceeded", "quota-");
    failed(unavailable, "messaging/server-unavailable", "unavailable-");
    const flakyName = succeeded(flaky, "flaky-");
    failed(big, "messaging/invalid-argument", "oversized");
    assert.equal(result.successCount, 2);
    assert.equal(result.failureCount, 6);

    // firebase-admin keeps the raw HTTP answer on the error: status, lower-cased headers, parsed body.
    assert.equal(quotaError?.httpResponse?.status, 429);
    assert.equal(quotaError?.httpResponse?.headers["retry-after"], "1");
    assert.deepEqual(quotaError?.httpResponse?.data, {
      error: {
        code: 429,
        message: "Quota exceeded for the project.",
        status: "RESOURCE_EXHAUSTED",
        details: [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: "QUOTA_EXCEEDED" }],
      },
    });
    assert.equal(quotaError?.hasCode("message-rate-exceeded"), true);

    // One internal firebase-admin retry turned the flaky 503 into a success; the 503s were retried 4 times.
    assert.equal(await attempts(flakyToken), 2);
    assert.equal(await attempts(unavailableToken), 5);
    assert.equal(await attempts(quotaToken), 1, "429 is not retried by firebase-admin");

    const accepted = await acceptedMessages();
    assert.deepEqual(
      accepted.map((entry) => entry.name).sort(),
      [okName, flakyName].sort(),
    );
    const byName = new Map(accepted.map((entry) => [entry.name, entry]));
    // The wire form of what was sent (firebase-admin renames a few fields, e.g. channelId → channel_id).
    assert.deepEqual(byName.get(okName)?.message, {
      token: okToken,
      notification: { title: "Field trip", body: "Buses leave at 8:15" },
      data: { kind: "announcement", id: "a-1" },
      android: { priority: "high", notification: { channel_id: "news", tag: "trip" } },
      apns: { headers: { "apns-priority": "10" }, payload: { aps: { badge: 3, sound: "default" } } },
    });
    assert.deepEqual(byName.get(flakyName)?.message, {
      token: flakyToken,
      notification: { title: "Flaky", body: "second time lucky" },
      data: { n: "2" },
    });
    const times = accepted.map((entry) => Date.parse(entry.receivedAt));
    assert.deepEqual([...times].sort((a, b) => a - b), times, "listed in arrival order");

    const counts = await stats();
    assert.equal(counts.accepted, 2);
    assert.equal(counts.errors.UNAVAILABLE, 5 + 1);
    assert.equal(counts.errors.QUOTA_EXCEEDED, 1);
  });

  it("lists accepted messages in the order they arrived", async () => {
    await clear();
    const tokens = [ok(), ok(), ok()];
    const names: string[] = [];
    for (const [i, token] of tokens.entries()) {
      names.push(await messaging.send({ token, data: { seq: String(i) } }));
    }
    const accepted = await acceptedMessages();
    assert.deepEqual(accepted.map((entry) => entry.name), names);
    assert.deepEqual(accepted.map((entry) => entry.message), tokens.map((token, i) => ({ token, data: { seq: String(i) } })));
  });

  it("answers a message without a target with FCM's INVALID_ARGUMENT body; firebase-admin refuses it client-side", async () => {
    const before = (await stats()).requests;
    const res = await fetch(`${standIn.url}/v1/projects/${PROJECT}/messages:send`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer x" },
      body: JSON.stringify({ message: { notification: { title: "x" } } }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as {
      error: { code: number; status: string; details: Array<{ "@type": string; errorCode: string }> };
    };
    assert.equal(body.error.code, 400);
    assert.equal(body.error.status, "INVALID_ARGUMENT");
    assert.equal(body.error.details[0]?.["@type"], "type.googleapis.com/google.firebase.fcm.v1.FcmError");
    assert.equal(body.error.details[0]?.errorCode, "INVALID_ARGUMENT");

    // sendEach does not reject: it yields a per-message error without any request leaving.
    const result = await messaging.sendEach([{ notification: { title: "x" } } as unknown as Message]);
    assert.equal(result.successCount, 0);
    assert.equal(result.failureCount, 1);
    failed(result.responses[0], "messaging/invalid-payload", "no target");
    assert.equal(result.responses[0]?.error?.httpResponse, undefined);
    assert.equal((await stats()).requests, before + 1, "only the direct fetch reached the stand-in");
  });

  it("measures the size limit in UTF-8 bytes", async () => {
    await clear();
    const fits = ok();
    const tooBig = ok();
    const result = await messaging.sendEach([
      { token: fits, notification: { title: "accents", body: "é".repeat(1500) } },
      { token: tooBig, notification: { title: "accents", body: "é".repeat(2100) } },
    ]);
    const name = succeeded(result.responses[0], "3,000 bytes of é");
    const error = failed(result.responses[1], "messaging/invalid-argument", "4,200 bytes of é");
    assert.equal(error?.httpResponse?.status, 400);
    const accepted = await acceptedMessages();
    assert.deepEqual(accepted.map((entry) => entry.name), [name]);
    assert.equal(accepted[0]?.message.token, fits);
  });

  it("accepts a batch of 500 in one sendEach", async () => {
    await clear();
    const tokens = Array.from({ length: 500 }, ok);
    const result = await messaging.sendEach(tokens.map((token, i) => ({ token, data: { i: String(i) } })));
    assert.equal(result.successCount, 500);
    assert.equal(result.failureCount, 0);
    assert.ok(result.responses.every((response) => response.success));
    const accepted = await acceptedMessages();
    assert.equal(accepted.length, 500);
    assert.deepEqual(new Set(accepted.map((entry) => entry.message.token)), new Set(tokens));
    assert.equal((await stats()).accepted, 500);
  });

  it("gets every send of a 500-message sendEach over HTTP/2, at most 100 at a time, and the session closed after; send and inspection stay HTTP/1.1", async () => {
    await clear();
    const tokens = Array.from({ length: 500 }, ok);
    const latencyMs = 100;
    let elapsed: number;
    try {
      await configure({ latencyMs });
      const started = performance.now();
      const result = await messaging.sendEach(tokens.map((token) => ({ token, data: { k: "v" } })));
      elapsed = performance.now() - started;
      assert.equal(result.successCount, 500);
    } finally {
      await configure({ latencyMs: 0 });
    }
    const counts = await stats();
    assert.equal(counts.requests, 500);
    assert.equal(counts.http2Requests, 500, "every sendEach message came as an HTTP/2 stream");
    // FCM's (and the stand-in's) 100 streams per session: five rounds of answers, not one round of 500 in parallel.
    assert.ok(elapsed >= 5 * latencyMs, `500 sends at ${latencyMs} ms each took only ${elapsed.toFixed(0)} ms`);
    // firebase-admin closes its session once the batch has settled; nothing is left open on the stand-in.
    const deadline = Date.now() + 5_000;
    while (standIn.openConnections().http2 > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(standIn.openConnections().http2, 0, "firebase-admin's HTTP/2 session was closed");

    // Messaging.send is HTTP/1.1 in firebase-admin (production too), on the same port as the HTTP/2 sends.
    await messaging.send({ token: ok(), data: { k: "v" } });
    const { requests, http2Requests } = await stats();
    assert.deepEqual({ requests, http2Requests }, { requests: 501, http2Requests: 500 });
    assert.equal((await acceptedMessages()).length, 501, "fetch (HTTP/1.1) still reads what the HTTP/2 streams delivered");
  });

  it("clears its record on DELETE and injects transient failures at failureRate 1", async () => {
    await messaging.send({ token: ok(), data: { k: "v" } });
    assert.ok((await acceptedMessages()).length > 0);
    assert.deepEqual(await clear(), { cleared: true });
    assert.deepEqual(await acceptedMessages(), []);
    assert.deepEqual(await stats(), { requests: 0, http2Requests: 0, accepted: 0, errors: {}, injectedFailures: 0, validateOnly: 0 });

    try {
      assert.deepEqual(await configure({ failureRate: 1 }), { latencyMs: 0, failureRate: 1, outage: false, projectFault: null, quotaRetryAfterSeconds: 60 });
      const result = await messaging.sendEach([ok(), ok(), ok()].map((token) => ({ token, data: { k: "v" } })));
      assert.equal(result.successCount, 0);
      assert.equal(result.failureCount, 3);
      for (const [i, response] of result.responses.entries()) {
        assert.equal(response.success, false);
        assert.ok(TRANSIENT_CODES.includes(response.error?.code ?? ""), `message ${i}: ${response.error?.code}`);
      }
      const counts = await stats();
      assert.equal(counts.accepted, 0);
      assert.ok(counts.injectedFailures >= 3, `injected ${counts.injectedFailures}`);
      assert.deepEqual(await acceptedMessages(), []);
    } finally {
      await configure({ failureRate: 0 });
    }
    succeeded((await messaging.sendEach([{ token: ok() }])).responses[0], "after failureRate 0");
  });

  it("answers every send 503 UNAVAILABLE during an outage, whatever the token, and accepts again after it", async () => {
    await clear();
    const okToken = ok();
    const flakyToken = prefixed("flaky");
    const unregisteredToken = prefixed("unregistered");
    try {
      assert.deepEqual(await configure({ outage: true }), { latencyMs: 0, failureRate: 0, outage: true, projectFault: null, quotaRetryAfterSeconds: 60 });
      const result = await messaging.sendEach([okToken, flakyToken, unregisteredToken].map((token) => ({ token, data: { k: "v" } })));
      assert.equal(result.successCount, 0);
      for (const [i, response] of result.responses.entries()) {
        const error = failed(response, "messaging/server-unavailable", `message ${i}`);
        assert.equal(error?.httpResponse?.status, 503);
      }
      // firebase-admin retried each 503 four times; none of them got through.
      assert.equal(await attempts(okToken), 5);
      assert.equal(await attempts(flakyToken), 5);
      assert.equal(await attempts(unregisteredToken), 5);
      const counts = await stats();
      assert.equal(counts.requests, 15);
      assert.equal(counts.accepted, 0);
      assert.deepEqual(counts.errors, { UNAVAILABLE: 15 });
      assert.equal(counts.injectedFailures, 0, "an outage is not counted as injected failures");
      assert.deepEqual(await acceptedMessages(), []);
    } finally {
      assert.deepEqual(await configure({ outage: false }), { latencyMs: 0, failureRate: 0, outage: false, projectFault: null, quotaRetryAfterSeconds: 60 });
    }
    // Recovered: the same tokens get their usual answers.
    const result = await messaging.sendEach([okToken, unregisteredToken].map((token) => ({ token, data: { k: "v" } })));
    const name = succeeded(result.responses[0], "after the outage");
    failed(result.responses[1], "messaging/registration-token-not-registered", "unregistered- after the outage");
    assert.deepEqual((await acceptedMessages()).map((entry) => entry.name), [name]);
  });

  it("delays every answer by latencyMs", async () => {
    try {
      assert.deepEqual(await configure({ latencyMs: 300 }), { latencyMs: 300, failureRate: 0, outage: false, projectFault: null, quotaRetryAfterSeconds: 60 });
      const started = performance.now();
      const result = await messaging.sendEach([{ token: ok(), notification: { title: "slow" } }]);
      const elapsed = performance.now() - started;
      succeeded(result.responses[0], "slow send");
      assert.ok(elapsed >= 300, `took ${elapsed.toFixed(0)} ms`);
    } finally {
      await configure({ latencyMs: 0 });
    }
  });

  it("answers every send with a project-level fault while one is set, shaped as FCM shapes it; classify never blames the token", async () => {
    const cases: Array<{ fault: string; status: number; adminCode: string; kind: string }> = [
      // firebase-admin maps these to the codes that would retire a device: the classification must not.
      { fault: "permission-denied", status: 403, adminCode: "messaging/mismatched-credential", kind: "project-fault" },
      { fault: "unauthenticated", status: 401, adminCode: "messaging/third-party-auth-error", kind: "project-fault" },
      { fault: "not-found", status: 404, adminCode: "messaging/registration-token-not-registered", kind: "project-fault" },
      { fault: "quota", status: 429, adminCode: "messaging/message-rate-exceeded", kind: "transient" },
    ];
    const acceptedBefore = (await acceptedMessages()).length;
    try {
      for (const { fault, status, adminCode, kind } of cases) {
        assert.equal((await configure({ projectFault: fault })).projectFault, fault);
        assert.equal((await inspect<{ projectFault: string | null }>("/_stand-in/config")).projectFault, fault);
        const tokens = [ok(), prefixed("unregistered"), prefixed("mismatch")];
        const result = await messaging.sendEach(tokens.map((token) => ({ token, notification: { title: fault } })));
        for (const [i, response] of result.responses.entries()) {
          const error = response.error;
          assert.equal(response.success, false, `${fault} #${i}`);
          assert.equal(error?.httpResponse?.status, status, `${fault} #${i}`);
          const outcome = classify(response);
          assert.equal(outcome.kind, kind, `${fault} #${i}: ${error?.code}`);
          if (i === 0) assert.equal(error?.code, adminCode, `${fault}: firebase-admin's own mapping`);
          if (fault === "quota") assert.equal(outcome.kind === "transient" && outcome.retryAfterSeconds, 60);
        }
      }
      assert.equal((await acceptedMessages()).length, acceptedBefore, "nothing delivered during a project fault");
      const refused = await fetch(`${standIn.url}/_stand-in/config`, { method: "PUT", body: JSON.stringify({ projectFault: "bogus" }) });
      assert.equal(refused.status, 400);
    } finally {
      await configure({ projectFault: null });
    }
    const after = await messaging.sendEach([{ token: ok(), notification: { title: "after" } }]);
    succeeded(after.responses[0], "after the fault is cleared");
  });

  it("answers third-party-auth- tokens 401 THIRD_PARTY_AUTH_ERROR: a final failure with its own code, never a retirement", async () => {
    const result = await messaging.sendEach([{ token: prefixed("third-party-auth"), notification: { title: "apns" } }]);
    const response = result.responses[0];
    assert.ok(response);
    assert.equal(response.error?.httpResponse?.status, 401);
    const outcome = classify(response);
    assert.equal(outcome.kind, "failed");
    assert.equal(outcome.kind === "failed" && outcome.status, THIRD_PARTY_AUTH_STATUS);
    assert.match(outcome.kind === "failed" ? outcome.statusMessage : "", /^THIRD_PARTY_AUTH_ERROR: /);
  });

  it("answers validate_only (firebase-admin's dry run) as FCM does, and never lists it as delivered", async () => {
    const before = (await stats()).validateOnly;
    const name = await messaging.send({ topic: "push-service-probe", notification: { title: "probe" } }, true);
    assert.equal(name, `projects/${PROJECT}/messages/fake_message_id`);
    const token = ok();
    await messaging.send({ token, notification: { title: "dry" } }, true);
    await assert.rejects(messaging.send({ token: prefixed("unregistered"), notification: { title: "dry" } }, true), { code: "messaging/registration-token-not-registered" });
    assert.equal((await stats()).validateOnly, before + 3);
    assert.equal(await attempts(token), 0, "a dry run is not an attempt");
    assert.equal((await acceptedMessages()).filter((m) => m.message.token === token || m.message.topic !== undefined).length, 0);
  });
});
