/**
 * Loaded into every process of a metered stack (NODE_OPTIONS, set by
 * tools/stack.ts when STACK_METER=1). In a function worker only, it points
 * Firestore and Cloud Tasks at the meter's relays (tools/meter.ts) before
 * the functions' code runs: the Functions emulator sets their addresses
 * itself, over any given to it. Elsewhere (firebase-tools, the bench) it
 * does nothing.
 */
if (process.env.FUNCTIONS_EMULATOR === "true" && process.env.STACK_METER_FIRESTORE && process.env.STACK_METER_TASKS) {
  process.env.FIRESTORE_EMULATOR_HOST = process.env.STACK_METER_FIRESTORE;
  process.env.FIREBASE_FIRESTORE_EMULATOR_ADDRESS = process.env.STACK_METER_FIRESTORE;
  process.env.CLOUD_TASKS_EMULATOR_HOST = process.env.STACK_METER_TASKS;
}
