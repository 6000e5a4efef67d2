// Building blocks of the codec fuzz test (test/fuzz/codecs.test.ts): a seeded PRNG, a WBXML
// token walker (so structural mutations land on token boundaries), and the mutation families
// for WBXML, XML and JSON bodies. Everything here is pure and deterministic given the PRNG.

// ── PRNG ────────────────────────────────────────────────────────────────────────────────────

/** mulberry32: tiny, fast, good enough for fuzzing, and reproducible from one 32-bit seed. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** [0, 1) */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ── WBXML multi-byte integers ───────────────────────────────────────────────────────────────

/** mb_u_int32 in its minimal form (values above 2^32 give the 5-byte 35-bit forms decoders must refuse or bound). */
export function mbUint(n: number): Buffer {
  const groups = [n % 128];
  for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) groups.unshift((n % 128) | 0x80);
  return Buffer.from(groups);
}

/** Length/index encodings that stress a decoder: huge, over-long (6 bytes), non-minimal, maximal. */
export const HUGE_VARINTS: { label: string; bytes: Buffer }[] = [
  { label: '0x7FFFFFFF', bytes: mbUint(0x7fffffff) },
  { label: '0xFFFFFFFF (5-byte)', bytes: mbUint(0xffffffff) },
  { label: '2^35-1 (5-byte, all bits)', bytes: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]) },
  { label: '6-byte varint', bytes: Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]) },
  { label: '6-byte varint (huge)', bytes: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]) },
  { label: 'non-minimal 0 (5-byte)', bytes: Buffer.from([0x80, 0x80, 0x80, 0x80, 0x00]) },
  { label: 'unterminated varint', bytes: Buffer.from([0xff, 0xff, 0xff]) },
  { label: '0x110000', bytes: mbUint(0x110000) },
  { label: '2^31', bytes: mbUint(0x80000000) },
  { label: '1 MiB', bytes: mbUint(1 << 20) },
];

// ── WBXML token walker ──────────────────────────────────────────────────────────────────────

export interface WbxmlMap {
  /** Offset of the body (first byte after the string table), if the header parsed. */
  bodyStart: number;
  /** Offsets of header mb_u_int32 fields: publicId, charset, string-table length. */
  headerFields: { name: string; offset: number; length: number }[];
  /** Offsets where a new token may begin inside an element's content. */
  contentBoundaries: number[];
  /** Offsets of tag tokens (element starts). */
  tags: { offset: number; end: number }[];
  /** mb_u_int32 operands of tokens (OPAQUE length, STR_T/EXT_T/ENTITY/LITERAL index). */
  operands: { token: number; offset: number; length: number }[];
  /** Offsets of END tokens. */
  ends: number[];
  /** Offsets of STR_I string bytes (start, end exclusive, before the NUL). */
  strings: { start: number; end: number }[];
}

/** Walk a (well-formed or not) WBXML body as far as it goes, recording where its tokens sit. */
export function walkWbxml(b: Buffer): WbxmlMap {
  const map: WbxmlMap = { bodyStart: b.length, headerFields: [], contentBoundaries: [], tags: [], operands: [], ends: [], strings: [] };
  let p = 0;
  const byte = () => {
    if (p >= b.length) throw new Error('eof');
    return b[p++]!;
  };
  const uint = (): { offset: number; length: number; value: number } => {
    const offset = p;
    let value = 0;
    for (let i = 0; i < 6; i++) {
      const x = byte();
      value = value * 128 + (x & 0x7f);
      if ((x & 0x80) === 0) return { offset, length: p - offset, value };
    }
    throw new Error('long varint');
  };
  const terminated = () => {
    const end = b.indexOf(0, p);
    if (end < 0) throw new Error('unterminated');
    map.strings.push({ start: p, end });
    p = end + 1;
  };
  try {
    const version = byte();
    const pid = uint();
    map.headerFields.push({ name: 'publicId', ...pid });
    if (pid.value === 0) map.headerFields.push({ name: 'publicId literal index', ...uint() });
    if (version !== 0) map.headerFields.push({ name: 'charset', ...uint() });
    const st = uint();
    map.headerFields.push({ name: 'string-table length', ...st });
    p += st.value;
    if (p > b.length) return map;
    map.bodyStart = p;
    const attributes = () => {
      for (;;) {
        const t = byte();
        if (t === 0x01) return;
        if (t === 0x00) byte();
        else if (t === 0x03 || (t >= 0x40 && t <= 0x42)) terminated();
        else if (t === 0x02 || t === 0x04 || t === 0x83 || (t >= 0x80 && t <= 0x82)) map.operands.push({ token: t, ...uint() });
        else if (t === 0xc3) {
          const n = uint();
          map.operands.push({ token: t, ...n });
          p += n.value;
        }
      }
    };
    let depth = 0;
    do {
      const start = p;
      if (depth > 0) map.contentBoundaries.push(start);
      const t = byte();
      switch (t) {
        case 0x00:
          byte();
          continue;
        case 0x01:
          map.ends.push(start);
          depth--;
          continue;
        case 0x02:
        case 0x80:
        case 0x81:
        case 0x82:
        case 0x83:
          map.operands.push({ token: t, ...uint() });
          continue;
        case 0x03:
        case 0x40:
        case 0x41:
        case 0x42:
          terminated();
          continue;
        case 0x43:
          attributes();
          continue;
        case 0xc0:
        case 0xc1:
        case 0xc2:
          continue;
        case 0xc3: {
          const n = uint();
          map.operands.push({ token: t, ...n });
          p += n.value;
          continue;
        }
      }
      if ((t & 0x3f) === 0x04) map.operands.push({ token: t, ...uint() });
      if (t & 0x80) attributes();
      map.tags.push({ offset: start, end: p });
      if (t & 0x40) depth++;
    } while (depth > 0 && p < b.length);
    if (p <= b.length) map.contentBoundaries.push(Math.min(p, b.length));
  } catch {
    // as far as it goes
  }
  return map;
}

// ── Generic byte mutations ──────────────────────────────────────────────────────────────────

export function splice(b: Buffer, at: number, remove: number, insert: Buffer | number[] = []): Buffer {
  return Buffer.concat([b.subarray(0, at), Buffer.from(insert), b.subarray(at + remove)]);
}

export function bitFlips(rng: Rng, b: Buffer): { body: Buffer; note: string } {
  const out = Buffer.from(b);
  const n = rng.pick([1, 1, 1, 2, 3, 4, 8, 16]);
  const notes: string[] = [];
  for (let i = 0; i < n && out.length; i++) {
    const at = rng.int(out.length);
    const bit = rng.int(8);
    out[at]! ^= 1 << bit;
    notes.push(`${at}:${bit}`);
  }
  return { body: out, note: `flipped bits at ${notes.join(',')}` };
}

const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x3c, 0x3e, 0x22, 0x26, 0x40, 0x7f, 0x80, 0x83, 0xc0, 0xc3, 0xed, 0xef, 0xf4, 0xfe, 0xff];

export function byteEdits(rng: Rng, b: Buffer): { body: Buffer; note: string } {
  let out = b;
  const n = rng.range(1, 4);
  const notes: string[] = [];
  for (let i = 0; i < n; i++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(4)) {
      case 0: {
        const ins = rng.chance(0.5) ? rng.bytes(rng.range(1, 16)) : Buffer.from([rng.pick(INTERESTING)]);
        out = splice(out, at, 0, ins);
        notes.push(`insert ${ins.toString('hex')}@${at}`);
        break;
      }
      case 1: {
        const len = rng.range(1, 32);
        out = splice(out, at, len);
        notes.push(`delete ${len}@${at}`);
        break;
      }
      case 2: {
        const v = rng.pick(INTERESTING);
        if (at < out.length) out = splice(out, at, 1, [v]);
        notes.push(`set ${v.toString(16)}@${at}`);
        break;
      }
      default: {
        const len = rng.range(1, 8);
        out = splice(out, at, len, rng.bytes(len));
        notes.push(`overwrite ${len}@${at}`);
      }
    }
  }
  return { body: out, note: notes.join('; ') };
}

export function duplicateChunk(rng: Rng, b: Buffer): { body: Buffer; note: string } {
  if (b.length < 2) return { body: Buffer.concat([b, b]), note: 'doubled' };
  const start = rng.int(b.length - 1);
  const len = Math.min(b.length - start, rng.pick([1, 2, 4, 16, 64, 256, b.length]));
  const chunk = b.subarray(start, start + len);
  const times = rng.pick([1, 1, 2, 10, 100]);
  const at = rng.chance(0.5) ? start + len : rng.int(b.length + 1);
  const ins = Buffer.concat(Array.from({ length: times }, () => chunk));
  return { body: splice(b, at, 0, ins), note: `duplicated [${start},+${len}) x${times} at ${at}` };
}

export function crossSplice(rng: Rng, a: Buffer, b: Buffer): { body: Buffer; note: string } {
  const i = rng.int(a.length + 1);
  const j = rng.int(b.length + 1);
  return { body: Buffer.concat([a.subarray(0, i), b.subarray(j)]), note: `head ${i} of one seed + tail from ${j} of another` };
}

// ── WBXML-specific mutations ────────────────────────────────────────────────────────────────

/** Content-token payloads that must be refused or bounded (inserted at a content boundary). */
export function wbxmlPoison(rng: Rng): { label: string; bytes: Buffer } {
  const huge = rng.pick(HUGE_VARINTS);
  const tail = rng.bytes(rng.range(0, 4));
  const options: (() => { label: string; bytes: Buffer })[] = [
    () => ({ label: `OPAQUE length ${huge.label}`, bytes: Buffer.concat([Buffer.from([0xc3]), huge.bytes, tail]) }),
    () => ({ label: `STR_T index ${huge.label}`, bytes: Buffer.concat([Buffer.from([0x83]), huge.bytes]) }),
    () => {
      const t = rng.pick([0x80, 0x81, 0x82]);
      return { label: `EXT_T_${t - 0x80} index ${huge.label}`, bytes: Buffer.concat([Buffer.from([t]), huge.bytes]) };
    },
    () => {
      const cp = rng.pick([0x110000, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xfffe, 0xffff, 0x0, 0x7fffffff, 0xffffffff]);
      return { label: `ENTITY U+${cp.toString(16)}`, bytes: Buffer.concat([Buffer.from([0x02]), mbUint(cp)]) };
    },
    () => ({ label: `ENTITY ${huge.label}`, bytes: Buffer.concat([Buffer.from([0x02]), huge.bytes]) }),
    () => {
      const page = rng.pick([0x0b, 0x0c, 0x10, 0x20, 0x7f, 0x80, 0xfe, 0xff]);
      const tag = rng.pick([0x05, 0x45, 0x85, 0xc5, 0x3f, 0x7f]);
      return { label: `SWITCH_PAGE ${page.toString(16)} then tag ${tag.toString(16)}`, bytes: Buffer.from([0x00, page, tag, ...(tag & 0x80 ? [0x05, 0x01] : []), ...(tag & 0x40 ? [0x01] : [])]) };
    },
    () => ({ label: 'SWITCH_PAGE at the very end', bytes: Buffer.from([0x00]) }),
    () => {
      const bad = rng.pick([
        [0xc3, 0x28],
        [0xed, 0xa0, 0x80],
        [0xed, 0xbf, 0xbf],
        [0xf4, 0x90, 0x80, 0x80],
        [0xff, 0xfe],
        [0xc0, 0xaf],
        [0xe2, 0x82],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
      ]);
      return { label: `STR_I invalid UTF-8 ${Buffer.from(bad).toString('hex')}`, bytes: Buffer.from([0x03, 0x41, ...bad, 0x42, 0x00]) };
    },
    () => ({ label: 'STR_I unterminated', bytes: Buffer.from([0x03, 0x41, 0x42, 0x43]) }),
    () => {
      const t = rng.pick([0x04, 0x44, 0x84, 0xc4]);
      return { label: `LITERAL ${t.toString(16)} index ${huge.label}`, bytes: Buffer.concat([Buffer.from([t]), huge.bytes, Buffer.from(t & 0x80 ? [0x01] : []), Buffer.from(t & 0x40 ? [0x01] : [])]) };
    },
    () => ({ label: 'EXT_I unterminated', bytes: Buffer.from([rng.pick([0x40, 0x41, 0x42]), 0x41, 0x41]) }),
    () => ({ label: 'PI without END', bytes: Buffer.from([0x43, 0x05, 0x03, 0x41]) }),
    () => ({ label: 'PI with huge operand', bytes: Buffer.concat([Buffer.from([0x43, 0xc3]), huge.bytes]) }),
    () => ({ label: 'stray END x3', bytes: Buffer.from([0x01, 0x01, 0x01]) }),
    () => ({ label: 'EXT_0..2', bytes: Buffer.from([0xc0, 0xc1, 0xc2]) }),
    () => ({ label: 'OPAQUE 5-byte integer', bytes: Buffer.from([0xc3, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff]) }),
    () => ({ label: 'OPAQUE 6-byte datetime garbage', bytes: Buffer.from([0xc3, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) }),
    () => ({ label: 'attribute section without END', bytes: Buffer.from([0x85 | 0x40, 0x05, 0x03, 0x41, 0x00]) }),
    () => ({ label: 'attribute OPAQUE huge', bytes: Buffer.concat([Buffer.from([0x85, 0xc3]), huge.bytes]) }),
    () => ({ label: 'attribute ENTITY U+110000', bytes: Buffer.concat([Buffer.from([0x85, 0x02]), mbUint(0x110000), Buffer.from([0x01])]) }),
  ];
  return rng.pick(options)();
}

/** A WBXML header with chosen fields (defaults: WBXML 1.3, the version's public id, UTF-8, empty string table). */
export function wbxmlHeader(fields: { version?: number; publicId?: Buffer; charset?: Buffer | null; stringTable?: Buffer; stringTableLength?: Buffer }): Buffer {
  const version = fields.version ?? 0x03;
  const st = fields.stringTable ?? Buffer.alloc(0);
  return Buffer.concat([
    Buffer.from([version]),
    fields.publicId ?? Buffer.from([0x11]),
    fields.charset === null ? Buffer.alloc(0) : (fields.charset ?? mbUint(106)),
    fields.stringTableLength ?? mbUint(st.length),
    st,
  ]);
}

// ── XML-specific ────────────────────────────────────────────────────────────────────────────

/** Positions of each syntactic kind in an XML text, for truncation "at every kind of position". */
export function xmlPositions(text: string): Map<string, number[]> {
  const rules: [string, RegExp][] = [
    ['inside XML declaration', /<\?xml[^?]*/g],
    ['inside DOCTYPE', /<!DOCTYPE[^>]*/g],
    ['inside comment', /<!--[\s\S]*?-->/g],
    ['after "<"', /<(?=[A-Za-z])/g],
    ['inside start-tag name', /<[A-Za-z][\w.-]+/g],
    ['inside attribute name', /\s[\w:]+=/g],
    ['inside attribute value', /="[^"]+"/g],
    ['after "</"', /<\//g],
    ['inside end-tag name', /<\/[A-Za-z][\w.-]+/g],
    ['inside text', />[^<\s][^<]+</g],
    ['inside entity reference', /&#?\w+;/g],
    ['before "/>"', /\/>/g],
    ['between elements', />\s*</g],
  ];
  return positionsByKind(text, rules, (m) => (m[0].length < 2 ? m.index! + m[0].length : m.index! + 1 + Math.floor((m[0].length - 2) / 2)));
}

/** Positions of each syntactic kind in a JSON text. */
export function jsonPositions(text: string): Map<string, number[]> {
  const rules: [string, RegExp][] = [
    ['inside a key', /"[^"]{2,}"(?=\s*:)/g],
    ['after ":"', /:/g],
    ['after ","', /,/g],
    ['inside a string value', /:\s*"[^"]{2,}"/g],
    ['inside a number', /-?\d{2,}/g],
    ['inside an escape', /\\u[0-9a-fA-F]{4}|\\./g],
    ['after "{"', /\{/g],
    ['after "["', /\[/g],
    ['before "}"', /\}/g],
    ['inside true/false/null', /true|false|null/g],
  ];
  return positionsByKind(text, rules, (m) => (m[0].length === 1 ? m.index! + 1 : m.index! + Math.ceil(m[0].length / 2)));
}

/**
 * Positions by kind: for every match of a kind's rule, the position `at` picks in it; then the
 * two kinds every text has, its start and its last byte.
 */
function positionsByKind(text: string, rules: [string, RegExp][], at: (m: RegExpExecArray) => number): Map<string, number[]> {
  const kinds = new Map<string, number[]>();
  const add = (k: string, i: number) => {
    let l = kinds.get(k);
    if (!l) kinds.set(k, (l = []));
    l.push(i);
  };
  for (const [k, re] of rules) for (const m of text.matchAll(re)) add(k, at(m));
  add('at 0', 0);
  add('1 byte before the end', text.length - 1);
  return kinds;
}

// ── JSON-specific ───────────────────────────────────────────────────────────────────────────

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path (list of keys/indices) in a JSON value. */
function jsonPaths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => jsonPaths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) jsonPaths(x, [...prefix, k], out);
  return out;
}

function setPath(v: Json, path: (string | number)[], value: Json): Json {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(v)) {
    const copy = [...v];
    copy[head as number] = setPath(copy[head as number]!, rest, value);
    return copy;
  }
  if (v && typeof v === 'object') return { ...v, [head as string]: setPath(v[head as string]!, rest, value) };
  return v;
}

/** Raw JSON literals JSON.stringify cannot produce (huge numbers and the like) go in as markers. */
const RAW = '\u0000RAW:';
const WRONG_VALUES: Json[] = [
  42,
  -1,
  0,
  1.5,
  true,
  false,
  null,
  [],
  {},
  '',
  [1, 2, 3],
  { '#text': 5 },
  'T',
  '\u0000',
  '\ud800',
  '\udfff',
  'x'.repeat(70000),
  `${RAW}1e999999`,
  `${RAW}-1e999999`,
  `${RAW}123456789012345678901234567890123456789`,
  `${RAW}9007199254740993`,
  `${RAW}-0`,
  `${RAW}1e-400`,
  `${RAW}0.${'9'.repeat(5000)}`,
  `${RAW}${'9'.repeat(5000)}`,
  `${RAW}"\\ud800"`,
  `${RAW}"\\udc00\\ud800"`,
  `${RAW}"\\u0000"`,
  `${RAW}"\\uZZZZ"`,
];

function render(v: Json): string {
  return JSON.stringify(v).replace(/"\\u0000RAW:((?:[^"\\]|\\.)*)"/g, (_m, raw: string) => JSON.parse(`"${raw}"`) as string);
}

export function jsonMutation(rng: Rng, text: string): { body: Buffer; note: string } {
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch {
    return { body: Buffer.from(text), note: 'unparseable seed' };
  }
  const paths = jsonPaths(value);
  const path = rng.pick(paths);
  const where = path.join('/') || '(root)';
  switch (rng.int(6)) {
    case 0:
    case 1: {
      const wrong = rng.pick(WRONG_VALUES);
      const shown = typeof wrong === 'string' ? wrong.replace(RAW, '').slice(0, 40) : JSON.stringify(wrong).slice(0, 40);
      return { body: Buffer.from(render(setPath(value, path, wrong))), note: `wrong type/value at ${where}: ${shown}` };
    }
    case 2: {
      // Duplicate keys: re-render with an object's first key repeated (last one differs).
      const objects = paths.filter((p) => {
        let v: Json = value;
        for (const k of p) v = (v as Record<string, Json>)[k as string]!;
        return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0;
      });
      if (!objects.length) return { body: Buffer.from(text), note: 'no object' };
      const target = rng.pick(objects);
      const marker = '__fuzz_dup_marker__';
      const withMarker = setPath(value, [...target, marker], null);
      let obj: Json = value;
      for (const k of target) obj = (obj as Record<string, Json>)[k as string]!;
      const firstKey = Object.keys(obj as object)[0]!;
      const dup = rng.pick([`${JSON.stringify(firstKey)}:${rng.pick(['null', '{}', '[]', '7', '"dup"', JSON.stringify((obj as Record<string, Json>)[firstKey])])}`, `"__proto__":{"polluted":true}`, `"constructor":{"prototype":{"x":1}}`]);
      return { body: Buffer.from(render(withMarker).replace(`"${marker}":null`, dup)), note: `duplicate key in ${target.join('/') || '(root)'}: ${dup.slice(0, 60)}` };
    }
    case 3: {
      const depth = rng.pick([100, 1000, 5000, 20000]);
      const open = rng.chance(0.5) ? '['.repeat(depth) : '{"a":'.repeat(depth);
      const close = open.startsWith('[') ? ']'.repeat(depth) : '}'.repeat(depth);
      const wrapped = render(setPath(value, path, `${RAW}"__DEEP__"`)).replace('"__DEEP__"', open + '1' + close);
      return { body: Buffer.from(wrapped), note: `${depth}-deep ${open[0]} at ${where}` };
    }
    case 4: {
      // Many siblings: an array or object with thousands of members.
      const n = rng.pick([1000, 10000, 50000]);
      const wide = rng.chance(0.5) ? `[${Array(n).fill('{}').join(',')}]` : `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`;
      return { body: Buffer.from(render(setPath(value, path, `${RAW}"__WIDE__"`)).replace('"__WIDE__"', wide)), note: `${n} siblings at ${where}` };
    }
    default: {
      const junk = rng.pick(['', ' ', '\u0000', ',', '}', ']', '{}', 'null', '\ufeff', '/* c */', '// c\n', "'x'", 'NaN', 'Infinity', 'undefined']);
      return rng.chance(0.5)
        ? { body: Buffer.from(text + junk), note: `trailing ${JSON.stringify(junk)}` }
        : { body: Buffer.from(junk + text), note: `leading ${JSON.stringify(junk)}` };
    }
  }
}

/** Stand-alone JSON bodies that are not CSP at all. */
export const JSON_OUTLIERS: { label: string; body: string }[] = [
  { label: 'empty object', body: '{}' },
  { label: 'empty array', body: '[]' },
  { label: 'null', body: 'null' },
  { label: 'number', body: '42' },
  { label: 'string', body: '"WV-CSP-Message"' },
  { label: 'huge number', body: '1e999999' },
  { label: 'huge integer', body: '9'.repeat(100000) },
  { label: '100000-deep arrays', body: '['.repeat(100000) + ']'.repeat(100000) },
  { label: '300000-deep arrays (unclosed)', body: '['.repeat(300000) },
  { label: '100000-deep objects', body: '{"a":'.repeat(100000) + 'null' + '}'.repeat(100000) },
  { label: 'lone surrogate key', body: '{"\\ud800":1}' },
  { label: 'BOM + object', body: '\ufeff{}' },
  { label: '__proto__ pollution', body: '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"polluted":1}}}' },
  { label: 'unterminated string', body: '{"WV-CSP-Message":"' },
  { label: 'NUL in key', body: '{"WV-CSP-\u0000Message":{}}' },
];
