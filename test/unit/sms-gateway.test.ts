import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { fillSmsUrl, normalizeMsisdn, SmsGateway, type SmsGatewayOptions } from '../../src/adapters/cir/sms-gateway.ts';
import { MAX_SMS_BYTES, wapPushPdu, WDP_PORT_UDH } from '../../src/adapters/cir/wap-push.ts';

const PASSWORD = 's3cr3t-Pa55';
const NUMBER = '+491701234567';
const PDU = wapPushPdu(Buffer.from('WVCI 1.2 abc#123', 'latin1'), 1);

/** %XX back to bytes; any other character stands for itself (Kannel's reading of binary fields). */
function percentDecodeBytes(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i));
  }
  return Buffer.from(bytes);
}

/** The raw query as sent: URLSearchParams would decode %XX as UTF-8 and mangle binary data. */
function rawQuery(url: string): Map<string, string> {
  const query = url.slice(url.indexOf('?') + 1);
  return new Map(query.split('&').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

interface Received {
  url: string;
  at: number;
}

/** A stand-in for Kannel's sendsms: answers each request with the next status of `statuses` (the last repeats). */
async function fakeKannel(statuses: number[]): Promise<{ server: Server; port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    received.push({ url: req.url ?? '', at: performance.now() });
    const status = statuses[Math.min(received.length - 1, statuses.length - 1)]!;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(status === 202 ? '0: Accepted for delivery' : 'Internal error');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { server, port: (server.address() as AddressInfo).port, received };
}

const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

function templateFor(port: number): string {
  return `http://127.0.0.1:${port}/cgi-bin/sendsms?username=village&password=${PASSWORD}&to={to}&udh={udh}&text={text}&coding=1`;
}

/** A pino logger writing into memory, to read what the gateway logged. */
function memoryLog() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  return { log, lines, text: () => lines.join('') };
}

function gateway(port: number, overrides: Partial<SmsGatewayOptions> = {}) {
  const memory = memoryLog();
  const sms = new SmsGateway({
    urlTemplate: templateFor(port),
    retries: 2,
    backoffMs: 20,
    timeoutMs: 2000,
    minIntervalPerNumberMs: 0,
    log: memory.log,
    ...overrides,
  });
  return { sms, memory };
}

/** A port on 127.0.0.1 where nothing listens (bound then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('fillSmsUrl', () => {
  test('to is URI-encoded, udh and text have every byte as uppercase %XX', () => {
    const url = fillSmsUrl('http://gw/send?to={to}&udh={udh}&text={text}', {
      to: '+49 170',
      udh: Buffer.from([0x06, 0x05, 0x0b, 0xf0]),
      text: Buffer.from('Az %&', 'latin1'),
    });
    assert.equal(url, 'http://gw/send?to=%2B49%20170&udh=%06%05%0B%F0&text=%41%7A%20%25%26');
  });

  test('placeholders anywhere, repeated or absent; values are never read as placeholders or patterns', () => {
    const fields = { to: '$&{udh}', udh: Buffer.from([0xab]), text: Buffer.alloc(0) };
    assert.equal(fillSmsUrl('http://gw/{to}/x?a={udh}&b={udh}', fields), 'http://gw/%24%26%7Budh%7D/x?a=%AB&b=%AB');
    assert.equal(fillSmsUrl('http://gw/plain?text={text}', fields), 'http://gw/plain?text=');
    assert.equal(fillSmsUrl('http://gw/none', fields), 'http://gw/none');
  });
});

describe('normalizeMsisdn', () => {
  test('accepts what operators and phones send', () => {
    const cases: [string, string][] = [
      ['+49 170 1234567', '+491701234567'],
      ['491701234567', '491701234567'],
      ['tel:+49-170-1234567', '+491701234567'],
      ['TEL:+49.170.1234567', '+491701234567'],
      ['(0170) 123-4567', '01701234567'],
      ['  +44 7700 900123\t', '+447700900123'],
      ['123456', '123456'],
      ['+123456789012345', '+123456789012345'],
    ];
    for (const [raw, want] of cases) assert.equal(normalizeMsisdn(raw), want, raw);
  });

  test('refuses what is not a phone number', () => {
    for (const raw of [undefined, '', 'tel:', '12345', '+1234567890123456', '++491701234567', '49+1701234567', 'abc1234567', '4917012345x7', 'tel:+491701234567;ext=1', '4917/01234567']) {
      assert.equal(normalizeMsisdn(raw), undefined, String(raw));
    }
  });
});

describe('SmsGateway', () => {
  test('sends the exact to/udh/text bytes with one GET; 202 → sent', async () => {
    const kannel = await fakeKannel([202]);
    const { sms } = gateway(kannel.port);
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, PDU), 'sent');
    assert.equal(kannel.received.length, 1);
    const { url } = kannel.received[0]!;
    assert.ok(url.startsWith('/cgi-bin/sendsms?'), url);
    const q = rawQuery(url);
    assert.equal(q.get('username'), 'village');
    assert.equal(q.get('coding'), '1');
    assert.equal(decodeURIComponent(q.get('to')!), NUMBER);
    for (const name of ['udh', 'text']) assert.match(q.get(name)!, /^(%[0-9A-F]{2})+$/, `${name} is all %XX`);
    assert.deepEqual(percentDecodeBytes(q.get('udh')!), WDP_PORT_UDH);
    assert.deepEqual(percentDecodeBytes(q.get('text')!), PDU);
    sms.close();
  });

  test('500, 500, then 202 → sent after 3 requests, waiting backoffMs then twice that', async () => {
    const kannel = await fakeKannel([500, 500, 202]);
    const { sms } = gateway(kannel.port, { retries: 3, backoffMs: 20 });
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, PDU), 'sent');
    assert.equal(kannel.received.length, 3);
    const [a, b, c] = kannel.received.map((r) => r.at) as [number, number, number];
    // Timers may fire a hair early against this clock; the request round trip only adds time.
    assert.ok(b - a >= 18, `first back-off ${b - a} ms`);
    assert.ok(c - b >= 38, `second back-off ${c - b} ms`);
    sms.close();
  });

  test('always 500 → failed after retries + 1 requests', async () => {
    const kannel = await fakeKannel([500]);
    const { sms, memory } = gateway(kannel.port, { retries: 2, backoffMs: 5 });
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, PDU), 'failed');
    assert.equal(kannel.received.length, 3);
    const warnings = memory.lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40);
    assert.deepEqual(
      warnings.map((w) => [w.attempt, w.status, w.to]),
      [
        [1, 500, '…567'],
        [2, 500, '…567'],
        [3, 500, '…567'],
      ],
    );
    sms.close();
  });

  test('connection refused → failed, each attempt logged with the error', async () => {
    const port = await closedPort();
    const { sms, memory } = gateway(port, { retries: 1, backoffMs: 5 });
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, PDU), 'failed');
    const warnings = memory.lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40);
    assert.equal(warnings.length, 2);
    for (const w of warnings) {
      assert.equal(w.code, 'ECONNREFUSED');
      assert.equal(typeof w.error, 'string');
      assert.equal(w.to, '…567');
    }
    sms.close();
  });

  test('a gateway that never answers → failed after timeoutMs per attempt', async () => {
    const hanging = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    servers.push(hanging);
    const { sms, memory } = gateway((hanging.address() as AddressInfo).port, { retries: 1, backoffMs: 5, timeoutMs: 100 });
    const started = performance.now();
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, PDU), 'failed');
    const took = performance.now() - started;
    assert.ok(took >= 190 && took < 1500, `took ${took} ms`);
    const warnings = memory.lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40);
    assert.deepEqual(
      warnings.map((w) => w.error),
      ['timed out', 'timed out'],
    );
    sms.close();
  });

  test('longer than one SMS → too-long, no request; exactly 140 octets is fine', async () => {
    const kannel = await fakeKannel([202]);
    const { sms } = gateway(kannel.port);
    const fits = Buffer.alloc(MAX_SMS_BYTES - WDP_PORT_UDH.length, 0x41);
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, Buffer.concat([fits, Buffer.from('!')])), 'too-long');
    assert.equal(kannel.received.length, 0);
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, fits), 'sent');
    assert.equal(kannel.received.length, 1);
    sms.close();
  });

  test('one SMS per number per interval, however the number is written; other numbers unaffected', async () => {
    const kannel = await fakeKannel([202]);
    let clock = 1_000_000;
    const { sms } = gateway(kannel.port, { minIntervalPerNumberMs: 60_000, now: () => clock });
    assert.equal(await sms.send('+491701234567', WDP_PORT_UDH, PDU), 'sent');
    clock += 59_999;
    assert.equal(await sms.send('491701234567', WDP_PORT_UDH, PDU), 'rate-limited');
    assert.equal(kannel.received.length, 1);
    assert.equal(await sms.send('+447700900123', WDP_PORT_UDH, PDU), 'sent');
    assert.equal(kannel.received.length, 2);
    clock += 1;
    assert.equal(await sms.send('+491701234567', WDP_PORT_UDH, PDU), 'sent');
    assert.equal(kannel.received.length, 3);
    sms.close();
  });

  test('a failed attempt counts too: a down gateway is not hammered for one number', async () => {
    const kannel = await fakeKannel([500]);
    let clock = 0;
    const { sms } = gateway(kannel.port, { retries: 0, minIntervalPerNumberMs: 1000, now: () => clock });
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, PDU), 'failed');
    clock += 500;
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, PDU), 'rate-limited');
    assert.equal(kannel.received.length, 1);
    sms.close();
  });

  test('the table of numbers stays bounded: expired ones are forgotten, a full table of fresh ones refuses', async () => {
    const kannel = await fakeKannel([202]);
    let clock = 0;
    const { sms } = gateway(kannel.port, { retries: 0, minIntervalPerNumberMs: 1000, now: () => clock, maxTrackedNumbers: 3 });
    for (const n of ['+491700000001', '+491700000002', '+491700000003']) assert.equal(await sms.send(n, WDP_PORT_UDH, PDU), 'sent');
    assert.equal(await sms.send('+491700000004', WDP_PORT_UDH, PDU), 'rate-limited');
    clock += 1000;
    for (const n of ['+491700000004', '+491700000005', '+491700000006']) assert.equal(await sms.send(n, WDP_PORT_UDH, PDU), 'sent');
    assert.equal(kannel.received.length, 6);
    sms.close();
  });

  test('close() ends a pending back-off at once: the send resolves failed', async () => {
    const kannel = await fakeKannel([500]);
    const { sms } = gateway(kannel.port, { retries: 3, backoffMs: 10_000 });
    const sending = sms.send(NUMBER, WDP_PORT_UDH, PDU);
    while (kannel.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the answer arrive and the back-off start
    const started = performance.now();
    sms.close();
    assert.equal(await sending, 'failed');
    assert.ok(performance.now() - started < 200, 'resolved promptly');
    assert.equal(kannel.received.length, 1);
    assert.equal(await sms.send(NUMBER, WDP_PORT_UDH, PDU), 'failed', 'a closed gateway sends nothing');
    assert.equal(kannel.received.length, 1);
  });

  test('close() also aborts a request in flight', async () => {
    const hanging = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    servers.push(hanging);
    const { sms } = gateway((hanging.address() as AddressInfo).port, { timeoutMs: 10_000 });
    const sending = sms.send(NUMBER, WDP_PORT_UDH, PDU);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    sms.close();
    assert.equal(await sending, 'failed');
    assert.ok(performance.now() - started < 200, 'resolved promptly');
  });

  test('the log never holds the full number, the password or the URL', async () => {
    const failing = await fakeKannel([500, 202]);
    const refused = await closedPort();
    const memory = memoryLog();
    for (const port of [failing.port, refused]) {
      const sms = new SmsGateway({ urlTemplate: templateFor(port), retries: 1, backoffMs: 5, timeoutMs: 2000, minIntervalPerNumberMs: 0, log: memory.log });
      await sms.send(NUMBER, WDP_PORT_UDH, PDU);
      await sms.send(NUMBER, WDP_PORT_UDH, Buffer.alloc(200)); // too-long, logged at debug
      sms.close();
    }
    const logged = memory.text();
    assert.ok(memory.lines.length >= 6, logged);
    assert.match(logged, /…567/);
    for (const secret of [NUMBER, NUMBER.slice(1), '1701234567', PASSWORD, 'sendsms', 'password=']) {
      assert.ok(!logged.includes(secret), `log contains ${secret}:\n${logged}`);
    }
  });

  test('a template that is not an http(s) URL is refused at construction, without echoing it', () => {
    const memory = memoryLog();
    const options = { retries: 0, backoffMs: 0, timeoutMs: 1000, minIntervalPerNumberMs: 0, log: memory.log };
    for (const urlTemplate of [`ftp://gw/send?password=${PASSWORD}&to={to}`, `not a url ${PASSWORD}`]) {
      assert.throws(
        () => new SmsGateway({ urlTemplate, ...options }),
        (e: Error) => !e.message.includes(PASSWORD),
      );
    }
  });
});
