import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { FieldValue } from "firebase-admin/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { addRecipients, seedDevices, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { stackParam } from "../tools/lib/env.ts";

const LOCAL_MESSAGE_WAIT_SECONDS = stackParam("DISPATCH_MESSAGE_WAIT_SECONDS");

describe("documents written directly by a job, right or wrong", () => {
  it("ends recipients without a deviceId, or with a number there, at 400 with the reason; the rest are sent", { timeout: 60_000 }, async () => {
    const [device] = await seedDevices([{}]);
    assert.ok(device);
    const message = adminDb().collection("messages").doc();
    await message.set({ title: "Direct", body: "Written by a job", senderId: null, createdAt: FieldValue.serverTimestamp() });
    const recipients = message.collection("recipients");
    await Promise.all([
      recipients.doc("no-device").create({ status: -1, statusMessage: null, attempts: 0 }),
      recipients.doc("number-device").create({ deviceId: 42, status: -1, statusMessage: null, attempts: 0 }),
      recipients.doc("fine").create({ deviceId: device.deviceId, status: -1, statusMessage: null, attempts: 0 }),
    ]);
    const states = await waitUntilFinal(message.id, 3);
    assert.equal(states.get("no-device")?.status, 400);
    assert.match(String(states.get("no-device")?.statusMessage), /recipient document is invalid \(deviceId\)/);
    assert.equal(states.get("number-device")?.status, 400);
    assert.match(String(states.get("number-device")?.statusMessage), /deviceId/);
    assert.equal(states.get("fine")?.status, 200);
    assert.equal((await acceptedFor([device.token])).length, 1);
  });

  it("delivers recipients written a few seconds before their message document", { timeout: 60_000 }, async () => {
    const devices = await seedDevices([{}, {}]);
    const messageId = adminDb().collection("messages").doc().id;
    await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await adminDb().collection("messages").doc(messageId).set({ title: "Late", body: "The message came second", senderId: null, createdAt: FieldValue.serverTimestamp() });
    const states = await waitUntilFinal(messageId, 2, 45_000);
    assert.ok([...states.values()].every((r) => r.status === 200), JSON.stringify([...states.values()].map((r) => r.statusMessage)));
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 2);
  });

  it("ends recipients whose message document never appears, with a reason, after a bounded wait", { timeout: 90_000 }, async () => {
    const devices = await seedDevices([{}]);
    const messageId = `never-${randomUUID()}`;
    const started = Date.now();
    await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    const states = await waitUntilFinal(messageId, 1, 60_000);
    const [state] = [...states.values()];
    assert.equal(state?.status, 400);
    assert.match(String(state?.statusMessage), /does not exist \(waited \d+ s for it\)/);
    assert.ok(Date.now() - started >= LOCAL_MESSAGE_WAIT_SECONDS * 1000, "it waited for the message first");
    assert.equal((await acceptedFor(devices.map((d) => d.token))).length, 0);
  });
});
