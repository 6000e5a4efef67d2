// The s2s stream parser (src/adapters/xmpp/stream-parser.ts): the header, whole top-level
// elements, restricted XML, and the bounds that keep a hostile peer from growing our memory
// before it has authenticated (a tag that never ends, an endless header, a flood of whitespace,
// a stanza over the limit however it is chunked).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { StreamParser, type StreamHeader } from '../../src/adapters/xmpp/stream-parser.ts';
import type { XmlNode } from '../../src/adapters/xmpp/xml.ts';

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='xmpp.test' to='imps.test' version='1.0'>`;
const LIMIT = 4096;

function parse() {
  const got = { headers: [] as StreamHeader[], elements: [] as XmlNode[], ended: 0, errors: [] as { condition: string; message: string }[] };
  const parser = new StreamParser(
    {
      header: (h) => got.headers.push(h),
      element: (n) => got.elements.push(n),
      end: () => got.ended++,
      error: (condition, message) => got.errors.push({ condition, message }),
    },
    { maxElementBytes: LIMIT, maxDepth: 8 },
  );
  return { got, write: (s: string | Buffer) => parser.write(typeof s === 'string' ? Buffer.from(s, 'utf8') : s) };
}

describe('XMPP stream parser', () => {
  test('the header, then each top-level element whole, then the end', () => {
    const { got, write } = parse();
    write(HEADER);
    write(`<message to='a@imps.test' from='b@xmpp.test' type='chat'><body>Grü`);
    write(Buffer.from([0xc3])); // a UTF-8 character split across two writes
    write(Buffer.from([0xbc]));
    write(`ße</body></message> \n<db:result from='xmpp.test' to='imps.test'>key</db:result></stream:stream>`);
    assert.deepEqual(got.errors, []);
    assert.equal(got.headers[0]?.from, 'xmpp.test');
    assert.equal(got.headers[0]?.version, '1.0');
    assert.equal(got.headers[0]?.dialback, true);
    assert.deepEqual(
      got.elements.map((e) => [e.name, e.ns]),
      [
        ['message', 'jabber:server'],
        ['result', 'jabber:server:dialback'],
      ],
    );
    const body = got.elements[0]!.children[0] as XmlNode;
    assert.deepEqual(body.children, ['Grüüße']);
    assert.equal(got.ended, 1);
  });

  test('DOCTYPE and processing instructions are restricted XML', () => {
    const doctype = `<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY a "b">]>` + HEADER.replace(`<?xml version='1.0'?>`, '');
    for (const evil of [doctype, `${HEADER}<?evil?>`]) {
      const { got, write } = parse();
      write(evil);
      assert.equal(got.errors[0]?.condition, 'restricted-xml', evil);
      assert.equal(got.elements.length, 0);
    }
  });

  test('elements nested too deeply are a policy violation', () => {
    const { got, write } = parse();
    write(HEADER + '<message>' + '<x>'.repeat(20));
    assert.equal(got.errors[0]?.condition, 'policy-violation');
  });

  const floods: [string, (write: (s: string) => void) => void][] = [
    ['a start tag that never ends', (w) => (w(HEADER), w(`<message to='`), Array.from({ length: 40 }, () => w('a'.repeat(1000))))],
    ['an endless stream header', (w) => (w(`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='`), Array.from({ length: 40 }, () => w('a'.repeat(1000))))],
    ['whitespace without end between stanzas', (w) => (w(HEADER), Array.from({ length: 40 }, () => w(' '.repeat(1000))))],
    ['a stanza over the limit, in small pieces', (w) => (w(HEADER), w(`<message><body>`), Array.from({ length: 40 }, () => w('x'.repeat(1000))))],
    ['a stanza over the limit, in one piece', (w) => (w(HEADER), w(`<message><body>${'x'.repeat(LIMIT + 10)}</body></message>`))],
  ];
  for (const [what, flood] of floods) {
    test(`${what} is stopped at the limit (policy-violation)`, () => {
      const { got, write } = parse();
      flood(write);
      assert.equal(got.errors.length, 1, 'one error, then nothing more is read');
      assert.equal(got.errors[0]!.condition, 'policy-violation');
    });
  }

  test('a long-lived stream of stanzas and whitespace keep-alives stays within bounds', () => {
    const { got, write } = parse();
    write(HEADER);
    for (let i = 0; i < 2000; i++) write(i % 2 ? ' ' : `<message to='a@imps.test'><body>${'y'.repeat(1000)}</body></message>`);
    assert.deepEqual(got.errors, []);
    assert.equal(got.elements.length, 1000);
  });
});
