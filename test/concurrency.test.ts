/**
 * Races, through the real entry points: many users registering one device id
 * at once, identical sendMessage calls with one idempotency key, and bursts
 * of concurrent requests against the API's rate and ban counters. Each
 * checks the outcome a user sees (the winner, the errors, what FCM received)
 * and what the documents hold afterwards.
 */
import assert from "node:assert/strict";
import { randomInt, randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import { FieldPath } from "firebase-admin/firestore";
import { createKey } from "../functions/src/keys/service.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { stackEnv, stackParam } from "../tools/lib/env.ts";
import { seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";


const apiUrl = (path: string) => `${stackEnv("FUNCTIONS_EMULATOR_ORIGIN")}/${stackEnv("GCLOUD_PROJECT")}/us-central1/api${path}`;
const newIp = () => `198.18.${randomInt(0, 256)}.${randomInt(1, 255)}`;

describe("concurrency", () => {
  const clients: ClientUser[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it("twelve users racing to register one device id: exactly one owner, the rest told to reinstall", { timeout: 120_000 }, async () => {
    const users = await Promise.all(Array.from({ length: 12 }, () => signedInUser()));
    clients.push(...users);
    const deviceId = `race-${randomUUID()}`;
    const tokens = users.map(() => `ok-race-${randomUUID()}`);
    const outcomes = await Promise.allSettled(users.map((user, i) => user.call<{ deviceId: string; created: boolean }>("registerDevice", { deviceId, token: tokens[i], platform: "android" }, 90_000)));

    const won = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [i] : []));
    assert.equal(won.length, 1, `winners: ${won.length}; ${outcomes.map((o) => (o.status === "rejected" ? String((o.reason as { code?: string }).code) : "ok")).join(", ")}`);
    const winner = won[0]!;
    assert.deepEqual((outcomes[winner] as PromiseFulfilledResult<unknown>).value, { deviceId, created: true });
    for (const [i, outcome] of outcomes.entries()) {
      if (i === winner) continue;
      assert.equal(outcome.status, "rejected");
      const reason = outcome.reason as { code?: string; message?: string };
      assert.equal(reason.code, "functions/failed-precondition", `user ${i}: ${reason.code} ${reason.message}`);
      assert.match(reason.message ?? "", /reinstall the app/i);
    }
    const device = (await adminDb().collection("devices").doc(deviceId).get()).data();
    assert.equal(device?.userId, users[winner]!.uid);
    assert.equal(device?.token, tokens[winner]);
    assert.equal(device?.retired, false);
    // The losers' tokens were never written anywhere.
    for (const [i, token] of tokens.entries()) {
      if (i !== winner) assert.equal((await adminDb().collection("devices").where("token", "==", token).get()).size, 0);
    }
  });

  it("five races in a row, each a device registering twice and two users contesting another: never an internal error", { timeout: 180_000 }, async () => {
    // Racing transactions on one document are where the Firestore emulator may close a loser mid-retry; the service must start it again.
    const [alice, bob] = await Promise.all([signedInUser(), signedInUser()]);
    clients.push(alice, bob);
    const register = (user: ClientUser, deviceId: string) => user.call<{ created: boolean }>("registerDevice", { deviceId, token: `ok-race-${randomUUID()}`, platform: "android" }, 90_000);
    const codeOf = (o: PromiseSettledResult<unknown>) => (o.status === "fulfilled" ? "ok" : String((o.reason as { code?: string }).code));
    const race = async () => {
      const same = `race-same-${randomUUID()}`;
      const contested = `race-two-${randomUUID()}`;
      const outcomes = await Promise.allSettled([register(alice, same), register(alice, same), register(alice, contested), register(bob, contested)]);
      const [first, second, aliceContest, bobContest] = outcomes;
      const tally = outcomes.map(codeOf).join(", ");
      assert.ok(first?.status === "fulfilled" && second?.status === "fulfilled", tally);
      assert.equal([first.value, second.value].filter((r) => r.created).length, 1, tally);
      assert.deepEqual([aliceContest, bobContest].map((o) => (o ? codeOf(o) : "missing")).sort(), ["functions/failed-precondition", "ok"], tally);
      const owner = (await adminDb().collection("devices").doc(contested).get()).get("userId") as unknown;
      assert.equal(owner, aliceContest?.status === "fulfilled" ? alice.uid : bob.uid, tally);
      return outcomes.map(codeOf);
    };
    // One after another: each registration queries the token inside its transaction, and the emulator makes every such
    // transaction wait on every other; ten races at once run past the callable deadline there.
    const codes: string[] = [];
    for (let n = 0; n < 5; n++) codes.push(...(await race()));
    const counts = Object.fromEntries([...new Set(codes)].map((code) => [code, codes.filter((c) => c === code).length]));
    console.log(`registration races: ${JSON.stringify(counts)} over 5 races`);
  });

  it("eight identical sendMessage calls racing with one idempotency key: one message, one delivery per device", { timeout: 240_000 }, async () => {
    const sender = await signedInUser({ pushSender: true });
    clients.push(sender);
    const devices = await seedDevices([{}, {}, {}]);
    const idempotencyKey = `race-${randomUUID()}`;
    const request = { title: "Race", body: "Sent once", audience: { devices: devices.map((d) => d.deviceId) }, idempotencyKey };
    const results = await Promise.all(Array.from({ length: 8 }, () => sender.call<{ messageId: string; recipients: number | null }>("sendMessage", request, 90_000)));

    const ids = new Set(results.map((r) => r.messageId));
    assert.equal(ids.size, 1, `message ids: ${[...ids].join(", ")}`);
    // The first call returns before the audience is expanded; a later one may find the count already known.
    for (const result of results) assert.ok(result.recipients === null || result.recipients === 3, `recipients: ${result.recipients}`);
    const [messageId] = ids as unknown as [string];
    assert.equal(await waitForRecipientCount(messageId), 3);
    const messages = await adminDb().collection("messages").where("idempotencyKey", "==", idempotencyKey).get();
    assert.deepEqual(messages.docs.map((d) => d.id), [messageId]);

    const final = await waitUntilFinal(messageId, 3);
    assert.deepEqual([...final.values()].map((r) => r.status), [200, 200, 200]);
    // Give any duplicate send time to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const received = await acceptedFor(devices.map((d) => d.token));
    assert.deepEqual(received.map((m) => m.message.token).sort(), devices.map((d) => d.token).sort(), "each device got exactly one notification");
  });

  it("the API's rate counter loses no counts under concurrent requests", { timeout: 120_000 }, async () => {
    const burst = Math.min(16, stackParam("API_KEY_RATE_PER_MINUTE") - 1);
    const key = await createKey({ name: `race ${randomUUID()}`, scopes: ["messages:send"], surface: "api" });
    const answers = await Promise.all(
      Array.from({ length: burst }, () => fetch(apiUrl(`/v1/messages/missing${randomInt(1e9)}`), { headers: { authorization: `Bearer ${key.secret}`, "x-forwarded-for": newIp() } }).then((r) => r.status)),
    );
    assert.deepEqual(answers, Array.from({ length: burst }, () => 404));
    // One counter document per clock minute: a burst across a minute's end is split over two.
    const prefix = `key-${key.keyId}-w`;
    const windows = await adminDb().collection("apiGuards").where(FieldPath.documentId(), ">=", prefix).where(FieldPath.documentId(), "<", `${prefix}~`).get();
    const counted = windows.docs.reduce((n, d) => n + Number(d.get("count")), 0);
    assert.equal(counted, burst, `counted ${counted} of ${burst} requests`);
  });

  it("the API's ban counter loses no counts under concurrent failed authentications", { timeout: 120_000 }, async () => {
    const threshold = stackParam("API_BAN_FAILURES");
    const ip = newIp();
    const fail = () => fetch(apiUrl("/v1/messages/x"), { headers: { authorization: "Bearer pk_0000000000000000_wrong", "x-forwarded-for": ip } }).then((r) => r.status);
    // One fewer than the threshold, all at once: every one must be counted, and none is a ban yet.
    const answers = await Promise.all(Array.from({ length: threshold - 1 }, fail));
    assert.deepEqual(answers, Array.from({ length: threshold - 1 }, () => 401));
    // If any of them had been lost, the next failure would not reach the threshold: it bans the address.
    assert.equal(await fail(), 401);
    assert.equal(await fail(), 429, "the address is banned after exactly API_BAN_FAILURES failures");
  });
});
