import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cirLine, encodeUintvar, MAX_SMS_BYTES, WAP_PUSH_PORT, wapPushPdu, WDP_PORT_UDH } from '../../src/adapters/cir/wap-push.ts';
import { tsharkDecodeWapPushSms, tsharkDecodeWapPushUdp } from '../support/wsp-oracle.ts';

const hex = (b: Buffer) => b.toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');

describe('CIR text', () => {
  test('WVCI, the session version and the cookie, no CRLF', () => {
    assert.equal(cirLine('1.2', 'im.user.com#20011224#328746293'), 'WVCI 1.2 im.user.com#20011224#328746293');
    assert.equal(cirLine('1.1', 'abc'), 'WVCI 1.1 abc');
    assert.equal(cirLine('1.3', 'x y'), 'WVCI 1.3 x y');
  });
});

describe('WSP uintvar', () => {
  test('7 bits per byte, most significant first, continuation bit on all but the last', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [3, '03'],
      [0x7f, '7F'],
      [0x80, '81 00'],
      [0x3fff, 'FF 7F'],
      [0x4000, '81 80 00'],
      [0xffffffff, '8F FF FF FF 7F'],
    ];
    for (const [value, bytes] of cases) assert.equal(hex(encodeUintvar(value)), bytes, `uintvar ${value}`);
  });

  test('refuses what WSP cannot carry', () => {
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) assert.throws(() => encodeUintvar(bad), RangeError, String(bad));
  });
});

describe('WAP push PDU', () => {
  test('the reference example: TID, Push, HeadersLen 3, application/vnd.wv.csp.cir, wv.ua, body', () => {
    const pdu = wapPushPdu(Buffer.from('WVCI 1.2 abc#123', 'latin1'), 1);
    assert.equal(hex(pdu), '01 06 03 C6 AF 8A 57 56 43 49 20 31 2E 32 20 61 62 63 23 31 32 33');
  });

  test('the transaction id is one octet (a counter may wrap)', () => {
    assert.equal(wapPushPdu(Buffer.alloc(0), 0x1ff)[0], 0xff);
    assert.equal(wapPushPdu(Buffer.alloc(0), 0x100)[0], 0x00);
    assert.equal(hex(wapPushPdu(Buffer.alloc(0), 7)), '07 06 03 C6 AF 8A');
  });

  test('a long body does not change the header (HeadersLen counts headers only)', () => {
    const body = Buffer.alloc(300, 0x41);
    const pdu = wapPushPdu(body, 2);
    assert.equal(hex(pdu.subarray(0, 6)), '02 06 03 C6 AF 8A');
    assert.deepEqual(pdu.subarray(6), body);
  });
});

describe('WDP over SMS', () => {
  test('UDH: length 6, IEI 5 (16-bit ports), length 4, destination 2948, source 9200', () => {
    assert.equal(hex(WDP_PORT_UDH), '06 05 04 0B 84 23 F0');
    assert.equal(WDP_PORT_UDH.readUInt16BE(3), WAP_PUSH_PORT);
    assert.equal(WAP_PUSH_PORT, 2948);
  });

  test('one 8-bit SMS holds 140 octets, UDH included', () => {
    assert.equal(MAX_SMS_BYTES, 140);
  });
});

describe('tshark reads our pushes (independent WSP decoder)', () => {
  const body = 'WVCI 1.2 abc#123';

  test('UDP 127.0.0.1:9200 → 127.0.0.1:2948: a Push of application/vnd.wv.csp.cir for wv.ua', () => {
    const pdu = wapPushPdu(Buffer.from(body, 'latin1'), 1);
    const decoded = tsharkDecodeWapPushUdp(pdu);
    assert.deepEqual(decoded.errors, []);
    assert.equal(decoded.transactionId, 1);
    assert.equal(decoded.pduType, 'Push');
    assert.equal(decoded.headersLength, 3);
    assert.equal(decoded.contentType, 'application/vnd.wv.csp.cir');
    assert.equal(decoded.applicationId, 'x-wap-application:wv.ua');
    assert.equal(decoded.data?.toString('latin1'), body);
  });

  test('as an SMS: the UDH addresses 2948 from 9200 and the user data is the same Push', () => {
    const pdu = wapPushPdu(Buffer.from(body, 'latin1'), 9);
    const decoded = tsharkDecodeWapPushSms(WDP_PORT_UDH, pdu);
    assert.deepEqual(decoded.errors, []);
    assert.deepEqual(decoded.smsPorts, { destination: 2948, source: 9200 });
    assert.equal(decoded.transactionId, 9);
    assert.equal(decoded.pduType, 'Push');
    assert.equal(decoded.contentType, 'application/vnd.wv.csp.cir');
    assert.equal(decoded.applicationId, 'x-wap-application:wv.ua');
    assert.equal(decoded.data?.toString('latin1'), body);
  });
});
