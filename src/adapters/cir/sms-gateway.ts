// Sending one binary SMS through a Kannel-style HTTP gateway (reference imps-csp.md §5.4 WAP SMS;
// prior-art.md §1.8: Baraza fills a `sendsms` URL with `to`, `udh` and `text`). Used for the
// WAPSMS CIR: a WSP Push PDU behind a WDP port header, to the MSISDN the operator or phone gave.
//
// An SMS costs real money and lands on a real person's phone, and a client can claim any
// MSISDN; so sends are limited per number (not per session), retries are bounded, and the log
// never holds the full number or the URL (the template carries the gateway's password).
import { request, type Dispatcher } from 'undici';
import type { Logger } from '../../log.ts';
import { MAX_SMS_BYTES } from './wap-push.ts';

export type SmsOutcome = 'sent' | 'failed' | 'rate-limited' | 'too-long';

export interface SmsGatewayOptions {
  /** e.g. `http://127.0.0.1:13013/cgi-bin/sendsms?username=u&password=p&to={to}&udh={udh}&text={text}&coding=1` */
  urlTemplate: string;
  /** Further attempts after the first one fails. */
  retries: number;
  /** Wait before the first retry; doubled before each later one. */
  backoffMs: number;
  /** Limit for one attempt, connecting included. */
  timeoutMs: number;
  /** No second send to the same number sooner than this after an attempt. */
  minIntervalPerNumberMs: number;
  log: Logger;
  dispatcher?: Dispatcher;
  /** Clock for the per-number limit, in ms; monotonic by default so a wall-clock step cannot stretch it. */
  now?: () => number;
  /**
   * At most this many numbers are remembered at once (default 10 000). When all of them are
   * still inside their interval a new number is refused as 'rate-limited': forgetting a fresh
   * entry would reopen a phone to repeat SMS, and that many numbers at once is abuse anyway.
   */
  maxTrackedNumbers?: number;
}

const DEFAULT_MAX_TRACKED_NUMBERS = 10_000;

/** Every byte as `%XX` (uppercase hex): how Kannel takes binary `udh` and `text`, even for ASCII. */
function percentEncodeEveryByte(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * The gateway URL for one SMS: `{to}` URI-component-encoded, `{udh}` and `{text}` byte by byte.
 * Placeholders may sit anywhere, repeat or be missing. One pass over the template, so nothing a
 * value contains is ever read as a placeholder, and `$` in a value is not a replace pattern.
 */
export function fillSmsUrl(template: string, fields: { to: string; udh: Buffer; text: Buffer }): string {
  return template.replace(/\{(to|udh|text)\}/g, (_, name: 'to' | 'udh' | 'text') =>
    name === 'to' ? encodeURIComponent(fields.to) : percentEncodeEveryByte(fields[name]),
  );
}

/**
 * An MSISDN from an operator header or a phone ("+49 170 1234567", "491701234567",
 * "tel:+49-170-1234567") as `+?digits`: "tel:", whitespace, dashes, dots and parentheses go;
 * anything else (letters, a second '+', tel-URI parameters) makes it unusable. 6–15 digits:
 * E.164 allows at most 15, and shorter than 6 is a service code, not a phone.
 */
export function normalizeMsisdn(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const compact = raw
    .trim()
    .replace(/^tel:/i, '')
    .replace(/[\s\-.()]/g, '');
  return /^\+?\d{6,15}$/.test(compact) ? compact : undefined;
}

/** "…123": enough to tell numbers apart in a log, too little to call or bill anyone. */
function maskMsisdn(to: string): string {
  return `…${to.replace(/\D/g, '').slice(-3)}`;
}

/** Why an attempt was aborted: our own deadline or close(). */
class AttemptAborted extends Error {
  constructor(readonly why: 'timeout' | 'closed') {
    super(why === 'timeout' ? 'timed out' : 'gateway closed');
  }
}

type AttemptResult = { ok: true; status: number } | { ok: false; status?: number; error?: string; code?: string };

export class SmsGateway {
  private readonly options: SmsGatewayOptions;
  private readonly now: () => number;
  private readonly maxTrackedNumbers: number;
  /** Last attempt per number (digits only), oldest first: re-inserted on every attempt. */
  private readonly lastAttemptAt = new Map<string, number>();
  /** Wake functions of pending back-offs; close() calls them with false. */
  private readonly sleeping = new Set<(completed: boolean) => void>();
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(options: SmsGatewayOptions) {
    for (const key of ['retries', 'backoffMs', 'minIntervalPerNumberMs'] as const) {
      if (!Number.isFinite(options[key]) || options[key] < 0) throw new RangeError(`SmsGateway: ${key} must be a number ≥ 0`);
    }
    if (!Number.isInteger(options.retries)) throw new RangeError('SmsGateway: retries must be an integer');
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) throw new RangeError('SmsGateway: timeoutMs must be > 0');
    // Fail at start-up, not at the first wake-up. The message never echoes the template: it
    // holds the gateway password.
    let probe: URL | undefined;
    try {
      probe = new URL(fillSmsUrl(options.urlTemplate, { to: '0', udh: Buffer.alloc(0), text: Buffer.alloc(0) }));
    } catch {
      probe = undefined;
    }
    if (probe?.protocol !== 'http:' && probe?.protocol !== 'https:') {
      throw new Error('SmsGateway: the SMS URL template is not an http:// or https:// URL');
    }
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    this.maxTrackedNumbers = options.maxTrackedNumbers ?? DEFAULT_MAX_TRACKED_NUMBERS;
    if (!Number.isInteger(this.maxTrackedNumbers) || this.maxTrackedNumbers < 1) {
      throw new RangeError('SmsGateway: maxTrackedNumbers must be an integer ≥ 1');
    }
  }

  /** Send one 8-bit SMS (UDH + user data). Never throws: the outcome says what happened. */
  async send(to: string, udh: Buffer, text: Buffer): Promise<SmsOutcome> {
    const masked = maskMsisdn(to);
    const { log } = this.options;
    if (this.closed) return 'failed';
    if (udh.length + text.length > MAX_SMS_BYTES) {
      log.debug({ to: masked, bytes: udh.length + text.length }, 'SMS not sent: longer than one SMS');
      return 'too-long';
    }
    if (!this.claimNumber(to)) {
      log.debug({ to: masked }, 'SMS not sent: this number had one too recently');
      return 'rate-limited';
    }
    const url = fillSmsUrl(this.options.urlTemplate, { to, udh, text });
    const attempts = this.options.retries + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const result = await this.attempt(url, to);
      if (result.ok) {
        log.debug({ attempt, status: result.status, to: masked }, 'SMS accepted by the gateway');
        return 'sent';
      }
      if (this.closed) {
        log.debug({ attempt, to: masked }, 'SMS abandoned: gateway closed');
        return 'failed';
      }
      const why = result.status !== undefined ? { status: result.status } : { error: result.error, code: result.code };
      log.warn({ attempt, of: attempts, ...why, to: masked }, 'SMS gateway attempt failed');
      if (attempt < attempts && !(await this.backOff(this.options.backoffMs * 2 ** (attempt - 1)))) return 'failed';
    }
    return 'failed';
  }

  /** Cancel pending back-offs and abort requests in flight; their sends resolve 'failed'. */
  close(): void {
    this.closed = true;
    for (const wake of [...this.sleeping]) wake(false);
    for (const controller of this.inFlight) controller.abort(new AttemptAborted('closed'));
  }

  /**
   * Record an attempt to `to` unless it had one within the interval. Numbers are compared by
   * digits, so "+49…" and "49…" are one phone. Counting attempts (not successes) keeps a
   * failing gateway from being hammered for the same number.
   */
  private claimNumber(to: string): boolean {
    const key = to.replace(/\D/g, '');
    const now = this.now();
    this.forgetExpired(now);
    const last = this.lastAttemptAt.get(key);
    if (last !== undefined && now - last < this.options.minIntervalPerNumberMs) return false;
    if (last === undefined && this.lastAttemptAt.size >= this.maxTrackedNumbers) return false;
    this.lastAttemptAt.delete(key); // re-insert at the end: the map stays oldest-first
    this.lastAttemptAt.set(key, now);
    return true;
  }

  /** Drop numbers whose interval has passed; oldest-first order lets this stop at the first fresh one. */
  private forgetExpired(now: number): void {
    for (const [key, at] of this.lastAttemptAt) {
      if (now - at < this.options.minIntervalPerNumberMs) break;
      this.lastAttemptAt.delete(key);
    }
  }

  /** One GET. Anything but a 2xx answer is a failure worth retrying (Kannel answers 202). */
  private async attempt(url: string, to: string): Promise<AttemptResult> {
    const { timeoutMs, dispatcher } = this.options;
    const controller = new AbortController();
    this.inFlight.add(controller);
    // headers/bodyTimeout do not cover connecting (undici's connect timeout belongs to the
    // dispatcher, 10 s by default), so one deadline bounds the whole attempt.
    const deadline = setTimeout(() => controller.abort(new AttemptAborted('timeout')), timeoutMs);
    try {
      const response = await request(url, {
        method: 'GET',
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: controller.signal,
        ...(dispatcher ? { dispatcher } : {}),
      });
      // Always consume the body: an unread one keeps the connection busy.
      try {
        await response.body.dump({ limit: 64 * 1024, signal: controller.signal });
      } catch {
        // The status has already decided the outcome.
      }
      const { statusCode: status } = response;
      return status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status };
    } catch (err) {
      const reason = controller.signal.aborted ? controller.signal.reason : err;
      return { ok: false, ...describeError(reason, secretsOf(url, to)) };
    } finally {
      clearTimeout(deadline);
      this.inFlight.delete(controller);
    }
  }

  /** Wait `ms`; false when close() cut the wait short. */
  private backOff(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (completed: boolean) => {
        clearTimeout(timer);
        this.sleeping.delete(wake);
        resolve(completed);
      };
      const timer = setTimeout(() => wake(true), ms);
      this.sleeping.add(wake);
    });
  }
}

/** What must not reach the log from an error message: the URL (whole or from its path on) and the number. */
function secretsOf(url: string, to: string): string[] {
  const candidates = [url, to, to.replace(/\D/g, '')];
  if (URL.canParse(url)) {
    const { pathname, search } = new URL(url);
    candidates.push(pathname + search, search);
  }
  // Longest first, so a part never leaves the rest of a longer secret behind; short strings
  // (an empty query, a bogus two-digit "number") would only garble the message.
  return candidates.filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
}

/** An error's message and code for the log, with the secrets cut out should they appear. */
function describeError(err: unknown, secrets: string[]): { error: string; code?: string } {
  let message = err instanceof Error ? err.message : String(err);
  for (const secret of secrets) message = message.split(secret).join('[redacted]');
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { error: message, code } : { error: message };
}
