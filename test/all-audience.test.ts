/**
 * `{ all: true }`: every live, enabled device in the project, once each.
 *
 * The only suite about `all`. Its audience is every device that any suite
 * before it left in the shared emulator, and the Functions emulator runs each
 * recipient's trigger one after another, so this file's name puts it first in
 * `npm test`, while the project holds only its own devices. (The large
 * broadcast is measured by `npm run bench`, not here.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { adminDb } from "../tools/lib/admin.ts";
import { signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { recipientStates, seedDevices, waitForRecipientCount, waitForTriggersToCatchUp, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";

describe("sending to { all: true }", () => {
  let staff: ClientUser;
  before(async () => {
    staff = await signedInUser({ pushSender: true });
  });
  after(async () => {
    await staff.close();
  });

  it("reaches every live, enabled device in the project and nothing else, once each", { timeout: 600_000 }, async () => {
    // Enough devices for every id range of the expansion to hold some, plus ones that must be left out.
    const seeded = await seedDevices([...Array.from({ length: 60 }, () => ({})), { enabled: false }, { enabled: false }, { retired: true }, { retired: true }]);
    const snapshot = await adminDb().collection("devices").get();
    const live = snapshot.docs.filter((d) => d.get("retired") === false && d.get("enabled") === true);
    const expected = live.map((d) => d.id).sort();
    assert.ok(expected.length >= 60);
    // The estimate of { all: true } counts exactly these (console-callables.test.ts checks the other audience kinds).
    assert.equal((await staff.call<{ devices: number }>("estimateAudience", { audience: { all: true } })).devices, expected.length);

    const { messageId, recipients } = await staff.call<{ messageId: string; recipients: number | null }>("sendMessage", {
      title: "To everyone",
      body: "School is closed tomorrow.",
      audience: { all: true },
    });
    assert.equal(recipients, null, "sendMessage returns before the audience is expanded");
    assert.equal(await waitForRecipientCount(messageId, 300_000), expected.length);
    const states = await waitUntilFinal(messageId, expected.length, 300_000);
    assert.deepEqual([...(await recipientStates(messageId)).values()].map((r) => r.deviceId as string).sort(), expected);
    for (const state of states.values()) assert.equal(state.status, 200, state.statusMessage ?? "");

    const tokens = seeded.map((d) => d.token);
    const accepted = await acceptedFor(tokens);
    const liveTokens = new Set(seeded.slice(0, 60).map((d) => d.token));
    assert.equal(accepted.length, 60, "each live device once, the disabled and retired ones never");
    for (const entry of accepted) assert.ok(liveTokens.has(entry.message.token as string));
    // Every recipient's trigger still runs after the batches sent them: let the emulator catch up before the next suite.
    await waitForTriggersToCatchUp();
  });
});
