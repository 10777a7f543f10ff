import en from 'zod/v4/locales/en.js';
import { config, type core } from 'zod/mini';

// The connector's schemas use zod/mini, zod's tree-shakable API (import * as z from 'zod/mini'):
// a fraction of the full one's size in every bundle, which is compile time at every cold start.
// Importing this module loads zod's English messages once, so every schema's errors read as zod's
// usual ones ("Invalid input: expected number, received string"). Never re-export `z` from a
// module: a re-exported namespace keeps all of zod in the bundle.
config(en());

/** Every issue of a failed parse as { path, message }, the path dotted ("gtw_info.0.rssi"). */
export function issuesOf(error: core.$ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}
