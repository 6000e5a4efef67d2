// Message content over real HTTP (reference imps-csp.md §3.7, §4.5): any ContentType, BASE64
// binary delivered back with identical bytes, ContentSize checks (strict for BASE64, recomputed
// for text), the content types and lengths each recipient negotiated (415 / 432, also while
// they are offline), and content stored once for all of its recipients.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sharedServer } from '../support/shared-server.ts';
import { Phone, resultCode, detailedResults, sendMessageRequest } from '../support/phone.ts';
import { MATRIX, variantKit } from '../support/matrix.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, el, leaf, textOf } from '../../src/csp/tree.ts';

const DOMAIN = 'imps.test';

interface Received {
  primitive: CspElement;
  info: CspElement;
  messageId: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  contentSize: number;
  data: string;
  /** The content as bytes: BASE64 decoded, otherwise the text's UTF-8. */
  bytes: Buffer;
}

function readNewMessage(primitive: CspElement): Received {
  assert.equal(primitive.name, 'NewMessage');
  const info = child(primitive, 'MessageInfo')!;
  const contentEncoding = textOf(info, 'ContentEncoding');
  const data = child(primitive, 'ContentData')?.text ?? '';
  const base64 = contentEncoding?.toUpperCase() === 'BASE64';
  if (base64) assert.match(data.replace(/\s+/g, ''), /^[A-Za-z0-9+/]*={0,2}$/, 'ContentData is BASE64');
  return {
    primitive,
    info,
    messageId: textOf(info, 'MessageID') ?? '',
    contentType: textOf(info, 'ContentType'),
    contentEncoding,
    contentSize: Number(textOf(info, 'ContentSize')),
    data,
    bytes: base64 ? Buffer.from(data, 'base64') : Buffer.from(data, 'utf8'),
  };
}

/** Phone.drain() (poll and acknowledge until nothing waits), every NewMessage read. */
async function takeAll(p: Phone): Promise<Received[]> {
  return (await p.drain(100)).filter((primitive) => primitive.name === 'NewMessage').map(readNewMessage);
}

/** A JPEG-looking payload: SOI/APP0 header, random body (NULs included), EOI. */
function jpegBytes(size: number): Buffer {
  const body = randomBytes(size - 6);
  body[0] = 0;
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), body, Buffer.from([0xff, 0xd9])]);
}

const EVERY_BYTE = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

const VCARD = 'BEGIN:VCARD\r\nVERSION:2.1\r\nN:Müller;Jürgen\r\nTEL;CELL:+49 170 1234567\r\nEND:VCARD\r\n';

describe('message content', () => {
  const server = sharedServer();
  /** Read-only look at the message store: rows of one message and its deliveries. */
  const stored = (messageId: string) => {
    const db = new Database(join(server().dataDir, 'data', 'village.db'), { readonly: true, fileMustExist: true });
    try {
      const count = (sql: string) => (db.prepare(sql).get(messageId) as { n: number }).n;
      return {
        messages: count('SELECT COUNT(*) AS n FROM messages WHERE message_id = ?'),
        deliveries: count('SELECT COUNT(*) AS n FROM deliveries WHERE message_id = ?'),
      };
    } finally {
      db.close();
    }
  };

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { user, online } = variantKit(server, variant);
    /** AnyContent F and only text/plain, in the form the version writes AcceptedContentType. */
    const textOnly = (form: 'leaf' | 'structure' = version === '1.3' ? 'structure' : 'leaf') => [
      leaf('AnyContent', false)!,
      form === 'structure' ? el('AcceptedContentType', [leaf('ContentType', 'text/plain')]) : leaf('AcceptedContentType', 'text/plain')!,
    ];
    /** The largest content a phone takes at all: AcceptedContentLength, in 1.3 AcceptedPullLength. */
    const maxLength = (bytes: number) => [leaf(version === '1.3' ? 'AcceptedPullLength' : 'AcceptedContentLength', bytes)!];
    const negotiate = async (p: Phone, fields: CspElement[]) => {
      const answer = await p.negotiateCapabilities(fields);
      assert.equal(answer.name, 'ClientCapability-Response');
    };

    describe(label, () => {
      test('binary content of any type arrives as BASE64 with ContentEncoding BASE64 and identical bytes', async () => {
        const [alice, bob] = await online('bin-alice', 'bin-bob');
        const payloads: [string, Buffer][] = [
          ['image/jpeg', jpegBytes(3000)],
          ['application/octet-stream', EVERY_BYTE],
          ['audio/amr', Buffer.from('#!AMR\n\u0000\u0001', 'latin1')],
        ];
        const ids: string[] = [];
        for (const [contentType, bytes] of payloads) {
          const sent = await alice!.sendMessage({ to: user('bin-bob'), bytes, contentType });
          assert.equal(resultCode(sent), 200, contentType);
          ids.push(textOf(sent, 'MessageID')!);
        }
        const got = await takeAll(bob!);
        assert.equal(got.length, payloads.length);
        got.forEach((r, i) => {
          const [contentType, bytes] = payloads[i]!;
          assert.equal(r.messageId, ids[i]);
          assert.equal(r.contentType?.toLowerCase(), contentType);
          // An XML client gets binary content as BASE64, saying so.
          assert.equal(r.contentEncoding?.toUpperCase(), 'BASE64', contentType);
          assert.equal(r.contentSize, bytes.length, `${contentType}: ContentSize counts decoded bytes`);
          assert.ok(r.bytes.equals(bytes), `${contentType}: the bytes arrive unchanged`);
        });
      });

      test('a recipient that fetches (notify/get) gets the same BASE64 bytes from GetMessage', async () => {
        const [alice, bob] = await online('get-alice', 'get-bob');
        await negotiate(bob!, [leaf('InitialDeliveryMethod', 'N')!]);
        const bytes = jpegBytes(500);
        const sent = await alice!.sendMessage({ to: user('get-bob'), bytes, contentType: 'image/jpeg' });
        assert.equal(resultCode(sent), 200);
        const messageId = textOf(sent, 'MessageID')!;
        const { transactions } = await bob!.poll();
        assert.equal(transactions.length, 1);
        assert.equal(transactions[0]!.primitive.name, 'MessageNotification');
        const { primitive } = await bob!.request(el('GetMessage-Request', [leaf('MessageID', messageId)]));
        assert.equal(primitive.name, 'GetMessage-Response');
        const info = child(primitive, 'MessageInfo');
        assert.equal(textOf(info, 'ContentEncoding')?.toUpperCase(), 'BASE64');
        assert.equal(textOf(info, 'ContentSize'), String(bytes.length));
        assert.ok(Buffer.from(child(primitive, 'ContentData')?.text ?? '', 'base64').equals(bytes));
      });

      test('text of any type (text/x-vCard) keeps its type and its characters', async () => {
        const [alice, bob] = await online('vc-alice', 'vc-bob');
        assert.equal(resultCode(await alice!.sendMessage({ to: user('vc-bob'), text: VCARD, contentType: 'text/x-vCard' })), 200);
        const [r] = await takeAll(bob!);
        assert.ok(r);
        assert.equal(r.contentType?.toLowerCase(), 'text/x-vcard');
        assert.notEqual(r.contentEncoding?.toUpperCase(), 'BASE64', 'text is sent as text');
        assert.equal(r.data, VCARD, 'the text arrives unchanged, CR LF line ends included (vCard needs them)');
        assert.equal(r.contentSize, Buffer.byteLength(VCARD, 'utf8'));
      });

      test('a missing ContentType means text/plain', async () => {
        const [alice, bob] = await online('nt-alice', 'nt-bob');
        const request = sendMessageRequest({ to: user('nt-bob'), text: 'untyped' });
        const info = child(request, 'MessageInfo')!;
        info.children = info.children.filter((c) => c.name !== 'ContentType');
        assert.equal(resultCode((await alice!.request(request)).primitive), 200);
        const [r] = await takeAll(bob!);
        assert.equal(r?.contentType, 'text/plain');
        assert.equal(r?.data, 'untyped');
      });

      test('BASE64 ContentSize must match the decoded bytes: a mismatch is 402 and nothing is delivered', async () => {
        const [alice, bob] = await online('sz-alice', 'sz-bob');
        const bytes = randomBytes(10);
        for (const contentSize of [11, 9, 0, bytes.toString('base64').length]) {
          const sent = await alice!.sendMessage({ to: user('sz-bob'), bytes, contentType: 'application/octet-stream', contentSize });
          assert.equal(resultCode(sent), 402, `declared ${contentSize} for 10 bytes`);
          assert.equal(textOf(sent, 'MessageID'), undefined);
        }
        assert.deepEqual(await takeAll(bob!), []);
        // The true size is accepted (the refusals above were about the size, not the content).
        assert.equal(resultCode(await alice!.sendMessage({ to: user('sz-bob'), bytes, contentType: 'application/octet-stream', contentSize: 10 })), 200);
        const got = await takeAll(bob!);
        assert.equal(got.length, 1);
        assert.ok(got[0]!.bytes.equals(bytes));
      });

      test('invalid BASE64 is 402 and nothing is delivered', async () => {
        const [alice, bob] = await online('b64-alice', 'b64-bob');
        for (const data of ['%%%%', 'QUJ@RA==', 'QUJDR', 'QU=JD']) {
          const request = sendMessageRequest({ to: user('b64-bob'), bytes: Buffer.from('ABCD'), contentType: 'application/octet-stream' });
          child(request, 'ContentData')!.text = data;
          const { primitive } = await alice!.request(request);
          assert.equal(resultCode(primitive), 402, `"${data}"`);
          assert.equal(textOf(primitive, 'MessageID'), undefined);
        }
        assert.deepEqual(await takeAll(bob!), []);
      });

      test('a wrong ContentSize for text is tolerated; the recipient sees the true byte length', async () => {
        const [alice, bob] = await online('ts-alice', 'ts-bob');
        const texts = ['Grüße aus Köln', 'plain ascii text', '👋🏽 hi'];
        const declared = [5, 1000, 0];
        for (let i = 0; i < texts.length; i++) {
          assert.equal(resultCode(await alice!.sendMessage({ to: user('ts-bob'), text: texts[i]!, contentSize: declared[i]! })), 200);
        }
        const got = await takeAll(bob!);
        assert.deepEqual(got.map((r) => r.data), texts);
        assert.deepEqual(got.map((r) => r.contentSize), texts.map((t) => Buffer.byteLength(t, 'utf8')));
      });

      test('a recipient that takes only text/plain gets 415 for image/jpeg: the Result alone, a DetailedResult in a 201 with another recipient', async () => {
        const [alice, bob, carol] = await online('ct-alice', 'ct-bob', 'ct-carol');
        await negotiate(bob!, textOnly());
        const jpeg = jpegBytes(64);
        const alone = await alice!.sendMessage({ to: user('ct-bob'), bytes: jpeg, contentType: 'image/jpeg' });
        assert.equal(resultCode(alone), 415);
        assert.equal(textOf(alone, 'MessageID'), undefined);

        const shared = await alice!.sendMessage({ to: [user('ct-bob'), user('ct-carol')], bytes: jpeg, contentType: 'image/jpeg' });
        assert.equal(resultCode(shared), 201);
        assert.deepEqual(detailedResults(shared), [{ code: 415, userIds: [user('ct-bob')] }]);
        const carols = await takeAll(carol!);
        assert.equal(carols.length, 1);
        assert.ok(carols[0]!.bytes.equals(jpeg));

        // What Bob does take still reaches him, parameters and all.
        assert.equal(resultCode(await alice!.sendText(user('ct-bob'), 'words only')), 200);
        assert.equal(resultCode(await alice!.sendMessage({ to: user('ct-bob'), text: 'with charset', contentType: 'text/plain; charset=UTF-8' })), 200);
        assert.deepEqual((await takeAll(bob!)).map((r) => r.data), ['words only', 'with charset']);
      });

      if (version === '1.3') {
        test('1.3: AcceptedContentType is understood both as a structure (ContentType child) and as plain text', async () => {
          const [alice, structured, plain] = await online('ct13-alice', 'ct13-struct', 'ct13-plain');
          await negotiate(structured!, textOnly('structure'));
          await negotiate(plain!, textOnly('leaf'));
          const sent = await alice!.sendMessage({ to: [user('ct13-struct'), user('ct13-plain')], bytes: jpegBytes(64), contentType: 'image/jpeg' });
          assert.equal(resultCode(sent), 415);
          assert.deepEqual(detailedResults(sent).flatMap((d) => d.userIds.map((u) => [d.code, u])).sort(), [
            [415, user('ct13-plain')],
            [415, user('ct13-struct')],
          ]);
          assert.equal(resultCode(await alice!.sendText([user('ct13-struct'), user('ct13-plain')], 'text is fine')), 200);
          assert.deepEqual((await takeAll(structured!)).map((r) => r.data), ['text is fine']);
          assert.deepEqual((await takeAll(plain!)).map((r) => r.data), ['text is fine']);
        });
      }

      test(`content longer than the recipient's ${version === '1.3' ? 'AcceptedPullLength' : 'AcceptedContentLength'} gets 432 (decoded bytes count)`, async () => {
        const [alice, bob, carol] = await online('len-alice', 'len-bob', 'len-carol');
        await negotiate(bob!, maxLength(100));
        const long = 'x'.repeat(200);
        const alone = await alice!.sendText(user('len-bob'), long);
        assert.equal(resultCode(alone), 432);
        assert.equal(textOf(alone, 'MessageID'), undefined);
        // 60 characters, 120 bytes of UTF-8: bytes are what counts.
        assert.equal(resultCode(await alice!.sendText(user('len-bob'), 'ü'.repeat(60))), 432);
        assert.equal(resultCode(await alice!.sendMessage({ to: user('len-bob'), bytes: randomBytes(101), contentType: 'application/octet-stream' })), 432);

        const shared = await alice!.sendText([user('len-bob'), user('len-carol')], long);
        assert.equal(resultCode(shared), 201);
        assert.deepEqual(detailedResults(shared), [{ code: 432, userIds: [user('len-bob')] }]);
        assert.deepEqual((await takeAll(carol!)).map((r) => r.data), [long]);

        // Up to the limit is fine; 90 bytes are 120 characters of BASE64, still within it.
        const exact = 'y'.repeat(100);
        const binary = randomBytes(90);
        assert.equal(resultCode(await alice!.sendText(user('len-bob'), exact)), 200);
        assert.equal(resultCode(await alice!.sendMessage({ to: user('len-bob'), bytes: binary, contentType: 'application/octet-stream' })), 200);
        const got = await takeAll(bob!);
        assert.deepEqual(got.map((r) => r.bytes.length), [100, 90]);
        assert.equal(got[0]!.data, exact);
        assert.ok(got[1]!.bytes.equals(binary));
      });

      test('the last negotiated limits apply while the recipient is offline', async () => {
        const [alice, carol] = await online('off-alice', 'off-carol');
        const [bob] = await online('off-bob');
        await negotiate(bob!, [...textOnly(), ...maxLength(100)]);
        await bob!.logout();

        assert.equal(resultCode(await alice!.sendMessage({ to: user('off-bob'), bytes: jpegBytes(64), contentType: 'image/jpeg' })), 415);
        assert.equal(resultCode(await alice!.sendText(user('off-bob'), 'z'.repeat(200))), 432);
        const shared = await alice!.sendMessage({ to: [user('off-bob'), user('off-carol')], bytes: jpegBytes(64), contentType: 'image/jpeg' });
        assert.equal(resultCode(shared), 201);
        assert.deepEqual(detailedResults(shared), [{ code: 415, userIds: [user('off-bob')] }]);
        assert.equal((await takeAll(carol!)).length, 1);
        assert.equal(resultCode(await alice!.sendText(user('off-bob'), 'short and plain')), 200);

        const [later] = await online('off-bob');
        assert.deepEqual((await takeAll(later!)).map((r) => r.data), ['short and plain']);
      });

      test('content is stored once: three recipients get the same MessageID and the same bytes', async () => {
        const [alice, ...recipients] = await online('one-alice', 'one-b', 'one-c', 'one-d');
        const bytes = jpegBytes(2048);
        const sent = await alice!.sendMessage({ to: [user('one-b'), user('one-c'), user('one-d')], bytes, contentType: 'image/jpeg' });
        assert.equal(resultCode(sent), 200);
        const messageId = textOf(sent, 'MessageID')!;
        assert.ok(messageId);
        assert.deepEqual(stored(messageId), { messages: 1, deliveries: 3 }, 'one stored message, one delivery per recipient');
        for (const [i, p] of recipients.entries()) {
          const got = await takeAll(p);
          assert.equal(got.length, 1);
          assert.equal(got[0]!.messageId, messageId);
          assert.equal(got[0]!.contentType, 'image/jpeg');
          assert.ok(got[0]!.bytes.equals(bytes));
          // Each recipient sees only itself as Recipient (spelled as it logged in, here bare).
          const addressed = got[0]!.info.children.find((c) => c.name === 'Recipient');
          assert.deepEqual(
            addressed?.children.map((u) => textOf(u, 'UserID')),
            [`wv:${user(['one-b', 'one-c', 'one-d'][i]!)}`],
          );
        }
        assert.deepEqual(stored(messageId), { messages: 0, deliveries: 0 }, 'gone once everyone acknowledged it');
      });
    });
  }
});
