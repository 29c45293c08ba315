import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { shardOf } from "../functions/src/delivery/shards.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { addRecipients, createMessage, recipientStates, seedDevices, waitUntilFinal, type DeviceSeed } from "../tools/lib/fixtures.ts";
import { enqueueDispatchTask } from "./support/queue.ts";
import { acceptedFor, attemptTimes, configureStandIn, sendAttempts } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";
import { PROJECT_ID, stackParam } from "../tools/lib/env.ts";

/** Where the local stack writes the functions' log lines (tools/stack.ts). */
const FUNCTION_LOG = fileURLToPath(new URL("../.cache/functions.log", import.meta.url));

/** Must match DISPATCH_SHARDS in functions/.env. */
const SHARDS = 8;
const MAX_ATTEMPTS = stackParam("DELIVERY_MAX_ATTEMPTS");

const device = (id: string) => adminDb().collection("devices").doc(id);

describe("delivery pipeline", () => {
  it("gives 1,210 recipients covering every FCM answer and device state the right final code", { timeout: 240_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const groups: Array<{ name: string; count: number; seed: (i: number) => DeviceSeed; status: number; retired?: string }> = [
      { name: "ok", count: 1000, seed: (i) => ({ token: `ok-${tag}-${i}`, platform: (["android", "ios", "web"] as const)[i % 3] }), status: 200 },
      { name: "unregistered", count: 30, seed: (i) => ({ token: `unregistered-${tag}-${i}` }), status: -99, retired: "unregistered" },
      { name: "invalid", count: 30, seed: (i) => ({ token: `invalid-${tag}-${i}` }), status: 400, retired: "invalid" },
      { name: "mismatch", count: 30, seed: (i) => ({ token: `mismatch-${tag}-${i}` }), status: 403, retired: "sender-mismatch" },
      { name: "quota", count: 20, seed: (i) => ({ token: `quota-${tag}-${i}` }), status: 429 },
      { name: "unavailable", count: 10, seed: (i) => ({ token: `unavailable-${tag}-${i}` }), status: 503 },
      { name: "flaky", count: 30, seed: (i) => ({ token: `flaky-${tag}-${i}` }), status: 200 },
      { name: "disabled", count: 20, seed: (i) => ({ token: `ok-disabled-${tag}-${i}`, enabled: false }), status: -4 },
      { name: "retired", count: 20, seed: (i) => ({ token: `ok-retired-${tag}-${i}`, retired: true }), status: -99 },
    ];
    const expected = new Map<string, { group: string; status: number; token: string; deviceId: string; retired?: string }>();
    const messageId = await createMessage({ title: "Term dates", body: "The new term starts on Monday." });
    const recipientSeeds: Array<{ deviceId: string; recipientId: string }> = [];
    for (const group of groups) {
      const devices = await seedDevices(Array.from({ length: group.count }, (_, i) => group.seed(i)));
      for (const d of devices) {
        const recipientId = randomUUID().replace(/-/g, "");
        recipientSeeds.push({ deviceId: d.deviceId, recipientId });
        expected.set(recipientId, { group: group.name, status: group.status, token: d.token, deviceId: d.deviceId, retired: group.retired });
      }
    }
    for (let i = 0; i < 20; i++) {
      const recipientId = randomUUID().replace(/-/g, "");
      recipientSeeds.push({ deviceId: `missing-${tag}-${i}`, recipientId });
      expected.set(recipientId, { group: "missing", status: -99, token: "", deviceId: `missing-${tag}-${i}` });
    }
    assert.equal(recipientSeeds.length, 1210);
    await addRecipients(messageId, recipientSeeds);

    const states = await waitUntilFinal(messageId, 1210, 200_000);
    const wrong: string[] = [];
    for (const [id, want] of expected) {
      const got = states.get(id);
      if (got?.status !== want.status) wrong.push(`${want.group}: ${id} has ${got?.status} (${got?.statusMessage}), expected ${want.status}`);
    }
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} recipients with the wrong final code`);

    // Every accepted recipient reached the stand-in exactly once, with the message's text; nothing else did.
    const received = await acceptedFor([...expected.values()].map((e) => e.token).filter(Boolean));
    const perToken = new Map<string, number>();
    for (const entry of received) perToken.set(entry.message.token ?? "", (perToken.get(entry.message.token ?? "") ?? 0) + 1);
    for (const [id, want] of expected) {
      const count = perToken.get(want.token) ?? 0;
      assert.equal(count, want.status === 200 ? 1 : 0, `${want.group} token of ${id} received ${count} times`);
    }
    for (const entry of received) {
      assert.deepEqual(entry.message.notification, { title: "Term dates", body: "The new term starts on Monday." });
    }
    for (const state of states.values()) {
      if (state.status === 200) assert.match(String(state.fcmMessageId), new RegExp(`^projects/${PROJECT_ID}/messages/`));
      if (state.status !== 200 && state.status !== -4) assert.ok(state.statusMessage, `final ${state.status} has a statusMessage`);
    }

    // Dead tokens retired their devices with the right reason; everything else stayed live.
    const deviceIds = [...expected.values()].filter((e) => e.group !== "missing" && e.group !== "retired");
    const snapshots = await adminDb().getAll(...deviceIds.map((e) => device(e.deviceId)));
    snapshots.forEach((snapshot, i) => {
      const want = deviceIds[i];
      assert.ok(want);
      assert.equal(snapshot.get("retired"), want.retired !== undefined, `${want.group} device retired?`);
      if (want.retired) assert.equal(snapshot.get("retiredReason"), want.retired);
    });

    // flaky- succeeded on a second request; quota- waited at least its Retry-After (1 s) between attempts.
    const flaky = [...expected.values()].find((e) => e.group === "flaky");
    assert.ok(flaky);
    assert.equal(await sendAttempts(flaky.token), 2);
    for (const quota of [...expected.values()].filter((e) => e.group === "quota").slice(0, 5)) {
      const times = await attemptTimes(quota.token);
      assert.equal(times.length, MAX_ATTEMPTS);
      for (let i = 1; i < times.length; i++) {
        const gap = (times[i] ?? 0) - (times[i - 1] ?? 0);
        assert.ok(gap >= 1000, `quota retry came ${gap} ms after the previous attempt, before Retry-After`);
      }
    }
    const quotaState = [...states.values()].find((s) => expected.get(s.id)?.group === "quota");
    assert.equal(quotaState?.attempts, MAX_ATTEMPTS);
    assert.match(String(quotaState?.statusMessage), /^QUOTA_EXCEEDED: .*gave up after 3 attempts/);
  });

  it("sends nothing twice when the same task is delivered twice or a trigger fires again", async () => {
    const devices = await seedDevices(Array.from({ length: 40 }, () => ({})));
    const messageId = await createMessage({ body: "Duplicate deliveries must not double-send." });
    const ids = await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    const shards = [...new Set(ids.map((id) => shardOf(id, SHARDS)))];
    // Two extra deliveries of each shard's task race with the one the triggers scheduled.
    await Promise.all(shards.flatMap((shard) => [enqueueDispatchTask({ messageId, shard }), enqueueDispatchTask({ messageId, shard })]));
    await waitUntilFinal(messageId, ids.length);
    // A trigger fired again after delivery enqueues the same task once more.
    await Promise.all(shards.map((shard) => enqueueDispatchTask({ messageId, shard })));
    const marker = await seedDevices([{}]);
    const markerMessage = await createMessage();
    await addRecipients(markerMessage, [{ deviceId: marker[0]?.deviceId ?? "" }]);
    await waitUntilFinal(markerMessage, 1);

    const received = await acceptedFor(devices.map((d) => d.token));
    assert.equal(received.length, devices.length);
    assert.equal(new Set(received.map((r) => r.message.token)).size, devices.length);
    for (const state of (await recipientStates(messageId)).values()) {
      assert.equal(state.status, 200);
      assert.equal(state.attempts, 1);
    }
  });

  it("fills {{placeholders}} per recipient and fails a recipient whose var is missing", async () => {
    const devices = await seedDevices([{}, {}, {}]);
    const messageId = await createMessage({ title: "Hi {{name}}", body: "{{name}}, your grade in {{ course }} is {{grade}}." });
    const [ok1, ok2, missing] = await addRecipients(messageId, [
      { deviceId: devices[0]?.deviceId ?? "", vars: { name: "Ada", course: "Maths", grade: 18 } },
      { deviceId: devices[1]?.deviceId ?? "", vars: { name: "Linus", course: "Physics", grade: 15 } },
      { deviceId: devices[2]?.deviceId ?? "", vars: { name: "Grace" } },
    ]);
    const states = await waitUntilFinal(messageId, 3);
    assert.equal(states.get(ok1 ?? "")?.status, 200);
    assert.equal(states.get(ok2 ?? "")?.status, 200);
    assert.equal(states.get(missing ?? "")?.status, 400);
    assert.match(String(states.get(missing ?? "")?.statusMessage), /unknown placeholder \{\{course\}\}/);
    const received = await acceptedFor(devices.map((d) => d.token));
    const byToken = new Map(received.map((r) => [r.message.token, r.message.notification]));
    assert.deepEqual(byToken.get(devices[0]?.token), { title: "Hi Ada", body: "Ada, your grade in Maths is 18." });
    assert.deepEqual(byToken.get(devices[1]?.token), { title: "Hi Linus", body: "Linus, your grade in Physics is 15." });
    assert.equal(byToken.has(devices[2]?.token), false);
  });

  it("increments the badge of each device across two messages and sends the new value", async () => {
    const [ios, android] = await seedDevices([{ platform: "ios", badge: 3 }, { platform: "android" }]);
    assert.ok(ios && android);
    for (const expectedBadge of [1, 2]) {
      const messageId = await createMessage({ body: `Badge ${expectedBadge}`, badge: "increment" });
      await addRecipients(messageId, [{ deviceId: ios.deviceId }, { deviceId: android.deviceId }]);
      const states = await waitUntilFinal(messageId, 2);
      for (const state of states.values()) assert.equal(state.status, 200);
      const received = await acceptedFor([ios.token, android.token]);
      const last = (token: string) => received.filter((r) => r.message.token === token).at(-1)?.message as Record<string, Record<string, unknown>>;
      const iosAps: { badge: number } = (last(ios.token).apns?.payload as { aps: { badge: number } }).aps;
      assert.equal(iosAps.badge, 3 + expectedBadge);
      assert.equal((last(android.token).android?.notification as { notification_count: number }).notification_count, expectedBadge);
      assert.equal((await device(ios.deviceId).get()).get("badge"), 3 + expectedBadge);
      assert.equal((await device(android.deviceId).get()).get("badge"), expectedBadge);
    }
  });

  it("maps the message's options to the Android, APNs and Web Push blocks, with a collapse id per recipient", async () => {
    const [android, ios, web] = await seedDevices([{ platform: "android" }, { platform: "ios" }, { platform: "web" }]);
    assert.ok(android && ios && web);
    const messageId = await createMessage({
      title: "Field trip",
      body: "Bring a packed lunch.",
      data: { trip: "museum" },
      link: "https://school.example/trips/42",
      imageUrl: "https://school.example/trip.png",
      sound: "chime.caf",
      ttlSeconds: 3600,
      priority: "high",
      titleLocKey: "TRIP_TITLE",
      bodyLocKey: "TRIP_BODY",
      bodyLocArgs: ["museum"],
    });
    const [rAndroid, rIos, rWeb] = await addRecipients(messageId, [{ deviceId: android.deviceId }, { deviceId: ios.deviceId }, { deviceId: web.deviceId }]);
    const states = await waitUntilFinal(messageId, 3);
    for (const state of states.values()) assert.equal(state.status, 200, state.statusMessage ?? "");
    const received = await acceptedFor([android.token, ios.token, web.token]);
    const sent = (token: string) => received.find((r) => r.message.token === token)?.message as Record<string, Record<string, unknown>>;

    const a = sent(android.token);
    assert.deepEqual(a.data, { trip: "museum", link: "https://school.example/trips/42", messageId });
    assert.deepEqual(a.notification, { title: "Field trip", body: "Bring a packed lunch.", image: "https://school.example/trip.png" });
    assert.equal(a.android?.priority, "high");
    assert.equal(a.android?.ttl, "3600s");
    const an = a.android?.notification as Record<string, unknown>;
    assert.equal(an.sound, "chime.caf");
    assert.equal(an.title_loc_key, "TRIP_TITLE");
    assert.equal(an.body_loc_key, "TRIP_BODY");
    assert.deepEqual(an.body_loc_args, ["museum"]);
    assert.equal(typeof an.tag, "string");
    assert.equal(a.android?.collapse_key, an.tag);
    assert.equal(a.apns, undefined);
    assert.equal(a.webpush, undefined);

    const i = sent(ios.token);
    const headers = i.apns?.headers as Record<string, string>;
    assert.equal(headers["apns-priority"], "10");
    assert.ok(Number(headers["apns-expiration"]) > Date.now() / 1000 + 3500);
    const aps = (i.apns?.payload as { aps: Record<string, unknown> }).aps;
    assert.equal(aps.sound, "chime.caf");
    assert.equal(aps["mutable-content"], 1);
    assert.deepEqual(aps.alert, { title: "Field trip", body: "Bring a packed lunch.", "title-loc-key": "TRIP_TITLE", "loc-key": "TRIP_BODY", "loc-args": ["museum"] });
    assert.equal((i.apns?.fcmOptions as Record<string, string>).image, "https://school.example/trip.png");

    const w = sent(web.token);
    const wh = w.webpush?.headers as Record<string, string>;
    assert.equal(wh.Urgency, "high");
    assert.equal(wh.TTL, "3600");
    assert.equal((w.webpush?.fcmOptions as Record<string, string>).link, "https://school.example/trips/42");

    // Each recipient has its own collapse id, so a rare resend replaces rather than repeats.
    const collapseIds = [an.tag, headers["apns-collapse-id"], wh.Topic];
    assert.equal(new Set(collapseIds).size, 3);
    for (const id of collapseIds) assert.match(String(id), /^[A-Za-z0-9_-]{16,64}$/);
    assert.ok(rAndroid && rIos && rWeb);
  });

  it("records 400 with a clear statusMessage for a payload over 4096 bytes and for a malformed message document", async () => {
    const [d1, d2] = await seedDevices([{}, {}]);
    assert.ok(d1 && d2);
    const tooBig = await createMessage({ body: "é".repeat(1800), data: { filler: "x".repeat(1000) } });
    const bad = await createMessage({ title: "t".repeat(60) });
    await addRecipients(tooBig, [{ deviceId: d1.deviceId }]);
    await addRecipients(bad, [{ deviceId: d2.deviceId }]);
    const [bigState] = [...(await waitUntilFinal(tooBig, 1)).values()];
    assert.equal(bigState?.status, 400);
    assert.match(String(bigState?.statusMessage), /payload too large: \d+ bytes, FCM accepts at most 4096/);
    const [badState] = [...(await waitUntilFinal(bad, 1)).values()];
    assert.equal(badState?.status, 400);
    assert.match(String(badState?.statusMessage), /message document is invalid \(title\)/);
    assert.equal((await acceptedFor([d1.token, d2.token])).length, 0);
  });

  it("does not retire a device that re-registered a new token while its old token was failing", async () => {
    const [d] = await seedDevices([{ token: `unregistered-${randomUUID()}` }]);
    assert.ok(d);
    await configureStandIn({ latencyMs: 3000 });
    try {
      const messageId = await createMessage();
      const [recipientId] = await addRecipients(messageId, [{ deviceId: d.deviceId }]);
      const recipient = adminDb().collection("messages").doc(messageId).collection("recipients").doc(recipientId ?? "");
      await waitFor("the recipient to be claimed", async () => ((await recipient.get()).get("status") === -2 ? true : undefined));
      await device(d.deviceId).update({ token: `ok-${randomUUID()}` });
      const [state] = [...(await waitUntilFinal(messageId, 1)).values()];
      assert.equal(state?.status, -99);
      assert.equal((await device(d.deviceId).get()).get("retired"), false);
    } finally {
      await configureStandIn({ latencyMs: 0 });
    }
  });
  it("drops a late worker's outcome when its lapsed claim was taken over, and the resend carries the same collapse id", async () => {
    const [d] = await seedDevices([{}]);
    assert.ok(d);
    const messageId = await createMessage();
    await configureStandIn({ latencyMs: 3000 });
    let recipientId: string | undefined;
    try {
      [recipientId] = await addRecipients(messageId, [{ deviceId: d.deviceId }]);
      const recipient = adminDb().collection("messages").doc(messageId).collection("recipients").doc(recipientId ?? "");
      await waitFor("the recipient to be claimed", async () => ((await recipient.get()).get("status") === -2 ? true : undefined));
      // While the first send is still in flight, do what the sweep does to an expired lease.
      await recipient.update({ status: -1, leaseExpiresAt: null });
    } finally {
      await configureStandIn({ latencyMs: 0 });
    }
    await enqueueDispatchTask({ messageId, shard: shardOf(recipientId ?? "", SHARDS) });
    const [state] = [...(await waitUntilFinal(messageId, 1)).values()];
    assert.equal(state?.status, 200);
    // The first worker's answer arrives late; its task logs that it dropped the outcome.
    await waitFor("the late worker to drop its outcome", () =>
      readFileSync(FUNCTION_LOG, "utf8").split("\n").some((line) => line.includes("outcomes dropped") && line.includes(messageId)) ? true : undefined,
    );
    const after = (await recipientStates(messageId)).get(recipientId ?? "");
    assert.equal(after?.attempts, 2, "the second claim's outcome stands");
    assert.equal(after?.fcmMessageId, state?.fcmMessageId, "the late worker did not overwrite it");
    const received = await acceptedFor([d.token]);
    assert.equal(received.length, 2);
    const collapse = received.map((r) => (r.message as { android?: { collapse_key?: string } }).android?.collapse_key);
    assert.equal(collapse[0], collapse[1]);
  });
});
