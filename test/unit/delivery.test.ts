/**
 * The delivery's pure parts, with no stack: what an FCM answer becomes, the
 * backoff, the recipients that are never sent, the payload, the shards, the
 * task windows, bursts and the early-task wait.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FirebaseError } from "firebase-admin/app";
import { contendedRetryAt, decideOutcome, latestRetryAt, MAX_CONTENDED_RETRIES, retryDelayMs, statusOf, tally, toUpdate, triage, type Settings } from "../../functions/src/delivery/decide.ts";
import { BURST_THRESHOLD, BurstMeter } from "../../functions/src/delivery/burst.ts";
import { msUntilEta } from "../../functions/src/delivery/eta.ts";
import { shardCount, shardOf, shardRange } from "../../functions/src/delivery/shards.ts";
import { windowOf } from "../../functions/src/delivery/tasks.ts";
import type { DeviceDoc } from "../../functions/src/devices/schema.ts";
import { buildFcmMessage, collapseIdOf, RecipientError } from "../../functions/src/fcm/build.ts";
import { classify } from "../../functions/src/fcm/outcome.ts";
import { messageDoc } from "../../functions/src/messages/schema.ts";
import { STATUS } from "../../functions/src/shared/contract.ts";

const config: Settings = { batchSize: 500, shards: 8, leaseSeconds: 60, maxAttempts: 3, retryBaseMs: 1000, retryMaxMs: 60_000, windowSeconds: 1 };

function fcmError(code: string, message = "x", status?: number, headers?: Record<string, string>): FirebaseError {
  return { code, message, ...(status !== undefined && { httpResponse: { status, headers: headers ?? {} } }) } as unknown as FirebaseError;
}

/** An error as firebase-admin makes it of an FCM answer: its mapped code, and the answer (status, body with or without the FcmError detail). */
function answer(code: string, status: number, googleStatus: string, fcmCode?: string, message = "x"): FirebaseError {
  const details = fcmCode ? [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: fcmCode }] : [];
  return { code, message, httpResponse: { status, headers: {}, data: { error: { code: status, message, status: googleStatus, details } } } } as unknown as FirebaseError;
}

const device = (over: Partial<DeviceDoc> = {}): DeviceDoc => ({ token: "tok", platform: "android", enabled: true, retired: false, ...over }) as DeviceDoc;

describe("FCM answers (classify)", () => {
  it("maps every kind of answer to its outcome", () => {
    assert.deepEqual(classify({ success: true, messageId: "projects/p/messages/1" }), { kind: "accepted", fcmMessageId: "projects/p/messages/1" });
    const cases: Array<[FirebaseError, string, number]> = [
      // As FCM answers, with firebase-admin's mapped code beside the answer: the answer decides.
      [answer("messaging/registration-token-not-registered", 404, "NOT_FOUND", "UNREGISTERED"), "dead-token", -99],
      [answer("messaging/invalid-argument", 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"), "dead-token", 400],
      [answer("messaging/invalid-argument", 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload"), "failed", 400],
      [answer("messaging/mismatched-credential", 403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"), "dead-token", 403],
      // Project-level: no per-token detail. firebase-admin's codes here would retire the device.
      [answer("messaging/mismatched-credential", 403, "PERMISSION_DENIED"), "project-fault", 403],
      [answer("messaging/third-party-auth-error", 401, "UNAUTHENTICATED"), "project-fault", 401],
      [answer("messaging/registration-token-not-registered", 404, "NOT_FOUND"), "project-fault", 404],
      [answer("messaging/third-party-auth-error", 401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), "failed", 401],
      [answer("messaging/message-rate-exceeded", 429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), "transient", 429],
      [answer("messaging/server-unavailable", 503, "UNAVAILABLE", "UNAVAILABLE"), "transient", 503],
      [fcmError("messaging/internal-error", "boom", 500), "transient", 500],
      // No HTTP answer at all: firebase-admin's code is all there is.
      [fcmError("messaging/server-unavailable"), "transient", 503],
      [fcmError("app/network-timeout"), "transient", 504],
      [fcmError("messaging/registration-token-not-registered"), "dead-token", -99],
    ];
    for (const [error, kind, status] of cases) {
      const outcome = classify({ success: false, error });
      assert.equal(outcome.kind, kind, error.code);
      assert.equal(outcome.kind === "accepted" ? 200 : outcome.status, status, error.code);
    }
  });

  it("says FCM's own code in the recipient's statusMessage", () => {
    const fault = classify({ success: false, error: answer("messaging/mismatched-credential", 403, "PERMISSION_DENIED", undefined, "Permission denied") });
    assert.equal(fault.kind === "project-fault" && fault.statusMessage, "PERMISSION_DENIED: Permission denied");
    const apns = classify({ success: false, error: answer("messaging/third-party-auth-error", 401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS") });
    assert.equal(apns.kind === "failed" && apns.statusMessage, "THIRD_PARTY_AUTH_ERROR: Auth error from APNS");
  });

  it("holds a recipient FCM could not take because of the project, its attempt given back", () => {
    const fault = classify({ success: false, error: answer("messaging/mismatched-credential", 403, "PERMISSION_DENIED") });
    const decision = decideOutcome(fault, 3, config, 1000, 4);
    assert.equal(decision.kind, "held");
    assert.deepEqual({ ...toUpdate(decision), statusMessage: null }, { status: STATUS.pending, statusMessage: null, leaseExpiresAt: null, retryAt: null, attempts: 2, badgeValue: 4 });
    assert.equal(latestRetryAt([decision]), undefined, "no retry task: the resume dispatches it");
  });

  it("reads Retry-After as seconds or as a date", () => {
    const seconds = classify({ success: false, error: fcmError("messaging/message-rate-exceeded", "q", 429, { "retry-after": "7" }) });
    assert.equal(seconds.kind === "transient" && seconds.retryAfterSeconds, 7);
    const date = classify({ success: false, error: fcmError("messaging/server-unavailable", "u", 503, { "retry-after": new Date(Date.now() + 30_000).toUTCString() }) });
    assert.ok(date.kind === "transient" && date.retryAfterSeconds !== undefined && date.retryAfterSeconds > 25 && date.retryAfterSeconds <= 30);
  });
});

describe("what each recipient becomes (decide)", () => {
  it("sends only to a live device of a well-formed recipient", () => {
    assert.equal(triage(undefined, device()), undefined);
    assert.deepEqual(triage("recipient document is invalid (deviceId): required", device()), { kind: "final", status: 400, statusMessage: "recipient document is invalid (deviceId): required" });
    assert.equal(statusOf(triage(undefined, undefined)!), STATUS.notRegistered);
    assert.match(triage(undefined, device({ retired: true, retiredReason: "unregistered" }))!.statusMessage ?? "", /retired \(unregistered\)/);
    assert.equal(statusOf(triage(undefined, device({ enabled: false }))!), STATUS.skippedDisabled);
  });

  it("backs off exponentially with jitter, capped, never under Retry-After", () => {
    assert.equal(retryDelayMs(1, config, undefined, 0.5), 1000);
    assert.equal(retryDelayMs(3, config, undefined, 0.5), 4000);
    assert.equal(retryDelayMs(1, config, undefined, 0), 800);
    assert.ok(Math.abs(retryDelayMs(1, config, undefined, 0.999_999) - 1200) < 0.01);
    assert.equal(retryDelayMs(20, config, undefined, 0.5), 60_000, "capped at retryMaxMs");
    assert.equal(retryDelayMs(1, config, 30, 0.5), 30_000, "Retry-After wins when longer");
  });

  it("turns a transient answer into a retry until the last attempt, then a final code", () => {
    const transient = { kind: "transient", status: 503, statusMessage: "messaging/server-unavailable: down" } as const;
    const retry = decideOutcome(transient, 1, config, 10_000, 4, 0.5);
    assert.deepEqual(retry, { kind: "retry", statusMessage: "messaging/server-unavailable: down (attempt 1 of 3, will retry)", retryAtMs: 11_000, badge: 4 });
    const last = decideOutcome(transient, 3, config, 10_000, undefined, 0.5);
    assert.deepEqual(last, { kind: "final", status: 503, statusMessage: "messaging/server-unavailable: down (gave up after 3 attempts)" });
    const accepted = decideOutcome({ kind: "accepted", fcmMessageId: "m/1" }, 1, config, 10_000, 2);
    assert.deepEqual(accepted, { kind: "final", status: 200, statusMessage: null, sent: { atMs: 10_000, fcmMessageId: "m/1" }, badge: 2 });
  });

  it("writes a decision as recipient fields, releasing the lease", () => {
    const retry = toUpdate({ kind: "retry", statusMessage: "later", retryAtMs: 5000, badge: 1 });
    assert.equal(retry.status, STATUS.pending);
    assert.equal(retry.leaseExpiresAt, null);
    assert.equal(retry.retryAt?.toMillis(), 5000);
    assert.equal(retry.badgeValue, 1);
    const sent = toUpdate({ kind: "final", status: 200, statusMessage: null, sent: { atMs: 7000, fcmMessageId: "m/2" } });
    assert.equal(sent.sentAt?.toMillis(), 7000);
    assert.equal(sent.fcmMessageId, "m/2");
    assert.equal(sent.retryAt, null);
    assert.equal("badgeValue" in sent, false);
  });

  it("comes back once the last backoff of a batch is over; bounds contention retries", () => {
    assert.equal(latestRetryAt([{ kind: "final", status: 200, statusMessage: null }]), undefined);
    assert.equal(latestRetryAt([{ kind: "retry", statusMessage: "", retryAtMs: 5 }, { kind: "retry", statusMessage: "", retryAtMs: 9 }, { kind: "final", status: 400, statusMessage: "x" }]), 9);
    assert.equal(contendedRetryAt(1, 1000), 3000);
    assert.equal(contendedRetryAt(MAX_CONTENDED_RETRIES, 0), 2000 * MAX_CONTENDED_RETRIES);
    assert.equal(contendedRetryAt(MAX_CONTENDED_RETRIES + 1, 0), undefined);
    assert.deepEqual(tally([200, 200, -1, 400, -99]), { accepted: 2, retrying: 1, final: 4 });
  });
});

describe("the FCM message (build)", () => {
  const message = messageDoc.parse({ title: "Hi {{name}}", body: "Body", data: { k: "v" } });

  it("fills placeholders, sets the platform block and the recipient's collapse id", () => {
    const fcm = buildFcmMessage({ messageId: "m1", recipientId: "r1", message, token: "tok", platform: "android", vars: { name: "Ada" } }) as { token: string; notification: { title: string }; android?: { collapseKey?: string }; apns?: unknown; data?: Record<string, string> };
    assert.equal(fcm.token, "tok");
    assert.equal(fcm.notification.title, "Hi Ada");
    assert.equal(fcm.android?.collapseKey, collapseIdOf("m1", "r1"));
    assert.equal(fcm.apns, undefined, "only the device's platform block");
    assert.deepEqual(fcm.data, { k: "v", messageId: "m1" }, "the message id rides along for the app");
  });

  it("refuses an unknown placeholder and a payload over 4096 bytes, for that recipient only", () => {
    assert.throws(() => buildFcmMessage({ messageId: "m1", recipientId: "r1", message, token: "tok", platform: "ios", vars: {} }), RecipientError);
    const big = messageDoc.parse({ title: "t", body: "b", data: { k: "x".repeat(4200) } });
    assert.throws(() => buildFcmMessage({ messageId: "m1", recipientId: "r1", message: big, token: "tok", platform: "web", vars: {} }), /payload too large/);
  });
});

describe("shards, windows and task times", () => {
  it("puts every id in exactly the one shard whose range holds it", () => {
    const ids = ["0", "00", "9zz", "A", "Zed", "a", "m", "zzzz", "~tilde", "", "Ω"];
    for (const shards of [1, 3, 8, 62, 100]) {
      for (const id of ids) {
        const shard = shardOf(id, shards);
        const range = shardRange(shard, shards);
        assert.ok(shard < shardCount(shards));
        assert.ok(range.from === undefined || id >= range.from, `${id} ≥ ${range.from}`);
        assert.ok(range.to === undefined || id < range.to, `${id} < ${range.to}`);
      }
    }
  });

  it("schedules a window's trailing task just after the window ends", () => {
    assert.deepEqual(windowOf(10_250, 1), { window: 10, delaySeconds: 1.75 });
    assert.deepEqual(windowOf(10_000, 5), { window: 2, delaySeconds: 6 });
  });

  it("counts a message as a burst from its recipient past the threshold in a window, for that window and the next", () => {
    const meter = new BurstMeter();
    const seen = Array.from({ length: BURST_THRESHOLD + 1 }, () => meter.record("m", 7));
    assert.deepEqual(seen, [...Array.from({ length: BURST_THRESHOLD }, () => false), true], "the first ones go the ordinary way");
    assert.equal(meter.record("other", 7), false, "per message: a Moodle push beside a broadcast is not a burst");
    assert.equal(meter.record("m", 8), true, "the window after a busy one is still a burst");
    assert.equal(meter.record("m", 9), false, "a quiet window (1 recipient in 8) ends it");
    assert.equal(meter.record("m", 12), false, "after a gap it starts from nothing");
    meter.prune(20);
    assert.equal(meter.record("m", 20), false);
  });

  it("reads a task's ETA in every form the queue hands over", () => {
    const now = 1_000_000_000_000;
    assert.equal(msUntilEta(undefined, now), 0);
    assert.equal(msUntilEta(String((now + 5000) / 1000), now), 5000, "seconds since the epoch");
    assert.equal(msUntilEta(String(now + 3000), now), 3000, "milliseconds");
    assert.equal(msUntilEta(new Date(now + 2000).toISOString(), now), 2000, "an ISO date");
    assert.equal(msUntilEta(String((now - 5000) / 1000), now), 0, "past is now");
  });
});
