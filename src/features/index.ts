// The primitive table: which feature module handles each client request a session accepts,
// and which negotiated feature / function it belongs to. Login, Logout, Polling and client
// responses are protocol steps of the session actor itself (actors/session.ts).
import type { PrimitiveSpec } from './types.ts';
import { clientCapability, getSpInfo, keepAlive, serviceRequest } from './service-access.ts';
import { messageDelivered, sendMessage } from './messaging.ts';

export const PRIMITIVES: Readonly<Record<string, PrimitiveSpec>> = {
  'ClientCapability-Request': { handle: clientCapability },
  'Service-Request': { handle: serviceRequest },
  'KeepAlive-Request': { handle: keepAlive },
  'GetSPInfo-Request': { gate: { feature: 'FundamentalFeat', fn: 'GETSPI' }, handle: getSpInfo },
  'SendMessage-Request': { gate: { feature: 'IMFeat' }, handle: sendMessage },
  MessageDelivered: { gate: { feature: 'IMFeat' }, handle: messageDelivered },
};
