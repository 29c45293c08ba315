import { listRecipientsByReceipt as list } from "../receipts/list";
import { listRecipientsByReceiptInput } from "../receipts/schema";
import { requireStaff } from "../sending/staff";
import { validatedOnCall } from "../shared/callable";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Staff: the accepted recipients of a message not received, not opened, or opened, a bounded page at a time. */
export const listRecipientsByReceipt = validatedOnCall(listRecipientsByReceiptInput, (data, caller) => list(requireStaff(caller), data.messageId, data.stage, data.pageToken), STAFF_CALLABLE);
