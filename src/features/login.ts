// Login (reference imps-csp.md §4): reading Login-Request, the rules that need no session yet
// (hosted domain, 1.3 resumption, server capacity, the digest challenge of phase 1), and
// Login-Response. Checking credentials and everything after belongs to the session actor.
import type { CspElement } from '../csp/tree.ts';
import { child, childrenNamed, el, intOf, leaf, textOf } from '../csp/tree.ts';
import { result } from '../csp/envelope.ts';
import type { AddressStyle, UserAddress } from '../csp/address.ts';
import type { RequestOrigin } from '../adapters/request-origin.ts';
import { displayAddress, parseUserId } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import type { CspVersion } from '../csp/versions.ts';
import type { Services } from '../services.ts';
import { chooseDigestSchema, newNonce } from '../auth/digest.ts';
import { newSessionId } from '../ids.ts';
import { isActive, type SessionActor } from '../../actors/session.ts';

export interface LoginRequest {
  user: UserAddress;
  /** How this phone wants addresses spelled (see AddressStyle). */
  addressStyle: AddressStyle;
  /** The ClientID as sent, echoed back verbatim; undefined for a 1.3 login by ApplicationID only. */
  clientId: CspElement | undefined;
  /** A stable string for the client instance, to tell a user's sessions apart. */
  clientKey: string;
  /** The password, when the element was sent (possibly empty). */
  password?: string;
  digestBytes?: string;
  /** Schemes offered in phase 1 of a digest login (a 1.1 client may list several in one, comma-separated). */
  digestSchemas: string[];
  timeToLive?: number;
  cookie: string;
  /** 1.3: the client asks to resume this session. */
  resumeSessionId?: string;
  /** 1.3: capabilities and functions negotiated inside the login. */
  capabilityList?: CspElement;
  functions?: CspElement;
}

/** What Login-Response echoes as ClientID (1.1/1.2 require one; 1.3 may omit it). */
export function echoedClientId(primitive: CspElement, version: CspVersion): CspElement | undefined {
  return child(primitive, 'ClientID') ?? (version === '1.3' ? undefined : el('ClientID'));
}

function clientKeyOf(primitive: CspElement): string {
  const id = child(primitive, 'ClientID') ?? child(primitive, 'ApplicationID');
  if (!id) return '';
  if (id.children.length === 0) return `${id.name}:${id.text?.trim() ?? ''}`;
  return id.children.map((c) => `${c.name}=${textOf(c) ?? ''}`).join('&');
}

/**
 * The ClientID for logs: which phone, without its phone number (a MSISDN keeps only its last
 * three digits, as everywhere else in the logs).
 */
export function clientForLog(clientKey: string): string {
  return clientKey.replace(/(MSISDN=)\+?\d*(\d{3})/g, '$1…$2');
}

/** Longest SessionCookie taken: it is echoed in every wake-up, and a WAP SMS holds 140 bytes. */
const MAX_COOKIE = 100;

export function parseLoginRequest(primitive: CspElement, version: CspVersion, defaultDomain: string): LoginRequest {
  const rawUser = textOf(primitive, 'UserID');
  if (!rawUser) throw new CspError(402, 'Login-Request needs UserID');
  const cookie = textOf(primitive, 'SessionCookie') ?? '';
  // The cookie goes verbatim into "WVCI <version> <cookie>" lines: a line break or a space in
  // it would forge or break the phone's own wake-ups.
  if (cookie.length > MAX_COOKIE || /[^\x21-\x7e]/.test(cookie)) {
    throw new CspError(402, `SessionCookie must be at most ${MAX_COOKIE} printable ASCII characters without spaces`);
  }
  const user = parseUserId(rawUser, defaultDomain);
  const login: LoginRequest = {
    user,
    addressStyle: rawUser.includes('@') ? {} : { omitDomain: user.domain },
    clientId: echoedClientId(primitive, version),
    clientKey: clientKeyOf(primitive),
    digestSchemas: childrenNamed(primitive, 'DigestSchema').map((e) => textOf(e) ?? '').filter(Boolean),
    cookie,
  };
  const password = child(primitive, 'Password');
  if (password) login.password = password.text ?? '';
  const digestBytes = textOf(primitive, 'DigestBytes');
  if (digestBytes) login.digestBytes = digestBytes;
  const ttl = intOf(primitive, 'TimeToLive');
  if (ttl !== undefined) login.timeToLive = ttl;
  const resume = textOf(primitive, 'SessionID');
  if (resume) login.resumeSessionId = resume;
  const caps = child(primitive, 'CapabilityList');
  if (caps) login.capabilityList = caps;
  const functions = child(primitive, 'Functions');
  if (functions) login.functions = functions;
  return login;
}

export interface LoginResponseFields {
  clientId: CspElement | undefined;
  code: number;
  description?: string;
  nonce?: string;
  digestSchema?: string;
  sessionId?: string;
  keepAliveTime?: number;
  capabilityRequest?: boolean;
  /** 1.3 only */
  user?: { id: string; style: AddressStyle };
  tryAgainSeconds?: number;
  functions?: CspElement;
  agreedCapabilityList?: CspElement;
}

export function loginResponse(version: CspVersion, f: LoginResponseFields): CspElement {
  const v13 = version === '1.3';
  const res = result(f.code, f.description);
  if (v13 && f.tryAgainSeconds) res.children.push(leaf('TryAgainTimeout', f.tryAgainSeconds)!);
  return el('Login-Response', [
    f.clientId,
    v13 && f.user ? leaf('UserID', displayAddress(f.user.id, f.user.style)) : undefined,
    res,
    leaf('Nonce', f.nonce),
    leaf('DigestSchema', f.digestSchema),
    leaf('SessionID', f.sessionId),
    leaf('KeepAliveTime', f.keepAliveTime),
    f.capabilityRequest === undefined ? undefined : leaf('CapabilityRequest', f.capabilityRequest),
    v13 && f.functions ? el('Functions', [f.functions]) : undefined,
    v13 ? f.agreedCapabilityList : undefined,
  ]);
}

/**
 * Phase 1 of a digest login: answer 401 with one scheme and a fresh nonce. A Login-Request
 * with no credentials at all offers only PWD; DigestBytes that match no live challenge (it
 * expired, or the server restarted) earn a new challenge, so the phone can simply answer again.
 */
export function challenge(services: Services, login: LoginRequest, version: CspVersion, address: string): CspElement {
  const { auth } = services;
  const respond = (fields: Omit<LoginResponseFields, 'clientId'>) => loginResponse(version, { clientId: login.clientId, ...fields });
  const offered = login.digestSchemas.length ? login.digestSchemas : login.digestBytes ? ['MD5'] : ['PWD'];
  let schema = chooseDigestSchema(offered);
  // An unknown user can only be auto-registered from a plain password: ask for PWD if offered.
  const offersPwd = offered.some((s) => s.toUpperCase().split(',').map((x) => x.trim()).includes('PWD'));
  if (schema !== 'PWD' && offersPwd && auth.canAutoRegister() && !auth.exists(login.user)) schema = 'PWD';
  if (!schema) return respond({ code: 543, description: 'Supported digest schemes: MD5, SHA, PWD' });
  const nonce = newNonce();
  if (schema !== 'PWD' && !auth.challenges.issue(login.user.id, { nonce, schema }, address, services.now())) {
    return respond({ code: 503, description: 'Too many login attempts from your network; try again in a minute', tryAgainSeconds: 60 });
  }
  return respond({ code: 401, description: 'Further authorization required', nonce, digestSchema: schema, capabilityRequest: false });
}

/** Answer a Login-Request: rules that need no session, then a new session actor judges the credentials. */
export function login(services: Services, primitive: CspElement, version: CspVersion, origin: RequestOrigin): { response: CspElement; session?: SessionActor } {
  const { address } = origin;
  const { config, router } = services;
  const clientId = echoedClientId(primitive, version);
  let request: LoginRequest;
  try {
    request = parseLoginRequest(primitive, version, config.domains[0]!);
  } catch (err) {
    if (!(err instanceof CspError)) throw err;
    return { response: loginResponse(version, { clientId, code: err.code, description: err.description }) };
  }
  if (!config.domains.includes(request.user.domain)) {
    return { response: loginResponse(version, { clientId, code: 516, description: `This server does not host ${request.user.domain}` }) };
  }
  if (request.resumeSessionId) {
    // 1.3 session resumption: only the same user and client may pick a session up again.
    const existing = router.session(request.resumeSessionId);
    const ctx = existing && isActive(existing.getSnapshot()) ? existing.getSnapshot().context : undefined;
    if (ctx && (ctx.user.id !== request.user.id || ctx.clientKey !== request.clientKey)) {
      return { response: loginResponse(version, { clientId, code: 422, description: 'SessionID belongs to another user or client' }) };
    }
  }
  if (request.password === undefined && !request.digestBytes) return { response: challenge(services, request, version, address) };
  if (router.sessionCount() >= config.session.maxTotal) {
    services.log.warn({ sessions: router.sessionCount() }, 'session limit reached; login refused');
    return { response: loginResponse(version, { clientId, code: 503, description: 'The server is full; try again later', tryAgainSeconds: 300 }) };
  }
  const actor = router.startSession({ sessionId: newSessionId(), services, version, login: request, origin });
  let response: CspElement | undefined;
  actor.send({ type: 'LOGIN', login: request, reply: (p) => (response = p) });
  if (!response) {
    services.log.error({ user: request.user.id }, 'login produced no answer');
    response = loginResponse(version, { clientId, code: 500, description: 'Internal server error' });
  }
  return { response, ...(isActive(actor.getSnapshot()) ? { session: actor } : {}) };
}
