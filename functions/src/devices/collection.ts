import { COLLECTIONS } from "../shared/contract";
import { typedCollection } from "../shared/firestore";
import { deviceDoc } from "./schema";

export function devicesCollection() {
  return typedCollection(COLLECTIONS.devices, deviceDoc);
}
