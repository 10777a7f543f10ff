import { createHandler } from './create-handler.js';

// The entry point of the notification functions; NOTIFICATION_TYPE (set per function in
// template.yaml) says which notification an instance serves. Every function's folder pairs a
// handler.ts like this one with a create-handler.ts, which the local stack uses to build handlers
// with other environments in one process.
export const handler = createHandler(process.env);
