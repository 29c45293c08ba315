/**
 * Messages in every family's language: translations picked per device by its
 * locale, machine translation through the Translation stand-in, the report's
 * per-language counts, and bad input refused with nothing written. Asserts on
 * what the FCM stand-in received and what the Translation stand-in was asked.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { adminDb } from "../tools/lib/admin.ts";
import { callError, signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { stackEnv } from "../tools/lib/env.ts";
import { seedDevices, type DeviceSeed } from "../tools/lib/fixtures.ts";
import { acceptedFor, type AcceptedMessage } from "../tools/lib/stand-in.ts";
import { waitFor } from "../tools/lib/wait.ts";
import type { MessageReport } from "../functions/src/sending/schema.ts";
import { createKey } from "../functions/src/keys/service.ts";
import { FieldValue } from "firebase-admin/firestore";
import { api } from "./support/api.ts";

interface TranslationRequest {
  target: string;
  format: string;
  q: string[];
}

async function translationRequests(): Promise<TranslationRequest[]> {
  const res = await fetch(`${stackEnv("TRANSLATE_STAND_IN_URL")}/_stand-in/requests`);
  return ((await res.json()) as { requests: TranslationRequest[] }).requests;
}

async function failTranslations(fail: boolean): Promise<void> {
  const res = await fetch(`${stackEnv("TRANSLATE_STAND_IN_URL")}/_stand-in/fail`, { method: "PUT", body: JSON.stringify({ fail }) });
  assert.equal(res.status, 200);
}

/** The title each token's accepted message showed, wherever the platform puts it. */
function titleOf(entry: AcceptedMessage): string {
  const message = entry.message as { notification?: { title?: string }; apns?: { payload?: { aps?: { alert?: { title?: string } } } } };
  return message.notification?.title ?? message.apns?.payload?.aps?.alert?.title ?? "";
}

async function deliveredTitles(tokens: string[], expected: number): Promise<Map<string, string>> {
  const accepted = await waitFor(`${expected} messages at the FCM stand-in`, async () => {
    const found = await acceptedFor(tokens);
    return found.length >= expected ? found : undefined;
  }, 60_000);
  return new Map(accepted.map((entry) => [entry.message.token as string, titleOf(entry)]));
}

describe("messages in every family's language", () => {
  let staff: ClientUser;
  before(async () => {
    staff = await signedInUser({ pushSender: true });
  });
  after(async () => {
    await failTranslations(false);
    await staff.close();
  });

  const report = (messageId: string) => staff.call<MessageReport>("getMessageReport", { messageId });
  const done = (messageId: string) => waitFor(`message ${messageId} done`, async () => {
    const r = await report(messageId);
    return r.state === "done" ? r : undefined;
  }, 60_000);

  const translated = {
    title: "School trip",
    body: "The trip leaves at 8.",
    translations: { es: { title: "Excursión", body: "La excursión sale a las 8." }, fr: { title: "Sortie scolaire", body: "La sortie part à 8 h." } },
  };

  it("gives es-MX, es, fr-CA and de devices the Spanish, Spanish, French and default texts, and counts them", async () => {
    const seeds: DeviceSeed[] = [{ locale: "es_MX" }, { locale: "es", platform: "ios" }, { locale: "fr-CA", platform: "web" }, { locale: "de-DE" }];
    const devices = await seedDevices(seeds);
    const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { ...translated, audience: { devices: devices.map((d) => d.deviceId) } });
    const titles = await deliveredTitles(devices.map((d) => d.token), 4);
    assert.deepEqual(devices.map((d) => titles.get(d.token)), ["Excursión", "Excursión", "Sortie scolaire", "School trip"]);
    const final = await done(messageId);
    assert.deepEqual(final.languages, { served: { es: 2, fr: 1 }, fellBack: 1, machineTranslated: [], machineTranslationFailed: [] });
    // What did device X get: the recipient lookup says which language.
    const lookup = await staff.call<{ language: string | null }>("getRecipientStatus", { messageId, deviceId: devices[0]?.deviceId });
    assert.equal(lookup.language, "es");
  });

  it("gives each device of a broadcast ({ where }, sent by pages) its language, and the report counts what was delivered", async () => {
    const cohort = `lang-${randomUUID().slice(0, 8)}`;
    const locales = ["es-MX", "es_ES", "fr_FR", "fr-CA", "de", "en-US", "ES-mx", "pt-BR"];
    const devices = await seedDevices(locales.map((locale) => ({ deviceId: randomBytes(12).toString("base64url"), locale, attributes: { cohort } })));
    const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { ...translated, audience: { where: { cohort } } });
    const titles = await deliveredTitles(devices.map((d) => d.token), locales.length);
    assert.deepEqual(devices.map((d) => titles.get(d.token)), ["Excursión", "Excursión", "Sortie scolaire", "Sortie scolaire", "School trip", "School trip", "Excursión", "School trip"]);
    const final = await done(messageId);
    assert.deepEqual(final.languages.served, { es: 3, fr: 2 });
    assert.equal(final.languages.fellBack, 3);
    assert.equal((final.counts["200"] ?? 0), locales.length);
    const lookup = await staff.call<{ language: string | null; recordedIn: string }>("getRecipientStatus", { messageId, deviceId: devices[2]?.deviceId });
    assert.deepEqual([lookup.recordedIn, lookup.language], ["page", "fr"]);
  });

  it("autoTranslate gives a vi device the stand-in's Vietnamese, placeholders filled per recipient, translated once per message and language", async () => {
    const marker = randomUUID().slice(0, 8);
    const users = [`user-${randomUUID()}`, `user-${randomUUID()}`, `user-${randomUUID()}`];
    const devices = await seedDevices([
      { userId: users[0], locale: "vi_VN" },
      { userId: users[1], locale: "vi", platform: "ios" },
      { userId: users[2], locale: "es-MX", platform: "web" },
    ]);
    const { messageId } = await staff.call<{ messageId: string }>("sendMessage", {
      title: `Hello {{name}}`,
      body: `Report ${marker} is ready for {{name}}.`,
      translations: { es: { title: "Hola {{name}}", body: `El informe ${marker} está listo para {{name}}.` } },
      autoTranslate: true,
      audience: { users },
      vars: { [users[0] as string]: { name: "Lan" }, [users[1] as string]: { name: "Minh" }, [users[2] as string]: { name: "Ana" } },
    });
    const accepted = await waitFor("3 messages", async () => {
      const found = await acceptedFor(devices.map((d) => d.token));
      return found.length >= 3 ? found : undefined;
    }, 30_000);
    const byToken = new Map(accepted.map((entry) => [entry.message.token as string, entry.message as { notification?: { title?: string; body?: string } }]));
    assert.deepEqual(byToken.get(devices[0]?.token ?? "")?.notification, { title: "[vi] Hello Lan", body: `[vi] Report ${marker} is ready for Lan.` });
    assert.deepEqual(byToken.get(devices[1]?.token ?? "")?.notification, { title: "[vi] Hello Minh", body: `[vi] Report ${marker} is ready for Minh.` });
    assert.equal(byToken.get(devices[2]?.token ?? "")?.notification?.title, "Hola Ana", "a language the sender wrote is not machine-translated");
    const asked = (await translationRequests()).filter((r) => r.q.some((text) => text.includes(marker)));
    assert.deepEqual(asked.map((r) => r.target), ["vi"], "one request, for vi only");
    assert.equal(asked[0]?.format, "html");
    assert.ok(asked[0]?.q[0]?.includes('<span translate="no">{{name}}</span>'), "placeholders are protected from translation");
    const final = await done(messageId);
    assert.deepEqual(final.languages, { served: { vi: 2, es: 1 }, fellBack: 0, machineTranslated: ["vi"], machineTranslationFailed: [] });
    const stored = await adminDb().doc(`messages/${messageId}/translations/vi`).get();
    assert.equal(stored.get("title"), "[vi] Hello {{name}}", "the translation is stored with the message, placeholders intact");
    // The payloads of a translated message, printed for docs/languages.md.
    if (process.env.LANGUAGES_PAYLOADS) writeFileSync(process.env.LANGUAGES_PAYLOADS, JSON.stringify(accepted.map((a) => a.message), null, 2));
  });

  it("delivers the default text when the translation service fails, and the report says so", async () => {
    await failTranslations(true);
    try {
      const marker = randomUUID().slice(0, 8);
      const devices = await seedDevices([{ locale: "ja_JP" }, { locale: "ja" }]);
      const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Closed", body: `School ${marker} is closed.`, autoTranslate: true, audience: { devices: devices.map((d) => d.deviceId) } });
      const titles = await deliveredTitles(devices.map((d) => d.token), 2);
      assert.deepEqual([...titles.values()], ["Closed", "Closed"]);
      const final = await done(messageId);
      assert.deepEqual(final.languages, { served: {}, fellBack: 2, machineTranslated: [], machineTranslationFailed: ["ja"] });
      assert.equal((await translationRequests()).filter((r) => r.q.some((text) => text.includes(marker))).length, 1, "a failed language is asked once");
    } finally {
      await failTranslations(false);
    }
  });

  it("takes translations through POST /v1/messages and in a message document written directly; a bad tag there is the document's invalid reason", async () => {
    const { secret, tenant } = await createKey({ name: `languages ${randomUUID()}`, scopes: ["messages:send"], surface: "api" });
    const [partnerDevice] = await seedDevices([{ tenant, locale: "fr_CA" }]);
    const sent = await api("/v1/messages", { key: secret, body: { ...translated, audience: { devices: [partnerDevice?.deviceId] } } });
    assert.equal(sent.status, 201, sent.text);
    const bad = await api("/v1/messages", { key: secret, body: { ...translated, translations: { "xx-foo": { title: "T", body: "B" } }, audience: { devices: [partnerDevice?.deviceId] } } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal((bad.body as { error: { field?: string } }).error.field, "translations.xx-foo");

    const [appDevice] = await seedDevices([{ locale: "es-419" }]);
    const direct = adminDb().collection("messages").doc();
    await direct.set({ title: translated.title, body: translated.body, translations: { ES: translated.translations.es }, senderId: null, createdAt: FieldValue.serverTimestamp(), audience: { devices: [appDevice?.deviceId] } });
    const titles = await deliveredTitles([partnerDevice?.token ?? "", appDevice?.token ?? ""], 2);
    assert.deepEqual([titles.get(partnerDevice?.token ?? ""), titles.get(appDevice?.token ?? "")], ["Sortie scolaire", "Excursión"]);

    const invalid = adminDb().collection("messages").doc();
    await invalid.set({ title: "T", body: "B", translations: { "xx-foo": { title: "T", body: "B" } }, senderId: null, createdAt: FieldValue.serverTimestamp(), audience: { devices: [appDevice?.deviceId] } });
    const reason = await waitFor("the invalid reason", async () => ((await invalid.get()).get("invalid") as { field: string } | undefined), 20_000);
    assert.equal(reason.field, "translations.xx-foo");
  });

  it("refuses an unknown language tag, a translation over the payload limit and a placeholder the sender cannot fill, writing nothing", async () => {
    const sender = await signedInUser({ pushSender: true });
    try {
      const [device] = await seedDevices([{ locale: "es" }]);
      const base = { title: "Hi {{name}}", body: "Body", audience: { devices: [device?.deviceId] }, vars: { someone: { name: "A" } } };
      const cases: Array<[string, Record<string, unknown>]> = [
        ["translations.xx-foo", { translations: { "xx-foo": { title: "T", body: "B" } } }],
        ["translations.es.body", { translations: { es: { title: "T", body: "€".repeat(1500) } } }],
        ["translations.es.body", { translations: { es: { title: "Hola {{name}}", body: "Tu nota: {{grade}}" } } }],
        ["translations.es.title", { translations: { es: { title: "", body: "B" } } }],
      ];
      for (const [field, extra] of cases) {
        const error = await callError(sender.call("sendMessage", { ...base, ...extra }));
        assert.equal(error.code, "functions/invalid-argument", `${field}: ${error.message}`);
        assert.equal((error.details as { field?: string }).field, field, error.message);
      }
      const written = await adminDb().collection("messages").where("senderId", "==", sender.uid).count().get();
      assert.equal(written.data().count, 0, "nothing was written");
    } finally {
      await sender.close();
    }
  });
});
