// The encodings a CSP body may arrive in, chosen by HTTP Content-Type (or, when a request names
// none, by its first bytes). Each codec is an interpreter of the one schema (src/csp/schema).
import type { CspElement } from './tree.ts';
import type { CspVersion } from './versions.ts';
import type { Decoded, DecodeLimits } from './xml-codec.ts';
import { decodeXml, encodeXml, sniffXmlVersion } from './xml-codec.ts';
import { decodeWbxml, encodeWbxml, salvageWbxml, sniffWbxmlVersion } from './wbxml-codec.ts';
import { JSON_CODEC } from './json-codec.ts';
import { salvageIds, type Salvaged } from './salvage.ts';

export type EncodingName = 'xml' | 'wbxml' | 'json';

export interface Codec {
  name: EncodingName;
  decode(body: Buffer, limits: DecodeLimits): Decoded;
  encode(root: CspElement, version: CspVersion): Buffer;
  /** The version of a body that failed to decode, if it can still be read. */
  sniffVersion(body: Buffer): CspVersion | undefined;
  /** TransactionID and SessionID of a body that failed to decode, to address the error to. */
  salvage(body: Buffer): Salvaged;
  /** Content-Type for an answer when the request named none (and for the test phones). */
  defaultContentType(version: CspVersion): string;
}

function salvageXml(body: Buffer): Salvaged {
  const head = body.subarray(0, 8192).toString('utf8');
  return salvageIds((name) => new RegExp(`<(?:\\w+:)?${name}>\\s*([^<]{1,200}?)\\s*</`, 'i').exec(head)?.[1]);
}

export const XML_CODEC: Codec = {
  name: 'xml',
  decode: decodeXml,
  encode: encodeXml,
  sniffVersion: sniffXmlVersion,
  salvage: salvageXml,
  // Android keys CSP 1.3 on the "+" spelling (reference imps-csp.md §1).
  defaultContentType: (version) => (version === '1.3' ? 'application/vnd.wv.csp+xml' : 'application/vnd.wv.csp.xml'),
};

export const WBXML_CODEC: Codec = {
  name: 'wbxml',
  decode: decodeWbxml,
  encode: encodeWbxml,
  sniffVersion: sniffWbxmlVersion,
  salvage: salvageWbxml,
  defaultContentType: (version) => (version === '1.3' ? 'application/vnd.wv.csp+wbxml' : 'application/vnd.wv.csp.wbxml'),
};

const BY_MEDIA_TYPE = new Map<string, Codec>([
  ['application/vnd.wv.csp.xml', XML_CODEC],
  ['application/vnd.wv.csp+xml', XML_CODEC],
  ['text/xml', XML_CODEC],
  ['application/xml', XML_CODEC],
  ['application/vnd.wv.csp.wbxml', WBXML_CODEC],
  ['application/vnd.wv.csp+wbxml', WBXML_CODEC],
  ['application/vnd.wv.csp+json', JSON_CODEC],
  ['application/json', JSON_CODEC],
]);

/** The codec for a request's Content-Type (parameters ignored), if we speak it. */
export function codecForContentType(contentType: string | undefined): Codec | undefined {
  if (!contentType) return undefined;
  return BY_MEDIA_TYPE.get(contentType.split(';')[0]!.trim().toLowerCase());
}

/** A codec guessed from the body itself, for requests that name no Content-Type. */
export function codecForBody(body: Buffer): Codec | undefined {
  const start = body.subarray(0, 64).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  if (start.startsWith('<')) return XML_CODEC;
  if (start.startsWith('{')) return JSON_CODEC;
  // WBXML: a version byte 0x00–0x03, then a public id (0x10–0x12, 0x01, or 0 + string-table index).
  if (body.length > 4 && body[0]! <= 0x03 && [0x00, 0x01, 0x10, 0x11, 0x12].includes(body[1]!)) return WBXML_CODEC;
  return undefined;
}

export function codecByName(name: EncodingName): Codec {
  const codec = [...BY_MEDIA_TYPE.values()].find((c) => c.name === name);
  if (!codec) throw new Error(`no ${name} codec`);
  return codec;
}

export const SUPPORTED_CONTENT_TYPES = [...BY_MEDIA_TYPE.keys()];
