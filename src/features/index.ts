// The primitive table: which feature module handles each client request a session accepts,
// and which negotiated feature / function it belongs to. Login, Logout, Polling and client
// responses are protocol steps of the session actor itself (actors/session.ts).
import type { PrimitiveSpec } from './types.ts';
import { clientCapability, getSpInfo, keepAlive, serviceRequest } from './service-access.ts';
import { forwardMessage, getMessage, getMessageList, messageDelivered, rejectMessage, sendMessage, setDeliveryMethod } from './messaging.ts';
import { blockEntity, getBlockedList } from './block-lists.ts';
import { getPresence, getWatcherList, subscribePresence, unsubscribePresence, updatePresence } from './presence.ts';
import { cancelAuth, createAttributeList, deleteAttributeList, getAttributeList, getReactiveAuthStatus, presenceAuthUser } from './authorization.ts';
import { createList, deleteList, getList, listManage } from './contact-lists.ts';
import {
  addGroupMembers,
  createGroup,
  deleteGroup,
  getGroupMembers,
  getGroupProps,
  getJoinedUsers,
  joinGroup,
  leaveGroup,
  memberAccess,
  rejectList,
  removeGroupMembers,
  setGroupProps,
  subscribeGroupNotice,
} from './groups.ts';
import { search, stopSearch } from './search.ts';
import { cancelInvite, inviteRequest, inviteUserResponse } from './invitations.ts';

export const PRIMITIVES: Readonly<Record<string, PrimitiveSpec>> = {
  'ClientCapability-Request': { handle: clientCapability },
  'Service-Request': { handle: serviceRequest },
  'KeepAlive-Request': { handle: keepAlive },
  'GetSPInfo-Request': { gate: { feature: 'FundamentalFeat', fn: 'GETSPI' }, handle: getSpInfo },
  'Search-Request': { gate: { feature: 'FundamentalFeat', fn: 'SRCH' }, handle: search },
  'StopSearch-Request': { gate: { feature: 'FundamentalFeat', fn: 'STSRC' }, handle: stopSearch },
  'Invite-Request': { gate: { feature: 'FundamentalFeat', fn: 'INVIT' }, handle: inviteRequest },
  'InviteUser-Response': { gate: { feature: 'FundamentalFeat', fn: 'INVIT' }, handle: inviteUserResponse },
  'CancelInvite-Request': { gate: { feature: 'FundamentalFeat', fn: 'CAINV' }, handle: cancelInvite },
  'SendMessage-Request': { gate: { feature: 'IMFeat' }, handle: sendMessage },
  MessageDelivered: { gate: { feature: 'IMFeat' }, handle: messageDelivered },
  'GetMessage-Request': { gate: { feature: 'IMFeat', fn: 'GETM' }, handle: getMessage },
  'GetMessageList-Request': { gate: { feature: 'IMFeat', fn: 'GETLM' }, handle: getMessageList },
  'RejectMessage-Request': { gate: { feature: 'IMFeat', fn: 'REJCM' }, handle: rejectMessage },
  'ForwardMessage-Request': { gate: { feature: 'IMFeat', fn: 'FWMSG' }, handle: forwardMessage },
  'SetDeliveryMethod-Request': { gate: { feature: 'IMFeat', fn: 'SETD' }, handle: setDeliveryMethod },
  'BlockEntity-Request': { gate: { feature: 'IMFeat', fn: 'BLENT' }, handle: blockEntity },
  'GetBlockedList-Request': { gate: { feature: 'IMFeat', fn: 'GLBLU' }, handle: getBlockedList },
  'GetList-Request': { gate: { feature: 'PresenceFeat', fn: 'GCLI' }, handle: getList },
  'CreateList-Request': { gate: { feature: 'PresenceFeat', fn: 'CCLI' }, handle: createList },
  'DeleteList-Request': { gate: { feature: 'PresenceFeat', fn: 'DCLI' }, handle: deleteList },
  'ListManage-Request': { gate: { feature: 'PresenceFeat', fn: 'MCLS' }, handle: listManage },
  'UpdatePresence-Request': { gate: { feature: 'PresenceFeat', fn: 'UPDPR' }, handle: updatePresence },
  'GetPresence-Request': { gate: { feature: 'PresenceFeat', fn: 'GETPR' }, handle: getPresence },
  'SubscribePresence-Request': { gate: { feature: 'PresenceFeat' }, handle: subscribePresence },
  'UnsubscribePresence-Request': { gate: { feature: 'PresenceFeat' }, handle: unsubscribePresence },
  'GetWatcherList-Request': { gate: { feature: 'PresenceFeat', fn: 'GETWL' }, handle: getWatcherList },
  'PresenceAuth-User': { gate: { feature: 'PresenceFeat', fn: 'REACT' }, handle: presenceAuthUser },
  'CancelAuth-Request': { gate: { feature: 'PresenceFeat', fn: 'CAAUT' }, handle: cancelAuth },
  'GetReactiveAuthStatus-Request': { gate: { feature: 'PresenceFeat', fn: 'GETAUT' }, handle: getReactiveAuthStatus },
  'CreateAttributeList-Request': { gate: { feature: 'PresenceFeat', fn: 'CALI' }, handle: createAttributeList },
  'DeleteAttributeList-Request': { gate: { feature: 'PresenceFeat', fn: 'DALI' }, handle: deleteAttributeList },
  'GetAttributeList-Request': { gate: { feature: 'PresenceFeat', fn: 'GALS' }, handle: getAttributeList },
  'CreateGroup-Request': { gate: { feature: 'GroupFeat', fn: 'CREAG' }, handle: createGroup },
  'DeleteGroup-Request': { gate: { feature: 'GroupFeat', fn: 'DELGR' }, handle: deleteGroup },
  'JoinGroup-Request': { gate: { feature: 'GroupFeat' }, handle: joinGroup },
  'LeaveGroup-Request': { gate: { feature: 'GroupFeat' }, handle: leaveGroup },
  'GetGroupProps-Request': { gate: { feature: 'GroupFeat', fn: 'GETGP' }, handle: getGroupProps },
  'SetGroupProps-Request': { gate: { feature: 'GroupFeat', fn: 'SETGP' }, handle: setGroupProps },
  'SubscribeGroupNotice-Request': { gate: { feature: 'GroupFeat', fn: 'SUBGCN' }, handle: subscribeGroupNotice },
  'GetGroupMembers-Request': { gate: { feature: 'GroupFeat', fn: 'GETGM' }, handle: getGroupMembers },
  'AddGroupMembers-Request': { gate: { feature: 'GroupFeat', fn: 'ADDGM' }, handle: addGroupMembers },
  'RemoveGroupMembers-Request': { gate: { feature: 'GroupFeat', fn: 'RMVGM' }, handle: removeGroupMembers },
  'MemberAccess-Request': { gate: { feature: 'GroupFeat', fn: 'MBRAC' }, handle: memberAccess },
  'RejectList-Request': { gate: { feature: 'GroupFeat', fn: 'REJEC' }, handle: rejectList },
  'GetJoinedUsers-Request': { gate: { feature: 'GroupFeat', fn: 'GETJU' }, handle: getJoinedUsers },
};
