// The primitive table: which feature module handles each client request a session accepts,
// and which negotiated feature / function it belongs to. Login, Logout, Polling and client
// responses are protocol steps of the session actor itself (actors/session.ts).
import type { PrimitiveSpec } from './types.ts';
import { clientCapability, getSpInfo, keepAlive, serviceRequest } from './service-access.ts';
import { forwardMessage, getMessage, getMessageList, messageDelivered, rejectMessage, sendMessage, setDeliveryMethod } from './messaging.ts';
import { blockEntity, getBlockedList } from './block-lists.ts';

export const PRIMITIVES: Readonly<Record<string, PrimitiveSpec>> = {
  'ClientCapability-Request': { handle: clientCapability },
  'Service-Request': { handle: serviceRequest },
  'KeepAlive-Request': { handle: keepAlive },
  'GetSPInfo-Request': { gate: { feature: 'FundamentalFeat', fn: 'GETSPI' }, handle: getSpInfo },
  'SendMessage-Request': { gate: { feature: 'IMFeat' }, handle: sendMessage },
  MessageDelivered: { gate: { feature: 'IMFeat' }, handle: messageDelivered },
  'GetMessage-Request': { gate: { feature: 'IMFeat', fn: 'GETM' }, handle: getMessage },
  'GetMessageList-Request': { gate: { feature: 'IMFeat', fn: 'GETLM' }, handle: getMessageList },
  'RejectMessage-Request': { gate: { feature: 'IMFeat', fn: 'REJCM' }, handle: rejectMessage },
  'ForwardMessage-Request': { gate: { feature: 'IMFeat', fn: 'FWMSG' }, handle: forwardMessage },
  'SetDeliveryMethod-Request': { gate: { feature: 'IMFeat', fn: 'SETD' }, handle: setDeliveryMethod },
  'BlockEntity-Request': { gate: { feature: 'IMFeat', fn: 'BLENT' }, handle: blockEntity },
  'GetBlockedList-Request': { gate: { feature: 'IMFeat', fn: 'GLBLU' }, handle: getBlockedList },
};
