// Content negotiation and encoding-specific input over real HTTP: WBXML and JSON media types
// answered in the same spelling, the WBXML header variants real handsets and encoders send,
// broken WBXML and JSON answered in kind, and CORS for browser pages.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import type { TestServer } from '../support/server.ts';
import { sharedServer } from '../support/shared-server.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { VERSIONS } from '../support/matrix.ts';
import { el, leaf, child, textOf } from '../../src/csp/tree.ts';
import { buildMessage, readMessage } from '../../src/csp/envelope.ts';
import { decodeWbxml, encodeWbxml, PUBLIC_IDS } from '../../src/csp/wbxml-codec.ts';
import { decodeJson } from '../../src/csp/json-codec.ts';
import { NAMESPACES, type CspVersion } from '../../src/csp/versions.ts';

const spInfoRequest = (version: CspVersion, id = 'e1') =>
  buildMessage({ version, transactions: [{ mode: 'Request', id, primitive: el('GetSPInfo-Request') }] });

async function post(server: TestServer, body: Buffer | string, headers: Record<string, string>) {
  const res = await request(server.url, { method: 'POST', body, headers });
  return { status: res.statusCode, headers: res.headers, raw: Buffer.from(await res.body.arrayBuffer()) };
}

describe('encodings', () => {
  const server = sharedServer({ config: { http: { cors: { origins: ['https://chat.example.org'] } } } });

  for (const version of VERSIONS) {
    describe(`CSP ${version}`, () => {
      for (const type of ['application/vnd.wv.csp.wbxml', 'application/vnd.wv.csp+wbxml']) {
        test(`${type} is answered in WBXML, same spelling, public id and namespace of ${version}`, async () => {
          const res = await post(server(), encodeWbxml(spInfoRequest(version), version), { 'content-type': type });
          assert.equal(res.status, 200);
          assert.equal(res.headers['content-type'], type);
          assert.equal(Number(res.headers['content-length']), res.raw.length);
          assert.equal(res.headers['transfer-encoding'], undefined);
          assert.deepEqual([...res.raw.subarray(0, 4)], [0x03, PUBLIC_IDS[version], 0x6a, 0x00], 'WBXML 1.3, the version\'s public id, UTF-8, no string table');
          const { version: v, root } = decodeWbxml(res.raw, { maxDepth: 40 });
          assert.equal(v, version);
          assert.equal(root.attrs?.['xmlns'], NAMESPACES[version].csp);
          const message = readMessage(root, v);
          assert.equal(message.transactions[0]!.id, 'e1');
          assert.equal(message.transactions[0]!.primitive!.name, 'GetSPInfo-Response');
        });
      }

      for (const type of ['application/vnd.wv.csp+json', 'application/json']) {
        test(`${type} is answered in JSON, same spelling, with the version explicit`, async () => {
          const phone = new Phone(server(), { version, encoding: 'json', contentType: type });
          const { primitive, exchange } = await phone.request(el('GetSPInfo-Request'), { outband: true });
          assert.equal(primitive.name, 'GetSPInfo-Response');
          assert.equal(exchange.headers['content-type'], type);
          const json = JSON.parse(exchange.raw.toString('utf8'));
          assert.equal(json.version, version);
          assert.ok(Array.isArray(json['WV-CSP-Message'].Session.Transaction));
        });
      }

      test('broken WBXML whose version can be read gets a WBXML Status 4xx addressed to its transaction', async () => {
        const good = encodeWbxml(spInfoRequest(version, 'broken-1'), version);
        const cut = good.subarray(0, good.length - 6); // the document ends in the middle
        const res = await post(server(), cut, { 'content-type': 'application/vnd.wv.csp.wbxml' });
        assert.equal(res.status, 200);
        const { version: v, root } = decodeWbxml(res.raw, { maxDepth: 40 });
        assert.equal(v, version);
        const tx = readMessage(root, v).transactions[0]!;
        assert.equal(tx.primitive!.name, 'Status');
        assert.ok(resultCode(tx.primitive) >= 400 && resultCode(tx.primitive) < 500);
        assert.equal(tx.id, 'broken-1');
      });

      test('broken JSON whose version can be read gets a JSON Status 400', async () => {
        const res = await post(server(), `{"version": "${version}", "WV-CSP-Message": {"Session": `, { 'content-type': 'application/vnd.wv.csp+json' });
        assert.equal(res.status, 200);
        const { version: v, root } = decodeJson(res.raw, { maxDepth: 40 });
        assert.equal(v, version);
        assert.equal(resultCode(readMessage(root, v).transactions[0]!.primitive), 400);
      });
    });
  }

  test('Android\'s quirk: public id 0x10 (1.1) with a 1.2 namespace is CSP 1.2', async () => {
    const bytes = encodeWbxml(spInfoRequest('1.2', 'and-1'), '1.2');
    bytes[1] = 0x10;
    const res = await post(server(), bytes, { 'content-type': 'application/vnd.wv.csp.wbxml' });
    const { version, root } = decodeWbxml(res.raw, { maxDepth: 40 });
    assert.equal(version, '1.2');
    assert.equal(res.raw[1], 0x11, 'answered with the 1.2 public id');
    assert.equal(root.attrs?.['xmlns'], NAMESPACES['1.2'].csp);
  });

  test('public id 0x01 (unknown) and a literal public id string are read through the namespace or the string', async () => {
    const unknown = encodeWbxml(spInfoRequest('1.3', 'u-1'), '1.3');
    unknown[1] = 0x01;
    const a = await post(server(), unknown, { 'content-type': 'application/vnd.wv.csp+wbxml' });
    assert.equal(decodeWbxml(a.raw, { maxDepth: 40 }).version, '1.3');

    // libwbxml's 1.2 form: public id 0 + string-table index, a 27-byte string table, no xmlns.
    const body = encodeWbxml({ ...spInfoRequest('1.2', 'lit-1'), attrs: {} }, '1.2');
    const literal = Buffer.from('-//OMA//DTD WV-CSP 1.2//EN\0', 'latin1');
    const rest = body.subarray(4); // drop 03 11 6a 00
    const doc = Buffer.concat([Buffer.from([0x03, 0x00, 0x00, 0x6a, literal.length]), literal, rest]);
    const b = await post(server(), doc, { 'content-type': 'application/vnd.wv.csp.wbxml' });
    const decoded = decodeWbxml(b.raw, { maxDepth: 40 });
    assert.equal(decoded.version, '1.2');
    assert.equal(readMessage(decoded.root, '1.2').transactions[0]!.id, 'lit-1');
  });

  test('bytes that are no CSP at all get HTTP 400, for WBXML and JSON alike', async () => {
    const wbxml = await post(server(), Buffer.from([0x03, 0x6f, 0x6a, 0x00, 0x45, 0x01]), { 'content-type': 'application/vnd.wv.csp.wbxml' });
    assert.equal(wbxml.status, 400);
    assert.match(wbxml.raw.toString('utf8'), /CSP/);
    const json = await post(server(), '{"hello": "world"}', { 'content-type': 'application/json' });
    assert.equal(json.status, 400);
  });

  test('one session, three encodings: a phone may switch encoding between requests', async () => {
    const xml = new Phone(server(), { version: '1.2', encoding: 'xml' });
    await xml.loginPassword('switcher', 'pw');
    const wbxml = new Phone(server(), { version: '1.2', encoding: 'wbxml' });
    const json = new Phone(server(), { version: '1.2', encoding: 'json' });
    wbxml.sessionId = json.sessionId = xml.sessionId;
    for (const p of [wbxml, json, xml]) assert.equal(resultCode((await p.request(el('KeepAlive-Request', [leaf('TimeToLive', 300)]))).primitive), 200);
  });

  test('CORS: a listed page origin may POST and preflight; others get no CORS headers', async () => {
    const body = JSON.stringify({ version: '1.2', 'WV-CSP-Message': { Session: { SessionDescriptor: { SessionType: 'Outband' }, Transaction: [{ TransactionDescriptor: { TransactionMode: 'Request', TransactionID: 'c1' }, TransactionContent: { 'GetSPInfo-Request': {} } }] } } });
    const allowed = await post(server(), body, { 'content-type': 'application/vnd.wv.csp+json', origin: 'https://chat.example.org' });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://chat.example.org');
    const json = decodeJson(allowed.raw, { maxDepth: 40 });
    assert.equal(textOf(child(readMessage(json.root, json.version).transactions[0]!.primitive, 'Name')), 'Village');

    const preflight = await request(server().url, {
      method: 'OPTIONS',
      headers: { origin: 'https://chat.example.org', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    await preflight.body.dump();
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://chat.example.org');
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
    assert.match(String(preflight.headers['access-control-allow-headers']), /Content-Type/i);

    const stranger = await post(server(), body, { 'content-type': 'application/vnd.wv.csp+json', origin: 'https://evil.example' });
    assert.equal(stranger.status, 200, 'the server still answers; the browser refuses the page');
    assert.equal(stranger.headers['access-control-allow-origin'], undefined);
  });
});
