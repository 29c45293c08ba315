/**
 * Compose's languages in headless Chromium on the Hosting emulator: a
 * translation added as a row, filled by "Translate" (translateDraft through
 * the Translation stand-in) and left editable, the audience's languages next
 * to the estimate, and what each device then received. Screenshots at desktop
 * and phone width go to docs/console/languages-*.png.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { hostingOrigin, launchBrowser, watchPolicy, type PolicyWatch } from "./support/browser.ts";
import { seedDevices } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { ensureStaff } from "../tools/seed.ts";
import { waitFor } from "../tools/lib/wait.ts";

const SHOTS = "docs/console";
const PHONE = { width: 390, height: 844 };

describe("compose in several languages (headless Chromium)", () => {
  let browser: Browser;
  let policy: PolicyWatch;
  let page: Page;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchBrowser();
    policy = watchPolicy(browser);
    const email = `u-${randomUUID().slice(0, 8)}@example.com`;
    await ensureStaff(email, "password-123");
    page = await (await policy.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" })).newPage();
    await page.goto(`${hostingOrigin()}/`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("password-123");
    await page.keyboard.press("Enter");
    await page.getByLabel("Title", { exact: true }).waitFor();
  });
  after(async () => {
    await browser.close();
  });

  it("adds a language, machine-translates the draft to edit it, shows the audience's languages, and each device gets its text", { timeout: 120_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const devices = await seedDevices([{ locale: "es_MX" }, { locale: "es-ES" }, { locale: "fr-FR" }, { locale: "en-GB" }]);
    await page.getByLabel("Title", { exact: true }).fill(`Trip ${tag}`);
    await page.getByLabel("Body", { exact: true }).fill("The bus leaves at 8:00.");
    await page.getByLabel("Devices", { exact: true }).check();
    await page.getByLabel("Device IDs").fill(devices.map((d) => d.deviceId).join(", "));
    await page.getByRole("status").filter({ hasText: "4 devices will receive it" }).waitFor();
    await page.getByRole("status").filter({ hasText: "Audience languages (4 devices sampled)" }).waitFor();
    const spoken = (await page.getByRole("status").filter({ hasText: "Audience languages" }).textContent()) ?? "";
    assert.match(spoken, /Spanish 2/);
    assert.match(spoken, /French 1/);

    // Keyboard: type the tag, Enter adds the row and moves to its title.
    await page.getByLabel("Add a language").fill("ES");
    await page.keyboard.press("Enter");
    const esTitle = page.getByLabel("Title (es)");
    await esTitle.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("lang")), "es");
    await page.getByRole("group", { name: "Spanish (es)" }).getByRole("button", { name: "Translate" }).click();
    await waitFor("the machine translation in the row", async () => ((await esTitle.inputValue()) === `[es] Trip ${tag}` ? true : undefined), 20_000);
    assert.equal(await page.getByLabel("Body (es)").inputValue(), "[es] The bus leaves at 8:00.");
    await page.getByRole("status").filter({ hasText: "Spanish 2 (written)" }).waitFor();
    await page.getByLabel("Machine-translate into the audience's other languages").check();
    await page.getByRole("status").filter({ hasText: "French 1 (machine-translated)" }).waitFor();
    await page.getByLabel("Machine-translate into the audience's other languages").uncheck();
    // Still editable: the sender corrects the machine's text.
    await page.getByLabel("Body (es)").fill("El autobús sale a las 8:00.");
    await page.getByLabel("Add a language").fill("xx-foo");
    await page.getByRole("button", { name: "Add language" }).click();
    await page.getByText('"xx-foo" is not a language tag').waitFor();
    await page.getByLabel("Add a language").fill("");

    await page.screenshot({ path: `${SHOTS}/languages-desktop.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/languages-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByRole("button", { name: "Send" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("It goes to 4 devices now").waitFor();
    await dialog.getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(/#\/messages\//);
    const accepted = await waitFor("4 messages", async () => {
      const found = await acceptedFor(devices.map((d) => d.token));
      return found.length >= 4 ? found : undefined;
    }, 30_000);
    const bodies = new Map(accepted.map((a) => [a.message.token, (a.message as { notification?: { body?: string } }).notification?.body]));
    assert.deepEqual(devices.map((d) => bodies.get(d.token)), ["El autobús sale a las 8:00.", "El autobús sale a las 8:00.", "The bus leaves at 8:00.", "The bus leaves at 8:00."]);
    // The message page shows each text that was sent, with how many devices got it.
    const sent = page.getByRole("region", { name: "Languages" });
    await sent.getByText("es · written · 2 devices").waitFor({ timeout: 30_000 });
    await sent.getByText("Default text · 2 devices").waitFor();
    await sent.getByText("El autobús sale a las 8:00.").waitFor();
    assert.deepEqual(policy.take(), [], "no Content-Security-Policy violation");
  });
});
