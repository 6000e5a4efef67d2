// Our WBXML encoder against Wireshark's WBXML dissector (tshark), CSP 1.1, 1.2 and 1.3 — the
// only independent reader of CSP 1.3 there is (reference wbxml-oracle.md).
//   (a) our encoding of every corpus message and every reference sample, as tshark reads it, is
//       the tree we encoded;
//   (b) there is no independent 1.3 *encoder*, so in addition tshark must be able to name every
//       tag, attribute and value token we write, in every version.
// All messages go through one text2pcap + tshark run. Only tshark quirks and table gaps that
// are documented (wbxml-oracle.md, imps-csp.md §6.6) or verified against the Wireshark source
// are normalised, each where it is applied. A missing tool fails with the install command.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { encodeWbxml, PUBLIC_IDS } from '../../src/csp/wbxml-codec.ts';
import { decodeXml } from '../../src/csp/xml-codec.ts';
import { schemaFor } from '../../src/csp/schema/index.ts';
import { child, type CspElement } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { corpus, primitives } from '../support/corpus.ts';
import { encoderOrder, firstDifference, hexPreview, mapTree, renderTree, requireTools, tsharkDecodeMany, type TreeLike, type TsharkDecoded } from '../support/oracles.ts';

const SAMPLES = new URL('../../../shared/reference/csp-samples/', import.meta.url);
const VERSIONS: CspVersion[] = ['1.1', '1.2', '1.3'];
const limits = { maxDepth: 64 };

interface Case {
  name: string;
  version: CspVersion;
  tree: CspElement;
  wbxml: Buffer;
}

function cases(version: CspVersion): Case[] {
  const trees = corpus(version).map((e) => ({ name: e.name, tree: e.tree }));
  const prefix = version.replace('.', '');
  for (const file of readdirSync(SAMPLES).filter((f) => f.startsWith(prefix) && f.endsWith('.xml')).sort()) {
    const decoded = decodeXml(readFileSync(new URL(file, SAMPLES)), limits);
    assert.equal(decoded.version, version, file);
    trees.push({ name: `sample ${file}`, tree: decoded.root });
  }
  return trees.map((t) => ({ ...t, version, wbxml: encodeWbxml(t.tree, version) }));
}

/** Every version's cases and tshark's reading of them, from one tshark run (made on first use). */
let decodedAll: { case: Case; tshark: TsharkDecoded }[] | undefined;
function decoded(version: CspVersion): { case: Case; tshark: TsharkDecoded }[] {
  if (!decodedAll) {
    const all = VERSIONS.flatMap(cases);
    const read = tsharkDecodeMany(all.map((c) => c.wbxml));
    decodedAll = all.map((c, i) => ({ case: c, tshark: read[i]! }));
  }
  return decodedAll.filter((d) => d.case.version === version);
}

// ── Normalising tshark's reading ─────────────────────────────────────────────────────────────

/**
 * Wireshark's spellings of tokens it shares with our tables (imps-csp.md §6.6, wbxml-oracle.md
 * "Token tables"): same token, other name.
 */
const TSHARK_NAMES: Record<string, string> = {
  'WV-CSP-NSDiscovery-Request': 'WV-CSP-VersionDiscovery-Request', // 10:0x05
  'WV-CSP-NSDiscovery-Response': 'WV-CSP-VersionDiscovery-Response', // 10:0x06
  'Auto-Subscribe': 'AutoSubscribe', // 4:0x1E (LWB and WS spelling)
  'BlockUser-Request': 'BlockEntity-Request', // 6:0x06 (our 1.1 wire name, canonical BlockEntity-Request)
};

/**
 * Tokens of ours that tshark 4.0's tables lack although the other sources have them — table gaps
 * of the oracle, not errors of ours (each checked against the sources named):
 *   1.3 4:0x1E AutoSubscribe — in Android's csp13_data.h (transcribed from the OMA 1.3 WBXML
 *   spec) and Baraza; Wireshark's 1.3 page-4 table skips it. (Not yet in wbxml-oracle.md.)
 */
const TSHARK_TAG_GAPS: Partial<Record<CspVersion, Record<string, string>>> = {
  '1.3': { '?tag 4:0x1E': 'AutoSubscribe' },
};

/**
 * Integer elements whose OPAQUE value tshark leaves unparsed ("N bytes of unparsed opaque data")
 * because its per-version integer lists (packet-wbxml.c wv_csp1x_opaque_binary_tag) miss them;
 * libwbxml (1.1/1.2) and our tables type them as integers. For these the opaque bytes are read
 * here, big-endian; any other unparsed OPAQUE stays a failure.
 *   1.1/1.2: AcceptedCharset, SearchFindings, SearchID, SearchIndex, SearchLimit (libwbxml:
 *   integers; Wireshark's 1.3 list by name has the Search* ones, its 1.1/1.2 lists by token don't);
 *   1.3: AnswerOptionID (wbxml-oracle: "a likely page mix-up"), ChosenOptionID, WatcherCount.
 */
const TSHARK_UNTYPED_INTEGERS: Record<CspVersion, Set<string>> = {
  '1.1': new Set(['AcceptedCharset', 'SearchFindings', 'SearchID', 'SearchIndex', 'SearchLimit']),
  '1.2': new Set(['AcceptedCharset', 'SearchFindings', 'SearchID', 'SearchIndex', 'SearchLimit']),
  '1.3': new Set(['AnswerOptionID', 'ChosenOptionID', 'WatcherCount']),
};

function normaliseTshark(version: CspVersion, root: TreeLike): TreeLike {
  const gaps = TSHARK_TAG_GAPS[version] ?? {};
  return mapTree(root, (n) => {
    n.name = TSHARK_NAMES[n.name] ?? gaps[n.name] ?? n.name;
    const opaque = /^\?opaque ((?:[0-9a-f]{2})+)$/.exec(n.text ?? '');
    if (opaque && TSHARK_UNTYPED_INTEGERS[version].has(n.name)) {
      // The field's value is the whole token: c3, mb_u_int32 length, then the big-endian bytes.
      const bytes = Buffer.from(opaque[1]!, 'hex');
      let pos = 1;
      let length = 0;
      while (bytes[pos]! & 0x80) length = length * 128 + (bytes[pos++]! & 0x7f);
      length = length * 128 + bytes[pos++]!;
      n.text = String(bytes.subarray(pos, pos + length).reduce((v, b) => v * 256 + b, 0));
    }
    return n;
  })!;
}

/** The tshark complaints that are accounted for by the normalisations above. */
function unexplained(version: CspVersion, t: TsharkDecoded): { unknown: string[]; errors: string[] } {
  const gaps = TSHARK_TAG_GAPS[version] ?? {};
  return {
    unknown: t.unknown.filter((u) => !(u in gaps)),
    // Unparsed opaque data is judged by the tree comparison (allowed only for the listed integers).
    errors: t.errors.filter((e) => !/^opaque data: \(\d+ bytes of unparsed opaque data\)$/.test(e)),
  };
}

describe('the corpus', () => {
  for (const version of VERSIONS) {
    test(`CSP ${version}: a message for every primitive, each valid in the version's content models`, () => {
      const entries = corpus(version);
      const content = (e: (typeof entries)[number]) => child(child(child(e.tree, 'Session'), 'Transaction'), 'TransactionContent');
      const covered = new Set(entries.map((e) => content(e)?.children[0]?.name));
      assert.deepEqual(primitives(version).filter((p) => !covered.has(p)), []);
      for (const name of ['Login-Request', 'NewMessage', 'Status', 'Disconnect', 'GroupChangeNotice', 'InviteUser-Request', 'MessageDelivered']) {
        assert.ok(covered.has(name), `${name} is a primitive of ${version}`);
      }
      const schema = schemaFor(version);
      const problems = entries.flatMap((e) => schema.validate(e.tree).map((p) => `${e.name}: ${p}`));
      assert.deepEqual(problems, []);
      // Deterministic.
      assert.equal(JSON.stringify(corpus(version)), JSON.stringify(entries));
    });
  }
});

for (const version of VERSIONS) {
  describe(`tshark CSP ${version}`, () => {
    test('the oracle tools are installed', () => {
      requireTools('text2pcap', 'tshark');
    });

    test('(a) our WBXML of every corpus message and sample reads in tshark as the tree we encoded', () => {
      const all = decoded(version);
      const failures: string[] = [];
      for (const { case: c, tshark } of all) {
        if (!tshark.root) {
          failures.push(`${c.name}: tshark shows no WBXML (${tshark.errors.join('; ')})\n  bytes: ${hexPreview(c.wbxml)}`);
          continue;
        }
        const diff = firstDifference(renderTree(encoderOrder(version, c.tree)), renderTree(normaliseTshark(version, tshark.root)));
        if (diff) failures.push(`${c.name}: ${diff}\n  bytes: ${hexPreview(c.wbxml)}`);
      }
      assert.ok(all.length > 50, `only ${all.length} cases`);
      assert.deepEqual(failures, [], `${failures.length} of ${all.length} messages differ`);
    });

    test('(b) tshark names every token we write (no unknown tag, attribute or value token) and the public id', () => {
      const publicId = `0x${PUBLIC_IDS[version].toString(16).padStart(8, '0')}`;
      const failures: string[] = [];
      for (const { case: c, tshark } of decoded(version)) {
        if (tshark.publicId !== publicId) failures.push(`${c.name}: public id ${tshark.publicId}, not ${publicId}`);
        const { unknown, errors } = unexplained(version, tshark);
        if (unknown.length || errors.length) failures.push(`${c.name}: ${[...new Set([...unknown, ...errors])].join('; ')}`);
      }
      assert.deepEqual(failures, []);
    });
  });
}
