// The CIR transports together (reference imps-csp.md §5): the STCP listener, datagrams for
// SUDP and WAP UDP, the SMS gateway for WAP SMS, and the SHTTP URLs phones GET. A session's
// waker (actors/cir.ts) decides *when* to wake a phone; this decides *how*: which of the
// session's agreed methods can be used right now, in the configured order, and it counts and
// logs every attempt and its outcome.
import { randomBytes } from 'node:crypto';
import type { Config } from '../../config.ts';
import type { Logger } from '../../log.ts';
import type { CspVersion } from '../../csp/versions.ts';
import type { CirAgreement, CirMethod } from '../../features/cir.ts';
import type { RequestOrigin } from '../request-origin.ts';
import { StcpListener } from './stcp.ts';
import { DatagramSender } from './udp.ts';
import { SmsGateway } from './sms-gateway.ts';
import { cirLine, wapPushPdu, WDP_PORT_UDH } from './wap-push.ts';

/** What the CIR transports need to know of a session. */
export interface CirSessionView {
  version: CspVersion;
  cookie: string;
  logId: string;
  cir: CirAgreement | undefined;
  origin: RequestOrigin;
}

export type WakeOutcome = 'sent' | 'failed' | 'rate-limited' | 'too-long' | 'no-address';

export interface CirHooks {
  /** A live session's view, or undefined when the session is gone. */
  session(sessionId: string): CirSessionView | undefined;
  /** Whether anything waits for the session. */
  queued(sessionId: string): boolean;
  /** A wake-up by a push method failed (after its own retries): the waker may try the next one. */
  failed(sessionId: string, attempt: number): void;
  /** A session's STCP connection was bound (HELO) or went away. */
  stcpChanged(sessionId: string, bound: boolean): void;
}

/** Methods a phone is woken by (SHTTP is not among them: the phone asks, we only answer). */
const PUSHED: readonly CirMethod[] = ['STCP', 'SUDP', 'WAPUDP', 'WAPSMS'];

/** Port SUDP datagrams go to when the phone named none (IANA wv-csp-udp-cir; Nokia's fixed choice). */
export const DEFAULT_SUDP_PORT = 3717;

export class CirService {
  /** Attempts and outcomes, e.g. "STCP sent" → 12 (for logs now, metrics later). */
  readonly counts = new Map<string, number>();
  private readonly shttpTokens = new Map<string, string>();
  /**
   * Sessions whose phone has bound an STCP connection at least once: such a phone relies on
   * STCP (Android takes it whenever it is agreed), so the state of that connection alone says
   * whether its channel works, whatever else was agreed besides.
   */
  private readonly stcpUsers = new Set<string>();
  private readonly datagrams: DatagramSender;
  private readonly sms: SmsGateway | undefined;
  private wapTransaction = 0;
  /** When recent SMS were sent (last hour), for cir.sms.maxPerHour. */
  private smsSentAt: number[] = [];

  /** Without a listener (STCP off, or unit tests); start() also opens the STCP listener when configured. */
  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly hooks: CirHooks,
    readonly stcp: StcpListener | undefined,
  ) {
    this.datagrams = new DatagramSender((err) => log.warn({ err: err.message }, 'CIR datagram socket error'));
    const sms = config.cir.sms;
    this.sms = sms
      ? new SmsGateway({
          urlTemplate: sms.url,
          retries: sms.retries,
          backoffMs: 1000,
          timeoutMs: sms.timeout * 1000,
          minIntervalPerNumberMs: sms.minInterval * 1000,
          log,
        })
      : undefined;
  }

  static async start(config: Config, log: Logger, hooks: CirHooks): Promise<CirService> {
    const stcpConfig = config.cir.stcp;
    let stcp: StcpListener | undefined;
    if (stcpConfig && config.cir.methods.includes('STCP')) {
      let service: CirService | undefined;
      stcp = await StcpListener.start({
        host: stcpConfig.host,
        port: stcpConfig.port,
        heloTimeoutMs: stcpConfig.heloTimeout * 1000,
        log,
        isLiveSession: (id) => hooks.session(id) !== undefined,
        onBound: (id) => service?.stcpBound(id),
        onUnbound: (id) => hooks.stcpChanged(id, false),
      });
      service = new CirService(config, log, hooks, stcp);
      return service;
    }
    return new CirService(config, log, hooks, undefined);
  }

  /** Which methods this server can use at all for a phone of this version (before the phone's own list). */
  available(version: CspVersion, msisdn: string | undefined): CirMethod[] {
    return this.config.cir.methods.filter((m) => {
      switch (m) {
        case 'STCP':
          return this.stcp !== undefined;
        case 'SHTTP':
          return version !== '1.1';
        case 'WAPSMS':
          return this.sms !== undefined && msisdn !== undefined;
        default:
          return true;
      }
    });
  }

  /** Where phones connect for STCP: the configured public address, else the address they reached us on. */
  stcpEndpoint(origin: RequestOrigin): { host: string; port: number } | undefined {
    const stcp = this.config.cir.stcp;
    if (!this.stcp || !stcp) return undefined;
    const bound = this.stcp.address();
    const host = stcp.publicHost ?? (stcp.host !== '0.0.0.0' && stcp.host !== '::' ? stcp.host : origin.localAddress ?? stcp.host);
    return { host, port: stcp.publicPort ?? bound.port };
  }

  /** A fresh, unguessable SHTTP URL for a session (the token is all that protects it). */
  shttpUrl(sessionId: string, origin: RequestOrigin, previousToken: string | undefined): { url: string; token: string } {
    if (previousToken) this.shttpTokens.delete(previousToken);
    const token = randomBytes(18).toString('base64url');
    this.shttpTokens.set(token, sessionId);
    // As documented: cir.shttp.publicUrl, else http.publicUrl (a proxy in front of everything), else the Host the phone used.
    const base = this.config.cir.shttp.publicUrl ?? this.config.http.publicUrl ?? `http://${origin.host ?? `${origin.localAddress ?? '127.0.0.1'}:${this.config.http.port}`}/`;
    return { url: new URL(`cir/${token}`, base.endsWith('/') ? base : base + '/').toString(), token };
  }

  forgetShttp(token: string): void {
    this.shttpTokens.delete(token);
  }

  /** SHTTP: a phone GETs its CIR URL; 200 when something waits, 204 when not, 404 for no session. */
  shttpPoll(token: string): 200 | 204 | 404 {
    const sessionId = this.shttpTokens.get(token);
    if (!sessionId || !this.hooks.session(sessionId)) return 404;
    const queued = this.hooks.queued(sessionId);
    this.count('SHTTP', queued ? 'announced' : 'nothing');
    return queued ? 200 : 204;
  }

  /** Whether the session's CIR channel works now (the Session's CIR flag, the long keep-alive). */
  channelUp(sessionId: string, agreement: CirAgreement | undefined): boolean {
    if (this.stcp?.isBound(sessionId)) return true;
    // Its connection is gone: CIR=F is what makes Android connect again (an agreed SHTTP it
    // never uses would otherwise keep the flag T and the phone unreachable).
    if (this.stcpUsers.has(sessionId)) return false;
    return agreement?.methods.some((m) => m !== 'STCP') ?? false;
  }

  /**
   * The session's wake-up methods in order of preference. The waker counts attempts by position
   * here, so positions must not move while it waits: STCP keeps its place whether or not a
   * connection is bound (it is skipped while none is), or a connection dying after its WVCI
   * would shift the next method onto the attempt already made and lose the fallback.
   */
  ladder(view: CirSessionView): CirMethod[] {
    const agreed = view.cir?.methods ?? [];
    // A phone that sent HELO without negotiating STCP still gets its wake-ups there.
    return this.config.cir.methods.filter((m) => PUSHED.includes(m) && (m === 'STCP' || agreed.includes(m)));
  }

  /** Whether a method of the ladder can be tried for the session right now. */
  private usableNow(sessionId: string, method: CirMethod): boolean {
    return method !== 'STCP' || (this.stcp?.isBound(sessionId) ?? false);
  }

  /**
   * Wake a session's phone with the first method from `fromAttempt` on that can be tried.
   * Returns the attempt used, or undefined when no method is left. A push that fails later
   * (datagram error, SMS gateway down) is reported through hooks.failed.
   */
  wake(sessionId: string, fromAttempt: number): number | undefined {
    const view = this.hooks.session(sessionId);
    if (!view) return undefined;
    const ladder = this.ladder(view);
    for (let attempt = fromAttempt; attempt < ladder.length; attempt++) {
      const method = ladder[attempt]!;
      if (!this.usableNow(sessionId, method)) continue;
      const sending = this.push(sessionId, view, method);
      if (typeof sending === 'string') {
        this.record(view, method, sending);
        if (sending === 'sent') return attempt;
        continue;
      }
      void sending.then((outcome) => {
        this.record(view, method, outcome);
        if (outcome !== 'sent') this.hooks.failed(sessionId, attempt);
      });
      return attempt;
    }
    return undefined;
  }

  /** Whether a wake-up from `attempt` on has a method to use. */
  hasMethodFrom(sessionId: string, attempt: number): boolean {
    const view = this.hooks.session(sessionId);
    return view !== undefined && this.ladder(view).some((m, i) => i >= attempt && this.usableNow(sessionId, m));
  }

  sessionEnded(sessionId: string, agreement: CirAgreement | undefined): void {
    this.stcp?.unbind(sessionId);
    this.stcpUsers.delete(sessionId);
    if (agreement?.shttpToken) this.shttpTokens.delete(agreement.shttpToken);
  }

  async close(): Promise<void> {
    this.sms?.close();
    this.datagrams.close();
    await this.stcp?.close();
  }

  /** A phone has just bound its STCP connection: if something already waits, it hears so (after the OK). */
  private stcpBound(sessionId: string): void {
    this.stcpUsers.add(sessionId);
    this.hooks.stcpChanged(sessionId, true);
    const view = this.hooks.session(sessionId);
    if (view && this.hooks.queued(sessionId)) this.record(view, 'STCP', this.stcp!.sendLine(sessionId, cirLine(view.version, view.cookie)) ? 'sent' : 'failed');
  }

  private push(sessionId: string, view: CirSessionView, method: CirMethod): WakeOutcome | Promise<WakeOutcome> {
    const line = cirLine(view.version, view.cookie);
    switch (method) {
      case 'STCP':
        return this.stcp?.sendLine(sessionId, line) ? 'sent' : 'failed';
      case 'SUDP': {
        const host = view.cir?.udpAddress ?? view.origin.address;
        return this.datagrams.send(host, view.cir?.udpPort ?? DEFAULT_SUDP_PORT, Buffer.from(line, 'latin1'));
      }
      case 'WAPUDP':
        this.wapTransaction = (this.wapTransaction + 1) & 0xff;
        return this.datagrams.send(view.origin.address, this.config.cir.wapPushPort, wapPushPdu(Buffer.from(line, 'latin1'), this.wapTransaction));
      case 'WAPSMS': {
        const msisdn = view.cir?.msisdn ?? view.origin.msisdn;
        if (!this.sms || !msisdn) return 'no-address';
        if (!this.smsBudgetAllows()) return 'rate-limited';
        this.wapTransaction = (this.wapTransaction + 1) & 0xff;
        return this.sms.send(msisdn, WDP_PORT_UDH, wapPushPdu(Buffer.from(line, 'latin1'), this.wapTransaction));
      }
      default:
        return 'failed';
    }
  }

  /**
   * The hoster's SMS budget: phone numbers are whatever phones and headers claim, so a global
   * ceiling (cir.sms.maxPerHour) bounds what a flood of fake numbers could cost.
   */
  private smsBudgetAllows(): boolean {
    const now = Date.now();
    while (this.smsSentAt.length && this.smsSentAt[0]! <= now - 3600_000) this.smsSentAt.shift();
    if (this.smsSentAt.length >= (this.config.cir.sms?.maxPerHour ?? 0)) return false;
    this.smsSentAt.push(now);
    return true;
  }

  private record(view: CirSessionView, method: CirMethod, outcome: string): void {
    this.count(method, outcome);
    const level = outcome === 'sent' ? 'info' : 'warn';
    this.log[level]({ session: view.logId, method, outcome }, 'CIR wake-up');
  }

  private count(method: CirMethod, outcome: string): void {
    const key = `${method} ${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}
