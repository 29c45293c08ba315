/**
 * The sweep's backstop for broadcast work whose task died for good: a part
 * left not done, and a page whose FCM answers were stored but never recorded.
 * Each is set up as such a death leaves it (the documents, and no task), then
 * one sweep run finishes it.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { Timestamp } from "firebase-admin/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { PROJECT_ID, REGION, stackEnv } from "../tools/lib/env.ts";
import { createMessage, seedDevices, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { triggerScheduledSweep } from "../tools/scheduler.ts";

const anHourAgo = () => Timestamp.fromMillis(Date.now() - 3_600_000);

async function sweep(): Promise<void> {
  const res = await triggerScheduledSweep(stackEnv("FUNCTIONS_EMULATOR_ORIGIN"), PROJECT_ID, REGION);
  assert.ok(res.ok, `sweep answered ${res.status}`);
}

describe("the sweep finishes broadcast work whose task died", () => {
  it("an expansion part that stopped an hour ago gets its task again; every device is reached once", { timeout: 180_000 }, async () => {
    const cohort = `stranded-${randomUUID()}`;
    const devices = await seedDevices(Array.from({ length: 120 }, () => ({ attributes: { cohort } })));
    // No audience when created (nothing starts); then the audience and a part as a dead task chain leaves them.
    const messageId = await createMessage({ title: "Stranded part", body: "Still delivered" });
    const message = adminDb().collection("messages").doc(messageId);
    await message.update({ audience: { where: { cohort } }, recipientCount: null, recipientsWrittenAt: null });
    const part = message.collection("expansion").doc("00");
    await part.create({ spec: { kind: "range" }, cursor: null, written: 0, done: false, stopped: null, updatedAt: anHourAgo() });

    await sweep();
    const states = [...(await waitUntilFinal(messageId, 120, 150_000)).values()];
    assert.deepEqual([...new Set(states.map((r) => r.status))], [200]);
    const accepted = await acceptedFor(devices.map((d) => d.token));
    assert.equal(accepted.length, 120);
    assert.equal(new Set(accepted.map((a) => a.message.token)).size, 120, "each device reached exactly once");
    assert.equal((await part.get()).get("done"), true);

    // A second sweep finds nothing left to do: no device gets a second notification.
    await sweep();
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 120);
  });

  it("a page whose FCM answers were stored but whose record task died is recorded, nothing sent again", { timeout: 120_000 }, async () => {
    const devices = await seedDevices(Array.from({ length: 3 }, () => ({})));
    const messageId = await createMessage({ title: "Stranded page", body: "Sent, not recorded" });
    const sentAt = anHourAgo();
    const recipients = devices.map((d, i) => ({ id: `r${i}-${randomUUID().slice(0, 8)}`, deviceId: d.deviceId, userId: null }));
    const page = adminDb().collection("messages").doc(messageId).collection("pages").doc(`00-${randomUUID().slice(0, 8)}`);
    await page.create({
      state: "sent",
      part: 0,
      attempt: 1,
      recipients,
      leaseExpiresAt: sentAt,
      updatedAt: sentAt,
      outcomes: recipients.map((r) => ({ status: 200, statusMessage: null, leaseExpiresAt: null, retryAt: null, sentAt, fcmMessageId: `projects/${PROJECT_ID}/messages/${r.id}` })),
    });

    await sweep();
    const states = await waitUntilFinal(messageId, 3, 60_000);
    for (const r of recipients) {
      const state = states.get(r.id);
      assert.equal(state?.status, 200);
      assert.equal(state?.fcmMessageId, `projects/${PROJECT_ID}/messages/${r.id}`);
      assert.equal(state?.attempts, 1);
    }
    assert.equal((await page.get()).get("state"), "recorded");
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 0, "recorded, not sent again");
  });
});
