import { v2 } from "@google-cloud/translate";
import { z } from "zod";
import { PLACEHOLDER, placeholderNamesOf, type Text } from "./tags";

/*
 * The Cloud Translation API (v2, "Basic", REST) through Google's official
 * client. In production the client authenticates as the runtime service
 * account (Application Default Credentials; the account needs
 * roles/cloudtranslate.user): no key is configured, logged or stored.
 *
 * The Translation API has no emulator: inside the Functions emulator, when
 * the local stack names a stand-in (TRANSLATE_STAND_IN_URL), the same client
 * sends its requests there over plain HTTP instead. The v2 client's
 * `apiEndpoint` option always builds an https:// URL, so the seam is its
 * `baseUrl`, set after construction; and it carries a placeholder API key,
 * which makes the client skip Google's auth (there is nothing to sign in to).
 */

/** How long one translation request may take before it counts as failed (the send goes on with the default text). */
const REQUEST_TIMEOUT_MS = 10_000;

export interface Translated extends Text {
  /** The API found the text already in the target language: nothing to translate. */
  sameLanguage: boolean;
}

let client: v2.Translate | undefined;

/**
 * No retries inside the client: a send never waits on the Translation API's
 * backoff (a failed language sends the default text and says so), and a
 * language is asked for once per message.
 */
const NO_RETRIES = { autoRetry: false };

function translationClient(): v2.Translate {
  if (client) return client;
  const standIn = standInAddress();
  if (!standIn) {
    client = new v2.Translate(NO_RETRIES);
    return client;
  }
  const local = new v2.Translate({ ...NO_RETRIES, key: "stand-in" });
  local.baseUrl = `${standIn.origin}/language/translate/v2`;
  client = local;
  return client;
}

/** The stand-in's address, honoured only inside the Functions emulator so production can never be redirected. */
function standInAddress(): URL | undefined {
  const url = process.env.TRANSLATE_STAND_IN_URL;
  if (!url || process.env.FUNCTIONS_EMULATOR !== "true") return undefined;
  return new URL(url);
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * The text as HTML for the API, each `{{name}}` wrapped in
 * `<span translate="no">`: the API leaves such spans untranslated, so the
 * placeholders come back as they went.
 */
export function protect(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c).replace(PLACEHOLDER, (match) => `<span translate="no">${match}</span>`);
}

/** The API's HTML answer back to plain text: the spans unwrapped, entities decoded. */
export function unprotect(html: string): string {
  return html
    .replace(/<span translate="no">\s*(\{\{[^{}]*\}\})\s*<\/span>/g, "$1")
    .replace(/&#(\d+);/g, (_m, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_m, code: string) => String.fromCodePoint(parseInt(code, 16)))
    .replace(/&(lt|gt|quot|apos);/g, (_m, name: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'" })[name] ?? "")
    .replace(/&amp;/g, "&");
}

function sameNames(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((name) => b.has(name));
}

const apiAnswer = z.object({
  data: z.object({ translations: z.array(z.object({ translatedText: z.string(), detectedSourceLanguage: z.string().optional() })) }),
});

/**
 * Title and body translated into `language` in one request. Throws when the
 * API fails, times out, or gives back text whose placeholders changed (a
 * translation that would fill the wrong values is no translation).
 */
export async function translateTexts(text: Text, language: string): Promise<Translated> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the Translation API did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS);
  });
  let answer: unknown;
  try {
    const result: [string[], unknown] = await Promise.race([translationClient().translate([protect(text.title), protect(text.body)], { to: language, format: "html" }), timeout]);
    answer = result[1];
  } finally {
    clearTimeout(timer);
  }
  const parsed = apiAnswer.safeParse(answer);
  if (!parsed.success || parsed.data.data.translations.length !== 2) throw new Error("the Translation API answered in an unexpected shape");
  const [title, body] = parsed.data.data.translations.map((t) => unprotect(t.translatedText)) as [string, string];
  for (const [field, source, result] of [["title", text.title, title], ["body", text.body, body]] as const) {
    if (!sameNames(placeholderNamesOf(source), placeholderNamesOf(result))) throw new Error(`the translation of the ${field} did not keep its placeholders intact`);
  }
  const detected = parsed.data.data.translations[0]?.detectedSourceLanguage;
  return { title, body, sameLanguage: detected !== undefined && detected.toLowerCase() === language.toLowerCase() };
}
