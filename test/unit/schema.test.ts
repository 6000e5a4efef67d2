// The content models (src/csp/schema/content-models.ts) against the WBXML tables and the
// reference samples: every model parses, names only elements its version has, covers every
// primitive of every version, and accepts the sample messages of imps-csp.md §11.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import tables from '../../src/csp/schema/wbxml-tables.json' with { type: 'json' };
import { CONTENT_MODELS } from '../../src/csp/schema/content-models.ts';
import { modelNames, parseModel, schemaFor } from '../../src/csp/schema/index.ts';
import { decodeXml } from '../../src/csp/xml-codec.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { CSP_VERSIONS } from '../../src/csp/versions.ts';

interface Tables {
  codePages: Record<string, Record<string, string>>;
  legacyTokens?: Record<string, Record<string, string>>;
}
const TABLES = tables as unknown as Record<CspVersion, Tables>;

/** Wire names whose canonical (model) name differs (as in schema/index.ts). */
const CANONICAL: Record<string, string> = { 'BlockUser-Request': 'BlockEntity-Request' };
const canonical = (wire: string) => CANONICAL[wire] ?? wire;

/** Names with a tag token in the version's code pages or its legacy tokens, canonical spelling. */
function tableNames(version: CspVersion): Set<string> {
  const t = TABLES[version];
  const names = new Set<string>();
  for (const page of Object.values(t.codePages)) for (const name of Object.values(page)) names.add(canonical(name));
  for (const page of Object.values(t.legacyTokens ?? {})) for (const name of Object.values(page)) names.add(canonical(name));
  return names;
}

/** The model text a version uses: the highest key not above it ("from this version on"). */
function modelText(name: string, version: CspVersion): string | undefined {
  const models = CONTENT_MODELS[name];
  let chosen: string | undefined;
  for (const v of CSP_VERSIONS) {
    if (models?.[v] !== undefined) chosen = models[v];
    if (v === version) break;
  }
  return chosen;
}

/** Every (element, version, model text) the models define. */
function* applicableModels(): Generator<{ name: string; version: CspVersion; text: string }> {
  for (const name of Object.keys(CONTENT_MODELS)) {
    for (const version of CSP_VERSIONS) {
      const text = modelText(name, version);
      if (text !== undefined) yield { name, version, text };
    }
  }
}

function namesIn(text: string): string[] {
  const parsed = parseModel(text);
  return parsed === 'EMPTY' || parsed === 'ANY' ? [] : modelNames(parsed);
}

test('every content model parses for every version it applies to', () => {
  const failures: string[] = [];
  for (const { name, version, text } of applicableModels()) {
    try {
      parseModel(text);
    } catch (err) {
      failures.push(`${version} ${name}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('version keys are valid and ANY is used only for TransactionContent', () => {
  const problems: string[] = [];
  for (const [name, models] of Object.entries(CONTENT_MODELS)) {
    const keys = Object.keys(models);
    if (keys.length === 0) problems.push(`${name}: no model`);
    for (const key of keys) if (!(CSP_VERSIONS as readonly string[]).includes(key)) problems.push(`${name}: unknown version key ${key}`);
    for (const text of Object.values(models)) if (text?.trim() === 'ANY' && name !== 'TransactionContent') problems.push(`${name}: ANY`);
  }
  assert.deepEqual(problems, []);
});

test('every name a model references exists in that version (code pages, legacy tokens or model keys)', () => {
  const offenders: string[] = [];
  for (const version of CSP_VERSIONS) {
    const known = tableNames(version);
    for (const name of Object.keys(CONTENT_MODELS)) if (modelText(name, version) !== undefined) known.add(name);
    for (const { name, version: v, text } of applicableModels()) {
      if (v !== version) continue;
      for (const ref of namesIn(text)) if (!known.has(ref)) offenders.push(`${version} ${name} -> ${ref}`);
    }
  }
  assert.equal(offenders.length, 0, `names unknown to their version:\n  ${offenders.join('\n  ')}`);
});

// A '1.2' model also applies to 1.3 (there is no way to end a model), so elements 1.3 dropped
// without even a legacy token still get a 1.3 model. These are the known cases.
const MODELS_OUTLIVING_THEIR_TOKEN: Record<string, { versions: CspVersion[]; reason: string }> = {
  CIRURL: { versions: ['1.3'], reason: '1.3 reuses token 3:0x14 for CIRHTTPAddress' },
  ReactiveAuthStatusList: { versions: ['1.3'], reason: 'GetReactiveAuthStatus-Response is legacy-only in 1.3; 9:0x0D unassigned' },
  ReactiveAuthStatus: { versions: ['1.3'], reason: 'GetReactiveAuthStatus-Response is legacy-only in 1.3; 9:0x0C unassigned' },
};

test('models exist only for versions whose tables have the element', () => {
  const offenders: string[] = [];
  for (const { name, version } of applicableModels()) {
    if (tableNames(version).has(name)) continue;
    if (MODELS_OUTLIVING_THEIR_TOKEN[name]?.versions.includes(version)) continue;
    offenders.push(`${version} ${name}`);
  }
  assert.equal(offenders.length, 0, `models for elements the version does not have:\n  ${offenders.join('\n  ')}`);
  // The exceptions must still be real exceptions (not silently fixed or renamed).
  for (const [name, { versions }] of Object.entries(MODELS_OUTLIVING_THEIR_TOKEN)) {
    for (const v of versions) {
      assert.ok(modelText(name, v) !== undefined, `${name} has no ${v} model any more: drop it from the exception list`);
      assert.ok(!tableNames(v).has(name), `${name} exists in ${v}: drop it from the exception list`);
    }
  }
});

/** Primitives that are not named *-Request / *-Response / *-User. */
const OTHER_PRIMITIVES = new Set(['Status', 'Disconnect', 'NewMessage', 'MessageNotification', 'MessageDelivered', 'GroupChangeNotice']);
const isPrimitive = (name: string) => /-(Request|Response|User)$/.test(name) || OTHER_PRIMITIVES.has(name);

/** Primitives that deliberately have no content model, with the reason. */
const PRIMITIVES_WITHOUT_MODEL: Record<string, string> = {
  'Extended-Request': 'vendor extension whose content is text: NOK 1.2 DTD "#PCDATA", Baraza String; no structure is known',
  'Extended-Response': 'vendor extension whose content is text: NOK 1.2 DTD "#PCDATA", Baraza String; no structure is known',
};

test('every primitive of every version has a content model', () => {
  const missing: string[] = [];
  let covered = 0;
  for (const version of CSP_VERSIONS) {
    for (const name of tableNames(version)) {
      if (!isPrimitive(name) || PRIMITIVES_WITHOUT_MODEL[name]) continue;
      if (modelText(name, version) === undefined) missing.push(`${version} ${name}`);
      else covered++;
    }
  }
  assert.equal(missing.length, 0, `primitives without a model:\n  ${missing.join('\n  ')}`);
  assert.ok(covered > 200, `only ${covered} primitive/version pairs found`);
  for (const name of Object.keys(PRIMITIVES_WITHOUT_MODEL)) {
    assert.equal(CONTENT_MODELS[name], undefined, `${name} now has a model: drop it from the exception list`);
  }
});

test('function codes and the all-functions flags are EMPTY in every version that has them', () => {
  const problems: string[] = [];
  for (const version of CSP_VERSIONS) {
    const schema = schemaFor(version);
    const codes = new Set<string>();
    for (const name of Object.keys(CONTENT_MODELS)) {
      if (!/Func$/.test(name)) continue;
      const text = modelText(name, version);
      if (text) for (const code of namesIn(text)) codes.add(code);
    }
    for (const flag of ['MF', 'MP', 'MM', 'MG']) if (tableNames(version).has(flag)) codes.add(flag);
    assert.ok(codes.size >= 38, `${version}: only ${codes.size} function codes`);
    for (const code of codes) if (schema.typeOf(code) !== 'empty') problems.push(`${version} ${code} is ${schema.typeOf(code)}`);
  }
  assert.deepEqual(problems, []);
});

test('presence attributes and other selectors validate when empty', () => {
  const problems: string[] = [];
  for (const version of CSP_VERSIONS) {
    const schema = schemaFor(version);
    const attributes = namesIn(modelText('PresenceSubList', version)!);
    assert.ok(attributes.length >= 17);
    for (const name of [...attributes, 'PresenceSubList', 'GetWatcherList-Request', 'Polling-Request', 'Logout-Request', 'GetList-Request', 'GetBlockedList-Request', 'ClientID']) {
      problems.push(...schema.validate({ name, children: [] }).map((p) => `${version} ${p}`));
    }
  }
  assert.deepEqual(problems, []);
});

test('a presence attribute with a value, and CommC/Status as a text leaf, validate', () => {
  const leafEl = (name: string, text: string): CspElement => ({ name, children: [], text });
  for (const version of CSP_VERSIONS) {
    const schema = schemaFor(version);
    const online = { name: 'OnlineStatus', children: [leafEl('Qualifier', 'T'), leafEl('PresenceValue', 'T')] };
    const commCap = { name: 'CommCap', children: [leafEl('Qualifier', 'T'), { name: 'CommC', children: [leafEl('Cap', 'IM'), leafEl('Status', 'OPEN')] }] };
    const sub = { name: 'PresenceSubList', children: [online, commCap] };
    assert.deepEqual(schema.validate(sub), [], version);
    // The primitive Status still needs its Result when it has children at all.
    assert.notDeepEqual(schema.validate({ name: 'Status', children: [{ name: 'ClientID', children: [] }] }), [], version);
  }
});

// ── Reference samples (imps-csp.md §11) ────────────────────────────────────────────────────

const SAMPLES = new URL('../../../shared/reference/csp-samples/', import.meta.url);
const OUT_OF_ORDER_SAMPLE = '12-sendmessage-request.xml';

function loadSample(file: string) {
  const decoded = decodeXml(readFileSync(new URL(file, SAMPLES)), { maxDepth: 40 });
  const expected = `${file[0]}.${file[1]}`;
  assert.equal(decoded.version, expected, `${file}: decoded as CSP ${decoded.version}`);
  return decoded;
}

function find(node: CspElement, name: string): CspElement | undefined {
  if (node.name === name) return node;
  for (const c of node.children) {
    const hit = find(c, name);
    if (hit) return hit;
  }
  return undefined;
}

const sampleFiles = readdirSync(SAMPLES).filter((f) => f.endsWith('.xml')).sort();

test('the reference samples are all there', () => {
  assert.ok(sampleFiles.length >= 10, `only ${sampleFiles.length} samples`);
  assert.ok(sampleFiles.includes(OUT_OF_ORDER_SAMPLE));
});

for (const file of sampleFiles.filter((f) => f !== OUT_OF_ORDER_SAMPLE)) {
  test(`sample ${file} validates against its version`, () => {
    const { version, root } = loadSample(file);
    assert.deepEqual(schemaFor(version).validate(root), []);
  });
}

test(`sample ${OUT_OF_ORDER_SAMPLE} (real Android capture) breaks only MessageInfo order, which orderChildren fixes`, () => {
  const { version, root } = loadSample(OUT_OF_ORDER_SAMPLE);
  const schema = schemaFor(version);
  const problems = schema.validate(root);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /\/SendMessage-Request\/MessageInfo: children \(Recipient, Sender, DateTime, ContentSize\) do not match/);

  const info = find(root, 'MessageInfo')!;
  info.children = schema.orderChildren('MessageInfo', info.children);
  assert.deepEqual(
    info.children.map((c) => c.name),
    ['ContentSize', 'Recipient', 'Sender', 'DateTime'],
  );
  assert.deepEqual(schema.validate(root), []);
});
