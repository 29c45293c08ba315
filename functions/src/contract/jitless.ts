/**
 * For browser clients under a Content-Security-Policy without 'unsafe-eval'
 * (the staff console's, in firebase.json): import this module before the
 * contract. zod otherwise compiles each object schema's parser with `new
 * Function`, deciding when the schema is built, and Chromium reports even its
 * caught probe as a CSP violation. The functions themselves keep the compiled
 * parsers: nothing on the server imports this.
 */
import { config } from "zod";

config({ jitless: true });
