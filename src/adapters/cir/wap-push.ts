// The bytes of a CIR wake-up (reference imps-csp.md §5, §5.3 WAP UDP, §5.4 WAP SMS; prior-art.md
// §1.8). Every CIR carries the same ASCII line `WVCI <version> <cookie>`; the WAP variants wrap it
// in a connectionless WSP Push PDU that the handset's push dispatcher routes by application id
// (`x-wap-application:wv.ua`) to the IMPS client. Over UDP the PDU goes to port 2948; as an SMS
// it travels as 8-bit user data behind a WDP port-addressing header naming the same port.
// Pure byte building, no I/O: the transports live beside this module.
import type { CspVersion } from '../../csp/versions.ts';

/**
 * The CIR text: `WVCI 1.2 <cookie>`, without CRLF — the WAP and SUDP bindings send it bare
 * (Baraza does too); STCP adds its own CRLF. Nokia's engine checks the `WVCI` prefix and that the
 * cookie is its own, so the cookie goes out exactly as the client sent it at login.
 */
export function cirLine(version: CspVersion, cookie: string): string {
  return `WVCI ${version} ${cookie}`;
}

/** WDP port of connectionless WAP Push (0x0B84), where handsets listen for WSP pushes. */
export const WAP_PUSH_PORT = 2948;

/** WDP port of connectionless WSP (0x23F0): the conventional source port of a push. */
export const WSP_CONNECTIONLESS_PORT = 9200;

/** WSP PDU type of a Push (WAP-230 WSP, table 34). */
const PDU_TYPE_PUSH = 0x06;

/** Content type as a short-integer: 0x80 | 0x46, the well-known value of application/vnd.wv.csp.cir. */
const CONTENT_TYPE_WV_CSP_CIR = 0x80 | 0x46;

/** Header X-Wap-Application-Id (well-known field 0x2F, as a short-integer 0x80 | 0x2F). */
const HEADER_X_WAP_APPLICATION_ID = 0x80 | 0x2f;

/** Application id as a short-integer: 0x80 | 0x0A, the well-known value of x-wap-application:wv.ua. */
const APPLICATION_ID_WV_UA = 0x80 | 0x0a;

/**
 * A WSP uintvar (WAP-230 §8.1.2): the value in 7-bit groups, most significant first, every byte
 * but the last with the continuation bit 0x80 set. At most 32 bits (five bytes), as WSP defines.
 */
export function encodeUintvar(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`uintvar out of range: ${value}`);
  }
  const groups: number[] = [];
  // Arithmetic instead of bit shifts: `>>>` works on 32 bits, but 2^32-1 must not turn negative.
  let rest = value;
  do {
    groups.unshift(rest % 0x80);
    rest = Math.floor(rest / 0x80);
  } while (rest > 0);
  return Buffer.from(groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
}

/**
 * A connectionless WSP Push PDU carrying `body` (normally the cirLine as ASCII):
 * TID, 0x06 Push, HeadersLen (uintvar, counting content type and headers), content type
 * application/vnd.wv.csp.cir, X-Wap-Application-Id wv.ua, then the body. The TID is one octet;
 * handsets use it only to spot retransmissions, so a counter that wraps is fine.
 */
export function wapPushPdu(body: Buffer, transactionId: number): Buffer {
  const contentTypeAndHeaders = Buffer.from([CONTENT_TYPE_WV_CSP_CIR, HEADER_X_WAP_APPLICATION_ID, APPLICATION_ID_WV_UA]);
  return Buffer.concat([
    Buffer.from([transactionId & 0xff, PDU_TYPE_PUSH]),
    encodeUintvar(contentTypeAndHeaders.length),
    contentTypeAndHeaders,
    body,
  ]);
}

/**
 * The SMS user-data header of a WAP push (3GPP TS 23.040 §9.2.3.24.4): UDH length 6, IEI 0x05
 * (application port addressing, 16-bit), IE length 4, destination 2948, source 9200 — the
 * handset hands port-2948 SMS to its WAP push dispatcher (Baraza sends exactly these bytes).
 * Shared and read-only by convention (a Buffer cannot be frozen): copy before writing into it.
 */
export const WDP_PORT_UDH: Buffer = Buffer.from([
  0x06,
  0x05,
  0x04,
  WAP_PUSH_PORT >> 8,
  WAP_PUSH_PORT & 0xff,
  WSP_CONNECTIONLESS_PORT >> 8,
  WSP_CONNECTIONLESS_PORT & 0xff,
]);

/** User data of one 8-bit SMS, UDH included (140 octets); a longer CIR would need concatenation. */
export const MAX_SMS_BYTES = 140;
