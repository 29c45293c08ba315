/**
 * The pure parts of the Moodle drop-in and of data-only messages: form
 * parsing, the push → message mapping and its fitting to FCM's limit, and the
 * FCM message a data-only message builds. No stack needed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { buildFcmMessage, payloadBytes } from "../functions/src/fcm/build.ts";
import type { MessageDoc } from "../functions/src/messages/schema.ts";
import { parseForm } from "../functions/src/moodle/form.ts";
import { dataValue, pushMessage, shorten } from "../functions/src/moodle/push.ts";
import { platformOf, pushRequest } from "../functions/src/moodle/wire.ts";
import { LIMITS, PLATFORMS } from "../functions/src/shared/contract.ts";

function largest(message: MessageDoc, vars: Record<string, string>): number {
  return Math.max(...PLATFORMS.map((platform) => payloadBytes(buildFcmMessage({ messageId: "m".repeat(40), recipientId: "r".repeat(22), message, token: "t", platform, vars }))));
}

describe("Moodle wire format", () => {
  it("parses PHP curl's multipart bodies and urlencoded ones alike", () => {
    const boundary = "------------------------d74496d66958873e";
    const body = [`--${boundary}`, 'Content-Disposition: form-data; name="url"', "", "https://moodle.example.org", `--${boundary}`, 'Content-Disposition: form-data; name="description"', "", "Línea 1\r\nLínea 2", `--${boundary}--`, ""].join("\r\n");
    assert.deepEqual(parseForm(`multipart/form-data; boundary=${boundary}`, Buffer.from(body)), { url: "https://moodle.example.org", description: "Línea 1\r\nLínea 2" });
    assert.deepEqual(parseForm("application/x-www-form-urlencoded", Buffer.from("device=Android-fcm&x=a%20b")), { device: "Android-fcm", x: "a b" });
    assert.deepEqual(parseForm("multipart/form-data; boundary=x", Buffer.alloc(0)), {});
  });

  it("maps Moodle's device strings to platforms", () => {
    assert.deepEqual(["Android-fcm", "iOS-fcm", "android", "ios", "browser-fcm", "something"].map(platformOf), ["android", "ios", "android", "ios", "web", "android"]);
  });

  it("turns extra values into FCM strings as AirNotifier did", () => {
    assert.deepEqual([true, false, 0, 12, "x", null, undefined, { a: 1 }].map(dataValue), ["1", "0", "0", "12", "x", undefined, undefined, '{"a":1}']);
  });

  it("shortens with an ellipsis, never splitting a surrogate pair", () => {
    assert.equal(shorten("short", 50), "short");
    assert.equal(shorten("abcdefghij", 5), "abcd…");
    const cut = shorten(`abc${"😀".repeat(10)}`, 6);
    assert.ok(cut.length <= 6 && cut.endsWith("…") && !/[\uD800-\uDBFF]…$/.test(cut), cut);
  });

  it("fits every push under FCM's 4096 bytes on every platform, plain or encrypted", () => {
    const huge = "ünïcødé \"quoted\" text\n".repeat(400);
    const plain = pushRequest.parse({ token: "tok-123456", extra: { sitefullname: "S".repeat(300), smallmessage: huge, subject: huge.slice(0, 900), fullmessagehtml: huge, customdata: JSON.stringify({ appurl: "https://x" }), notification: 1, component: "mod_forum", wwwroot: "https://moodle.example.org" } });
    const fitted = pushMessage(plain);
    assert.ok(largest(fitted.message, fitted.vars) <= LIMITS.fcmPayloadBytes);
    assert.ok(fitted.message.title.length <= LIMITS.titleMax && fitted.message.body.length <= LIMITS.bodyMax);
    assert.equal(fitted.message.data?.moodlecomponent, "mod_forum");

    const sealed = randomBytes(3000).toString("base64");
    const encrypted = pushRequest.parse({ token: "tok-123456", alert: null, extra: { encrypted: true, smallmessage: sealed, sitefullname: randomBytes(40).toString("base64"), notification: 1, site: "abc" } });
    const data = pushMessage(encrypted);
    assert.equal(data.message.dataOnly, true);
    assert.ok(largest(data.message, data.vars) <= LIMITS.fcmPayloadBytes);
    // Ciphertext is dropped whole, never cut.
    assert.ok(data.message.data?.smallmessage === undefined || data.message.data.smallmessage === sealed);
    assert.equal(data.message.data?.encrypted, "1");
  });

  it("leaves literal {{braces}} of a Moodle text as they are", () => {
    const { message, vars } = pushMessage(pushRequest.parse({ token: "tok-123456", extra: { smallmessage: "Use {{name}} in templates", sitefullname: "S" } }));
    const fcm = buildFcmMessage({ messageId: "m", recipientId: "r", message: message, token: "t", platform: "android", vars });
    assert.equal(fcm.notification?.body, "Use {{name}} in templates");
  });
});

describe("data-only messages", () => {
  const message: MessageDoc = { title: "T", body: "B", data: { k: "v" }, dataOnly: true, priority: "high", ttlSeconds: 60, sound: "ding", imageUrl: "https://example.org/i.png", badge: "increment" };
  const build = (platform: (typeof PLATFORMS)[number]) => buildFcmMessage({ messageId: "m1", recipientId: "r1", message, token: "t", platform, vars: {}, badge: 3 });

  it("builds no notification block and no platform notification fields", () => {
    for (const platform of PLATFORMS) {
      const fcm = build(platform);
      assert.equal(fcm.notification, undefined, platform);
      assert.deepEqual(fcm.data, { k: "v", messageId: "m1", badge: "3" });
    }
    const android = build("android").android;
    assert.equal(android?.notification, undefined);
    assert.equal(android?.priority, "high");
    assert.equal(android?.ttl, 60_000);
    const apns = build("ios").apns;
    assert.deepEqual(apns?.payload, { aps: { contentAvailable: true } });
    assert.equal(apns?.headers?.["apns-push-type"], "background");
    assert.equal(apns?.headers?.["apns-priority"], "5");
    assert.equal(build("web").webpush?.notification, undefined);
  });
});
