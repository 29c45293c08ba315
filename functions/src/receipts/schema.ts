import { z } from "zod";
import { deviceIdSchema } from "../devices/input";
import { messageRefInput } from "../sending/schema";
import { RECEIPT_EVENTS, RECEIPT_STAGES, type ReceiptEvent } from "../shared/contract";

/*
 * Inputs and answers of the receipts' callables. Free of server-only imports:
 * the staff console and app developers import them (functions/src/contract).
 */

/** `ackMessage`: the app reports that a notification arrived on the device (`received`) or that the user tapped it (`opened`). */
export const ackMessageInput = z.strictObject({
  messageId: messageRefInput.shape.messageId,
  deviceId: deviceIdSchema,
  event: z.enum(RECEIPT_EVENTS, { error: `must be ${RECEIPT_EVENTS.map((e) => `"${e}"`).join(" or ")}` }),
});
export type AckMessageRequest = z.input<typeof ackMessageInput>;
export type AckMessageInput = z.output<typeof ackMessageInput>;

/** What ackMessage answers: `counted` is false for a repeat (this device already reported this event for this message). */
export interface AckMessageResult {
  messageId: string;
  deviceId: string;
  event: ReceiptEvent;
  counted: boolean;
}

/** `listRecipientsByReceipt`: the recipients FCM accepted, at one stage of the funnel, a bounded page at a time. */
export const listRecipientsByReceiptInput = z.strictObject({
  messageId: messageRefInput.shape.messageId,
  stage: z.enum(RECEIPT_STAGES, { error: `must be ${RECEIPT_STAGES.map((s) => `"${s}"`).join(", ")}` }),
  /** The `nextPageToken` of the previous answer. */
  pageToken: z.string().min(1).max(2048).optional(),
});
export type ListRecipientsByReceiptRequest = z.input<typeof listRecipientsByReceiptInput>;

export interface ReceiptListItem {
  deviceId: string;
  userId: string | null;
  receivedAt: string | null;
  openedAt: string | null;
}

/** One page: it may hold fewer items than the next one (items are filtered by stage after a bounded read); null `nextPageToken` is the end. */
export interface ReceiptListPage {
  items: ReceiptListItem[];
  nextPageToken: string | null;
}
