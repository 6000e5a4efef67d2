// Content models of CSP structures, per version, written DTD-style (reference imps-csp.md §2–§4).
//
// Format: each entry maps an element name to models keyed by the version they start in; a
// version uses the model of the highest key not above it ('1.1' means "from 1.1 on").
//   'A, B?, C*, D+'      sequence with optional / repeated parts
//   '(A | B)'            choice; groups nest and take ? * + too
//   'EMPTY'              an element that carries nothing (flags, selectors, empty requests)
// Elements without an entry are leaves (text); their data type (string, integer, boolean,
// datetime) comes from the verified WBXML tables. Names are the canonical ones (1.2 spelling,
// e.g. BlockEntity-Request); schema/index.ts maps them to the wire name a version uses.
//
// The encoders order children by these models (strict handsets parse by position); decoders
// never enforce them (real handsets send fields out of order, imps-csp.md §12 item 7).
//
// Sources, cited in the notes below:
//   NOK 1.1 / NOK 1.2  Nokia S60 engine, IMPSengine/messageencoder/wbxml/inc/ImpsCspDtd.h
//                      (KCsp*Dtd11 lists only what a 1.1 client sends; KCsp*Dtd12 both directions)
//   WV-023 wv-NNN      the WV 1.1 "CSP DTD and examples" documents kept by libwbxml (test/tools/wv)
//   BAR                Baraza cspmessages.def: one superset structure for every version, all
//                      fields optional; the only source for most 1.3 models (its order is used)
// A 1.1 model of a server-to-client primitive that NOK 1.1 lacks and no WV-023 example shows is
// the NOK 1.2 model minus the 1.2-only names (marked "1.1: as NOK 1.2").
// Every model of an element that doubles as an empty selector (presence attributes in
// subscribe/get requests, GetWatcherList-Request, ...) makes all of its children optional.

export type VersionedModel = Partial<Record<'1.1' | '1.2' | '1.3', string>>;

/** Function codes (leaves of WVCSPFeat) and the "all functions" flags: always empty. */
const FUNCTION_CODES: Record<'1.1' | '1.2' | '1.3', string[]> = {
  '1.1': [
    'GETSPI', 'SRCH', 'STSRC', 'INVIT', 'CAINV',
    'GCLI', 'CCLI', 'DCLI', 'MCLS', 'GETWL', 'REACT', 'CAAUT', 'GETPR', 'UPDPR', 'CALI', 'DALI', 'GALS',
    'MDELIV', 'FWMSG', 'SETD', 'GETLM', 'GETM', 'REJCM', 'NOTIF', 'NEWM', 'GLBLU', 'BLENT',
    'CREAG', 'DELGR', 'GETGP', 'SETGP', 'SUBGCN', 'GRCHN', 'GETGM', 'ADDGM', 'RMVGM', 'MBRAC', 'REJEC',
  ],
  // MF/MP/MM/MG: "every function of this feature" (NOK 1.2 `<MF EMPTY>` …).
  '1.2': ['MF', 'MP', 'MM', 'MG', 'GETAUT', 'GETJU', 'VRID'],
  '1.3': ['GETMAP', 'SGMNT', 'ADVSR', 'OFFNOTIF', 'EXCON'],
};

const emptyFrom = (): Record<string, VersionedModel> => {
  const out: Record<string, VersionedModel> = {};
  for (const [version, names] of Object.entries(FUNCTION_CODES)) for (const name of names) out[name] = { [version]: 'EMPTY' };
  return out;
};

/** Presence attributes whose value is one PresenceValue (§3.4); 1.3 per-client ones add ClientID. */
const VALUE_ATTRIBUTE = { '1.1': 'Qualifier?, PresenceValue?' };
const PER_CLIENT_VALUE_ATTRIBUTE = { '1.1': 'Qualifier?, PresenceValue?', '1.3': 'Qualifier?, PresenceValue?, ClientID?' };

export const CONTENT_MODELS: Record<string, VersionedModel> = {
  // ── Envelope (§2.2) ────────────────────────────────────────────────────────────────────
  'WV-CSP-Message': { '1.1': 'Session' },
  Session: { '1.1': 'SessionDescriptor, Transaction+', '1.2': 'SessionDescriptor, Transaction+, Poll?, CIR?' },
  SessionDescriptor: { '1.1': 'SessionType, SessionID?' },
  Transaction: { '1.1': 'TransactionDescriptor, TransactionContent', '1.2': 'TransactionDescriptor, TransactionContent, ExtBlock*' },
  // NOK 1.2 makes TransactionID mandatory; it is optional here because Polling-Request goes
  // without one (Android omits it, WV-023 wv-002 sends it empty).
  TransactionDescriptor: {
    '1.1': 'TransactionMode, TransactionID?, Poll?',
    '1.2': 'TransactionMode, TransactionID?',
    '1.3': 'TransactionMode, TransactionID?, SegmentInfo?',
  },
  SegmentInfo: { '1.3': 'SegmentCount, SegmentID' },
  SegmentID: { '1.3': 'TransactionID, SegmentReference' },
  // TransactionContent holds exactly one primitive; any primitive of the version may appear.
  TransactionContent: { '1.1': 'ANY' },
  // ExtBlock / ExtBlockETEM (vendor blocks with their own xmlns) stay leaves: BAR reads them as
  // strings; NOK's only content (APIClient) has no token in any table.

  // ── Common structures ──────────────────────────────────────────────────────────────────
  // The whole model is optional because the same element (same WBXML token) is also the text
  // leaf CommC/Status ("OPEN"/"CLOSED") in the presence attribute CommCap (NOK, BAR, WV-023
  // wv-040); a content model cannot depend on the parent, so an empty Status must validate.
  Status: { '1.1': '(Result, ClientID?)?' },
  Result: { '1.1': 'Code, Description?, DetailedResult*', '1.3': 'Code, Description?, DetailedResult*, SystemMessageList?, TryAgainTimeout?' },
  DetailedResult: {
    '1.1': 'Code, Description?, UserID*, GroupID*, ScreenName*',
    '1.2': 'Code, Description?, UserID*, GroupID*, ScreenName*, MessageID*, ContactList*, Domain*',
    // 1.3: BAR also lets a DetailedResult name the failed SearchElements (advanced search).
    '1.3': 'Code, Description?, SearchElement*, UserID*, GroupID*, ScreenName*, MessageID*, ContactList*, Domain*',
  },
  // All optional: a real server sent ClientID as plain text (imps-csp.md §12 item 15).
  ClientID: { '1.1': '(URL?, MSISDN?)' },
  User: { '1.1': 'UserID, ClientID?', '1.3': 'UserID, FriendlyName?, (ApplicationID | ClientID)?' },
  Group: { '1.1': '(GroupID | ScreenName)' },
  ScreenName: { '1.1': 'SName, GroupID' },
  NickName: { '1.1': 'Name, UserID' },
  Recipient: { '1.1': 'User*, Group*, ContactList*' },
  Sender: { '1.1': '(User | Group)' },
  UserList: { '1.1': 'User*, ScreenName*' },
  GroupList: { '1.1': 'GroupID+' },
  URLList: { '1.1': 'URL+' },
  Property: { '1.1': 'Name, Value?' },
  IDList: { '1.2': 'UserID*, ContactList*, GroupID*, ScreenName*, Domain*' },
  UserIDList: { '1.3': 'UserID*' }, // 1.3: BAR
  ContactListIDList: { '1.3': 'ContactList*' }, // 1.3: BAR
  UserIDPair: { '1.3': 'UnrecognizedUserID, ValidUserID' }, // 1.3: BAR (order)

  // ── Session and service access (§3.1, §4) ──────────────────────────────────────────────
  'Login-Request': {
    '1.1': 'UserID, ClientID, Password?, DigestBytes?, DigestSchema?, TimeToLive?, SessionCookie',
    '1.2': 'UserID, ClientID, Password?, DigestBytes?, DigestSchema*, TimeToLive?, SessionCookie',
    // 1.3: BAR order (SessionID between DigestSchema and TimeToLive).
    '1.3': 'UserID, (ClientID | ApplicationID), Password?, DigestBytes?, DigestSchema*, SessionID?, TimeToLive?, SessionCookie, SystemMessageResponseList?, Functions?, CapabilityList?',
  },
  'Login-Response': {
    '1.1': 'ClientID, Result, Nonce?, DigestSchema?, SessionID?, KeepAliveTime?, CapabilityRequest?',
    // 1.3: BAR order (UserID first). BAR also lists Password, which no spec text supports.
    '1.3': 'UserID?, ClientID?, Result, Nonce?, DigestSchema?, SessionID?, KeepAliveTime?, CapabilityRequest?, Functions?, AgreedCapabilityList?',
  },
  'Logout-Request': { '1.1': 'EMPTY' },
  Disconnect: { '1.1': 'Result' },
  'KeepAlive-Request': { '1.1': 'TimeToLive?' },
  'KeepAlive-Response': { '1.1': 'Result, KeepAliveTime?' },
  'Polling-Request': { '1.1': 'EMPTY' },
  'GetSPInfo-Request': { '1.1': 'ClientID?' },
  'GetSPInfo-Response': { '1.1': 'ClientID?, Name, Logo?, Description?, URL?' },
  Logo: { '1.1': 'ContentType, ContentSize?, ContentEncoding, ContentData' },
  'Service-Request': { '1.1': 'ClientID, Functions?, AllFunctionsRequest', '1.2': 'Functions, AllFunctionsRequest' },
  'Service-Response': { '1.1': 'ClientID, Functions?, AllFunctions?', '1.2': 'Functions?, AllFunctions?' },
  'ClientCapability-Request': { '1.1': 'ClientID, CapabilityList?', '1.2': 'CapabilityList' },
  'ClientCapability-Response': { '1.1': 'ClientID, CapabilityList', '1.2': 'AgreedCapabilityList' },
  // 1.1/1.2: NOK order, all optional (NOK: "(AnyContent, AcceptedCharSet* | AcceptedContentType*)";
  // the 1.1 server echo in WV-023 wv-012 adds TCPAddress/TCPPort).
  CapabilityList: {
    '1.1':
      'ClientType?, InitialDeliveryMethod?, AnyContent?, AcceptedCharset*, AcceptedContentType*, AcceptedTransferEncoding*, AcceptedContentLength?, SupportedBearer*, MultiTrans?, ParserSize?, SupportedCIRMethod*, UDPPort?, TCPAddress?, TCPPort?, ServerPollMin?, DefaultLanguage?',
    '1.2':
      'ClientType?, InitialDeliveryMethod?, AnyContent?, AcceptedCharset*, AcceptedContentType*, AcceptedTransferEncoding*, AcceptedContentLength?, SupportedBearer*, MultiTrans?, ParserSize?, SupportedCIRMethod*, UDPPort?, ServerPollMin?, DefaultLanguage?',
    // 1.3: BAR order (BAR's _UDPAddr pair gives UDPAddress, UDPPort); AcceptedCharset and
    // AcceptedContentLength only have legacy tokens in 1.3. Low confidence: BAR's order of the
    // 1.2 fields contradicts NOK 1.2, so it is probably not the spec's order either.
    '1.3':
      'AcceptedContentType*, AnyContent?, AcceptedCharset*, AcceptedPullLength?, AcceptedPushLength?, AcceptedTextContentLength?, AcceptedTransferEncoding*, AcceptedContentLength?, ClientType?, DefaultLanguage?, InitialDeliveryMethod?, MultiTrans?, MultiTransPerMessage?, OfflineETEMHandling?, OnlineETEMHandling?, PlainTextCharset*, ParserSize?, ServerPollMin?, SupportedBearer*, SupportedOfflineBearer*, SupportedCIRMethod*, UDPAddress?, UDPPort?, SessionPriority?',
  },
  // 1.1/1.2 AcceptedContentType is a text leaf; 1.3 makes it a structure (BAR). ContentType is
  // optional so the 1.2-style text form (no children) still validates in 1.3.
  AcceptedContentType: { '1.3': 'ContentType?, AcceptedRichContentLength?, ContentPolicy?, ContentPolicyLimit?' },
  AgreedCapabilityList: {
    '1.2': 'SupportedBearer*, SupportedCIRMethod*, TCPAddress?, TCPPort?, ServerPollMin?, CIRURL?',
    // 1.3: BAR order (CIRURL's token is CIRHTTPAddress in 1.3). AcceptedCharset/AcceptedContentLength
    // (legacy tokens, not in BAR's list) are kept after AnyContent so a capability echo validates.
    '1.3':
      'AcceptedContentType*, AnyContent?, AcceptedCharset*, AcceptedContentLength?, AcceptedPullLength?, AcceptedPushLength?, AcceptedTextContentLength?, AcceptedTransferEncoding*, CIRHTTPAddress?, CIRSMSAddress?, MultiTrans?, MultiTransPerMessage?, OfflineETEMHandling?, OnlineETEMHandling?, ServerPollMin?, SupportedBearer*, SupportedOfflineBearer*, SupportedCIRMethod*, TCPAddress?, TCPPort?, UDPAddress?, UDPPort?, SessionPriority?, UserSessionLimit?',
  },
  CIRURL: { '1.2': 'URL' },
  CIRHTTPAddress: { '1.3': 'URL' },
  'WV-CSP-VersionDiscovery-Request': { '1.2': 'VersionList, ExtendedData*' },
  'WV-CSP-VersionDiscovery-Response': { '1.2': 'VersionList, OtherServer*, ExtendedData*' },
  VersionList: { '1.2': 'SessionNSName*, TransactionNSName*, PresenceAttributeNSName*' },
  OtherServer: { '1.2': 'URL?, MSISDN?' },
  'VerifyID-Request': { '1.2': 'IDList' },
  // Extended-Request / Extended-Response: text (NOK 1.2 #PCDATA, BAR String) — no model.

  // 1.3 content segmentation (BAR; BAR itself leaves SegmentContent empty/unimplemented).
  'GetSegment-Request': { '1.3': 'SegmentID' },
  'GetSegment-Response': { '1.3': 'SegmentContent' },
  'DropSegment-Request': { '1.3': 'SegmentID' },

  // 1.3 system messages (BAR).
  'SystemMessage-Request': { '1.3': 'SystemMessageList' },
  'SystemMessage-User': { '1.3': 'SystemMessageResponseList' },
  SystemMessageList: { '1.3': 'SystemMessage*' },
  SystemMessage: { '1.3': 'SystemMessageID, RequiresResponse?, SystemMessageText, AnswerOptions?, VerificationMechanism?' },
  AnswerOptions: { '1.3': 'AnswerOption*' },
  AnswerOption: { '1.3': 'AnswerOptionID, AnswerOptionText' },
  VerificationMechanism: { '1.3': '(InText | URL)' },
  SystemMessageResponseList: { '1.3': 'SystemMessageResponse*' },
  SystemMessageResponse: { '1.3': 'SystemMessageID, ChosenOptionID?, VerificationKey?' },

  // 1.3 notifications (BAR). The payload choice is optional: no source says every notification
  // type carries one.
  'SubscribeNotification-Request': { '1.3': 'NotificationTypeList' },
  'UnsubscribeNotification-Request': { '1.3': 'NotificationTypeList' },
  NotificationTypeList: { '1.3': 'NotificationType*' },
  'Notification-Request': {
    '1.3':
      'NotificationType, (BlockListInUse | GrantListInUse | GroupID | ContactListIDList | InviteID | OnlineETEMHandling | (PresenceSubList, UserIDList?, ContactListIDList?, DefaultList?) | SessionPriority | UserList | UserIDPair)?',
  },

  // 1.3 public profile (BAR). PublicProfile's UserID is optional: the user's own profile in
  // UpdatePublicProfile-Request names nobody (guess).
  'GetPublicProfile-Request': { '1.3': 'UserID*' },
  'GetPublicProfile-Response': { '1.3': 'Result, PublicProfile*' },
  'UpdatePublicProfile-Request': { '1.3': 'ClearPublicProfile?, PublicProfile?' },
  PublicProfile: { '1.3': 'UserID?, Property*' },

  // 1.3 maps (BAR).
  'GetMap-Request': { '1.3': '(UserID | PresenceSubList)' },
  'GetMap-Response': { '1.3': '(Map | URL)' },
  Map: { '1.3': 'ContentType, ContentEncoding?, ContentData' },

  // ── Service negotiation (§3.8) ─────────────────────────────────────────────────────────
  Functions: { '1.1': 'WVCSPFeat' },
  AllFunctions: { '1.1': 'WVCSPFeat' },
  WVCSPFeat: { '1.1': 'FundamentalFeat?, PresenceFeat?, IMFeat?, GroupFeat?' },
  FundamentalFeat: { '1.1': 'ServiceFunc?, SearchFunc?, InviteFunc?', '1.2': '(MF | (ServiceFunc?, SearchFunc?, InviteFunc?, VerifyIDFunc?))?' },
  PresenceFeat: {
    '1.1': 'ContListFunc?, PresenceAuthFunc?, PresenceDeliverFunc?, AttListFunc?',
    '1.2': '(MP | (ContListFunc?, PresenceAuthFunc?, PresenceDeliverFunc?, AttListFunc?))?',
    '1.3': '(MP | (ContListFunc?, PresenceAuthFunc?, PresenceDeliverFunc?))?',
  },
  IMFeat: { '1.1': 'IMSendFunc?, IMReceiveFunc?, IMAuthFunc?', '1.2': '(MM | (IMSendFunc?, IMReceiveFunc?, IMAuthFunc?))?' },
  GroupFeat: { '1.1': 'GroupMgmtFunc?, GroupUseFunc?, GroupAuthFunc?', '1.2': '(MG | (GroupMgmtFunc?, GroupUseFunc?, GroupAuthFunc?))?' },
  ServiceFunc: { '1.1': 'GETSPI?', '1.3': 'GETSPI?, GETMAP?, SGMNT?' },
  SearchFunc: { '1.1': 'SRCH?, STSRC?', '1.3': 'SRCH?, ADVSR?, STSRC?' }, // 1.3: BAR order
  InviteFunc: { '1.1': 'INVIT?, CAINV?' },
  VerifyIDFunc: { '1.2': 'VRID?' },
  ContListFunc: { '1.1': 'GCLI?, CCLI?, DCLI?, MCLS?' },
  // REACT, CAAUT, AttListFunc, CALI, DALI, GALS have no 1.3 token (legacy only).
  PresenceAuthFunc: { '1.1': 'GETWL?, REACT?, CAAUT?', '1.2': 'GETWL?, REACT?, CAAUT?, GETAUT?', '1.3': 'GETWL?, GETAUT?' },
  PresenceDeliverFunc: { '1.1': 'GETPR?, UPDPR?' },
  AttListFunc: { '1.1': 'CALI?, DALI?, GALS?' },
  IMSendFunc: { '1.1': 'MDELIV?, FWMSG?' },
  IMReceiveFunc: { '1.1': 'SETD?, GETLM?, GETM?, REJCM?, NOTIF?, NEWM?', '1.3': 'SETD?, GETLM?, GETM?, REJCM?, NOTIF?, NEWM?, OFFNOTIF?' },
  IMAuthFunc: { '1.1': 'GLBLU?, BLENT?' },
  GroupMgmtFunc: { '1.1': 'CREAG?, DELGR?, GETGP?, SETGP?' },
  GroupUseFunc: { '1.1': 'SUBGCN?, GRCHN?', '1.3': 'SUBGCN?, GRCHN?, EXCON?' },
  GroupAuthFunc: { '1.1': 'GETGM?, ADDGM?, RMVGM?, MBRAC?, REJEC?', '1.2': 'GETGM?, ADDGM?, RMVGM?, MBRAC?, REJEC?, GETJU?' },
  ...emptyFrom(),

  // ── Search and invitations (§3.2) ──────────────────────────────────────────────────────
  'Search-Request': {
    '1.1': 'SearchPairList*, SearchLimit?, SearchID?, SearchIndex?',
    '1.3': 'SearchPairList*, AdvancedCriteria?, SearchLimit?, SearchID?, SearchIndex?',
  },
  // 1.3: BAR reads SearchPairList as untagged (SearchElement, SearchString, PairID?)* pairs ("DTD
  // for 1.3 is wrong in spec"); the 1.3 table has a SearchPair token, used here. An untagged
  // repeated pair is deliberately not in the model: ordering by model would split the pairs.
  SearchPairList: { '1.1': 'SearchElement, SearchString', '1.3': 'SearchPair*' },
  SearchPair: { '1.3': 'SearchElement, SearchString, PairID?' },
  'Search-Response': { '1.1': 'SearchID?, SearchFindings, CompletionFlag, SearchIndex, SearchResult?' }, // WV-023 wv-023, NOK 1.2
  SearchResult: { '1.1': 'UserList?, GroupList?' },
  'StopSearch-Request': { '1.1': 'SearchID' },
  'Invite-Request': {
    // NOK 1.1 makes Validity mandatory, NOK 1.2 optional: optional throughout.
    '1.1': 'InviteID, InviteType, Recipient, GroupID?, PresenceSubList?, URLList?, InviteNote?, ScreenName?, Validity?',
    '1.3': 'InviteID, InviteType, Sender?, Recipient, ApplicationID?, GroupID?, PresenceSubList?, URLList?, InviteNote?, ScreenName?, Validity?', // BAR
  },
  // Server → inviter. 1.1: as NOK 1.2 (no 1.1 source).
  'Invite-Response': {
    '1.1': 'InviteID, Acceptance, Sender, ResponseNote?',
    '1.3': 'InviteID, Acceptance, Sender, Recipient?, InviteNote?, ResponseNote?, ScreenName?', // BAR
  },
  // Server → invitee (WV-023 wv-028, NOK 1.2). ScreenName? is from BAR only (NOK 1.2 lacks it).
  'InviteUser-Request': {
    '1.1': 'InviteID, InviteType, Sender, GroupID?, PresenceSubList?, URLList?, InviteNote?, ScreenName?, Validity?',
    '1.3': 'InviteID, InviteType, Sender, Recipient?, ApplicationID?, GroupID?, PresenceSubList?, URLList?, InviteNote?, ScreenName?, Validity?', // BAR
  },
  'InviteUser-Response': {
    '1.1': 'InviteID, Acceptance, ResponseNote?, ScreenName?',
    '1.2': 'InviteID, Acceptance, Sender, ResponseNote?, ScreenName?',
    '1.3': 'InviteID, Acceptance, Sender, Recipient?, ResponseNote?, ScreenName?', // BAR
  },
  'CancelInvite-Request': {
    '1.1': 'InviteID, Recipient, InviteNote?, URLList?, ScreenName?',
    '1.2': 'InviteID, Recipient?, InviteNote?, URLList?, ScreenName?',
    // 1.3: BAR, which looks copied from Invite-Request (over-broad but harmless).
    '1.3': 'InviteID, Sender?, Recipient?, InviteNote?, ApplicationID?, GroupID?, PresenceSubList?, URLList?, ScreenName?',
  },
  'CancelInviteUser-Request': {
    '1.1': 'InviteID, Sender, InviteNote?, URLList?', // WV-023 wv-036, NOK 1.2
    '1.3': 'InviteID, Sender, Recipient?, InviteNote?, ApplicationID?, GroupID?, PresenceSubList?, URLList?, ScreenName?', // BAR
  },

  // ── Presence: contact lists, attribute lists, subscriptions (§3.3) ─────────────────────
  'GetList-Request': { '1.1': 'EMPTY' },
  'GetList-Response': { '1.1': 'ContactList*, DefaultContactList?', '1.3': 'ContactListIDList?, DefaultContactList?' },
  'CreateList-Request': { '1.1': 'ContactList, NickList?, ContactListProperties?' },
  'CreateList-Response': { '1.3': 'ContactList?, ContactListProperties?' }, // BAR
  'DeleteList-Request': { '1.1': 'ContactList' },
  'ListManage-Request': {
    '1.1': 'ContactList, (AddNickList | RemoveNickList | ContactListProperties)?',
    '1.2': 'ContactList, (AddNickList | RemoveNickList | ContactListProperties)?, ReceiveList',
    '1.3': 'ContactList, (AddNickList | RemoveNickList | ContactListProperties)?, ReceiveList, AuthorizeAndGrant?', // BAR
  },
  'ListManage-Response': { '1.1': 'Result, NickList?, ContactListProperties?' },
  NickList: { '1.1': '(NickName | UserID)*' },
  // NOK 1.1 lists AddNickList twice ("(NickName | UserID)*" and "NickName*"); NOK 1.2 needs one entry.
  AddNickList: { '1.1': '(NickName | UserID)*', '1.2': '(NickName | UserID)+' },
  RemoveNickList: { '1.1': 'UserID+' },
  ContactListProperties: { '1.1': 'Property+' },
  'CreateAttributeList-Request': {
    '1.1': 'PresenceSubList, UserID*, ContactList*, DefaultList',
    '1.3': 'PresenceSubList, UserIDList?, ContactListIDList?, DefaultList, DefaultNotify?, UserNotify?, ContactListNotify?', // BAR
  },
  'DeleteAttributeList-Request': {
    '1.1': 'UserID*, ContactList*, DefaultList', // NOK, WV-023 wv-096
    '1.3': 'UserIDList?, ContactListIDList?, DefaultList', // BAR
  },
  'GetAttributeList-Request': {
    '1.1': 'DefaultList, ContactList*, User*',
    '1.3': 'DefaultList, ContactListIDList?, UserIDList?', // BAR
  },
  'GetAttributeList-Response': { '1.1': 'Result, DefaultAttributeList?, Presence*' }, // WV-023 wv-099, NOK 1.2
  DefaultAttributeList: { '1.1': 'PresenceSubList*', '1.3': 'DefaultNotify?, PresenceSubList*' },
  Presence: {
    '1.1': '(UserID | ContactList), PresenceSubList*', // NOK 1.2, WV-023 wv-040/wv-099
    '1.3': '((UserID, UserNotify?) | (ContactList, ContactListNotify?)), PresenceSubList*', // BAR
  },
  'SubscribePresence-Request': {
    '1.1': 'User*, ContactList*, PresenceSubList?',
    '1.2': 'User*, ContactList*, PresenceSubList?, AutoSubscribe', // NOK 1.2 (mandatory)
    '1.3': 'UserIDList?, ContactListIDList?, PresenceSubList?, AutoSubscribe?', // BAR
  },
  'UnsubscribePresence-Request': { '1.1': 'User*, ContactList*', '1.3': 'UserIDList?, ContactListIDList?' },
  'PresenceNotification-Request': { '1.1': 'Presence+' },
  'GetPresence-Request': {
    '1.1': '(User+ | ContactList+), PresenceSubList?',
    '1.3': '(UserIDList | ContactListIDList | User+ | ContactList+), PresenceSubList?', // BAR
  },
  'GetPresence-Response': { '1.1': 'Result, Presence*' }, // 1.1: as NOK 1.2
  'UpdatePresence-Request': { '1.1': 'PresenceSubList' },
  'GetWatcherList-Request': { '1.1': 'EMPTY', '1.2': 'HistoryPeriod?, MaxWatcherList?' },
  'GetWatcherList-Response': {
    '1.1': 'User*', // WV-023 wv-045 (per imps-csp.md §3.3)
    '1.2': 'HistoryPeriod?, Watcher*',
    '1.3': 'HistoryPeriod?, WatcherCount?, Watcher*', // BAR
  },
  // 1.3: BAR lists both UserID and User (and FriendlyName); either identifies the watcher.
  Watcher: { '1.2': 'User, WatcherStatus?', '1.3': '(UserID | User), FriendlyName?, WatcherStatus?' },
  // Reactive authorisation: 1.1/1.2 only; 1.3 keeps legacy tokens for the primitives.
  'PresenceAuth-Request': { '1.1': 'UserID, PresenceSubList?' },
  'PresenceAuth-User': { '1.1': 'UserID, Acceptance', '1.2': 'UserID, Acceptance, PresenceSubList?' },
  'CancelAuth-Request': { '1.1': 'UserID' },
  'GetReactiveAuthStatus-Request': { '1.2': 'UserID*' },
  'GetReactiveAuthStatus-Response': { '1.2': 'ReactiveAuthStatusList' },
  ReactiveAuthStatusList: { '1.2': 'ReactiveAuthStatus*' },
  // 1.3 reuses ReactiveAuthState's token (9:0x0B) for AnswerOptionText, so a legacy 1.3
  // GetReactiveAuthStatus-Response cannot name the state; the 1.3 entry only exists because a
  // '1.2' model cannot end at 1.3.
  ReactiveAuthStatus: { '1.2': 'UserID, ReactiveAuthState, PresenceSubList?', '1.3': 'UserID, PresenceSubList?' },

  // ── Presence attributes (§3.4, PA namespace) ───────────────────────────────────────────
  // Every child optional: in subscribe/get requests the attributes are empty selectors.
  PresenceSubList: {
    '1.1':
      'OnlineStatus?, Registration?, ClientInfo?, TimeZone?, GeoLocation?, Address?, FreeTextLocation?, PLMN?, CommCap?, UserAvailability?, PreferredContacts?, PreferredLanguage?, StatusText?, StatusMood?, Alias?, StatusContent?, ContactInfo?',
    '1.2':
      'OnlineStatus?, Registration?, ClientInfo?, TimeZone?, GeoLocation?, Address?, FreeTextLocation?, PLMN?, CommCap?, UserAvailability?, PreferredContacts?, PreferredLanguage?, StatusText?, StatusMood?, Alias?, StatusContent?, ContactInfo?, InfoLink?',
    // 1.3: BAR — per-client attributes may repeat (one per ClientID).
    '1.3':
      'OnlineStatus*, Registration*, ClientInfo*, TimeZone*, GeoLocation*, Address*, FreeTextLocation*, PLMN*, CommCap*, UserAvailability?, PreferredContacts?, PreferredLanguage?, StatusText?, StatusMood?, Alias?, StatusContent?, ContactInfo?, InfoLink?',
  },
  OnlineStatus: PER_CLIENT_VALUE_ATTRIBUTE,
  Registration: PER_CLIENT_VALUE_ATTRIBUTE,
  FreeTextLocation: PER_CLIENT_VALUE_ATTRIBUTE,
  PLMN: PER_CLIENT_VALUE_ATTRIBUTE,
  UserAvailability: VALUE_ATTRIBUTE,
  PreferredLanguage: VALUE_ATTRIBUTE,
  StatusText: VALUE_ATTRIBUTE,
  StatusMood: VALUE_ATTRIBUTE,
  Alias: VALUE_ATTRIBUTE,
  TimeZone: { '1.1': 'Qualifier?, Zone?', '1.3': 'Qualifier?, Zone?, ClientID?' },
  ClientInfo: {
    '1.1': 'Qualifier?, ClientType?, DevManufacturer?, ClientProducer?, Model?, ClientVersion?, Language?',
    '1.3': 'Qualifier?, ClientContentLimit?, ClientType?, DevManufacturer?, ClientProducer?, Model?, ClientVersion?, Language?, ClientIMPriority?, ApplicationID?, ClientID?', // BAR
  },
  // 1.3: BAR ("real syntax is slightly different" — its own comment).
  ClientContentLimit: {
    '1.3': 'AcceptedContentType*, AnyContent?, AcceptedTextContentLength?, AcceptedTransferEncoding*, MaxPullLength?, MaxPushLength?, PlainTextCharset*',
  },
  GeoLocation: { '1.1': 'Qualifier?, Longitude?, Latitude?, Altitude?, Accuracy?', '1.3': 'Qualifier?, Longitude?, Latitude?, Altitude?, Accuracy?, ClientID?' },
  // NOK has NamedArea and Accuracy, BAR lacks them: NOK kept.
  Address: { '1.1': 'Qualifier?, Country?, City?, Street?, Crossing1?, Crossing2?, Building?, NamedArea?, Accuracy?' },
  CommCap: { '1.1': 'Qualifier?, CommC*', '1.3': 'Qualifier?, CommC*, ClientID?' },
  CommC: { '1.1': 'Cap, Status, Contact?, Note?' }, // Status here is a text leaf (see Status)
  PreferredContacts: { '1.1': 'Qualifier?, AddrPref*' },
  AddrPref: { '1.1': 'PrefC, Caddr, Cstatus, Cname?, Cpriority?' },
  // NOK sequence kept (BAR and imps-csp.md have DirectContent | ReferredContent).
  StatusContent: { '1.1': 'Qualifier?, DirectContent?, ReferredContent?, ContentType?' },
  ContactInfo: { '1.1': 'Qualifier?, ContainedvCard?, ReferredvCard?' },
  InfoLink: { '1.2': 'Qualifier?, Inf_link*' },
  Inf_link: { '1.2': 'Link, Text?, ContentType?' },

  // ── Instant messaging (§3.5) ───────────────────────────────────────────────────────────
  'SendMessage-Request': { '1.1': 'DeliveryReport?, MessageInfo, ContentData', '1.2': 'DeliveryReport, MessageInfo, ContentData?' },
  'SendMessage-Response': { '1.1': 'Result, MessageID?' },
  NewMessage: { '1.1': 'MessageInfo, ContentData', '1.2': 'MessageInfo, ContentData?' },
  MessageDelivered: { '1.1': 'MessageID' },
  MessageNotification: { '1.1': 'MessageInfo' },
  MessageInfo: {
    '1.1': 'MessageID?, MessageURI?, ContentType?, ContentEncoding?, ContentSize, Recipient, Sender, DateTime?, Validity?',
    // 1.3: BAR order (ContentName after ContentSize, Font before Validity).
    '1.3': 'MessageID?, MessageURI?, ContentType?, ContentEncoding?, ContentSize, ContentName?, Recipient, Sender, DateTime?, Font?, Validity?, ExtBlockETEM*',
  },
  Font: { '1.3': 'Size?, Style*, Color?' },
  MessageInfoList: { '1.3': 'MessageInfo*' },
  'SetDeliveryMethod-Request': {
    '1.1': 'DeliveryMethod, AcceptedContentLength?, GroupID?',
    '1.3': 'DeliveryMethod, AcceptedContentLength?, GroupID?, GroupContentLimit?', // BAR; AcceptedContentLength is legacy in 1.3
  },
  'GetMessageList-Request': { '1.1': 'GroupID?, MessageCount?' },
  'GetMessageList-Response': { '1.1': 'MessageInfo*', '1.3': 'MessageInfoList?, MessageTotalCount?' },
  'RejectMessage-Request': { '1.1': 'MessageID+' },
  'GetMessage-Request': { '1.1': 'MessageID' },
  'GetMessage-Response': { '1.1': 'MessageInfo, ContentData', '1.2': 'MessageInfo, ContentData?' },
  'DeliveryReport-Request': { '1.1': 'Result, MessageInfo', '1.2': 'Result, DeliveryTime?, MessageInfo' },
  'ForwardMessage-Request': { '1.1': 'MessageID, Recipient', '1.3': 'MessageID, Sender?, Recipient' }, // 1.3: BAR
  'ForwardMessage-Response': { '1.3': 'MessageID' },
  'GetBlockedList-Request': { '1.1': 'EMPTY' },
  'GetBlockedList-Response': { '1.1': 'BlockList?, GrantList?', '1.3': 'BlockList?, BlockListInUse?, GrantList?, GrantListInUse?' },
  'BlockEntity-Request': { '1.1': 'BlockList?, GrantList?', '1.3': 'BlockList?, BlockListInUse?, GrantList?, GrantListInUse?' },
  // InUse has only a legacy token in 1.3; the flags move to BlockListInUse/GrantListInUse.
  BlockList: { '1.1': 'InUse?, (EntityList | (AddList?, RemoveList?))?', '1.3': '(EntityList | (AddList?, RemoveList?))?' },
  GrantList: { '1.1': 'InUse?, (EntityList | (AddList?, RemoveList?))?', '1.3': '(EntityList | (AddList?, RemoveList?))?' },
  EntityList: { '1.1': 'UserID*, ScreenName*, GroupID*', '1.3': 'UserID*, ScreenName*, GroupID*, ContactList*, ApplicationID*' },
  AddList: { '1.1': 'UserID*, ScreenName*, GroupID*', '1.3': 'UserID*, ScreenName*, GroupID*, ContactList*, ApplicationID*' },
  RemoveList: { '1.1': 'UserID*, ScreenName*, GroupID*', '1.3': 'UserID*, ScreenName*, GroupID*, ContactList*, ApplicationID*' },
  'ExtendConversation-Request': {
    '1.3': 'ExtendConversationID?, UserIDList?, ExtendConversationUser?, SubscribeNotification?, WelcomeNote?, ScreenName?',
  },
  'ExtendConversation-Response': { '1.3': 'ExtendConversationID?, GroupID?, ResponseNote?, Result' },
  ExtendConversationUser: { '1.3': 'UserID, ClientID?' },

  // ── Groups (§3.6) ──────────────────────────────────────────────────────────────────────
  'CreateGroup-Request': {
    '1.1': 'GroupID, GroupProperties, JoinGroup, ScreenName?, SubscribeNotification', // NOK, WV-023 wv-100
    '1.3': 'GroupID, GroupProperties, OwnProperties?, JoinGroup, ScreenName?, SubscribeNotification', // BAR
  },
  'DeleteGroup-Request': { '1.1': 'GroupID' },
  'JoinGroup-Request': {
    '1.1': 'GroupID, ScreenName?, JoinedRequest?, SubscribeNotification',
    '1.2': 'GroupID, ScreenName?, JoinedRequest, SubscribeNotification, OwnProperties?',
  },
  'JoinGroup-Response': {
    '1.1': 'UserList?, WelcomeNote?', // WV-023 wv-105 (per imps-csp.md §3.6)
    '1.2': 'UserMapList?, WelcomeNote?',
    // 1.3: BAR (Joined, ScreenName; it marks UserMapList "v1.2 only" — kept, liberal).
    '1.3': 'Joined?, ScreenName?, UserMapList?, WelcomeNote?',
  },
  'LeaveGroup-Request': { '1.1': 'GroupID' },
  'LeaveGroup-Response': { '1.1': 'GroupID?, Result' },
  'GetGroupMembers-Request': { '1.1': 'GroupID' },
  'GetGroupMembers-Response': {
    '1.1': 'Admin?, Mod?, Users?', // 1.1: as NOK 1.2
    '1.3': 'Admin?, Mod?, UserList?', // BAR (Users has only a legacy token in 1.3)
  },
  'GetJoinedUsers-Request': { '1.2': 'GroupID' },
  'GetJoinedUsers-Response': { '1.2': '(AdminMapList | UserMapList)', '1.3': '(AdminMapList | UserMapList), JoinedBlocked?' },
  'AddGroupMembers-Request': { '1.1': 'GroupID, UserList', '1.3': 'GroupID, (UserIDList | UserList)' },
  'RemoveGroupMembers-Request': { '1.1': 'GroupID, UserList', '1.3': 'GroupID, (UserIDList | UserList)' },
  'MemberAccess-Request': { '1.1': 'GroupID, Admin?, Mod?, Users?', '1.3': 'GroupID, Admin?, Mod?, UserList?' },
  Admin: { '1.1': 'UserList' },
  Mod: { '1.1': 'UserList' },
  Users: { '1.1': 'UserList' },
  'GetGroupProps-Request': { '1.1': 'GroupID' },
  'GetGroupProps-Response': { '1.1': 'GroupProperties, OwnProperties' }, // 1.1: as NOK 1.2
  'SetGroupProps-Request': { '1.1': 'GroupID, GroupProperties?, OwnProperties?' },
  'RejectList-Request': { '1.1': 'GroupID, AddList?, RemoveList?' },
  'RejectList-Response': { '1.1': 'UserList?' }, // 1.1: as NOK 1.2
  'SubscribeGroupNotice-Request': { '1.1': 'GroupID, SubscribeType' },
  'SubscribeGroupNotice-Response': { '1.1': 'Value' }, // 1.1: as NOK 1.2
  GroupChangeNotice: {
    '1.1': 'GroupID, Joined?, Left?, GroupProperties?, OwnProperties?',
    '1.3': 'GroupID, Joined?, Left?, JoinedBlocked?, LeftBlocked?, GroupProperties?, OwnProperties?', // BAR
  },
  // 1.1: NOK 1.1 says ScreenName+, BAR says a UserList for 1.1 — both accepted.
  Joined: { '1.1': '(ScreenName+ | UserList)', '1.2': 'UserMapList' },
  Left: { '1.1': '(ScreenName+ | UserList)', '1.2': 'UserList' },
  JoinedBlocked: { '1.3': 'UserList' },
  LeftBlocked: { '1.3': 'UserList' },
  GroupProperties: { '1.1': 'Property+, WelcomeNote?' },
  OwnProperties: { '1.1': 'Property+' },
  WelcomeNote: { '1.1': 'ContentType, ContentEncoding?, ContentData' },
  AdminMapList: { '1.2': 'AdminMapping?, ModMapping?, UserMapping?' },
  UserMapList: { '1.2': 'UserMapping?' },
  AdminMapping: { '1.2': 'Mapping+' },
  ModMapping: { '1.2': 'Mapping+' },
  UserMapping: { '1.2': 'Mapping+' },
  Mapping: { '1.2': 'SName, UserID?' },
};
