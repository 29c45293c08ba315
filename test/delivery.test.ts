import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addRecipients, createMessage, seedDevices, waitUntilFinal } from "./support/fixtures.ts";
import { acceptedFor } from "./support/stand-in.ts";

describe("delivery pipeline", () => {
  it("delivers recipients written directly with the admin SDK, with no function call", async () => {
    const devices = await seedDevices([{ platform: "android" }, { platform: "ios" }, { platform: "web" }]);
    const messageId = await createMessage({ title: "Snow day", body: "School is closed today." });
    const ids = await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    const states = await waitUntilFinal(messageId, ids.length);
    for (const state of states.values()) {
      assert.equal(state.status, 200, state.statusMessage ?? "");
      assert.equal(state.attempts, 1);
      assert.match(String(state.fcmMessageId), /^projects\/demo-push\/messages\//);
    }
    const received = await acceptedFor(devices.map((d) => d.token));
    assert.equal(received.length, 3);
    for (const entry of received) {
      assert.deepEqual(entry.message.notification, { title: "Snow day", body: "School is closed today." });
    }
  });
});
