// The encodings a CSP body may arrive in, chosen by HTTP Content-Type. Each codec is an
// interpreter of the one schema (src/csp/schema); WBXML and JSON join XML here.
import type { CspElement } from './tree.ts';
import type { CspVersion } from './versions.ts';
import type { Decoded, DecodeLimits } from './xml-codec.ts';
import { decodeXml, encodeXml, sniffXmlVersion } from './xml-codec.ts';

export interface Codec {
  name: 'xml';
  decode(body: Buffer, limits: DecodeLimits): Decoded;
  encode(root: CspElement, version: CspVersion): Buffer;
  /** The version of a body that failed to decode, if it can still be read. */
  sniffVersion(body: Buffer): CspVersion | undefined;
  /** TransactionID and SessionID of a body that failed to decode, to address the error to. */
  salvage(body: Buffer): { transactionId?: string; sessionId?: string };
  /** Content-Type for an answer when the request named none. */
  defaultContentType(version: CspVersion): string;
}

const xmlCodec: Codec = {
  name: 'xml',
  decode: decodeXml,
  encode: encodeXml,
  sniffVersion: sniffXmlVersion,
  salvage(body) {
    const head = body.subarray(0, 8192).toString('utf8');
    const grab = (name: string) => new RegExp(`<(?:\\w+:)?${name}>\\s*([^<]{1,200}?)\\s*</`, 'i').exec(head)?.[1];
    const out: { transactionId?: string; sessionId?: string } = {};
    const transactionId = grab('TransactionID');
    const sessionId = grab('SessionID');
    if (transactionId) out.transactionId = transactionId;
    if (sessionId) out.sessionId = sessionId;
    return out;
  },
  defaultContentType: (version) => (version === '1.3' ? 'application/vnd.wv.csp+xml' : 'application/vnd.wv.csp.xml'),
};

const XML_TYPES = new Set(['application/vnd.wv.csp.xml', 'application/vnd.wv.csp+xml', 'text/xml', 'application/xml']);

/** The codec for a request's Content-Type (parameters ignored), if we speak it. */
export function codecForContentType(contentType: string | undefined): Codec | undefined {
  if (!contentType) return undefined;
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  if (XML_TYPES.has(essence)) return xmlCodec;
  return undefined;
}

/** A codec guessed from the body itself, for requests that name no Content-Type. */
export function codecForBody(body: Buffer): Codec | undefined {
  const start = body.subarray(0, 64).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  return start.startsWith('<') ? xmlCodec : undefined;
}

export const SUPPORTED_CONTENT_TYPES = [...XML_TYPES];
