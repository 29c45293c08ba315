import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Flags that work on these machines (no GPU, no network, no sandbox for root). */
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function browserPath(): string {
  const candidates = [process.env.CHROME_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`No Chromium found (looked at ${candidates.join(", ")}). Install Debian's chromium (apt-get install chromium; npm run setup does it as root) or set CHROME_PATH.`);
  }
  return found;
}

/**
 * Debian's chromium (or CHROME_PATH) driven by playwright-core. Playwright
 * starts it on a new, empty user-data-dir; each newContext() is a separate
 * profile (its own signed-in user).
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: browserPath(), headless: true, args: FLAGS });
}

export function hostingOrigin(): string {
  const origin = process.env.HOSTING_ORIGIN;
  if (!origin) throw new Error("HOSTING_ORIGIN is not set: run the tests inside the local stack (npm test, or npm run with-stack -- …)");
  return origin;
}
