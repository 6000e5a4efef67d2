import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { decodeJson, encodeJson, JSON_CODEC, sniffJsonVersion, salvageJson } from '../../src/csp/json-codec.ts';
import { decodeXml, encodeXml, DecodeError } from '../../src/csp/xml-codec.ts';
import { buildMessage, status, result } from '../../src/csp/envelope.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { el, leaf } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { CSP_VERSIONS, NAMESPACES } from '../../src/csp/versions.ts';
import { modelNames, schemaFor } from '../../src/csp/schema/index.ts';

const SAMPLES = new URL('../../../shared/reference/csp-samples/', import.meta.url);
const limits = { maxDepth: 40 };
const fromText = (text: string, l = limits) => decodeJson(Buffer.from(text, 'utf8'), l);
const roundTrip = (root: CspElement, version: CspVersion) => decodeJson(encodeJson(root, version), limits);
const jsonOf = (root: CspElement, version: CspVersion) => JSON.parse(encodeJson(root, version).toString('utf8'));

/** A tree with every element's children in content-model order (what every encoder writes). */
function inModelOrder(node: CspElement, version: CspVersion): CspElement {
  const schema = schemaFor(version);
  return { ...node, children: schema.orderChildren(node.name, node.children).map((c) => inModelOrder(c, version)) };
}

/** Throws unless err is a DecodeError carrying exactly this version (undefined: none). */
const decodeError = (version: CspVersion | undefined, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
  assert.equal(err.version, version, err.message);
  if (message) assert.match(err.message, message);
  return true;
};

/**
 * Walk a JSON value beside its tree: a key is an array exactly when the parent's content model
 * lets that child repeat (children the model does not mention: when there are several), integer
 * and boolean leaves with canonical text are numbers and booleans, everything else a string.
 */
function checkShape(value: unknown, node: CspElement, version: CspVersion, path = node.name): void {
  const schema = schemaFor(version);
  if (node.children.length === 0) {
    const type = schema.typeOf(node.name);
    const text = node.text ?? '';
    const known = schema.get(node.name) !== undefined;
    if (text === '') assert.deepEqual(value, known && ['string', 'integer', 'boolean', 'datetime'].includes(type) ? '' : {}, path);
    else if (type === 'integer' && /^(0|[1-9]\d*)$/.test(text)) assert.equal(value, Number(text), path);
    else if (type === 'boolean' && (text === 'T' || text === 'F')) assert.equal(value, text === 'T', path);
    else assert.equal(value, text, path);
    return;
  }
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${path} is an object`);
  const model = schema.get(node.name)?.model;
  const mentioned = new Set(model ? modelNames(model) : []);
  const keys = Object.keys(value);
  assert.equal(new Set(keys.map((k) => schema.canonicalName(k) ?? k)).size, keys.length, `${path}: one key per child name`);
  let seen = 0;
  for (const [key, v] of Object.entries(value)) {
    const name = schema.canonicalName(key) ?? key;
    assert.equal(key, schema.wireName(name), `${path}: keys are wire names`);
    const kids = node.children.filter((c) => c.name === name);
    if (schema.repeatable(node.name, name)) assert.ok(Array.isArray(v), `${path}/${name} is an array`);
    else if (mentioned.has(name)) assert.ok(!Array.isArray(v), `${path}/${name} is a single value`);
    else assert.equal(Array.isArray(v), kids.length > 1, `${path}/${name} (not in the model) is an array only when repeated`);
    const items = Array.isArray(v) ? v : [v];
    assert.equal(items.length, kids.length, `${path}/${name}: one value per element`);
    items.forEach((item, i) => checkShape(item, kids[i]!, version, `${path}/${name}`));
    seen += kids.length;
  }
  assert.equal(seen, node.children.length, `${path}: every child written`);
}

function message(version: CspVersion, primitive: CspElement, opts: { sessionId?: string; poll?: boolean; mode?: 'Request' | 'Response' } = {}): CspElement {
  const m: Parameters<typeof buildMessage>[0] = { version, transactions: [{ mode: opts.mode ?? 'Request', id: 't1', primitive }] };
  if (opts.sessionId) m.sessionId = opts.sessionId;
  if (opts.poll !== undefined) m.poll = opts.poll;
  return buildMessage(m);
}

const session = (root: unknown) => (root as { 'WV-CSP-Message': { Session: Record<string, unknown> } })['WV-CSP-Message'].Session;
const primitiveOf = (root: unknown, name: string) =>
  (session(root)['Transaction'] as { TransactionContent: Record<string, Record<string, unknown>> }[])[0]!.TransactionContent[name]!;

describe('JSON codec: the reference samples', () => {
  const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.xml')).sort();

  test('there are ten samples, and all but the Android capture are already in content-model order', () => {
    assert.equal(files.length, 10);
    const outOfOrder = files.filter((f) => {
      const { version, root } = decodeXml(readFileSync(new URL(f, SAMPLES)), limits);
      return !isDeepStrictEqual(inModelOrder(root, version), root);
    });
    // MessageInfo there has DateTime before ContentSize; JSON objects are unordered (RFC 8259),
    // so its JSON twin decodes in model order — the order encodeXml writes too.
    assert.deepEqual(outOfOrder, ['12-sendmessage-request.xml']);
  });

  for (const f of files) {
    test(`${f}: XML → tree → JSON → tree is the XML tree; the JSON text round-trips byte for byte`, () => {
      const { version, root } = decodeXml(readFileSync(new URL(f, SAMPLES)), limits);
      const json = encodeJson(root, version);
      const parsed = JSON.parse(json.toString('utf8'));
      assert.equal(parsed.version, version);
      const back = decodeJson(json, limits);
      assert.equal(back.version, version);
      // Exactly the XML tree (in the model order every encoder writes: a no-op for 9 of the 10).
      assert.deepEqual(back.root, inModelOrder(root, version));
      // …and exactly the tree of the XML twin the server would write.
      assert.deepEqual(back.root, decodeXml(encodeXml(root, version), limits).root);
      assert.ok(encodeJson(back.root, back.version).equals(json), 'encodeJson(decodeJson(x)) is x');
      checkShape(parsed['WV-CSP-Message'], root, version);
      assert.equal(schemaFor(version).wireName(root.name), 'WV-CSP-Message');
    });
  }

  test('the presence sample: CommC/Status is the text leaf "OPEN", Qualifier a boolean, PresenceSubList has no xmlns in JSON but gets it back', () => {
    const { version, root } = decodeXml(readFileSync(new URL('11-presence-notification-request.xml', SAMPLES)), limits);
    const text = encodeJson(root, version).toString('utf8');
    assert.match(text, /"CommC":\[\{"Cap":"CALL","Status":"OPEN",/);
    assert.match(text, /"OnlineStatus":\{"Qualifier":true,"PresenceValue":"T"\}/);
    assert.doesNotMatch(text, /xmlns|wireless-village/);
    const back = decodeJson(Buffer.from(text), limits).root;
    const presence = back.children[0]!.children[1]!.children[1]!.children[0]!.children[0]!;
    assert.equal(presence.children[1]!.name, 'PresenceSubList');
    assert.deepEqual(presence.children[1]!.attrs, { xmlns: NAMESPACES['1.1'].pa });
  });

  test('types: Code is a number, Poll and CapabilityRequest booleans, DateTime a string, an empty TransactionID ""', () => {
    const read = (f: string) => {
      const { version, root } = decodeXml(readFileSync(new URL(f, SAMPLES)), limits);
      return jsonOf(root, version);
    };
    const login = read('12-login-response.xml');
    assert.equal(session(login)['Poll'], false);
    const lr = primitiveOf(login, 'Login-Response');
    assert.deepEqual(lr['Result'], { Code: 200, Description: 'Successfully logged in.' });
    assert.equal(lr['CapabilityRequest'], true);
    assert.equal(lr['KeepAliveTime'], 600);
    const info = primitiveOf(read('12-newmessage.xml'), 'NewMessage')['MessageInfo'] as Record<string, unknown>;
    assert.equal(info['DateTime'], '20240101T120000Z');
    assert.equal(info['ContentSize'], 12);
    const poll = read('12-polling-request.xml');
    assert.deepEqual((session(poll)['Transaction'] as unknown[])[0], {
      TransactionDescriptor: { TransactionMode: 'Request', TransactionID: '' },
      TransactionContent: { 'Polling-Request': {} },
    });
    // 1.1 keeps Poll in TransactionDescriptor.
    const d11 = (session(read('11-login-response.xml'))['Transaction'] as { TransactionDescriptor: Record<string, unknown> }[])[0]!.TransactionDescriptor;
    assert.equal(d11['Poll'], false);
  });

  test('arrays exactly where the schema lets an element repeat', () => {
    const { version, root } = decodeXml(readFileSync(new URL('13-status.xml', SAMPLES)), limits);
    const json = jsonOf(root, version);
    const s = session(json);
    assert.ok(Array.isArray(s['Transaction']) && (s['Transaction'] as unknown[]).length === 1, 'one Transaction is still an array');
    assert.ok(!Array.isArray(s['SessionDescriptor']));
    const res = primitiveOf(json, 'Status')['Result'] as Record<string, unknown>;
    assert.ok(!Array.isArray(res), 'Result is single');
    assert.equal(res['Code'], 201);
    const details = res['DetailedResult'] as Record<string, unknown>[];
    assert.ok(Array.isArray(details) && details.length === 2);
    assert.deepEqual(details[0], { Code: 531, Description: 'Unknown user.', UserID: ['wv:bad_user1@im.com', 'wv:bad_user2@im.com'] });
    // One DetailedResult with one UserID: still arrays.
    const one = message('1.2', status(201, 'Partially successful.', [el('DetailedResult', [leaf('Code', 531), leaf('UserID', 'wv:x')])]), { mode: 'Response' });
    const oneRes = primitiveOf(jsonOf(one, '1.2'), 'Status')['Result'] as Record<string, unknown>;
    assert.deepEqual(oneRes['DetailedResult'], [{ Code: 531, UserID: ['wv:x'] }]);
  });
});

describe('JSON codec: text and RFC 8259', () => {
  test('non-ASCII text survives, control characters are escaped, the body is valid UTF-8 with no raw control bytes', () => {
    const content = 'Grüße 👋 and\u00a0nbsp, "quotes" \\ back\u0001\u001f\ttab\r\nCRLF \u2028 \u0000';
    const tree = message('1.2', el('NewMessage', [el('MessageInfo', [leaf('ContentSize', 9), el('Recipient'), el('Sender')]), leaf('ContentData', content)]), { sessionId: 's' });
    const bytes = encodeJson(tree, '1.2');
    assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    assert.ok(bytes.every((b) => b >= 0x20), 'no raw control characters');
    const text = bytes.toString('utf8');
    assert.ok(text.includes('Grüße 👋 and\u00a0nbsp'), 'non-ASCII written as UTF-8, not escaped');
    assert.ok(text.includes('\\u0001\\u001f\\ttab\\r\\nCRLF'));
    assert.equal(JSON.parse(text)['WV-CSP-Message'].Session.Transaction[0].TransactionContent.NewMessage.ContentData, content);
    assert.deepEqual(roundTrip(tree, '1.2').root, tree);
  });

  test('a lone surrogate is written as U+FFFD and refused on input', () => {
    const tree = message('1.2', el('NewMessage', [el('MessageInfo', [leaf('ContentSize', 1)]), leaf('ContentData', 'a\ud800b')]));
    const text = encodeJson(tree, '1.2').toString('utf8');
    assert.ok(text.includes('"a\ufffdb"'));
    const bad = text.replace('a\ufffdb', 'a\\ud800b');
    assert.throws(() => fromText(bad), decodeError('1.2', /lone surrogate/));
  });

  test('invalid UTF-8 and invalid JSON are refused; a UTF-8 BOM is ignored', () => {
    const good = encodeJson(message('1.3', el('Polling-Request'), { sessionId: 's' }), '1.3');
    const broken = Buffer.concat([good.subarray(0, 60), Buffer.from([0xc3, 0x28]), good.subarray(60)]);
    assert.throws(() => decodeJson(broken, limits), decodeError('1.3', /UTF-8/));
    const latin1 = Buffer.from(good.toString('utf8').replace('"s"', '"é"'), 'latin1');
    assert.throws(() => decodeJson(latin1, limits), decodeError('1.3', /UTF-8/));
    assert.throws(() => fromText(good.toString('utf8').slice(0, -1)), decodeError('1.3', /not valid JSON/));
    assert.throws(() => fromText("{'version': '1.2'}"), decodeError(undefined, /not valid JSON/));
    assert.throws(() => fromText(''), decodeError(undefined));
    // The parser's message quotes the input around the error; none of it reaches our message (it is logged).
    for (const leaky of ['{"version":"1.2","WV-CSP-Message":{"Password":"hunter2","a":x}}', '{"version":"1.2","WV-CSP-Message":{"a":x,"Password":"hunter2"}}']) {
      assert.throws(() => fromText(leaky), (e) => decodeError('1.2', /^not valid JSON: Unexpected token 'x'$/)(e) && !/ter2|Passw/.test((e as Error).message));
    }
    assert.deepEqual(decodeJson(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), good]), limits), decodeJson(good, limits));
  });

  test('binary content (WBXML OPAQUE) is written as base64 and reads back as that text', () => {
    const data: CspElement = { name: 'ContentData', children: [], bytes: Buffer.from([0, 1, 2, 0xff]) };
    const tree = message('1.2', el('NewMessage', [el('MessageInfo', [leaf('ContentSize', 4)]), data]));
    const nm = primitiveOf(jsonOf(tree, '1.2'), 'NewMessage');
    assert.equal(nm['ContentData'], 'AAEC/w==');
    const back = roundTrip(tree, '1.2').root;
    assert.deepEqual(back, message('1.2', el('NewMessage', [el('MessageInfo', [leaf('ContentSize', 4)]), leaf('ContentData', 'AAEC/w==')])));
  });
});

describe('JSON codec: what it accepts', () => {
  const login12 = message('1.2', el('Login-Request', [leaf('UserID', 'wv:alice'), el('ClientID', [leaf('URL', 'web')]), leaf('DigestSchema', 'MD5'), leaf('TimeToLive', 600), leaf('SessionCookie', 'c1')]));

  test('keys in any order and any case, single values where arrays are allowed, numbers and "digits", true and "T"', () => {
    const text = `{"WV-CSP-Message": {"SESSION": {
        "transaction": {"transactioncontent": {"login-request": {"sessioncookie": "c1", "timetolive": "600", "DigestSchema": "MD5", "clientid": {"url": "web"}, "UserID": "wv:alice"}},
                        "TransactionDescriptor": {"TransactionID": "t1", "transactionMode": "Request"}},
        "sessiondescriptor": {"SessionType": "Outband"}}}, "version": "1.2"}`;
    const { version, root } = fromText(text);
    assert.equal(version, '1.2');
    assert.deepEqual(root, login12);
    // …the same tree as the canonical JSON and as the XML twin.
    assert.deepEqual(roundTrip(login12, '1.2').root, login12);
    assert.deepEqual(decodeXml(encodeXml(login12, '1.2'), limits).root, login12);
    // "T" for a boolean, 600 as a number.
    const poll = fromText(`{"version":"1.2","WV-CSP-Message":{"Session":{"SessionDescriptor":{"SessionType":"Inband","SessionID":"s"},
      "Transaction":[{"TransactionDescriptor":{"TransactionMode":"Response","TransactionID":"t"},"TransactionContent":{"KeepAlive-Response":{"Result":{"Code":"200"},"KeepAliveTime":600}}}],"Poll":"T"}}}`).root;
    assert.deepEqual(poll.children[0]!.children[2], { name: 'Poll', children: [], text: 'T' });
    const ka = poll.children[0]!.children[1]!.children[1]!.children[0]!;
    assert.deepEqual(ka, el('KeepAlive-Response', [el('Result', [leaf('Code', 200)]), leaf('KeepAliveTime', 600)]));
  });

  test('an array where the schema forbids repetition is refused, with the version', () => {
    const text = encodeJson(login12, '1.2').toString('utf8').replace('"UserID":"wv:alice"', '"UserID":["wv:alice"]');
    assert.throws(() => fromText(text), decodeError('1.2', /UserID may occur only once in Login-Request/));
    const twoSpellings = encodeJson(login12, '1.2').toString('utf8').replace('"UserID":"wv:alice"', '"UserID":"wv:alice","userid":"wv:bob"');
    assert.throws(() => fromText(twoSpellings), decodeError('1.2', /UserID may occur only once in Login-Request/));
    const result2 = `{"version":"1.3","WV-CSP-Message":{"Session":{"SessionDescriptor":{"SessionType":"Outband"},"Transaction":[{"TransactionDescriptor":{"TransactionMode":"Response"},"TransactionContent":{"Status":{"Result":[{"Code":200}]}}}]}}}`;
    assert.throws(() => fromText(result2), decodeError('1.3', /Result may occur only once in Status/));
  });

  test('version: missing, unknown or not a string → no version; any other top-level key → with the version', () => {
    const body = encodeJson(login12, '1.2').toString('utf8');
    assert.throws(() => fromText(body.replace('"version":"1.2",', '')), decodeError(undefined, /no "version"/));
    assert.throws(() => fromText(body.replace('"1.2"', '"1.4"')), decodeError(undefined, /unknown CSP version/));
    assert.throws(() => fromText(body.replace('"1.2"', '1.2')), decodeError(undefined, /unknown CSP version/));
    assert.throws(() => fromText('[1]'), decodeError(undefined, /object/));
    assert.throws(() => fromText(body.replace('"version":"1.2",', '"version":"1.2","extra":1,')), decodeError('1.2', /unexpected top-level key "extra"/));
    assert.throws(() => fromText('{"version":"1.1"}'), decodeError('1.1', /no "WV-CSP-Message"/));
    assert.throws(() => fromText('{"version":"1.1","WV-CSP-Message":{},"wv-csp-message":{}}'), decodeError('1.1', /unexpected top-level key/));
    assert.equal(fromText(body.replace('"WV-CSP-Message"', '"wv-csp-message"')).root.name, 'WV-CSP-Message');
  });

  test('values of the wrong JSON kind are refused with the version and the key path', () => {
    const body = encodeJson(login12, '1.2').toString('utf8');
    const cases: [string, string, RegExp][] = [
      ['"UserID":"wv:alice"', '"UserID":{"x":"y"}', /WV-CSP-Message\.Session\.Transaction\[0\]\.TransactionContent\.Login-Request\.UserID: UserID is a string, not an object/],
      ['"UserID":"wv:alice"', '"UserID":7', /UserID is a string, not a number/],
      ['"TimeToLive":600', '"TimeToLive":-1', /TimeToLive is a non-negative integer/],
      ['"TimeToLive":600', '"TimeToLive":1.5', /TimeToLive is a non-negative integer/],
      ['"TimeToLive":600', '"TimeToLive":"ten"', /TimeToLive is a non-negative integer, not "ten"/],
      ['"TimeToLive":600', '"TimeToLive":true', /TimeToLive is a number, not a boolean/],
      ['"ClientID":{"URL":"web"}', '"ClientID":7', /ClientID is a structure \(an object\), not a number/],
      ['"SessionDescriptor":{"SessionType":"Outband"}', '"SessionDescriptor":"Outband"', /SessionDescriptor is a structure/],
      ['"UserID":"wv:alice"', '"UserID":null', /null is not a CSP value/],
      ['"DigestSchema":["MD5"]', '"DigestSchema":[["MD5"]]', /DigestSchema\[0\]: an array inside an array/],
    ];
    for (const [from, to, message] of cases) {
      assert.ok(body.includes(from), from);
      assert.throws(() => fromText(body.replace(from, to)), decodeError('1.2', message), to);
    }
    const poll = `{"version":"1.2","WV-CSP-Message":{"Session":{"SessionDescriptor":{"SessionType":"Inband"},"Transaction":[{"TransactionDescriptor":{"TransactionMode":"Request"},"TransactionContent":{"Polling-Request":{}}}],"Poll":1}}}`;
    assert.throws(() => fromText(poll), decodeError('1.2', /Poll is true or false, not a number/));
    assert.throws(() => fromText(poll.replace('"Poll":1', '"Poll":"maybe"')), decodeError('1.2', /Poll is true or false, not "maybe"/));
  });

  test('empty elements: {} for structures and EMPTY flags, "" for text leaves; "" also reads as an EMPTY flag', () => {
    const poll = message('1.2', el('Polling-Request'), { sessionId: 's' });
    const text = encodeJson(poll, '1.2').toString('utf8');
    assert.ok(text.includes('"TransactionID":"t1"') && text.includes('"Polling-Request":{}'));
    const empty = message('1.2', el('Polling-Request'), { sessionId: 's' });
    empty.children[0]!.children[1]!.children[0]!.children[1] = { name: 'TransactionID', children: [] };
    assert.match(encodeJson(empty, '1.2').toString(), /"TransactionID":""/);
    assert.deepEqual(roundTrip(empty, '1.2').root, empty);
    assert.deepEqual(fromText(text.replace('"Polling-Request":{}', '"Polling-Request":""')).root, poll);
    assert.throws(() => fromText(text.replace('"TransactionID":"t1"', '"TransactionID":{}')), decodeError('1.2', /TransactionID is a string, not an object/));
  });

  test('a structure whose model may be empty also takes a string (ClientID sent as plain text, as in XML)', () => {
    const login = message('1.2', el('Login-Request', [leaf('UserID', 'wv:a'), leaf('ClientID', 'plain-id'), leaf('SessionCookie', 'c')]));
    const text = encodeJson(login, '1.2').toString('utf8');
    assert.match(text, /"ClientID":"plain-id"/);
    assert.deepEqual(fromText(text).root, login);
    assert.deepEqual(decodeXml(encodeXml(login, '1.2'), limits).root, login);
    // Login-Request's model needs UserID, so it never takes a string.
    assert.throws(() => fromText(text.replace(/"Login-Request":\{[^}]*\}/, '"Login-Request":"x"')), decodeError('1.2', /Login-Request is a structure/));
  });

  test('unknown keys are kept as unknown elements (the server ignores them, as in XML)', () => {
    const body = encodeJson(login12, '1.2').toString('utf8').replace('"UserID":"wv:alice"', '"UserID":"wv:alice","X-Browser":{"Name":"Firefox","Tabs":[1,2],"Dark":true,"Empty":{}},"__proto__":"p"');
    const primitive = fromText(body).root.children[0]!.children[1]!.children[1]!.children[0]!;
    assert.deepEqual(primitive.children.slice(-2), [
      { name: 'X-Browser', children: [{ name: 'Name', children: [], text: 'Firefox' }, { name: 'Tabs', children: [], text: '1' }, { name: 'Tabs', children: [], text: '2' }, { name: 'Dark', children: [], text: 'T' }, { name: 'Empty', children: [] }] },
      { name: '__proto__', children: [], text: 'p' },
    ]);
    // …and they are written back the same way.
    const again = encodeJson(fromText(body).root, '1.2').toString('utf8');
    assert.match(again, /"X-Browser":\{"Name":"Firefox","Tabs":\["1","2"\],"Dark":"T","Empty":\{\}\},"__proto__":"p"/);
  });

  test('a 1.1 client may put Poll (a 1.1 habit) in a 1.2 TransactionDescriptor: not in the 1.2 model, so no array rule applies', () => {
    const text = `{"version":"1.2","WV-CSP-Message":{"Session":{"SessionDescriptor":{"SessionType":"Inband","SessionID":"s"},"Transaction":{"TransactionDescriptor":{"TransactionMode":"Request","Poll":"F"},"TransactionContent":{"Polling-Request":{}}}}}}`;
    const descriptor = fromText(text).root.children[0]!.children[1]!.children[0]!;
    assert.deepEqual(descriptor.children.map((c) => c.name), ['TransactionMode', 'Poll']);
  });

  test('nesting beyond maxDepth is refused with the version, counting elements as XML does', () => {
    const { version, root } = decodeXml(readFileSync(new URL('11-presence-notification-request.xml', SAMPLES)), limits);
    const json = encodeJson(root, version);
    // WV-CSP-Message › Session › Transaction › TransactionContent › PresenceNotification-Request ›
    // Presence › PresenceSubList › CommCap › CommC › Cap: 10 levels.
    assert.doesNotThrow(() => decodeJson(json, { maxDepth: 10 }));
    assert.doesNotThrow(() => decodeXml(encodeXml(root, version), { maxDepth: 10 }));
    assert.throws(() => decodeJson(json, { maxDepth: 9 }), decodeError('1.1', /nested deeper than 9 levels/));
    assert.throws(() => decodeXml(encodeXml(root, version), { maxDepth: 9 }), decodeError('1.1', /nested deeper than 9 levels/));
    const deep = '{"a":'.repeat(100_000) + '{}' + '}'.repeat(100_000);
    assert.throws(() => fromText(`{"version":"1.3","WV-CSP-Message":{"Session":${deep}}}`), decodeError('1.3', /deeper than 40/));
  });

  test('1.1 writes BlockUser-Request and reads both spellings; 1.2 writes BlockEntity-Request', () => {
    const block = el('BlockEntity-Request', [el('BlockList', [leaf('InUse', true), el('AddList', [leaf('UserID', 'wv:spam')])])]);
    const t11 = message('1.1', block, { sessionId: 's' });
    const text11 = encodeJson(t11, '1.1').toString('utf8');
    assert.match(text11, /"TransactionContent":\{"BlockUser-Request":\{"BlockList":\{"InUse":true,"AddList":\{"UserID":\["wv:spam"\]\}\}\}\}/);
    assert.deepEqual(fromText(text11).root, t11);
    assert.deepEqual(fromText(text11.replace('BlockUser-Request', 'BlockEntity-Request')).root, t11);
    assert.deepEqual(fromText(text11.replace('BlockUser-Request', 'blockuser-REQUEST')).root, t11);
    assert.match(encodeJson(message('1.2', block, { sessionId: 's' }), '1.2').toString(), /"BlockEntity-Request":/);
  });
});

describe('JSON codec: broken bodies and the Codec interface', () => {
  test('sniffVersion reads "version" from JSON, or by pattern from a broken body', () => {
    assert.equal(sniffJsonVersion(Buffer.from('{"WV-CSP-Message":{},"version":"1.1"}')), '1.1');
    assert.equal(sniffJsonVersion(Buffer.from('\ufeff{"version" : "1.3", "WV-CSP-Message": {"Session": {')), '1.3');
    assert.equal(sniffJsonVersion(Buffer.from('{"version":"2.0"}')), undefined);
    assert.equal(sniffJsonVersion(Buffer.from('{"WV-CSP-Message":{"ContentData":"\\"version\\":\\"1.2\\""}}')), undefined);
    assert.equal(sniffJsonVersion(Buffer.from('<WV-CSP-Message/>')), undefined);
    assert.equal(JSON_CODEC.sniffVersion(Buffer.from('{"version":"1.2",')), '1.2');
  });

  test('salvage finds TransactionID and SessionID in parsed or broken bodies', () => {
    const tree = message('1.2', el('Polling-Request'), { sessionId: 'sess-1' });
    const text = encodeJson(tree, '1.2').toString('utf8');
    assert.deepEqual(salvageJson(Buffer.from(text)), { transactionId: 't1', sessionId: 'sess-1' });
    // Unparseable (cut short), and unknown version with lower-case keys and a numeric id.
    assert.deepEqual(salvageJson(Buffer.from(text.slice(0, -5))), { transactionId: 't1', sessionId: 'sess-1' });
    const odd = '{"version":"9","wv-csp-message":{"session":{"sessiondescriptor":{"sessionid":" s2 "},"transaction":{"transactiondescriptor":{"transactionid":42}}}}}';
    assert.deepEqual(JSON_CODEC.salvage(Buffer.from(odd)), { transactionId: '42', sessionId: 's2' });
    assert.deepEqual(salvageJson(Buffer.from('{"TransactionID": "a\\"b", oops')), { transactionId: 'a"b' });
    assert.deepEqual(salvageJson(Buffer.from('nothing here')), {});
  });

  test('the Codec: name, media type for every version, decode/encode', () => {
    assert.equal(JSON_CODEC.name, 'json');
    for (const v of CSP_VERSIONS) assert.equal(JSON_CODEC.defaultContentType(v), 'application/vnd.wv.csp+json');
    const tree = message('1.3', status(200), { sessionId: 's', mode: 'Response', poll: false });
    assert.deepEqual(JSON_CODEC.decode(JSON_CODEC.encode(tree, '1.3'), limits), { version: '1.3', root: tree });
  });
});

describe('JSON codec: generated checks over the schema', () => {
  /** A few primitives per version, built by hand the way the features build them. */
  function primitives(version: CspVersion): CspElement[] {
    const v11 = version === '1.1';
    const v13 = version === '1.3';
    const user = (id: string) => el('User', [leaf('UserID', id)]);
    const feat = el('WVCSPFeat', [
      el('FundamentalFeat', v11 ? [el('ServiceFunc', [el('GETSPI')])] : [el('MF')]),
      el('IMFeat', [el('IMSendFunc', [el('MDELIV'), el('FWMSG')]), el('IMReceiveFunc', [el('SETD'), el('NEWM')]), el('IMAuthFunc', [el('GLBLU'), el('BLENT')])]),
    ]);
    const list = (name: string, inUse: boolean, ids: string[]) => el(name, [v13 ? undefined : leaf('InUse', inUse), el('EntityList', ids.map((id) => leaf('UserID', id)!))]);
    return [
      el('SendMessage-Request', [
        leaf('DeliveryReport', true),
        el('MessageInfo', [leaf('ContentType', 'text/plain'), leaf('ContentSize', 5), el('Recipient', [user('wv:bob@x'), user('wv:carol@x')]), el('Sender', [user('wv:alice@x')])]),
        leaf('ContentData', 'hallo'),
      ]),
      el('GetBlockedList-Response', [
        list('BlockList', true, ['wv:spam@x', 'wv:troll@x']),
        v13 ? leaf('BlockListInUse', true) : undefined,
        list('GrantList', false, ['wv:friend@x']),
        v13 ? leaf('GrantListInUse', false) : undefined,
      ]),
      el('Service-Response', [v11 ? el('ClientID', [leaf('URL', 'web')]) : undefined, el('Functions', [feat]), el('AllFunctions', [feat])]),
      el('Login-Request', [leaf('UserID', 'wv:alice@x'), el('ClientID', [leaf('URL', 'web')]), leaf('DigestSchema', 'MD5'), !v11 && leaf('DigestSchema', 'SHA'), leaf('TimeToLive', 600), leaf('SessionCookie', 'c')]),
      status(201, 'Partially successful.', [el('DetailedResult', [leaf('Code', 531), leaf('UserID', 'wv:nobody@x')])]),
      el('KeepAlive-Response', [result(200), leaf('KeepAliveTime', 300)]),
      el('GetBlockedList-Request'),
    ];
  }

  for (const version of CSP_VERSIONS) {
    test(`CSP ${version}: hand-built primitives validate and go tree → JSON → tree unchanged, arrays where the model repeats`, () => {
      for (const primitive of primitives(version)) {
        const tree = message(version, primitive, { sessionId: 'sess', poll: true });
        assert.deepEqual(schemaFor(version).validate(tree), [], primitive.name);
        const json = jsonOf(tree, version);
        checkShape(json['WV-CSP-Message'], tree, version);
        assert.deepEqual(roundTrip(tree, version), { version, root: tree }, primitive.name);
      }
      const send = primitiveOf(jsonOf(message(version, primitives(version)[0]!), version), 'SendMessage-Request');
      assert.deepEqual((send['MessageInfo'] as Record<string, unknown>)['Recipient'], { User: [{ UserID: 'wv:bob@x' }, { UserID: 'wv:carol@x' }] });
      assert.equal(send['DeliveryReport'], true);
      const blocked = primitiveOf(jsonOf(message(version, primitives(version)[1]!), version), 'GetBlockedList-Response');
      assert.deepEqual((blocked['BlockList'] as Record<string, unknown>)['EntityList'], { UserID: ['wv:spam@x', 'wv:troll@x'] });
      const service = primitiveOf(jsonOf(message(version, primitives(version)[2]!), version), 'Service-Response');
      assert.deepEqual(((service['Functions'] as Record<string, unknown>)['WVCSPFeat'] as Record<string, unknown>)['IMFeat'], {
        IMSendFunc: { MDELIV: {}, FWMSG: {} },
        IMReceiveFunc: { SETD: {}, NEWM: {} },
        IMAuthFunc: { GLBLU: {}, BLENT: {} },
      });
    });

    test(`CSP ${version}: every structure of the schema, filled from its content model, round-trips`, () => {
      const schema = schemaFor(version);
      const ns = NAMESPACES[version];
      const attrs: Record<string, string> = { PresenceSubList: ns.pa, TransactionContent: ns.trc };
      let toggle = false;
      const sample = (name: string, depth: number): CspElement => {
        const def = schema.get(name)!;
        const node: CspElement = { name, children: [] };
        if (attrs[name]) node.attrs = { xmlns: attrs[name]! };
        if (def.type === 'structure' && depth < 5) {
          for (const c of modelNames(def.model!)) for (let i = schema.repeatable(name, c) ? 2 : 1; i > 0; i--) node.children.push(sample(c, depth + 1));
        } else if (def.type === 'any') node.children.push(sample('Polling-Request', depth + 1));
        else if (def.type === 'integer') node.text = String(depth * 7);
        else if (def.type === 'boolean') node.text = (toggle = !toggle) ? 'T' : 'F';
        else if (def.type === 'datetime') node.text = '20240101T120000Z';
        else if (def.type === 'string') node.text = `${name} · ü 👋`;
        return node;
      };
      let count = 0;
      for (const name of schema.names()) {
        if (schema.typeOf(name) !== 'structure' || name === 'WV-CSP-Message') continue;
        const tree = message(version, sample(name, 0));
        const json = jsonOf(tree, version);
        checkShape(json['WV-CSP-Message'], tree, version);
        assert.deepEqual(roundTrip(tree, version).root, tree, name);
        count++;
      }
      assert.ok(count > 150, `${count} structures checked`);
    });
  }
});
