// The HTTP binding end to end (issue: HTTP, versions): every accepted Content-Type is answered
// 200 with Content-Length, never chunked, echoing the request's type and CSP version; several
// transactions per message; liberal parsing (prefixes, case, order, namespace over DOCTYPE);
// broken, hostile and oversized input gets a CSP Status (or a plain HTTP 400/415) and the
// connection stays usable; unknown primitives get 506, session-less ones 604.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Client, request } from 'undici';
import { TestServer } from '../support/server.ts';
import { Phone, resultCode, type HttpExchange } from '../support/phone.ts';
import { el, leaf, textOf } from '../../src/csp/tree.ts';
import type { CspMessage } from '../../src/csp/envelope.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { NAMESPACES } from '../../src/csp/versions.ts';
import { decodeXml } from '../../src/csp/xml-codec.ts';
import { readMessage } from '../../src/csp/envelope.ts';

const VERSIONS: CspVersion[] = ['1.1', '1.2', '1.3'];

/** The four XML media types of the issue (plus one odd-case spelling: media types are case-insensitive). */
const XML_TYPES = ['application/vnd.wv.csp.xml', 'application/vnd.wv.csp+xml', 'text/xml', 'application/xml', 'Application/VND.WV.CSP.XML'];
/** Parameter variants appended to each type. */
const PARAMS = ['', '; charset=utf-8', ';charset="UTF-8"', '; charset=ISO-8859-1'];

/** DOCTYPE public ids per version (OMNA spellings). */
const PUBLIC_IDS: Record<CspVersion, string> = {
  '1.1': '-//WIRELESSVILLAGE//DTD CSP 1.1//EN',
  '1.2': '-//OMA//DTD WV-CSP 1.2//EN',
  '1.3': '-//OMA//DTD IMPS-CSP 1.3//EN',
};

const SMALL_BODY_LIMIT = 4096;
const SMALL_MAX_DEPTH = 12;

let server: TestServer;
/** A server with http.maxBodyBytes = 4096 and http.maxDepth = 12, for the limit tests. */
let smallServer: TestServer;

before(async () => {
  [server, smallServer] = await Promise.all([
    TestServer.start(),
    TestServer.start({ config: { http: { maxBodyBytes: SMALL_BODY_LIMIT, maxDepth: SMALL_MAX_DEPTH } } }),
  ]);
});

after(async () => {
  await Promise.all([server?.dispose(), smallServer?.dispose()]);
});

// ───────────────────────────── helpers ─────────────────────────────

interface RawTx {
  id?: string;
  mode?: string;
  /** The primitive, as XML text. */
  body: string;
}

/** A CSP message as XML text, written by hand so tests control every byte. */
function rawMessage(version: CspVersion, txs: RawTx[], options: { sessionId?: string; doctype?: string } = {}): string {
  const ns = NAMESPACES[version];
  const transactions = txs
    .map(
      (t) =>
        `<Transaction><TransactionDescriptor><TransactionMode>${t.mode ?? 'Request'}</TransactionMode>` +
        `<TransactionID>${t.id ?? ''}</TransactionID></TransactionDescriptor>` +
        `<TransactionContent xmlns="${ns.trc}">${t.body}</TransactionContent></Transaction>`,
    )
    .join('');
  const descriptor = options.sessionId
    ? `<SessionDescriptor><SessionType>Inband</SessionType><SessionID>${options.sessionId}</SessionID></SessionDescriptor>`
    : `<SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    (options.doctype ?? '') +
    `<WV-CSP-Message xmlns="${ns.csp}"><Session>${descriptor}${transactions}</Session></WV-CSP-Message>`
  );
}

const spInfoRequest = (version: CspVersion) =>
  version === '1.3' ? '<GetSPInfo-Request/>' : '<GetSPInfo-Request><ClientID><URL>http-test</URL></ClientID></GetSPInfo-Request>';

function parseContentType(value: string | string[] | undefined): { essence: string; params: Record<string, string> } {
  const text = String(value ?? '');
  const [essence, ...rest] = text.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { essence: essence!.trim(), params };
}

/** The framing every CSP answer must have: 200, Content-Length = body length, never chunked. */
function assertFraming(exchange: HttpExchange): void {
  assert.equal(exchange.status, 200, `HTTP ${exchange.status}: ${exchange.raw.toString('utf8').slice(0, 300)}`);
  assert.equal(exchange.headers['transfer-encoding'], undefined, 'the answer must not be chunked');
  assert.notEqual(exchange.headers['content-length'], undefined, 'the answer needs Content-Length');
  assert.equal(Number(exchange.headers['content-length']), exchange.raw.length, 'Content-Length must equal the body length');
}

/** The raw bytes carry the version's CSP namespace on the root and its TRC namespace on every TransactionContent. */
function assertNamespaces(raw: Buffer, version: CspVersion): void {
  const text = raw.toString('utf8');
  const ns = NAMESPACES[version];
  const root = /<(?:[\w.-]+:)?WV-CSP-Message\b[^>]*>/.exec(text)?.[0];
  assert.ok(root, `no WV-CSP-Message in ${text.slice(0, 300)}`);
  assert.match(root, new RegExp(`xmlns(?::[\\w.-]+)?="${escapeRegExp(ns.csp)}"`), `root namespace of ${version} expected in ${root}`);
  const contents = text.match(/<(?:[\w.-]+:)?TransactionContent\b[^>]*>/g) ?? [];
  assert.ok(contents.length > 0, 'no TransactionContent in the answer');
  for (const tc of contents) assert.ok(tc.includes(`"${ns.trc}"`), `TransactionContent namespace of ${version} expected in ${tc}`);
  for (const v of VERSIONS) {
    if (v !== version) assert.ok(!text.includes(NAMESPACES[v].csp) && !text.includes(NAMESPACES[v].trc), `answer mixes in ${v} namespaces`);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Decode an answer ourselves (the Phone only decodes when the type looks like XML). */
function decodeAnswer(raw: Buffer): CspMessage {
  const decoded = decodeXml(raw, { maxDepth: 100 });
  return readMessage(decoded.root, decoded.version);
}

/** The answer is one Status with a 4xx Code, in the given version, addressed to the given TransactionID (if any). */
function assertStatus4xx(exchange: HttpExchange, version: CspVersion, transactionId?: string): number {
  assertFraming(exchange);
  assertNamespaces(exchange.raw, version);
  const message = exchange.message ?? decodeAnswer(exchange.raw);
  assert.equal(message.version, version);
  const tx = message.transactions[0];
  assert.ok(tx?.primitive, 'the answer holds a transaction with a primitive');
  assert.equal(tx.primitive.name, 'Status', `expected a Status, got ${tx.primitive.name}`);
  assert.equal(tx.mode, 'Response');
  const code = resultCode(tx.primitive);
  assert.ok(code >= 400 && code < 500, `expected a 4xx Code, got ${code}`);
  if (transactionId !== undefined) assert.equal(tx.id, transactionId, 'the Status answers the salvaged TransactionID');
  return code;
}

/** A plain-text HTTP error (not CSP) with a non-empty explanation. */
function assertPlainError(exchange: HttpExchange, status: number): void {
  assert.equal(exchange.status, status, `expected HTTP ${status}, got ${exchange.status}: ${exchange.raw.toString('utf8').slice(0, 200)}`);
  assert.match(String(exchange.headers['content-type']), /^text\/plain/);
  assert.equal(Number(exchange.headers['content-length']), exchange.raw.length);
  assert.equal(exchange.headers['transfer-encoding'], undefined);
  assert.ok(exchange.raw.toString('utf8').trim().length > 0, 'the error explains itself');
}

/** The server still answers a normal request afterwards. */
async function assertStillAnswers(target: TestServer, version: CspVersion): Promise<void> {
  const phone = new Phone(target, { version });
  const exchange = await phone.postRaw(rawMessage(version, [{ id: 'after', body: spInfoRequest(version) }]));
  assertFraming(exchange);
  assert.equal(exchange.message?.transactions[0]?.primitive?.name, 'GetSPInfo-Response');
}

// ───────────────────────────── the tests ─────────────────────────────

for (const version of VERSIONS) {
  describe(`HTTP binding, CSP ${version} (xml)`, () => {
    const ns = NAMESPACES[version];

    describe('Content-Type, framing and version of the answer', () => {
      for (const type of XML_TYPES) {
        for (const params of PARAMS) {
          const sent = type + params;
          test(`"${sent}" is answered 200 with the same Content-Type, Content-Length, unchunked, in ${version}`, async () => {
            const phone = new Phone(server, { version, contentType: sent });
            const exchange = await phone.postRaw(rawMessage(version, [{ id: 'ct-1', body: spInfoRequest(version) }]));
            assertFraming(exchange);
            const got = parseContentType(exchange.headers['content-type']);
            assert.equal(got.essence, type, 'the media type is echoed as sent');
            const sentCharset = parseContentType(sent).params['charset'];
            if (sentCharset === undefined) {
              assert.equal(exchange.headers['content-type'], sent, 'without parameters the Content-Type is echoed unchanged');
              assert.equal(got.params['charset'], undefined, 'no charset is added when none was sent');
            } else {
              assert.equal(got.params['charset']?.toLowerCase(), 'utf-8', 'the charset names what the body is written in: UTF-8');
            }
            assertNamespaces(exchange.raw, version);
            // (the test Phone decodes only lower-case "xml" types, so decode here)
            const message = decodeAnswer(exchange.raw);
            assert.equal(message.version, version);
            const tx = message.transactions[0];
            assert.equal(tx?.id, 'ct-1');
            assert.equal(tx?.mode, 'Response');
            assert.equal(tx?.primitive?.name, 'GetSPInfo-Response');
          });
        }
      }

      test('a request with no Content-Type but an XML body is answered in XML, in its version', async () => {
        const phone = new Phone(server, { version });
        const exchange = await phone.postRaw(Buffer.from(rawMessage(version, [{ id: 'no-ct', body: spInfoRequest(version) }])), undefined);
        assertFraming(exchange);
        assert.match(String(exchange.headers['content-type']), /xml/i);
        assertNamespaces(exchange.raw, version);
        const message = decodeAnswer(exchange.raw);
        assert.equal(message.version, version);
        assert.equal(message.transactions[0]?.id, 'no-ct');
        assert.equal(message.transactions[0]?.primitive?.name, 'GetSPInfo-Response');
      });

      for (const type of ['text/plain', 'image/png']) {
        test(`an unsupported Content-Type (${type}) gets HTTP 415 with a text body`, async () => {
          const phone = new Phone(server, { version });
          const exchange = await phone.postRaw(rawMessage(version, [{ id: 'x', body: spInfoRequest(version) }]), type);
          assertPlainError(exchange, 415);
        });
      }
    });

    describe('several transactions in one message', () => {
      test('two outband GetSPInfo-Requests get two answers with matching TransactionIDs', async () => {
        const phone = new Phone(server, { version });
        const exchange = await phone.post(
          [
            { id: 'multi-a', primitive: el('GetSPInfo-Request', version === '1.3' ? [] : [phone.clientIdElement()]) },
            { id: 'multi-b', primitive: el('GetSPInfo-Request', version === '1.3' ? [] : [phone.clientIdElement()]) },
          ],
          { outband: true },
        );
        assertFraming(exchange);
        assertNamespaces(exchange.raw, version);
        const answers = exchange.message?.transactions.filter((t) => t.mode === 'Response') ?? [];
        assert.deepEqual(answers.map((t) => t.id).sort(), ['multi-a', 'multi-b']);
        for (const a of answers) assert.equal(a.primitive?.name, 'GetSPInfo-Response');
      });

      test('KeepAlive-Request and GetSPInfo-Request inband get one answer each', async () => {
        const phone = new Phone(server, { version });
        const login = await phone.loginPassword(`multi-${version.replace('.', '')}@imps.test`, 'pw-multi');
        assert.equal(resultCode(login), 200);
        const exchange = await phone.post([
          { id: 'ka-1', primitive: el('KeepAlive-Request', [leaf('TimeToLive', 600)]) },
          { id: 'sp-1', primitive: el('GetSPInfo-Request', version === '1.3' ? [] : [phone.clientIdElement()]) },
        ]);
        assertFraming(exchange);
        assertNamespaces(exchange.raw, version);
        const answers = exchange.message?.transactions.filter((t) => t.mode === 'Response') ?? [];
        const byId = new Map(answers.map((t) => [t.id, t.primitive]));
        assert.equal(answers.length, 2);
        assert.equal(byId.get('ka-1')?.name, 'KeepAlive-Response');
        assert.equal(resultCode(byId.get('ka-1')), 200);
        assert.equal(byId.get('sp-1')?.name, 'GetSPInfo-Response');
        assert.equal(exchange.message?.sessionId, phone.sessionId, 'an inband answer carries the SessionID');
      });
    });

    describe('liberal parsing', () => {
      const other: CspVersion = version === '1.2' ? '1.1' : '1.2';

      test(`the namespace (${version}) beats a DOCTYPE naming ${other}`, async () => {
        const doctype = `<!DOCTYPE WV-CSP-Message PUBLIC "${PUBLIC_IDS[other]}" "http://www.openmobilealliance.org/DTD/WV-CSP.DTD">`;
        const phone = new Phone(server, { version });
        const exchange = await phone.postRaw(rawMessage(version, [{ id: 'dt-1', body: spInfoRequest(version) }], { doctype }));
        assertFraming(exchange);
        assertNamespaces(exchange.raw, version);
        assert.equal(exchange.message?.version, version);
        assert.equal(exchange.message?.transactions[0]?.id, 'dt-1');
        assert.equal(exchange.message?.transactions[0]?.primitive?.name, 'GetSPInfo-Response');
      });

      test('namespace prefixes on every element are accepted', async () => {
        const body =
          `<?xml version="1.0" encoding="UTF-8"?>` +
          `<csp:WV-CSP-Message xmlns:csp="${ns.csp}"><csp:Session>` +
          `<csp:SessionDescriptor><csp:SessionType>Outband</csp:SessionType></csp:SessionDescriptor>` +
          `<csp:Transaction><csp:TransactionDescriptor><csp:TransactionMode>Request</csp:TransactionMode>` +
          `<csp:TransactionID>pfx-1</csp:TransactionID></csp:TransactionDescriptor>` +
          `<trc:TransactionContent xmlns:trc="${ns.trc}"><trc:GetSPInfo-Request>` +
          (version === '1.3' ? '' : `<trc:ClientID><trc:URL>prefixed</trc:URL></trc:ClientID>`) +
          `</trc:GetSPInfo-Request></trc:TransactionContent></csp:Transaction></csp:Session></csp:WV-CSP-Message>`;
        const phone = new Phone(server, { version });
        const exchange = await phone.postRaw(body);
        assertFraming(exchange);
        assertNamespaces(exchange.raw, version);
        assert.equal(exchange.message?.transactions[0]?.id, 'pfx-1');
        assert.equal(exchange.message?.transactions[0]?.primitive?.name, 'GetSPInfo-Response');
      });

      test('lower-case and odd-case element names are accepted', async () => {
        const body =
          `<?xml version="1.0" encoding="UTF-8"?>` +
          `<wv-csp-message xmlns="${ns.csp}"><SESSION>` +
          `<sessiondescriptor><sessiontype>outband</sessiontype></sessiondescriptor>` +
          `<transaction><TransactionDEScriptor><transactionmode>request</transactionmode>` +
          `<transactionID>case-1</transactionID></TransactionDEScriptor>` +
          `<transactioncontent xmlns="${ns.trc}"><getspinfo-request>` +
          (version === '1.3' ? '' : `<clientid><url>odd-case</url></clientid>`) +
          `</getspinfo-request></transactioncontent></transaction></SESSION></wv-csp-message>`;
        const phone = new Phone(server, { version });
        const exchange = await phone.postRaw(body);
        assertFraming(exchange);
        assertNamespaces(exchange.raw, version);
        assert.equal(exchange.message?.transactions[0]?.id, 'case-1');
        assert.equal(exchange.message?.transactions[0]?.primitive?.name, 'GetSPInfo-Response');
      });

      test('out-of-order elements are accepted (Android: SessionCookie first, DigestSchema last)', async () => {
        const user = `order-${version.replace('.', '')}@imps.test`;
        const phone = new Phone(server, { version });
        // Register the user with a plain-password login, its fields in reverse order and the envelope shuffled.
        const register =
          `<?xml version="1.0" encoding="UTF-8"?>` +
          `<WV-CSP-Message xmlns="${ns.csp}"><Session>` +
          `<Transaction><TransactionContent xmlns="${ns.trc}"><Login-Request>` +
          `<SessionCookie>cookie-order</SessionCookie><TimeToLive>600</TimeToLive><Password>pw-order</Password>` +
          `<ClientID><URL>order-client</URL></ClientID><UserID>wv:${user}</UserID>` +
          `</Login-Request></TransactionContent>` +
          `<TransactionDescriptor><TransactionID>ord-0</TransactionID><TransactionMode>Request</TransactionMode></TransactionDescriptor>` +
          `</Transaction><SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor></Session></WV-CSP-Message>`;
        const first = await phone.postRaw(register);
        assertFraming(first);
        assert.equal(first.message?.transactions[0]?.id, 'ord-0');
        assert.equal(first.message?.transactions[0]?.primitive?.name, 'Login-Response');
        assert.equal(resultCode(first.message?.transactions[0]?.primitive), 200);
        assert.ok(textOf(first.message?.transactions[0]?.primitive, 'SessionID'));

        // Phase 1 of a digest login as Android writes it.
        const android = rawMessage(version, [
          {
            id: 'ord-1',
            body:
              `<Login-Request><UserID>wv:${user}</UserID><ClientID><URL>order-client-2</URL></ClientID>` +
              `<TimeToLive>7205</TimeToLive><SessionCookie>1190000000000-12345678900</SessionCookie>` +
              `<DigestSchema>MD5</DigestSchema><DigestSchema>SHA</DigestSchema></Login-Request>`,
          },
        ]);
        const challenge = await phone.postRaw(android);
        assertFraming(challenge);
        assertNamespaces(challenge.raw, version);
        const primitive = challenge.message?.transactions[0]?.primitive;
        assert.equal(challenge.message?.transactions[0]?.id, 'ord-1');
        assert.equal(primitive?.name, 'Login-Response');
        assert.equal(resultCode(primitive), 401, 'phase 1 of a digest login is answered with a challenge');
        assert.ok(textOf(primitive, 'Nonce'), 'the challenge carries a Nonce');
        assert.match(textOf(primitive, 'DigestSchema') ?? '', /^(MD5|SHA)$/i);
      });
    });

    describe('broken and hostile input', () => {
      test('malformed XML with a readable namespace gets a CSP Status 4xx for the salvaged TransactionID', async () => {
        const whole = rawMessage(version, [{ id: 'broken-7', body: spInfoRequest(version) }]);
        const body = whole.replace('</Session>', '</Sesion>'); // mismatched end tag
        const phone = new Phone(server, { version });
        const exchange = await phone.postRaw(body);
        assertStatus4xx(exchange, version, 'broken-7');
        assert.equal(exchange.headers['content-type'], phone.contentType);
      });

      test('a truncated document gets a CSP Status 4xx for the salvaged TransactionID', async () => {
        const whole = rawMessage(version, [{ id: 'trunc-3', body: spInfoRequest(version) }]);
        const body = whole.slice(0, whole.indexOf('<TransactionContent') + 30);
        const exchange = await new Phone(server, { version }).postRaw(body);
        assertStatus4xx(exchange, version, 'trunc-3');
      });

      test('XML that is not CSP (no CSP namespace) gets HTTP 400 with a text body', async () => {
        const phone = new Phone(server, { version });
        assertPlainError(await phone.postRaw('<?xml version="1.0"?><html><body>hello</body></html>'), 400);
        const noNamespace = rawMessage(version, [{ id: 'nons', body: spInfoRequest(version) }])
          .replace(/ xmlns="[^"]*"/g, '');
        assertPlainError(await phone.postRaw(noNamespace), 400);
        assertPlainError(await phone.postRaw('this is not XML at all'), 400);
      });

      test('an empty body gets HTTP 400 with a text body', async () => {
        assertPlainError(await new Phone(server, { version }).postRaw(''), 400);
      });

      test('a body over http.maxBodyBytes gets a CSP Status 4xx and the keep-alive connection stays usable', async () => {
        const filler = '<!--' + 'x'.repeat(SMALL_BODY_LIMIT * 3) + '-->';
        // The filler follows the TransactionID, so the first maxBodyBytes bytes name both version and transaction.
        const big = rawMessage(version, [{ id: 'big-1', body: `<GetSPInfo-Request>${filler}</GetSPInfo-Request>` }]);
        assert.ok(Buffer.byteLength(big) > SMALL_BODY_LIMIT);
        const small = rawMessage(version, [{ id: 'small-2', body: spInfoRequest(version) }]);
        const contentType = new Phone(smallServer, { version }).contentType;
        const client = new Client(new URL(smallServer.url).origin, { pipelining: 1 });
        let connects = 0;
        let disconnects = 0;
        client.on('connect', () => connects++);
        client.on('disconnect', () => disconnects++);
        try {
          const send = async (body: string): Promise<HttpExchange> => {
            const res = await client.request({ path: '/', method: 'POST', body, headers: { 'content-type': contentType } });
            const raw = Buffer.from(await res.body.arrayBuffer());
            return { status: res.statusCode, headers: res.headers, raw };
          };
          const tooBig = await send(big);
          assertStatus4xx(tooBig, version, 'big-1');
          const next = await send(small);
          assertFraming(next);
          const message = decodeAnswer(next.raw);
          assert.equal(message.transactions[0]?.id, 'small-2');
          assert.equal(message.transactions[0]?.primitive?.name, 'GetSPInfo-Response');
          assert.equal(connects, 1, 'both requests travel on one connection');
          assert.equal(disconnects, 0, 'the server did not close the connection');
        } finally {
          await client.close();
        }
      });

      test('a body over http.maxBodyBytes whose version cannot be read gets HTTP 400 text', async () => {
        const exchange = await new Phone(smallServer, { version }).postRaw('y'.repeat(SMALL_BODY_LIMIT * 3));
        assertPlainError(exchange, 400);
      });

      test('http.maxDepth is honoured: deeper gets a CSP Status 4xx, within it is answered', async () => {
        // smallServer has maxDepth 12; WV-CSP-Message … GetSPInfo-Request is 5 levels.
        const nest = (n: number) => '<ExtBlock>'.repeat(n) + '</ExtBlock>'.repeat(n);
        const phone = new Phone(smallServer, { version });
        const deep = await phone.postRaw(rawMessage(version, [{ id: 'deep-12', body: `<GetSPInfo-Request>${nest(10)}</GetSPInfo-Request>` }]));
        assertStatus4xx(deep, version, 'deep-12');
        const shallow = await phone.postRaw(rawMessage(version, [{ id: 'shallow-12', body: `<GetSPInfo-Request>${nest(5)}</GetSPInfo-Request>` }]));
        assertFraming(shallow);
        assert.equal(shallow.message?.transactions[0]?.id, 'shallow-12');
        assert.equal(shallow.message?.transactions[0]?.primitive?.name, 'GetSPInfo-Response');
      });

      test('nesting far deeper than the default http.maxDepth gets a CSP Status 4xx and the server keeps answering', async () => {
        const depth = 500; // the default maxDepth is 40
        const nested = '<ExtBlock>'.repeat(depth) + '</ExtBlock>'.repeat(depth);
        const body = rawMessage(version, [{ id: 'deep-1', body: `<GetSPInfo-Request>${nested}</GetSPInfo-Request>` }]);
        const exchange = await new Phone(server, { version }).postRaw(body);
        assertStatus4xx(exchange, version, 'deep-1');
        await assertStillAnswers(server, version);
      });

      test('internal DTD entities (billion laughs) are not expanded: Status 4xx, small answer', async () => {
        const doctype =
          `<!DOCTYPE WV-CSP-Message [` +
          `<!ENTITY lol "lol">` +
          Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
          `]>`;
        const body = rawMessage(
          version,
          [{ id: 'lol-1', body: `<Login-Request><UserID>wv:lol@imps.test</UserID><Password>&lol9;</Password><SessionCookie>c</SessionCookie></Login-Request>` }],
          { doctype },
        );
        const exchange = await new Phone(server, { version }).postRaw(body);
        assertStatus4xx(exchange, version, 'lol-1');
        assert.ok(exchange.raw.length < 4096, `the answer is small (${exchange.raw.length} bytes)`);
        assert.ok(!exchange.raw.toString('utf8').includes('lollol'), 'no entity was expanded');
        await assertStillAnswers(server, version);
      });

      test('an external entity is neither fetched nor expanded: Status 4xx without the file', async () => {
        const passwd = readFileSync('/etc/passwd', 'utf8');
        const firstLine = passwd.split('\n')[0]!;
        const doctype = `<!DOCTYPE WV-CSP-Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`;
        const body = rawMessage(
          version,
          [{ id: 'xxe-1', body: `<Login-Request><UserID>wv:xxe@imps.test</UserID><Password>pw</Password><SessionCookie>&xxe;</SessionCookie></Login-Request>` }],
          { doctype },
        );
        const exchange = await new Phone(server, { version }).postRaw(body);
        assertStatus4xx(exchange, version, 'xxe-1');
        const text = exchange.raw.toString('utf8');
        assert.ok(!text.includes(firstLine), 'the answer holds no content of the file');
        assert.ok(!/root:.*:0:0:/.test(text), 'the answer holds no passwd entry');
      });

      test('invalid UTF-8 bytes get a CSP Status 4xx in the request version', async () => {
        const [head, tail] = rawMessage(version, [
          { id: 'utf-1', body: '<Login-Request><UserID>wv:MARK@imps.test</UserID><Password>pw</Password><SessionCookie>c</SessionCookie></Login-Request>' },
        ]).split('MARK');
        const body = Buffer.concat([Buffer.from(head!, 'utf8'), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x80]), Buffer.from(tail!, 'utf8')]);
        const exchange = await new Phone(server, { version }).postRaw(body);
        assertStatus4xx(exchange, version, 'utf-1');
        await assertStillAnswers(server, version);
      });
    });

    describe('dispatch', () => {
      test('an unknown primitive inband after login gets Status 506', async () => {
        const phone = new Phone(server, { version });
        assert.equal(resultCode(await phone.loginPassword(`frob-${version.replace('.', '')}@imps.test`, 'pw-frob')), 200);
        const exchange = await phone.postRaw(rawMessage(version, [{ id: 'frob-1', body: '<Frobnicate-Request/>' }], { sessionId: phone.sessionId! }));
        assertFraming(exchange);
        assertNamespaces(exchange.raw, version);
        const tx = exchange.message?.transactions[0];
        assert.equal(tx?.id, 'frob-1');
        assert.equal(tx?.primitive?.name, 'Status');
        assert.equal(resultCode(tx?.primitive), 506);
      });

      test('a primitive other than Login/GetSPInfo without a session gets Status 604', async () => {
        const phone = new Phone(server, { version });
        const keepAlive = '<KeepAlive-Request><TimeToLive>600</TimeToLive></KeepAlive-Request>';
        for (const [what, options] of [
          ['outband', {}],
          ['with an unknown SessionID', { sessionId: 'no-such-session-4711' }],
        ] as const) {
          const exchange = await phone.postRaw(rawMessage(version, [{ id: 'nos-1', body: keepAlive }], options));
          assertFraming(exchange);
          assertNamespaces(exchange.raw, version);
          const tx = exchange.message?.transactions[0];
          assert.equal(tx?.id, 'nos-1', what);
          assert.equal(tx?.primitive?.name, 'Status', what);
          assert.equal(resultCode(tx?.primitive), 604, what);
        }
        const send = await phone.postRaw(
          rawMessage(version, [{ id: 'nos-2', body: '<SendMessage-Request><DeliveryReport>F</DeliveryReport><MessageInfo><ContentSize>2</ContentSize></MessageInfo><ContentData>hi</ContentData></SendMessage-Request>' }]),
        );
        assert.equal(send.message?.transactions[0]?.primitive?.name, 'Status');
        assert.equal(resultCode(send.message?.transactions[0]?.primitive), 604);
      });
    });
  });
}

describe('HTTP methods other than POST', () => {
  test('GET / answers 200 with a text body', async () => {
    const res = await request(server.url, { method: 'GET' });
    const body = await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.ok(body.trim().length > 0);
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength(body));
  });

  test('GET /healthz answers JSON with status ok', async () => {
    const res = await request(new URL('/healthz', server.url), { method: 'GET' });
    const body = await res.body.text();
    assert.equal(res.statusCode, 200);
    const parsed = JSON.parse(body) as { status?: unknown };
    assert.equal(parsed.status, 'ok');
  });

  test('GET /healthz labels its JSON as application/json', async () => {
    const res = await request(new URL('/healthz', server.url), { method: 'GET' });
    await res.body.text();
    assert.match(String(res.headers['content-type']), /^application\/json/);
  });

  test('PUT gets 405 naming the allowed methods', async () => {
    const res = await request(server.url, { method: 'PUT', body: 'x', headers: { 'content-type': 'text/xml' } });
    const body = await res.body.text();
    assert.equal(res.statusCode, 405);
    assert.ok(body.trim().length > 0);
    assert.match(String(res.headers['allow']), /POST/);
  });
});
