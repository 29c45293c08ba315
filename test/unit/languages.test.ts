/** Which text a device gets for its locale, and how translation keys and machine-translated HTML are handled (languages/). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { protect, unprotect } from "../../functions/src/languages/client.ts";
import { translationsSchema, unfillablePlaceholder } from "../../functions/src/languages/schema.ts";
import { canonicalTag, deviceLanguage, deviceTag, matchTranslation, textFor } from "../../functions/src/languages/tags.ts";
import { largestPayloadBytesByText } from "../../functions/src/sending/schema.ts";

const text = (title: string) => ({ title, body: `${title} body` });

describe("language tags", () => {
  it("canonicalises well-formed tags of real languages and refuses the rest", () => {
    assert.equal(canonicalTag("ES-mx"), "es-MX");
    assert.equal(canonicalTag("zh-hant-tw"), "zh-Hant-TW");
    assert.equal(canonicalTag("fil"), "fil");
    for (const bad of ["xx-foo", "xx", "und", "en_US", "e", "default", "qaa", "", "en--US", "x-private"]) assert.equal(canonicalTag(bad), undefined, bad);
  });

  it("reads a device's locale as the apps report it", () => {
    assert.equal(deviceTag("es_MX"), "es-MX");
    assert.equal(deviceTag("es-mx"), "es-MX");
    assert.equal(deviceTag("en_US.UTF-8"), "en-US");
    assert.equal(deviceTag("de_DE@euro"), "de-DE");
    assert.equal(deviceTag(""), undefined);
    assert.equal(deviceTag(undefined), undefined);
    assert.equal(deviceTag("zz_ZZ"), undefined);
    assert.equal(deviceLanguage("pt_BR"), "pt");
  });
});

describe("matching a device to a translation", () => {
  const translations = { es: text("es"), "es-MX": text("es-MX"), fr: text("fr"), "zh-Hant": text("zh-Hant") };

  it("takes the exact tag, then its language, then the default", () => {
    assert.equal(matchTranslation(translations, "es_MX"), "es-MX");
    assert.equal(matchTranslation(translations, "ES-mx"), "es-MX");
    assert.equal(matchTranslation(translations, "es-ES"), "es");
    assert.equal(matchTranslation(translations, "es"), "es");
    assert.equal(matchTranslation(translations, "fr-CA"), "fr");
    assert.equal(matchTranslation(translations, "zh-Hant-TW"), "zh-Hant");
    assert.equal(matchTranslation(translations, "zh-CN"), undefined);
    assert.equal(matchTranslation(translations, "de"), undefined);
    assert.equal(matchTranslation(translations, null), undefined);
    assert.equal(matchTranslation(undefined, "es"), undefined);
  });

  it("matches keys stored in any case (a document written directly)", () => {
    assert.equal(matchTranslation({ "ES-mx": text("x") }, "es_MX"), "ES-mx");
  });

  it("gives the chosen text and names its language", () => {
    const message = { title: "Hi", body: "There", translations };
    assert.deepEqual(textFor(message, "fr_BE"), { title: "fr", body: "fr body", language: "fr" });
    assert.deepEqual(textFor(message, "de"), { title: "Hi", body: "There", language: "default" });
  });
});

describe("translations as a sender writes them", () => {
  it("stores keys canonicalised and names a bad key in the error path", () => {
    assert.deepEqual(translationsSchema.parse({ "ES-mx": text("a") }), { "es-MX": text("a") });
    const bad = translationsSchema.safeParse({ es: text("a"), "xx-foo": text("b") });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0]?.path, ["xx-foo"]);
    assert.equal(translationsSchema.safeParse({ es: text("a"), ES: text("b") }).success, false, "one language twice");
    assert.equal(translationsSchema.safeParse(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [["es", "fr", "de"][i % 3] + `-${String(i).padStart(3, "0")}`, text("x")]))).success, false);
  });

  it("allows only placeholders the sender can fill", () => {
    const base = { title: "Hi {{name}}", body: "B" };
    assert.equal(unfillablePlaceholder({ ...base, translations: { es: { title: "Hola {{name}}", body: "B" } } }), undefined);
    assert.equal(unfillablePlaceholder({ ...base, translations: { es: { title: "Hola", body: "{{grade}}" } }, vars: { u: { grade: 3 } } }), undefined);
    assert.deepEqual(unfillablePlaceholder({ ...base, translations: { es: { title: "Hola", body: "{{grade}}" } } }), { path: ["translations", "es", "body"], name: "grade" });
  });

  it("sizes the payload of every language", () => {
    const sizes = largestPayloadBytesByText({ title: "T", body: "B", translations: { es: { title: "T", body: "€".repeat(1500) } } });
    assert.ok((sizes[""] ?? 0) < 1000);
    assert.ok((sizes.es ?? 0) > 4096);
  });
});

describe("machine translation's HTML", () => {
  it("keeps placeholders out of translation and gives the text back as it was", () => {
    const source = `Tom & Jerry's "{{name}}" <3 {{ grade }}`;
    const html = protect(source);
    assert.equal(html, 'Tom &amp; Jerry&#39;s &quot;<span translate="no">{{name}}</span>&quot; &lt;3 <span translate="no">{{ grade }}</span>');
    assert.equal(unprotect(html), source);
    assert.equal(unprotect(`[vi] ${html}`), `[vi] ${source}`);
    assert.equal(unprotect("L&#39;&#x27;été"), "L''été");
  });
});
