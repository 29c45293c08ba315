/**
 * Data-only messages through sendMessage, as staff send them: FCM gets data
 * and routing only, on every platform; the report counts them like any other.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { callError, signedInUser } from "../tools/lib/client.ts";
import { seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";

interface Wire {
  notification?: unknown;
  data: Record<string, string>;
  android?: { notification?: unknown; priority?: string };
  apns?: { headers?: Record<string, string>; payload?: { aps?: Record<string, unknown> } };
  webpush?: { notification?: unknown };
}

describe("data-only messages", () => {
  it("sendMessage with dataOnly delivers data and routing only, on every platform", { timeout: 180_000 }, async () => {
    const staff = await signedInUser({ pushSender: true });
    try {
      const devices = await seedDevices([{ platform: "android" }, { platform: "ios" }, { platform: "web" }]);
      const { messageId } = await staff.call<{ messageId: string }>("sendMessage", {
        title: "Sync",
        body: "New course content",
        dataOnly: true,
        data: { kind: "sync", course: "3" },
        priority: "high",
        sound: "ding",
        audience: { devices: devices.map((d) => d.deviceId) },
      });
      assert.equal(await waitForRecipientCount(messageId), 3);
      const states = await waitUntilFinal(messageId, 3);
      assert.ok([...states.values()].every((r) => r.status === 200));
      const received = await acceptedFor(devices.map((d) => d.token));
      assert.equal(received.length, 3);
      for (const { message } of received as unknown as Array<{ message: Wire }>) {
        assert.equal(message.notification, undefined);
        assert.deepEqual(message.data, { kind: "sync", course: "3", messageId });
        assert.equal(message.android?.notification, undefined);
        assert.equal(message.webpush?.notification, undefined);
        if (message.apns) {
          assert.deepEqual(message.apns.payload?.aps, { "content-available": 1 });
          assert.equal(message.apns.headers?.["apns-push-type"], "background");
        }
      }
      const report = await staff.call<{ state: string; counts: Record<string, number> }>("getMessageReport", { messageId });
      assert.equal(report.state, "done");

      const bad = await callError(staff.call("sendMessage", { title: "t", body: "b", dataOnly: "yes", audience: { devices: [devices[0]!.deviceId] } }));
      assert.deepEqual([bad.code, (bad.details as { field?: string }).field], ["functions/invalid-argument", "dataOnly"]);
    } finally {
      await staff.close();
    }
  });
});
