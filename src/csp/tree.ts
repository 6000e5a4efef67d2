// The in-memory form of every CSP document, whatever its encoding: a plain element tree.
// Codecs turn bytes into trees and back; features read trees through the accessors below.
import { CspError } from './status.ts';

export interface CspElement {
  /** Canonical element name, e.g. "Login-Request". */
  name: string;
  /** Attributes; in CSP only namespace declarations occur. */
  attrs?: Record<string, string>;
  /** Child elements of a structure, in document order. */
  children: CspElement[];
  /** Text of a leaf element (undefined for structures and empty elements). */
  text?: string;
  /** Binary content of a leaf that arrived as WBXML OPAQUE (e.g. ContentData from Baraza-era encoders). */
  bytes?: Buffer;
}

type Child = CspElement | undefined | null | false;

/** A structure element; falsy children are dropped so optional parts read naturally. */
export function el(name: string, children: Child[] = [], attrs?: Record<string, string>): CspElement {
  const node: CspElement = { name, children: children.filter((c): c is CspElement => !!c) };
  if (attrs) node.attrs = attrs;
  return node;
}

/** A leaf element with text; undefined text yields no element at all. */
export function leaf(name: string, text: string | number | boolean | undefined | null): CspElement | undefined {
  if (text === undefined || text === null) return undefined;
  const value = typeof text === 'boolean' ? (text ? 'T' : 'F') : String(text);
  return { name, children: [], text: value };
}

export function child(parent: CspElement | undefined, name: string): CspElement | undefined {
  return parent?.children.find((c) => c.name === name);
}

export function childrenNamed(parent: CspElement | undefined, name: string): CspElement[] {
  return parent ? parent.children.filter((c) => c.name === name) : [];
}

/** Whitespace-trimmed text of a leaf, or of a parent's first child with the given name. */
export function textOf(node: CspElement | undefined, name?: string): string | undefined {
  const target = name === undefined ? node : child(node, name);
  if (!target) return undefined;
  if (target.text === undefined) return target.children.length === 0 ? '' : undefined;
  return target.text.trim();
}

export function requireChild(parent: CspElement, name: string): CspElement {
  const found = child(parent, name);
  if (!found) throw new CspError(402, `${parent.name} needs ${name}`);
  return found;
}

export function requireText(parent: CspElement, name: string): string {
  const value = textOf(parent, name);
  if (value === undefined || value === '') throw new CspError(402, `${parent.name} needs ${name}`);
  return value;
}

/** CSP booleans are T/F; handsets vary the case. Missing gives the fallback. */
export function boolOf(parent: CspElement | undefined, name: string, fallback = false): boolean {
  const value = textOf(parent, name);
  if (value === undefined || value === '') return fallback;
  const v = value.toUpperCase();
  if (v === 'T' || v === 'TRUE') return true;
  if (v === 'F' || v === 'FALSE') return false;
  throw new CspError(402, `${name} must be T or F, not "${value}"`);
}

/** A non-negative CSP integer, or undefined when absent. */
export function intOf(parent: CspElement | undefined, name: string): number | undefined {
  const value = textOf(parent, name);
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,10}$/.test(value)) throw new CspError(402, `${name} must be a whole number, not "${value}"`);
  return Number(value);
}
