import { GrpcStatus, Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { HttpsError } from "firebase-functions/v2/https";
import { z } from "zod";
import { messageRef } from "../messages/collection";
import type { MessageDoc } from "../messages/schema";
import { COLLECTIONS } from "../shared/contract";
import { MACHINE_TRANSLATION } from "../shared/params";
import { translateTexts, type Translated } from "./client";
import { deviceLanguage, matchTranslation, type Text } from "./tags";

/*
 * autoTranslate: a translation for every language present in the audience
 * that the sender did not write, made once per message and language and
 * stored with the message (`messages/{id}/translations/{language}`), so the
 * report and the console show exactly what was sent.
 *
 * "Present in the audience" is the language subtag of the devices' locales
 * as the sends meet them (a batch, a page, a small send): `es-MX` and
 * `es-ES` devices share one `es` translation, unless the sender wrote one for
 * their tag. The first send that meets a language creates its document
 * ("translating", with a lease) and calls the API; a send that meets it
 * meanwhile waits a few seconds for the result, then sends the default text
 * rather than hold its devices. A failed translation stays failed for the
 * message: its devices get the default text, and the report lists it. Two
 * writes per language per message, never per device.
 */

/** How long a "translating" claim holds before another send may take it over (its run died). */
const CLAIM_SECONDS = 30;
/** How long a send waits for a translation another send is making, before it sends the default text instead. */
const WAIT_MS = 8_000;
const POLL_MS = 250;

export const translationDoc = z.object({
  /** `done`: title and body are the translation sent; `source`: the text is already in this language (the default is sent); `failed`: the default is sent. */
  state: z.enum(["translating", "done", "source", "failed"]),
  title: z.string().optional(),
  body: z.string().optional(),
  /** Characters sent to the API (what it bills). */
  characters: z.number().int().optional(),
  reason: z.string().optional(),
  leaseExpiresAt: z.custom<Timestamp>((v) => v instanceof Timestamp).nullable().optional(),
  updatedAt: z.custom<Timestamp>((v) => v instanceof Timestamp).optional(),
});
export type TranslationDoc = z.infer<typeof translationDoc>;

export function translationsCollection(messageId: string) {
  return messageRef(messageId).collection(COLLECTIONS.translations);
}

/** The message's machine translations by language, as stored. */
export async function readMachineTranslations(messageId: string): Promise<Map<string, TranslationDoc>> {
  const snapshot = await translationsCollection(messageId).get();
  const out = new Map<string, TranslationDoc>();
  for (const doc of snapshot.docs) {
    const parsed = translationDoc.safeParse(doc.data());
    if (parsed.success) out.set(doc.id, parsed.data);
  }
  return out;
}

export interface Localized {
  /** The message with its machine translations beside the sender's (the sender's win for their tags). */
  message: MessageDoc;
  reads: number;
  writes: number;
}

/**
 * The message as these devices should get it: with `autoTranslate` (and
 * MACHINE_TRANSLATION on), every language of `locales` that no translation
 * of the sender matches is machine-translated (once per message) and added.
 * Costs nothing otherwise: no read, no call.
 */
export async function withMachineTranslations(messageId: string, message: MessageDoc, locales: Array<string | null | undefined>): Promise<Localized> {
  if (!message.autoTranslate || message.dataOnly || !MACHINE_TRANSLATION.value()) return { message, reads: 0, writes: 0 };
  const wanted = new Set<string>();
  for (const locale of locales) {
    if (matchTranslation(message.translations, locale) !== undefined) continue;
    const language = deviceLanguage(locale);
    if (language !== undefined) wanted.add(language);
  }
  if (wanted.size === 0) return { message, reads: 0, writes: 0 };
  const stored = await readMachineTranslations(messageId);
  let reads = Math.max(1, stored.size);
  let writes = 0;
  const missing = [...wanted].filter((language) => stored.get(language)?.state !== "done" && stored.get(language)?.state !== "source" && stored.get(language)?.state !== "failed");
  const made = await Promise.all(missing.map((language) => obtain(messageId, message, language, stored.get(language))));
  missing.forEach((language, i) => {
    const result = made[i];
    if (!result) return;
    reads += result.reads;
    writes += result.writes;
    if (result.doc) stored.set(language, result.doc);
  });
  const machine: Record<string, Text> = {};
  for (const language of wanted) {
    const doc = stored.get(language);
    if (doc?.state === "done" && doc.title !== undefined && doc.body !== undefined) machine[language] = { title: doc.title, body: doc.body };
  }
  if (Object.keys(machine).length === 0) return { message, reads, writes };
  return { message: { ...message, translations: { ...machine, ...message.translations } }, reads, writes };
}

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown }).code;
}

/**
 * One language's translation for this message: made here if no other send
 * holds it, else awaited for a few seconds. Undefined doc: not ready (this
 * send gives the default text).
 */
async function obtain(messageId: string, message: MessageDoc, language: string, known: TranslationDoc | undefined): Promise<{ doc?: TranslationDoc; reads: number; writes: number }> {
  const ref = translationsCollection(messageId).doc(language);
  const claim = { state: "translating", leaseExpiresAt: Timestamp.fromMillis(Date.now() + CLAIM_SECONDS * 1000), updatedAt: Timestamp.now() };
  let reads = 0;
  if (known === undefined) {
    try {
      await ref.create(claim);
      return { doc: await translateAndStore(ref, messageId, message, language), reads, writes: 2 };
    } catch (err) {
      if (codeOf(err) !== GrpcStatus.ALREADY_EXISTS) throw err;
    }
  }
  // Another send is making it: wait for its result, or take over a claim whose run died.
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const snapshot = await ref.get();
    reads += 1;
    const doc = translationDoc.safeParse(snapshot.data()).data;
    if (doc && doc.state !== "translating") return { doc, reads, writes: 0 };
    if (doc?.leaseExpiresAt && doc.leaseExpiresAt.toMillis() < Date.now()) {
      try {
        await ref.update(claim, { lastUpdateTime: snapshot.updateTime });
        return { doc: await translateAndStore(ref, messageId, message, language), reads, writes: 2 };
      } catch (err) {
        if (codeOf(err) !== GrpcStatus.FAILED_PRECONDITION) throw err;
      }
    }
    if (Date.now() >= deadline) {
      logger.info("languages: a translation is still being made; these devices get the default text", { messageId, language });
      return { reads, writes: 0 };
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function translateAndStore(ref: FirebaseFirestore.DocumentReference, messageId: string, message: MessageDoc, language: string): Promise<TranslationDoc> {
  const source: Text = { title: message.title, body: message.body };
  const characters = source.title.length + source.body.length;
  let doc: TranslationDoc;
  try {
    const result: Translated = await translateTexts(source, language);
    doc = result.sameLanguage ? { state: "source", characters } : { state: "done", title: result.title, body: result.body, characters };
  } catch (err) {
    // The API's own message (never a credential): the default text is sent, and the report lists the language.
    const reason = err instanceof Error ? err.message.slice(0, 300) : "translation failed";
    logger.warn("languages: machine translation failed; these devices get the default text", { messageId, language, reason });
    doc = { state: "failed", reason };
  }
  const stored = { ...doc, leaseExpiresAt: null, updatedAt: Timestamp.now() };
  await ref.set(stored);
  logger.info("languages: machine translation stored", { messageId, language, state: doc.state, characters: doc.characters ?? 0 });
  return doc;
}

/** Why a request for machine translation is refused, if it is: the operator has not turned it on. */
export function machineTranslationOff(): string | undefined {
  return MACHINE_TRANSLATION.value() ? undefined : "machine translation is off for this project (MACHINE_TRANSLATION=false): write the translations yourself, or ask the operator to turn it on";
}

/** Refuses autoTranslate (and draft translation) while MACHINE_TRANSLATION is off: nothing is written, nothing called. */
export function requireMachineTranslation(): void {
  const off = machineTranslationOff();
  if (off) throw new HttpsError("failed-precondition", off, { field: "autoTranslate" });
}
