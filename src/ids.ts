// Identifiers the server hands out. Session ids are bearer tokens (they are all a phone shows
// to prove who it is on every request), so they carry 144 random bits; message ids and server
// transaction ids only need to be unique and unguessable enough not to leak ordering.
import { randomBytes } from 'node:crypto';

export const newSessionId = (): string => randomBytes(18).toString('base64url');
export const newMessageId = (): string => randomBytes(12).toString('base64url');
export const newServerTransactionId = (): string => 's' + randomBytes(8).toString('hex');
