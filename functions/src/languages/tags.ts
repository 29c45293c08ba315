/*
 * Language tags and which text a device gets. Pure (no Node built-ins, no
 * server SDK): the payload build (fcm/payload.ts), sendMessage's validation
 * and the staff console all use this one module.
 */

/** What a recipient's record and the report's counters say when a device got the message's default text. */
export const DEFAULT_TEXT = "default";

let names: Intl.DisplayNames | undefined;

/** Whether `language` (a primary language subtag) names a real language (CLDR knows its name). */
function isKnownLanguage(language: string): boolean {
  names ??= new Intl.DisplayNames(["en"], { type: "language", fallback: "none" });
  try {
    return names.of(language) !== undefined;
  } catch {
    // "und" and other special subtags are refused with a RangeError.
    return false;
  }
}

/**
 * A translation's key, canonicalised (`ES-mx` → `es-MX`, `zh-hant` →
 * `zh-Hant`): a well-formed BCP 47 tag whose language is a real one.
 * Undefined for anything else (`xx-foo`, `en_US`, `und`, private use).
 */
export function canonicalTag(tag: string): string | undefined {
  if (!/^[A-Za-z0-9-]{2,35}$/.test(tag)) return undefined;
  let canonical: string | undefined;
  try {
    canonical = Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
  if (canonical === undefined) return undefined;
  const language = new Intl.Locale(canonical).language;
  return isKnownLanguage(language) ? canonical : undefined;
}

/** A tag's primary language subtag (`es-MX` → `es`). */
export function languageOf(tag: string): string {
  return (tag.split("-")[0] ?? tag).toLowerCase();
}

/**
 * A device's `locale` as the app reported it, as a canonical tag: Android and
 * iOS report `es_MX`, browsers `es-MX`, POSIX `es_MX.UTF-8@euro`; any case.
 * Undefined when it names no language.
 */
export function deviceTag(locale: string | null | undefined): string | undefined {
  if (!locale) return undefined;
  const cleaned = locale.trim().replace(/[.@].*$/, "").replace(/_/g, "-");
  const exact = canonicalTag(cleaned);
  if (exact) return exact;
  // A region or script the tag grammar refuses still leaves its language.
  return canonicalTag(languageOf(cleaned));
}

/** The language present in the audience for machine translation: the device's language subtag. */
export function deviceLanguage(locale: string | null | undefined): string | undefined {
  const tag = deviceTag(locale);
  return tag === undefined ? undefined : languageOf(tag);
}

/** Canonical key → the key as stored, per translations object: built once per message, not per device. */
const indexes = new WeakMap<object, Map<string, string>>();

function indexOf(translations: Record<string, unknown>): Map<string, string> {
  let index = indexes.get(translations);
  if (!index) {
    index = new Map();
    for (const key of Object.keys(translations)) {
      const canonical = canonicalTag(key);
      if (canonical !== undefined) index.set(canonical.toLowerCase(), key);
    }
    indexes.set(translations, index);
  }
  return index;
}

/**
 * The key of the translation a device gets, or undefined for the default
 * text: the device's exact tag (`es-MX`), then the tag with its last subtag
 * dropped, again and again (`zh-Hant-TW` → `zh-Hant` → `zh`), so down to its
 * language (`es`) — RFC 4647's lookup. Case does not matter.
 */
export function matchTranslation(translations: Record<string, unknown> | undefined, locale: string | null | undefined): string | undefined {
  if (!translations) return undefined;
  const tag = deviceTag(locale);
  if (tag === undefined) return undefined;
  const index = indexOf(translations);
  const parts = tag.toLowerCase().split("-");
  for (let length = parts.length; length >= 1; length--) {
    // A single-letter subtag (an extension's or private use's singleton) is never a tag's last.
    if (parts[length - 1]?.length === 1) continue;
    const found = index.get(parts.slice(0, length).join("-"));
    if (found !== undefined) return found;
  }
  return undefined;
}

export interface Text {
  title: string;
  body: string;
}

/** The title and body a device gets, and which language that is (`DEFAULT_TEXT` for the message's own). */
export function textFor(message: Text & { translations?: Record<string, Text> }, locale: string | null | undefined): Text & { language: string } {
  const key = matchTranslation(message.translations, locale);
  const chosen = key === undefined ? undefined : message.translations?.[key];
  if (key === undefined || chosen === undefined) return { title: message.title, body: message.body, language: DEFAULT_TEXT };
  return { title: chosen.title, body: chosen.body, language: canonicalTag(key) ?? key };
}

/** `{{name}}`: a per-recipient value (fcm/payload.ts fills them; machine translation keeps them intact). */
export const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** The `{{name}}` placeholders a text holds. */
export function placeholderNamesOf(text: string): Set<string> {
  return new Set([...text.matchAll(PLACEHOLDER)].map((match) => match[1] as string));
}
