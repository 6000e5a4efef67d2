// The contract between the session actor and the feature modules that handle primitives.
import type { CspElement } from '../csp/tree.ts';
import type { CspVersion } from '../csp/versions.ts';
import type { AddressStyle, UserAddress } from '../csp/address.ts';
import type { Services } from '../services.ts';
import type { ClientCapabilities } from './capabilities.ts';
import type { AgreedFunctions } from './service-tree.ts';
import type { CirAgreement } from './cir.ts';
import type { RequestOrigin } from '../adapters/request-origin.ts';

/** What a feature may know about the session it serves (read-only). */
export interface SessionView {
  readonly sessionId: string;
  readonly user: UserAddress;
  readonly version: CspVersion;
  /** How this phone wants addresses spelled (it logged in with or without a domain). */
  readonly addressStyle: AddressStyle;
  /** The ClientID element exactly as the client sent it at login (echoed back verbatim). */
  readonly clientId: CspElement | undefined;
  readonly keepAliveTime: number;
  readonly capabilities: ClientCapabilities;
  readonly agreed: AgreedFunctions | undefined;
  /** Where the phone's latest request came from. */
  readonly origin: RequestOrigin;
  /** What the session agreed for waking its phone (CIR). */
  readonly cir: CirAgreement | undefined;
}

/** Session settings a feature may change (keep-alive, negotiated capabilities, functions). */
export type SessionUpdate = Partial<Pick<SessionView, 'keepAliveTime' | 'capabilities' | 'agreed' | 'cir'>>;

export interface HandlerResult {
  response: CspElement;
  update?: SessionUpdate;
}

export type PrimitiveHandler = (request: CspElement, session: SessionView, services: Services) => HandlerResult;

/** Which negotiated feature (and function code, if any) a primitive belongs to. */
export interface Gate {
  feature: 'FundamentalFeat' | 'PresenceFeat' | 'IMFeat' | 'GroupFeat';
  fn?: string;
}

export interface PrimitiveSpec {
  /** Undefined for the session basics every session may use whatever was negotiated. */
  gate?: Gate;
  handle: PrimitiveHandler;
}
