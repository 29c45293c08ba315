import { z } from "zod";
import { registerDeviceInput } from "../devices/schema";
import { userIdSchema } from "../sending/schema";

/** A partner server registers devices for its own users (its tenant's): the registerDevice body plus whose device it is. */
export const apiRegisterDeviceInput = registerDeviceInput.extend({ userId: userIdSchema });

export const userAttributesPath = z.strictObject({ userId: userIdSchema });
