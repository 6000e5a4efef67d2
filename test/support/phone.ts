// A simulated handset for end-to-end tests and the benchmark: builds CSP messages as element
// trees, encodes them in the chosen encoding, POSTs them over real HTTP and decodes what
// comes back.
import { request } from 'undici';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import type { CspMessage, TransactionMode } from '../../src/csp/envelope.ts';
import { buildMessage, readMessage } from '../../src/csp/envelope.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { codecByName, codecForContentType, type EncodingName } from '../../src/csp/codecs.ts';
import { computeDigest } from '../../src/auth/digest.ts';
import { schemaFor } from '../../src/csp/schema/index.ts';

export type Encoding = EncodingName;

export interface PhoneOptions {
  version: CspVersion;
  encoding?: Encoding;
  /** Content-Type to send; defaults to what real handsets of the version send. */
  contentType?: string;
  /** ClientID URL; distinct values make distinct sessions of one user. */
  clientId?: string;
  /**
   * Check every answer against the version's content models (default on): what the server
   * emits must be what a strict handset parser expects.
   */
  strict?: boolean;
  /**
   * Extra HTTP headers on every request, as an operator's WAP gateway adds them
   * (X-Network-MSISDN for WAP SMS wake-ups). None by default.
   */
  headers?: Record<string, string>;
  /** The phone's number as the ClientID's MSISDN element (after URL); none by default. */
  msisdn?: string;
}

export interface HttpExchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: Buffer;
  /** The decoded answer; undefined for an empty body or a non-CSP answer. */
  message?: CspMessage;
}

export interface OutTx {
  primitive: CspElement;
  mode?: TransactionMode;
  id?: string;
}

/** The Code of a primitive's Result (or of the primitive itself when it is a Result). */
export function resultCode(primitive: CspElement | undefined): number {
  const result = primitive?.name === 'Result' ? primitive : child(primitive, 'Result');
  return Number(textOf(result, 'Code'));
}

export function detailedResults(primitive: CspElement): { code: number; userIds: string[] }[] {
  return childrenNamed(child(primitive, 'Result'), 'DetailedResult').map((d) => ({
    code: Number(textOf(d, 'Code')),
    userIds: childrenNamed(d, 'UserID').map((u) => textOf(u) ?? ''),
  }));
}

export interface SendOptions {
  to: string | string[];
  /** Text content (sent as is). */
  text?: string;
  /** Binary content (sent as BASE64 with ContentEncoding BASE64). */
  bytes?: Buffer;
  contentType?: string;
  /** Declared ContentSize; defaults to the true size. */
  contentSize?: number;
  deliveryReport?: boolean;
  /** Seconds. */
  validity?: number;
}

export function sendMessageRequest(o: SendOptions): CspElement {
  const recipients = (Array.isArray(o.to) ? o.to : [o.to]).map((u) => el('User', [leaf('UserID', u)]));
  const size = o.bytes ? o.bytes.length : Buffer.byteLength(o.text ?? '', 'utf8');
  return el('SendMessage-Request', [
    leaf('DeliveryReport', o.deliveryReport ?? false),
    el('MessageInfo', [
      leaf('ContentType', o.contentType ?? 'text/plain'),
      o.bytes ? leaf('ContentEncoding', 'BASE64') : undefined,
      leaf('ContentSize', o.contentSize ?? size),
      el('Recipient', recipients),
      el('Sender', [el('User', [leaf('UserID', 'wv:ignored-by-server')])]),
      leaf('Validity', o.validity),
    ]),
    leaf('ContentData', o.bytes ? o.bytes.toString('base64') : (o.text ?? '')),
  ]);
}

export class Phone {
  readonly version: CspVersion;
  readonly encoding: Encoding;
  contentType: string;
  clientId: string;
  sessionId: string | undefined;
  strict: boolean;
  readonly headers: Record<string, string>;
  readonly msisdn: string | undefined;
  private counter = 0;

  constructor(
    private readonly server: { url: string },
    options: PhoneOptions,
  ) {
    this.version = options.version;
    this.encoding = options.encoding ?? 'xml';
    this.contentType = options.contentType ?? codecByName(this.encoding).defaultContentType(this.version);
    this.clientId = options.clientId ?? `village-test-${Math.random().toString(36).slice(2, 10)}`;
    this.strict = options.strict ?? true;
    this.headers = { ...options.headers };
    this.msisdn = options.msisdn;
  }

  nextTransactionId(): string {
    return `t${++this.counter}`;
  }

  encode(root: CspElement): Buffer {
    return codecByName(this.encoding).encode(root, this.version);
  }

  /** POST raw bytes with a given Content-Type (for bad-input tests). */
  async postRaw(body: Buffer | string, contentType: string | undefined = this.contentType): Promise<HttpExchange> {
    const headers: Record<string, string> = { ...this.headers };
    if (contentType !== undefined) headers['content-type'] = contentType;
    const res = await request(this.server.url, { method: 'POST', body, headers });
    const raw = Buffer.from(await res.body.arrayBuffer());
    const exchange: HttpExchange = { status: res.statusCode, headers: res.headers, raw };
    const codec = codecForContentType(String(res.headers['content-type'] ?? ''));
    if (res.statusCode === 200 && raw.length > 0 && codec) {
      const decoded = codec.decode(raw, { maxDepth: 100 });
      if (this.strict && codec.name === 'xml') {
        // The decoder is liberal (any case, aliases); the server must not rely on that: every
        // element name it writes must be exactly the version's own spelling.
        const schema = schemaFor(decoded.version);
        const names = new Set([...raw.toString('utf8').matchAll(/<([A-Za-z][\w.-]*)[\s/>]/g)].map((m) => m[1]!));
        const misspelt = [...names].filter((n) => {
          const canonical = schema.canonicalName(n);
          return !canonical || schema.wireName(canonical) !== n;
        });
        if (misspelt.length) throw new Error(`the server wrote element names CSP ${decoded.version} does not spell that way: ${misspelt.join(', ')}`);
      }
      if (this.strict) {
        const problems = schemaFor(decoded.version).validate(decoded.root);
        if (problems.length) throw new Error(`the server sent CSP ${decoded.version} (${codec.name}) that breaks the content models:\n  ${problems.join('\n  ')}`);
      }
      exchange.message = readMessage(decoded.root, decoded.version);
    }
    return exchange;
  }

  /** Send transactions in one CSP message (inside the session unless outband is asked). */
  async post(transactions: OutTx[], options: { outband?: boolean } = {}): Promise<HttpExchange> {
    const root = buildMessage({
      version: this.version,
      ...(this.sessionId && !options.outband ? { sessionId: this.sessionId } : {}),
      transactions: transactions.map((t) => ({ mode: t.mode ?? 'Request', id: t.id ?? this.nextTransactionId(), primitive: t.primitive })),
    });
    return this.postRaw(this.encode(root));
  }

  /** One request, one answer: returns the answering primitive (asserting it matches). */
  async request(primitive: CspElement, options: { outband?: boolean } = {}): Promise<{ primitive: CspElement; exchange: HttpExchange }> {
    const id = this.nextTransactionId();
    const exchange = await this.post([{ primitive, id }], options);
    const tx = exchange.message?.transactions.find((t) => t.id === id && t.mode === 'Response');
    if (!tx?.primitive) throw new Error(`no answer to ${primitive.name} (HTTP ${exchange.status}): ${exchange.raw.toString('utf8').slice(0, 500)}`);
    return { primitive: tx.primitive, exchange };
  }

  clientIdElement(): CspElement {
    return el('ClientID', [leaf('URL', this.clientId), leaf('MSISDN', this.msisdn)]);
  }

  loginRequest(user: string, fields: CspElement[]): CspElement {
    return el('Login-Request', [leaf('UserID', user), this.clientIdElement(), ...fields, leaf('SessionCookie', `cookie-${this.clientId}`)]);
  }

  /** Two-way login with a plain password. */
  async loginPassword(user: string, password: string, timeToLive = 600): Promise<CspElement> {
    const { primitive } = await this.request(this.loginRequest(user, [leaf('Password', password)!, leaf('TimeToLive', timeToLive)!]), { outband: true });
    this.adoptSession(primitive);
    return primitive;
  }

  /** Four-way digest login: challenge, then DigestBytes = Base64(digest(nonce ‖ password)). */
  async loginDigest(user: string, password: string, schemas: string[] = ['MD5', 'SHA'], timeToLive = 600): Promise<{ challenge: CspElement; response: CspElement }> {
    const phase1 = this.loginRequest(user, [...schemas.map((s) => leaf('DigestSchema', s)!), leaf('TimeToLive', timeToLive)!]);
    const { primitive: challenge } = await this.request(phase1, { outband: true });
    const nonce = textOf(challenge, 'Nonce');
    const schema = textOf(challenge, 'DigestSchema');
    if (!nonce || !schema) return { challenge, response: challenge };
    const proof = schema === 'PWD' ? leaf('Password', password)! : leaf('DigestBytes', computeDigest(schema as 'MD5' | 'SHA', nonce, password))!;
    const { primitive: response } = await this.request(this.loginRequest(user, [proof, leaf('TimeToLive', timeToLive)!]), { outband: true });
    this.adoptSession(response);
    return { challenge, response };
  }

  private adoptSession(loginResponse: CspElement): void {
    const sessionId = textOf(loginResponse, 'SessionID');
    if (resultCode(loginResponse) === 200 && sessionId) this.sessionId = sessionId;
  }

  /** ClientCapability-Request with a typical handset list (overridable fields). */
  async negotiateCapabilities(fields: CspElement[] = []): Promise<CspElement> {
    const defaults = [
      leaf('ClientType', 'MOBILE_PHONE')!,
      leaf('InitialDeliveryMethod', 'P')!,
      // 1.3 replaced AcceptedContentLength (no 1.3 WBXML token) by pull and push lengths.
      ...(this.version === '1.3' ? [leaf('AcceptedPullLength', 262144)!, leaf('AcceptedPushLength', 262144)!] : [leaf('AcceptedContentLength', 262144)!]),
      leaf('SupportedBearer', 'HTTP')!,
      leaf('MultiTrans', 1)!,
      leaf('ParserSize', 262144)!,
    ].filter((d) => !fields.some((f) => f.name === d.name));
    const list = el('CapabilityList', [...defaults, ...fields]);
    const body = this.version === '1.1' ? [this.clientIdElement(), list] : [list];
    return (await this.request(el('ClientCapability-Request', body))).primitive;
  }

  /** Polling-Request; returns the server-originated transactions and the Poll flag. */
  async poll(): Promise<{ transactions: { id: string; primitive: CspElement }[]; poll: boolean; exchange: HttpExchange }> {
    const exchange = await this.post([{ primitive: el('Polling-Request'), id: '' }]);
    const transactions = (exchange.message?.transactions ?? [])
      .filter((t) => t.mode === 'Request' && t.primitive)
      .map((t) => ({ id: t.id ?? '', primitive: t.primitive! }));
    return { transactions, poll: exchange.message?.poll ?? false, exchange };
  }

  async sendText(to: string | string[], text: string, extra: { deliveryReport?: boolean; validity?: number } = {}): Promise<CspElement> {
    return this.sendMessage({ to, text, ...extra });
  }

  /** SendMessage-Request with any content: text, or bytes sent as BASE64. */
  async sendMessage(options: SendOptions): Promise<CspElement> {
    return (await this.request(sendMessageRequest(options))).primitive;
  }

  /** Acknowledge a NewMessage the way handsets do: MessageDelivered in Response mode. */
  async acknowledge(transactionId: string, messageId: string): Promise<HttpExchange> {
    return this.post([{ mode: 'Response', id: transactionId, primitive: el('MessageDelivered', [leaf('MessageID', messageId)]) }]);
  }

  /**
   * Behave like a handset until nothing is left: poll, acknowledge each NewMessage with
   * MessageDelivered, answer every other server request with Status 200, and follow the
   * transactions piggy-backed on those answers. Returns every server request received.
   */
  async drain(maxRounds = 100_000): Promise<CspElement[]> {
    const got: CspElement[] = [];
    let { transactions, poll } = await this.poll();
    for (let round = 0; round < maxRounds; round++) {
      if (transactions.length === 0) {
        if (!poll) break;
        ({ transactions, poll } = await this.poll());
        continue;
      }
      const next: { id: string; primitive: CspElement }[] = [];
      for (const t of transactions) {
        got.push(t.primitive);
        const answer =
          t.primitive.name === 'NewMessage'
            ? el('MessageDelivered', [leaf('MessageID', textOf(child(t.primitive, 'MessageInfo'), 'MessageID') ?? '')])
            : el('Status', [el('Result', [leaf('Code', 200)])]);
        const reply = await this.post([{ mode: 'Response', id: t.id, primitive: answer }]);
        for (const tx of reply.message?.transactions ?? []) if (tx.mode === 'Request' && tx.primitive) next.push({ id: tx.id ?? '', primitive: tx.primitive });
        poll = reply.message?.poll ?? false;
      }
      transactions = next;
    }
    return got;
  }

  /** drain(), keeping the NewMessages as sender, text and MessageID. */
  async receiveAll(maxRounds = 100_000): Promise<{ sender: string; text: string; messageId: string }[]> {
    return (await this.drain(maxRounds))
      .filter((p) => p.name === 'NewMessage')
      .map((p) => {
        const info = child(p, 'MessageInfo');
        return {
          messageId: textOf(info, 'MessageID') ?? '',
          sender: textOf(child(child(info, 'Sender'), 'User'), 'UserID') ?? '',
          text: child(p, 'ContentData')?.text ?? '',
        };
      });
  }

  async logout(): Promise<CspElement> {
    const { primitive } = await this.request(el('Logout-Request'));
    this.sessionId = undefined;
    return primitive;
  }
}
