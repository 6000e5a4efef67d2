// Session basics every session may use (reference imps-csp.md §3.1): capability and service
// negotiation, keep-alive, service-provider info.
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, el, intOf, leaf } from '../csp/tree.ts';
import { result } from '../csp/envelope.ts';
import type { CspVersion } from '../csp/versions.ts';
import type { Config } from '../config.ts';
import type { PrimitiveHandler } from './types.ts';
import { agreedCapabilityElement, negotiate, type ClientCapabilities } from './capabilities.ts';
import type { Services } from '../services.ts';
import { agree, allImplemented, functionTree, requestedFunctions } from './service-tree.ts';
import { keepAliveCeiling, negotiateCir } from './cir.ts';

/** Keep what the phone takes, so messages sent while it is offline can be checked against it. */
export function rememberProfile(services: Services, userId: string, capabilities: ClientCapabilities): void {
  services.profiles.save(
    userId,
    { anyContent: capabilities.anyContent, contentTypes: capabilities.acceptedContentTypes, ...(capabilities.maxLength !== undefined ? { maxLength: capabilities.maxLength } : {}) },
    services.now(),
  );
}

/** KeepAliveTime granted for a requested TimeToLive, within the configured bounds (a CIR channel raises the ceiling). */
export function grantKeepAlive(config: Config, timeToLive: number | undefined, ceiling = config.session.keepAliveMax): number {
  const { keepAliveDefault, keepAliveMin } = config.session;
  return Math.min(Math.max(timeToLive ?? keepAliveDefault, keepAliveMin), ceiling);
}

export const clientCapability: PrimitiveHandler = (request, session, services) => {
  const list = child(request, 'CapabilityList');
  const capabilities = negotiate(list, services.config.session.serverPollMin);
  rememberProfile(services, session.user.id, capabilities);
  const cir = negotiateCir(services, { ...session, previous: session.cir }, list, capabilities);
  const agreed = agreedCapabilityElement(session.version, capabilities, cir.elements);
  const response =
    session.version === '1.1'
      ? el('ClientCapability-Response', [session.clientId, agreed])
      : el('ClientCapability-Response', [agreed]);
  return { response, update: { capabilities, cir: cir.agreement } };
};

export const serviceRequest: PrimitiveHandler = (request, session) => {
  const requested = requestedFunctions(session.version, child(request, 'Functions'));
  const agreed = agree(session.version, requested);
  // Android reads AllFunctions without checking it is there: always send it when asked.
  const wantAll = boolOf(request, 'AllFunctionsRequest', false);
  const response = el('Service-Response', [
    session.version === '1.1' ? session.clientId : undefined,
    el('Functions', [functionTree(session.version, agreed.functions)]),
    wantAll ? el('AllFunctions', [functionTree(session.version, allImplemented(session.version).functions)]) : undefined,
  ]);
  return { response, update: { agreed } };
};

export const keepAlive: PrimitiveHandler = (request, session, services) => {
  // Without a TimeToLive the client keeps what it has; with one it asks for a new value.
  const ttl = intOf(request, 'TimeToLive');
  const keepAliveTime = ttl === undefined ? session.keepAliveTime : grantKeepAlive(services.config, ttl, keepAliveCeiling(services, session.sessionId, session.cir));
  return {
    response: el('KeepAlive-Response', [result(200), leaf('KeepAliveTime', keepAliveTime)]),
    update: { keepAliveTime },
  };
};

/** GetSPInfo works with or without a session, so it takes plain arguments. */
export function spInfoResponse(config: Config, clientId: CspElement | undefined): CspElement {
  return el('GetSPInfo-Response', [
    clientId,
    leaf('Name', config.service.name),
    leaf('Description', config.service.description || undefined),
    leaf('URL', config.service.url || undefined),
  ]);
}

export const getSpInfo: PrimitiveHandler = (request, session, services) => ({
  response: spInfoResponse(services.config, child(request, 'ClientID') ?? session.clientId),
});
