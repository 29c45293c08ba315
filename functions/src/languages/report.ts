import { z } from "zod";
import { DEFAULT_TEXT } from "./tags";

/*
 * What the report (getMessageReport, GET /v1/messages/{id}) and estimateAudience
 * say about languages. Pure schemas and arithmetic: the console imports them.
 */

export const languagesReport = z.strictObject({
  /** Devices FCM accepted, per translation they got (by tag). */
  served: z.record(z.string(), z.number().int()),
  /** Devices FCM accepted that got the default text (no translation matched their locale, or its machine translation failed). */
  fellBack: z.number().int(),
  /** Languages machine-translated for this message (autoTranslate), and those whose translation failed (their devices got the default text). */
  machineTranslated: z.array(z.string()),
  machineTranslationFailed: z.array(z.string()),
});
export type LanguagesReport = z.infer<typeof languagesReport>;

/** The report's languages from the summed counters' `languages` and the message's machine translations' states. */
export function languagesFrom(counted: Record<string, number>, machine: Iterable<[string, { state: string }]>): LanguagesReport {
  const served: Record<string, number> = {};
  for (const [language, n] of Object.entries(counted)) if (language !== DEFAULT_TEXT && n > 0) served[language] = n;
  const translated: string[] = [];
  const failed: string[] = [];
  for (const [language, doc] of machine) {
    if (doc.state === "done") translated.push(language);
    if (doc.state === "failed") failed.push(language);
  }
  return { served, fellBack: counted[DEFAULT_TEXT] ?? 0, machineTranslated: translated.sort(), machineTranslationFailed: failed.sort() };
}

/**
 * estimateAudience's languages: devices per language subtag among at most
 * `sampled` devices of the audience (one read each, at most
 * AUDIENCE_LANGUAGE_SAMPLE), so the cost stays bounded for a broadcast;
 * `"default"` counts devices with no usable locale.
 */
export const audienceLanguages = z.strictObject({
  counts: z.record(z.string(), z.number().int()),
  sampled: z.number().int(),
});

export type AudienceLanguages = z.infer<typeof audienceLanguages>;

/** Most devices estimateAudience reads to say which languages an audience reads. */
export const AUDIENCE_LANGUAGE_SAMPLE = 200;
