import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { decodeXml, encodeXml, DecodeError, sniffXmlVersion } from '../../src/csp/xml-codec.ts';
import { readMessage, buildMessage, status } from '../../src/csp/envelope.ts';
import { child, el, leaf, textOf } from '../../src/csp/tree.ts';
import { NAMESPACES } from '../../src/csp/versions.ts';
import { schemaFor } from '../../src/csp/schema/index.ts';

const SAMPLES = new URL('../../../shared/reference/csp-samples/', import.meta.url);
const limits = { maxDepth: 40 };
const decode = (xml: string) => decodeXml(Buffer.from(xml, 'utf8'), limits);

describe('XML codec', () => {
  test('every reference sample decodes in the version its file name says', () => {
    const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.xml'));
    assert.equal(files.length, 10);
    for (const f of files) {
      const { version, root } = decodeXml(readFileSync(new URL(f, SAMPLES)), limits);
      assert.equal(version, `${f[0]}.${f[1]}`, f);
      const message = readMessage(root, version);
      assert.ok(message.transactions.length >= 1 && message.transactions[0]!.primitive, f);
    }
  });

  test('the Android capture keeps its numeric character reference and UTF-8', () => {
    const { version, root } = decodeXml(readFileSync(new URL('12-sendmessage-request.xml', SAMPLES)), limits);
    const primitive = readMessage(root, version).transactions[0]!.primitive!;
    assert.equal(child(primitive, 'ContentData')!.text, 'Today \u00a0Today');
  });

  test('the namespace wins over a DOCTYPE that disagrees (Nokia sends the 1.2 DOCTYPE with a 1.1 namespace)', () => {
    const xml = `<?xml version="1.0"?><!DOCTYPE WV-CSP-Message PUBLIC "-//OMA//DTD WV-CSP 1.2//EN" "http://www.openmobilealliance.org/DTD/WV-CSP.DTD">
      <WV-CSP-Message xmlns="${NAMESPACES['1.1'].csp}"><Session><SessionDescriptor><SessionType>Outband</SessionType></SessionDescriptor>
      <Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode><TransactionID>nok1</TransactionID></TransactionDescriptor>
      <TransactionContent xmlns="${NAMESPACES['1.1'].trc}"><Polling-Request/></TransactionContent></Transaction></Session></WV-CSP-Message>`;
    assert.equal(decode(xml).version, '1.1');
  });

  test('a DOCTYPE names the version when the root has no namespace', () => {
    const xml = `<!DOCTYPE WV-CSP-Message PUBLIC "-//OMA//DTD IMPS-CSP 1.3//EN" "x"><WV-CSP-Message><Session/></WV-CSP-Message>`;
    assert.equal(decode(xml).version, '1.3');
  });

  test('without namespace or DOCTYPE there is no version', () => {
    assert.throws(() => decode('<WV-CSP-Message><Session/></WV-CSP-Message>'), (e) => e instanceof DecodeError && e.version === undefined);
  });

  test('prefixes are ignored and names are matched case-insensitively and through aliases', () => {
    const xml = `<csp:WV-CSP-Message xmlns:csp="${NAMESPACES['1.1'].csp}"><csp:session><csp:SessionDescriptor><csp:SessionType>Inband</csp:SessionType><csp:SessionID>s</csp:SessionID></csp:SessionDescriptor>
      <csp:Transaction><csp:TransactionDescriptor><csp:TransactionMode>Request</csp:TransactionMode><csp:TransactionID>1</csp:TransactionID></csp:TransactionDescriptor>
      <csp:TransactionContent><BlockUser-Request><keepaliveresponse/></BlockUser-Request></csp:TransactionContent></csp:Transaction></csp:session></csp:WV-CSP-Message>`;
    const { version, root } = decode(xml);
    assert.equal(version, '1.1');
    const message = readMessage(root, version);
    assert.equal(message.sessionId, 's');
    assert.equal(message.transactions[0]!.primitive!.name, 'BlockEntity-Request');
    assert.equal(message.transactions[0]!.primitive!.children[0]!.name, 'KeepAlive-Response');
    // …and the 1.1 wire name comes back out in 1.1, the 1.2 one in 1.2.
    assert.match(encodeXml(el('BlockEntity-Request'), '1.1').toString(), /<BlockUser-Request\/>/);
    assert.match(encodeXml(el('BlockEntity-Request'), '1.2').toString(), /<BlockEntity-Request\/>/);
  });

  test('internal entity declarations are not expanded (billion laughs)', () => {
    const xml = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
      <WV-CSP-Message xmlns="${NAMESPACES['1.2'].csp}"><Session><x>&lol2;</x></Session></WV-CSP-Message>`;
    assert.throws(() => decode(xml), (e) => e instanceof DecodeError && e.version === '1.2');
  });

  test('external entities are never fetched', () => {
    const xml = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>
      <WV-CSP-Message xmlns="${NAMESPACES['1.3'].csp}"><Session><x>&ext;</x></Session></WV-CSP-Message>`;
    assert.throws(() => decode(xml), (e) => e instanceof DecodeError && !/root:/.test(e.message));
  });

  test('nesting deeper than the limit is refused with the version still known', () => {
    const deep = '<a>'.repeat(50) + '</a>'.repeat(50);
    const xml = `<WV-CSP-Message xmlns="${NAMESPACES['1.2'].csp}"><Session>${deep}</Session></WV-CSP-Message>`;
    assert.throws(() => decode(xml), (e) => e instanceof DecodeError && e.version === '1.2' && /deeper/.test(e.message));
  });

  test('invalid UTF-8 is refused; a declared ISO-8859-1 body is read as such', () => {
    const bad = Buffer.concat([Buffer.from(`<WV-CSP-Message xmlns="${NAMESPACES['1.2'].csp}"><Session><x>`), Buffer.from([0xc3, 0x28]), Buffer.from('</x></Session></WV-CSP-Message>')]);
    assert.throws(() => decodeXml(bad, limits), (e) => e instanceof DecodeError && e.version === '1.2');
    const latin1 = Buffer.concat([Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?><WV-CSP-Message xmlns="${NAMESPACES['1.2'].csp}"><Session><ContentData>`), Buffer.from([0xe9]), Buffer.from('</ContentData></Session></WV-CSP-Message>')]);
    const { root } = decodeXml(latin1, limits);
    assert.equal(child(child(root, 'Session'), 'ContentData')!.text, 'é');
  });

  test('a broken body still tells its version to the error path', () => {
    assert.equal(sniffXmlVersion(Buffer.from(`<WV-CSP-Message xmlns="${NAMESPACES['1.3'].csp}"><Session><oops`)), '1.3');
  });

  test('encoding escapes text, replaces characters XML cannot carry, and orders children by the schema', () => {
    const info = el('MessageInfo', [leaf('Sender', 'x'), leaf('ContentSize', 3), leaf('MessageID', 'm<1>&"')]);
    const xml = encodeXml(el('NewMessage', [leaf('ContentData', 'a<b & \u0001c'), info]), '1.2').toString();
    assert.match(xml, /<NewMessage><MessageInfo><MessageID>m&lt;1&gt;&amp;"<\/MessageID><ContentSize>3<\/ContentSize><Sender>x<\/Sender><\/MessageInfo><ContentData>a&lt;b &amp; \uFFFDc<\/ContentData><\/NewMessage>/);
  });

  for (const version of ['1.1', '1.2', '1.3'] as const) {
    test(`CSP ${version}: a built message round-trips, validates, and puts Poll where the version expects it`, () => {
      const tree = buildMessage({ version, sessionId: 'abc', poll: true, transactions: [{ mode: 'Response', id: '7', primitive: status(200) }] });
      assert.deepEqual(schemaFor(version).validate(tree), []);
      const bytes = encodeXml(tree, version);
      const back = decodeXml(bytes, limits);
      assert.equal(back.version, version);
      const message = readMessage(back.root, version);
      assert.equal(message.poll, true);
      assert.equal(message.sessionId, 'abc');
      const text = bytes.toString();
      assert.ok(text.includes(`xmlns="${NAMESPACES[version].csp}"`) && text.includes(`xmlns="${NAMESPACES[version].trc}"`));
      if (version === '1.1') assert.match(text, /<TransactionDescriptor>[^]*<Poll>T<\/Poll><\/TransactionDescriptor>/);
      else assert.match(text, /<\/Transaction><Poll>T<\/Poll><\/Session>/);
      assert.equal(textOf(child(message.transactions[0]!.primitive, 'Result'), 'Code'), '200');
    });
  }
});
