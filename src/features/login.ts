// Login-Request parsing and Login-Response building (reference imps-csp.md §4). The decisions
// (challenge, accept, reject) belong to the session actor; this module only reads and writes
// the primitives.
import type { CspElement } from '../csp/tree.ts';
import { child, childrenNamed, el, intOf, leaf, textOf } from '../csp/tree.ts';
import { result } from '../csp/envelope.ts';
import type { UserAddress } from '../csp/address.ts';
import { parseUserId, wvAddress } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import type { CspVersion } from '../csp/versions.ts';

export interface LoginRequest {
  user: UserAddress;
  /** The ClientID element as sent (1.3 may send ApplicationID instead), echoed back verbatim. */
  clientId: CspElement;
  /** A stable string for the client instance, to tell a user's sessions apart. */
  clientKey: string;
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

function clientKeyOf(clientId: CspElement): string {
  if (clientId.children.length === 0) return `text:${clientId.text?.trim() ?? ''}`;
  return clientId.children.map((c) => `${c.name}=${textOf(c) ?? ''}`).join('&');
}

export function parseLoginRequest(primitive: CspElement, defaultDomain: string): LoginRequest {
  const rawUser = textOf(primitive, 'UserID');
  if (!rawUser) throw new CspError(402, 'Login-Request needs UserID');
  const clientId = child(primitive, 'ClientID') ?? child(primitive, 'ApplicationID') ?? el('ClientID');
  const login: LoginRequest = {
    user: parseUserId(rawUser, defaultDomain),
    clientId,
    clientKey: clientKeyOf(clientId),
    digestSchemas: childrenNamed(primitive, 'DigestSchema').map((e) => textOf(e) ?? '').filter(Boolean),
    cookie: textOf(primitive, 'SessionCookie') ?? '',
  };
  const password = child(primitive, 'Password')?.text;
  if (password !== undefined) login.password = password;
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
  clientId: CspElement;
  code: number;
  description?: string;
  nonce?: string;
  digestSchema?: string;
  sessionId?: string;
  keepAliveTime?: number;
  capabilityRequest?: boolean;
  /** 1.3 only */
  userId?: string;
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
    v13 && f.userId ? leaf('UserID', wvAddress(f.userId)) : undefined,
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
