/**
 * The service's contract for clients: the staff console and app developers
 * import the same schemas, limits, codes and request/response types the
 * functions use. Nothing here (or below it) loads a server SDK at run time, so
 * a browser bundle stays small: zod and a few pure modules.
 *
 *   import { sendMessageInput, LIMITS, type SendMessageRequest } from "<repo>/functions/src/contract";
 */
export {
  COLLECTIONS,
  STATUS,
  NO_ANSWER_STATUS,
  LIMITS,
  MAX_TTL_SECONDS,
  MESSAGE_STATES,
  PLATFORMS,
  RETIRED_REASONS,
  KEY_SCOPES,
  RECEIPT_EVENTS,
  RECEIPT_STAGES,
  RECEIPTS_SUMMARY_ID,
  isFinalStatus,
  isFailureStatus,
  type MessageState,
  type Platform,
  type RetiredReason,
  type KeyScope,
  type ReceiptEvent,
  type ReceiptStage,
} from "../shared/contract";
export {
  deviceIdSchema,
  tokenSchema,
  platformSchema,
  userInfoSchema,
  registerDeviceInput,
  registerDeviceResult,
  deleteDeviceResult,
  deviceRefInput,
  setDeviceEnabledInput,
  attributeNameSchema,
  attributeValueSchema,
  attributeChangesSchema,
  setUserAttributesInput,
  userAttributesBody,
  setUserAttributesResult,
  type RegisterDeviceInput,
  type RegisterDeviceResult,
  type DeleteDeviceResult,
  type SetUserAttributesRequest,
  type SetUserAttributesResult,
} from "../devices/input";
export {
  audienceSchema,
  audienceRequestSchema,
  categorySchema,
  userIdSchema,
  sendMessageInput,
  sendResult,
  cancelResult,
  messageReport,
  recipientOutcome,
  messageRefInput,
  estimateAudienceInput,
  resendFailedInput,
  setPreferencesInput,
  largestPayloadBytes,
  largestPayloadBytesByText,
  type Audience,
  type AudienceRequest,
  type SendMessageInput,
  type SendMessageRequest,
  type SendResult,
  type CancelResult,
  type RecipientOutcome,
  type EstimateAudienceRequest,
  type EstimateAudienceResult,
  type ResendFailedRequest,
  type PayloadFields,
} from "../sending/schema";
export { STATUS_GROUPS, statusGroup, groupCounts, messageState, counterDoc, type StatusGroup, type GroupCounts, type CounterDoc, type StateInput } from "../messages/progress";
export { fillPlaceholders } from "../fcm/payload";
export { translationsSchema, translateDraftInput, unfillablePlaceholder, TRANSLATIONS_MAX, type TranslateDraftRequest, type TranslateDraftResult } from "../languages/schema";
export { languagesReport, audienceLanguages, type LanguagesReport, type AudienceLanguages } from "../languages/report";
export { canonicalTag, deviceTag, deviceLanguage, matchTranslation, textFor, DEFAULT_TEXT } from "../languages/tags";
export {
  setDeliveryPausedInput,
  getDeliveryStatusInput,
  getDeliveryStatsInput,
  summarizeHour,
  type SetDeliveryPausedRequest,
  type GetDeliveryStatsRequest,
  type DeliveryStatus,
  type QueueStatus,
  type HourRow,
  type HourSummary,
} from "../ops/schema";
export {
  ackMessageInput,
  listRecipientsByReceiptInput,
  type AckMessageRequest,
  type AckMessageResult,
  type ListRecipientsByReceiptRequest,
  type ReceiptListItem,
  type ReceiptListPage,
} from "../receipts/schema";
export { analyticsLabelOf } from "../fcm/payload";
/** The answer of getMessageReport and of GET /v1/messages/{id}. */
export type { MessageReport } from "../sending/schema";
