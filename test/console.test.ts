/**
 * The staff console in headless Chromium, served by the Hosting emulator and
 * talking to the whole stack, found by its accessible names (the contract).
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { adminAuth, adminDb } from "../tools/lib/admin.ts";
import { hostingOrigin, launchBrowser, watchPolicy, type PolicyWatch } from "./support/browser.ts";
import { seedDevices, waitForRecipientCount, waitUntilFinal } from "../tools/lib/fixtures.ts";
import { acceptedFor } from "../tools/lib/stand-in.ts";
import { ensureStaff } from "../tools/seed.ts";
import { signedInUser } from "../tools/lib/client.ts";

const SHOTS = ".cache/console";
const PHONE = { width: 390, height: 844 };

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${hostingOrigin()}/`);
  // Keyboard only: type, tab, type, enter.
  await page.getByLabel("Email").fill(email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
}

async function newUser(claims?: Record<string, unknown>): Promise<{ email: string; password: string; uid: string }> {
  const email = `u-${randomUUID().slice(0, 8)}@example.com`;
  const password = "password-123";
  if (claims?.pushSender) return { email, password, ...(await ensureStaff(email, password)) };
  const { uid } = await adminAuth().createUser({ email, password });
  return { email, password, uid };
}

/** A number shown on the message page for one status group. */
async function shown(page: Page, label: string): Promise<string> {
  return (await page.locator("dl.counts div", { has: page.locator("dt", { hasText: new RegExp(`^${label}$`) }) }).locator("dd").textContent()) ?? "";
}

describe("staff console (headless Chromium on the Hosting emulator)", () => {
  let browser: Browser;
  // Every page runs under the headers Hosting serves (firebase.json): a CSP violation fails the test it happened in.
  let policy: PolicyWatch;
  let staffPage: Page;
  let staff: { email: string; password: string; uid: string };
  const titles: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchBrowser();
    policy = watchPolicy(browser);
    staff = await newUser({ pushSender: true });
    staffPage = await (await policy.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" })).newPage();
    await signIn(staffPage, staff.email, staff.password);
    await staffPage.getByLabel("Title").waitFor();
  });
  afterEach(() => {
    assert.deepEqual(policy.take(), [], "the console works under its Content-Security-Policy: no violation reported");
  });
  after(async () => {
    await browser?.close();
  });

  it("refuses a signed-in user without the pushSender claim, with no compose form", async () => {
    const user = await newUser();
    const context = await policy.newContext();
    const page = await context.newPage();
    await signIn(page, user.email, user.password);
    await page.getByText("You are not allowed to send notifications").waitFor();
    assert.equal(await page.getByLabel("Title").count(), 0);
    assert.equal(await page.getByRole("button", { name: "Send" }).count(), 0);
    await context.close();
  });

  it("blocks an over-limit title next to its field", async () => {
    const page = staffPage;
    await page.goto(`${hostingOrigin()}/#/`);
    await page.getByLabel("Title").fill("x".repeat(51));
    await page.getByLabel("Body").fill("A body");
    await page.getByText("51 / 50").waitFor();
    await page.getByText("Title must be at most 50 characters").waitFor();
    assert.equal(await page.getByLabel("Title").getAttribute("aria-invalid"), "true");
    assert.ok(await page.getByRole("button", { name: "Send" }).isDisabled());
  });

  it("estimates what sendMessage then creates, sends to a users list and watches it reach done with the right counts", { timeout: 120_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const [ana, ben] = [`ana-${tag}`, `ben-${tag}`];
    const devices = await seedDevices([
      { userId: ana, token: `ok-${tag}-1` },
      { userId: ana, token: `invalid-${tag}-2` },
      { userId: ben, token: `ok-${tag}-3` },
      { userId: ben, token: `unregistered-${tag}-4` },
      { userId: ben, token: `ok-${tag}-5`, enabled: false },
      { userId: ana, token: `ok-${tag}-6`, retired: true },
    ]);
    const page = staffPage;
    await page.goto(`${hostingOrigin()}/#/`);
    const title = `Trip ${tag}`;
    titles.push(title);
    await page.getByLabel("Title").fill(title);
    await page.getByLabel("Body").fill("Hello {{name}}, the bus leaves at 8:00.");
    await page.getByLabel("Users", { exact: true }).check();
    await page.getByLabel("User IDs").fill(`${ana}\n${ben}, ${ana}`);
    await page.getByText("has a placeholder without a value").first().waitFor();
    assert.ok(await page.getByRole("button", { name: "Send" }).isDisabled(), "{{name}} without values cannot be sent");
    await page.getByLabel("Load a CSV file").setInputFiles({ name: "users.csv", mimeType: "text/csv", buffer: Buffer.from(`userId,name\n${ana},Ana\n${ben},Ben\n`) });
    await page.getByText("Hello Ana, the bus leaves at 8:00.").waitFor();
    const status = page.getByRole("status");
    await status.filter({ hasText: "4 devices will receive it" }).waitFor();
    await page.screenshot({ path: `${SHOTS}/compose-desktop.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/compose-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByRole("button", { name: "Send" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("It goes to 4 devices now").waitFor();
    // A double click sends once (one idempotency key per composed message).
    await dialog.getByRole("button", { name: "Confirm" }).dblclick();
    await page.waitForURL(/#\/messages\//);
    const messageId = page.url().split("/").pop() as string;
    const recipients = await waitUntilFinal(messageId, 4);
    assert.equal(recipients.size, 4, "the estimate equals what sendMessage created");
    const same = await adminDb().collection("messages").where("title", "==", title).get();
    assert.equal(same.size, 1, "one message for the double click");

    await page.getByText("done", { exact: true }).waitFor({ timeout: 30_000 });
    assert.equal(await shown(page, "Accepted"), "2");
    assert.equal(await shown(page, "Failed"), "1");
    assert.equal(await shown(page, "No longer registered"), "1");
    assert.equal(await shown(page, "Pending"), "0");
    await page.getByRole("cell", { name: devices[1]?.deviceId }).waitFor();
    await page.screenshot({ path: `${SHOTS}/message-desktop.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/message-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    // Resend to the failed: the one 400 goes again, to a device its failure retired (-99 now).
    await page.getByRole("button", { name: "Resend to the failed" }).click();
    await page.getByRole("link", { name: "the original message" }).waitFor();
    await page.getByText("done", { exact: true }).waitFor({ timeout: 30_000 });
    assert.equal(await shown(page, "No longer registered"), "1");
    assert.equal(await shown(page, "Accepted"), "0");
    const delivered = await acceptedFor(devices.map((d) => d.token));
    assert.deepEqual(delivered.map((m) => (m.message.notification as { body: string }).body).sort(), ["Hello Ana, the bus leaves at 8:00.", "Hello Ben, the bus leaves at 8:00."]);
  });

  it("estimates the Devices and Attributes audiences as sendMessage would expand them", { timeout: 60_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const devices = await seedDevices([
      { attributes: { club: `chess-${tag}` } },
      { attributes: { club: `chess-${tag}`, grade: 9 } },
      { attributes: { club: `chess-${tag}` }, enabled: false },
      { attributes: { grade: 9, house: `h-${tag}` }, retired: true },
      // An app's own claim to the club: not what the Attributes audience matches.
      { userInfo: { club: `chess-${tag}` } },
    ]);
    const page = staffPage;
    await page.goto(`${hostingOrigin()}/#/`);
    await page.getByLabel("Title").fill("Clubs");
    await page.getByLabel("Body").fill("Meeting today");
    await page.getByLabel("Attributes").check();
    await page.getByLabel("Attribute 1 key").fill("club");
    await page.getByLabel("Attribute 1 value").fill(`chess-${tag}`);
    await page.getByRole("status").filter({ hasText: "2 devices will receive it" }).waitFor();
    await page.getByLabel("Devices", { exact: true }).check();
    // Listed by id, the app's own device is one of them.
    await page.getByLabel("Device IDs").fill(devices.map((d) => d.deviceId).join(", "));
    await page.getByRole("status").filter({ hasText: "3 devices will receive it" }).waitFor();
    const live = (await adminDb().collection("devices").where("retired", "==", false).where("enabled", "==", true).count().get()).data().count;
    await page.getByLabel("Everyone").check();
    await page.getByRole("status").filter({ hasText: `${live.toLocaleString("en-US")} devices will receive it` }).waitFor();
  });

  it("finds one device of a broadcast: accepted ones from their page, the others from their document, and says so for a stranger", { timeout: 120_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const [live, dead] = await seedDevices([{ attributes: { choir: `c-${tag}` } }, { token: `unregistered-${randomUUID()}`, attributes: { choir: `c-${tag}` } }]);
    assert.ok(live && dead);
    const sender = await signedInUser({ pushSender: true });
    const { messageId } = await sender.call<{ messageId: string }>("sendMessage", { title: `Choir ${tag}`, body: "Rehearsal moved", audience: { where: { choir: `c-${tag}` } } });
    await sender.close();
    await waitUntilFinal(messageId, 2);
    const page = staffPage;
    await page.goto(`${hostingOrigin()}/#/messages/${messageId}`);
    await page.getByText("done", { exact: true }).waitFor();
    const answer = page.locator("form.lookup [role=status]");
    await page.getByLabel("Device ID").fill(live.deviceId);
    await page.getByRole("button", { name: "Look up" }).click();
    await answer.filter({ hasText: `${live.deviceId}: Accepted (200)` }).waitFor();
    assert.match((await answer.textContent()) ?? "", /1 attempt; accepted by FCM /);
    await page.screenshot({ path: `${SHOTS}/message-lookup-desktop.png`, fullPage: true });
    await page.getByLabel("Device ID").fill(dead.deviceId);
    await page.getByRole("button", { name: "Look up" }).click();
    await answer.filter({ hasText: `${dead.deviceId}: No longer registered (-99)` }).waitFor();
    await page.getByLabel("Device ID").fill(`stranger-${tag}`);
    await page.getByRole("button", { name: "Look up" }).click();
    await answer.filter({ hasText: "not a recipient of this message" }).waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${SHOTS}/message-lookup-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("schedules, shows scheduled, cancels, shows cancelled, and FCM receives nothing", { timeout: 180_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const user = `cy-${tag}`;
    const devices = await seedDevices([{ userId: user, token: `ok-${tag}-1` }]);
    const page = staffPage;
    await page.goto(`${hostingOrigin()}/#/`);
    const title = `Later ${tag}`;
    titles.push(title);
    await page.getByLabel("Title").fill(title);
    await page.getByLabel("Body").fill("Tomorrow's assembly");
    await page.getByLabel("Users", { exact: true }).check();
    await page.getByLabel("User IDs").fill(user);
    const at = new Date(Date.now() + 2 * 3_600_000);
    const pad = (n: number) => String(n).padStart(2, "0");
    await page.getByLabel("Send at").fill(`${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`);
    await page.getByText("UTC", { exact: false }).first().waitFor();
    await page.getByRole("status").filter({ hasText: "1 device will receive it" }).waitFor();
    await page.getByRole("button", { name: "Schedule" }).click();
    await page.getByRole("dialog").getByText("It goes to 1 device on").waitFor();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(/#\/messages\//);
    await page.getByText("scheduled", { exact: true }).waitFor();
    // Cancelled once its recipient is written (a cancel during the expansion would stop it before).
    await waitForRecipientCount(page.url().split("/").pop() as string);
    await page.getByRole("button", { name: "Cancel message" }).click();
    await page.getByText("cancelled", { exact: true }).waitFor();
    // The state comes from the message document, the count from its counters: they may arrive apart.
    await page.locator("dl.counts div", { has: page.locator("dt", { hasText: /^Cancelled$/ }) }).locator("dd", { hasText: /^1$/ }).waitFor();
    assert.equal(await shown(page, "Cancelled"), "1");
    assert.deepEqual(await acceptedFor(devices.map((d) => d.token)), []);
  });

  it("lists messages newest first in the history, with a filter for the sender's own", { timeout: 60_000 }, async () => {
    const other = `Other ${randomUUID().slice(0, 8)}`;
    await adminDb().collection("messages").add({ title: other, body: "From a script", senderId: "someone-else", createdAt: new Date(), recipientCount: 0, recipientsWrittenAt: new Date() });
    const page = staffPage;
    await page.getByRole("link", { name: "History" }).click();
    const rows = page.locator("table.history tbody tr");
    await rows.filter({ hasText: other }).waitFor();
    const texts = await rows.allTextContents();
    const [later, trip, script] = [titles[1], titles[0], other].map((t) => texts.findIndex((row) => row.includes(t as string))) as [number, number, number];
    assert.ok(script !== -1 && later !== -1 && trip !== -1, "all three are listed");
    assert.ok(script < later && later < trip, "newest first");
    assert.match(texts[trip] ?? "", /done/);
    assert.match(texts[later] ?? "", /cancelled/);
    await page.getByLabel("Only my messages").check();
    await rows.filter({ hasText: other }).waitFor({ state: "detached" });
    assert.equal(await rows.filter({ hasText: titles[0] as string }).count(), 2, "the message and its resend");
    await page.screenshot({ path: `${SHOTS}/history-desktop.png`, fullPage: true });
  });
});
