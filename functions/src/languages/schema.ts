import { z } from "zod";
import { LIMITS } from "../shared/contract";
import { canonicalTag, placeholderNamesOf, type Text } from "./tags";

/*
 * `translations` as a sender writes it, checked like the default text: pure,
 * so the staff console validates with it as the functions do.
 */

/** Most translations one message may carry. */
export const TRANSLATIONS_MAX = 50;
/** Most bytes (as JSON) a message's translations may take: they live on the message document (Firestore's 1 MiB cap holds everything else too). */
export const TRANSLATIONS_MAX_BYTES = 256 * 1024;

const translationText = z.strictObject({
  title: z.string({ error: "must be a string" }).min(1, "must not be empty").max(LIMITS.titleMax, `must be at most ${LIMITS.titleMax} characters`),
  body: z.string({ error: "must be a string" }).min(1, "must not be empty").max(LIMITS.bodyMax, `must be at most ${LIMITS.bodyMax} characters`),
});

/**
 * `{ "<BCP 47 tag>": { title, body } }`, keys stored canonicalised. A key that
 * is not a well-formed tag of a real language is an error naming it
 * (`translations.xx-foo`); so is a key given twice in two spellings.
 */
export const translationsSchema = z
  .record(z.string(), translationText, { error: "must map language tags to { title, body }" })
  .transform((value, ctx) => {
    const entries = Object.entries(value);
    if (entries.length > TRANSLATIONS_MAX) {
      ctx.addIssue({ code: "custom", message: `must hold at most ${TRANSLATIONS_MAX} languages` });
      return z.NEVER;
    }
    const out: Record<string, Text> = {};
    for (const [tag, text] of entries) {
      const canonical = canonicalTag(tag);
      if (canonical === undefined) {
        ctx.addIssue({ code: "custom", path: [tag], message: `"${tag}" is not a BCP 47 language tag of a known language (such as es, fr-CA, zh-Hant)` });
        continue;
      }
      if (canonical in out) {
        ctx.addIssue({ code: "custom", path: [tag], message: `is the same language as another key (${canonical})` });
        continue;
      }
      out[canonical] = text;
    }
    if (new TextEncoder().encode(JSON.stringify(out)).length > TRANSLATIONS_MAX_BYTES) {
      ctx.addIssue({ code: "custom", message: `must be at most ${TRANSLATIONS_MAX_BYTES / 1024} KiB in all (as JSON): they are stored on the message document` });
    }
    return out;
  });

/**
 * The first placeholder of a translation that the sender could not fill: a
 * translation may use the placeholders of the default text (the sender fills
 * those for every recipient) and names given in `vars`. Undefined when all
 * can be filled.
 */
export function unfillablePlaceholder(
  input: Text & { translations?: Record<string, Text>; vars?: Record<string, Record<string, unknown>> },
): { path: Array<string>; name: string } | undefined {
  const fillable = placeholderNamesOf(`${input.title}\n${input.body}`);
  for (const vars of Object.values(input.vars ?? {})) for (const name of Object.keys(vars)) fillable.add(name);
  for (const [tag, text] of Object.entries(input.translations ?? {})) {
    for (const field of ["title", "body"] as const) {
      for (const name of placeholderNamesOf(text[field])) if (!fillable.has(name)) return { path: ["translations", tag, field], name };
    }
  }
  return undefined;
}

/** `translateDraft` (staff): a draft's title and body machine-translated into `to`, for the sender to edit. */
export const translateDraftInput = z.strictObject({
  title: translationText.shape.title,
  body: translationText.shape.body,
  to: z.string({ error: "must be a string" }).transform((tag, ctx) => {
    const canonical = canonicalTag(tag);
    if (canonical === undefined) ctx.addIssue({ code: "custom", message: `"${tag}" is not a BCP 47 language tag of a known language (such as es, fr-CA, zh-Hant)` });
    return canonical ?? tag;
  }),
});
export type TranslateDraftRequest = z.input<typeof translateDraftInput>;
export interface TranslateDraftResult {
  to: string;
  title: string;
  body: string;
}
