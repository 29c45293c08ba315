/**
 * The priority lane: a small send is written whole by its call (message and
 * claimed recipients in one commit) and sent by that call, so it never waits
 * behind a broadcast's expansion and page tasks.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setLogLevel } from "firebase/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { seedDevices, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor, configureStandIn } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";

interface SendResult {
  messageId: string;
  recipients: number | null;
}

describe("the priority lane for small sends", () => {
  let staff: ClientUser;
  before(async () => {
    setLogLevel("silent");
    staff = await signedInUser({ pushSender: true });
  });
  after(async () => {
    await configureStandIn({ latencyMs: 0 });
    await staff.close();
  });

  it("writes and sends a small send in the call: by its answer FCM has it and every outcome is recorded; no expansion part; a disabled device left out", { timeout: 60_000 }, async () => {
    const userId = `u-${randomUUID()}`;
    const [phone, tablet] = await seedDevices([{ userId }, { userId }, { userId, enabled: false }]);
    const { messageId, recipients } = await staff.call<SendResult>("sendMessage", { title: "Pick-up", body: "Kim is in the office", audience: { users: [userId] } });
    assert.equal(recipients, null, "the answer's contract is unchanged");
    const message = adminDb().collection("messages").doc(messageId);
    // Written in the call's own commit: present as soon as the call answers.
    const [snapshot, recipientDocs, parts] = await Promise.all([message.get(), message.collection("recipients").get(), message.collection("expansion").get()]);
    assert.equal(snapshot.get("recipientCount"), 2);
    assert.ok(snapshot.get("recipientsWrittenAt"), "recipientsWrittenAt is set by the call");
    assert.deepEqual(recipientDocs.docs.map((d) => d.get("status") as number), [200, 200], "sent and recorded before the call answered");
    assert.equal(parts.size, 0, "no expansion part: the call wrote the audience itself");
    const received = await acceptedFor([phone!.token, tablet!.token]);
    assert.equal(received.length, 2);
    assert.ok(received.every((m) => (m.message.data as Record<string, string>).messageId === messageId));
  });

  it("sends a one-user message during a 1,000-device broadcast before the broadcast's last batch", { timeout: 180_000 }, async () => {
    const cohort = `c-${randomUUID()}`;
    const devices = await seedDevices(Array.from({ length: 1000 }, () => ({ deviceId: randomBytes(12).toString("base64url"), attributes: { cohort } })));
    const userId = `u-${randomUUID()}`;
    const [parent] = await seedDevices([{ userId }]);
    // FCM answering each request in 150 ms stretches the broadcast over several seconds of pages.
    await configureStandIn({ latencyMs: 150 });
    const broadcast = await staff.call<SendResult>("sendMessage", { title: "Newsletter", body: "December", audience: { where: { cohort } } });
    // Once the broadcast is sending, the teacher's message goes in.
    const tokens = devices.map((d) => d.token);
    await waitFor("the broadcast's first page", async () => ((await acceptedFor(tokens)).length > 0 ? true : undefined), 60_000);
    const single = await staff.call<SendResult>("sendMessage", { title: "Kim", body: "Please call the office", audience: { users: [userId] } });
    await waitUntilFinal(single.messageId, 1);
    await waitUntilFinal(broadcast.messageId, devices.length, 150_000);
    await configureStandIn({ latencyMs: 0 });
    const [lone] = await acceptedFor([parent!.token]);
    const received = (await acceptedFor(tokens)).map((m) => Date.parse(m.receivedAt));
    assert.equal(received.length, devices.length);
    const last = Math.max(...received);
    assert.ok(lone && Date.parse(lone.receivedAt) < last, `the single send was accepted ${lone ? last - Date.parse(lone.receivedAt) : "?"} ms before the broadcast's last message`);
    console.log(`priority lane: single send accepted ${last - Date.parse(lone.receivedAt)} ms before the broadcast's last of ${devices.length}`);
  });
});
