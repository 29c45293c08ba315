import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { translateTexts } from "./client";
import { requireMachineTranslation } from "./machine";
import type { TranslateDraftResult } from "./schema";
import type { Text } from "./tags";

/**
 * The console's "Translate": a draft machine-translated through the same
 * client and placeholder protection autoTranslate uses; nothing is stored
 * (the sender edits it and sends it as a translation of their own).
 */
export async function translateDraft(draft: Text & { to: string }): Promise<TranslateDraftResult> {
  requireMachineTranslation();
  try {
    const translated = await translateTexts(draft, draft.to);
    return { to: draft.to, title: translated.title, body: translated.body };
  } catch (err) {
    logger.warn("languages: a draft's translation failed", { to: draft.to, reason: err instanceof Error ? err.message.slice(0, 300) : "unknown" });
    throw new HttpsError("unavailable", "The translation service did not translate this draft; try again, or write the translation yourself.");
  }
}
