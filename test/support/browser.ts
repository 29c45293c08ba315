import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from "playwright-core";

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

/** What the pages of a watched context report about the page's security headers. */
export interface PolicyWatch {
  /** Opens a context whose pages report every Content-Security-Policy or Permissions-Policy violation here. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** The violations reported since the last call (empty: the console worked within its policy). */
  take(): string[];
}

/**
 * Chromium reports a violation two ways, and neither alone sees all: a
 * `securitypolicyviolation` event in the page (the only report of a refused
 * `eval`, which logs nothing) and a console line (a refused frame, which fires
 * no event in the framed page). A watched context listens to both, from the
 * first script of every page on.
 */
export function watchPolicy(browser: Browser): PolicyWatch {
  let seen: string[] = [];
  return {
    async newContext(options) {
      const context = await browser.newContext(options);
      await context.exposeBinding("__reportPolicyViolation", ({ frame }, report: string) => void seen.push(`${report} (in ${frame.url()})`));
      await context.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          const report = (window as unknown as { __reportPolicyViolation: (report: string) => void }).__reportPolicyViolation;
          void report(`${e.effectiveDirective} refused ${e.blockedURI || "(inline)"} at ${e.sourceFile}:${e.lineNumber}`);
        });
      });
      context.on("console", (message) => {
        if (/Content Security Policy|Permissions-Policy|Permissions policy/i.test(message.text())) seen.push(`console ${message.type()}: ${message.text()}`);
      });
      return context;
    },
    take() {
      const taken = seen;
      seen = [];
      return taken;
    },
  };
}
