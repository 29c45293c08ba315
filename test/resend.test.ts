/**
 * resendFailed for a message with thousands of failures: the call answers at
 * once, the recipients are written in the background, and a repeat of the
 * call (the same idempotency key) starts nothing new: every failed device is
 * sent to once.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { adminDb } from "../tools/lib/admin.ts";
import { signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { createMessage, seedDevices, waitForRecipientCount, waitForTriggersToCatchUp, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";

const FAILED = 2000;

describe("resendFailed in the background", () => {
  let staff: ClientUser;
  before(async () => {
    staff = await signedInUser({ pushSender: true });
  });
  after(async () => {
    await staff.close();
    // 2,000 recipient triggers queue in the Functions emulator: let the next suite's triggers not wait behind them.
    await waitForTriggersToCatchUp();
  });

  it(`answers at once for ${FAILED} failures, writes them in the background, and a repeat sends nobody twice`, { timeout: 300_000 }, async () => {
    const devices = await seedDevices(Array.from({ length: FAILED + 5 }, () => ({})));
    // A finished message as an FCM outage leaves it: most recipients ended 503, a few accepted.
    const original = await createMessage({ title: "Outage", body: "Sent again", senderId: staff.uid, recipientCount: FAILED + 5 });
    const writer = adminDb().bulkWriter();
    const recipients = adminDb().collection("messages").doc(original).collection("recipients");
    devices.forEach((d, i) => {
      const failed = i < FAILED;
      void writer.create(recipients.doc(`r-${i}`), { deviceId: d.deviceId, userId: null, status: failed ? 503 : 200, statusMessage: failed ? "UNAVAILABLE: down" : null, attempts: 3 });
    });
    await writer.close();

    const key = `resend-${randomUUID()}`;
    const [first, second] = await Promise.all([
      staff.call<{ messageId: string; recipients: number }>("resendFailed", { messageId: original, idempotencyKey: key }),
      staff.call<{ messageId: string; recipients: number }>("resendFailed", { messageId: original, idempotencyKey: key }),
    ]);
    assert.deepEqual(first, { messageId: first.messageId, recipients: FAILED });
    assert.deepEqual(second, first, "the repeat answers the same resend");
    const resend = adminDb().collection("messages").doc(first.messageId);
    assert.equal((await resend.get()).get("resendOf"), original);

    assert.equal(await waitForRecipientCount(first.messageId, 240_000), FAILED);
    const progress = (await resend.get()).get("resendProgress") as { done: boolean; written: number };
    assert.deepEqual([progress.done, progress.written], [true, FAILED]);
    // Called again once done: the same answer, nothing new written.
    assert.deepEqual(await staff.call("resendFailed", { messageId: original, idempotencyKey: key }), first);

    const states = await waitUntilFinal(first.messageId, FAILED, 240_000);
    assert.ok([...states.values()].every((r) => r.status === 200));
    const failedTokens = devices.slice(0, FAILED).map((d) => d.token);
    const accepted = await acceptedFor(failedTokens);
    assert.equal(accepted.length, FAILED, "each failed device reached exactly once");
    assert.equal(new Set(accepted.map((a) => a.message.token)).size, FAILED);
    assert.equal((await acceptedFor(devices.slice(FAILED).map((d) => d.token))).length, 0, "the accepted ones are not sent again");
  });
});
