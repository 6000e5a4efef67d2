// Our WBXML codec against Debian's libwbxml 0.11.8 (`xml2wbxml`, `wbxml2xml`), CSP 1.1 and 1.2
// (libwbxml has no CSP 1.3; see tshark.test.ts for that). Reference: wbxml-oracle.md.
//   (a) our encoding of every corpus message and every reference sample, decoded by wbxml2xml,
//       is the tree we encoded;
//   (b) xml2wbxml's encoding of the same XML, decoded by our decodeWbxml, is the tree
//       decodeXml reads from that XML.
// Only the libwbxml quirks documented in wbxml-oracle.md are normalised, each where it is
// applied. A missing tool fails these tests with the install command; they never skip.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { decodeWbxml, encodeWbxml } from '../../src/csp/wbxml-codec.ts';
import { decodeXml, encodeXml } from '../../src/csp/xml-codec.ts';
import { schemaFor } from '../../src/csp/schema/index.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { corpus } from '../support/corpus.ts';
import {
  encoderOrder,
  firstDifference,
  hexPreview,
  libwbxmlDecode,
  mapTree,
  renderTree,
  requireTools,
  xml2wbxml,
  type LibwbxmlVersion,
  type TreeLike,
} from '../support/oracles.ts';

const SAMPLES = new URL('../../../shared/reference/csp-samples/', import.meta.url);
const VERSIONS: LibwbxmlVersion[] = ['1.1', '1.2'];
const limits = { maxDepth: 64 };

interface Case {
  name: string;
  /** The XML given to xml2wbxml (for (b)). */
  xml: string;
  /** The tree we encode (for (a)). */
  tree: CspElement;
}

function cases(version: LibwbxmlVersion): Case[] {
  const out: Case[] = corpus(version).map((e) => ({
    name: e.name,
    tree: e.tree,
    // xml2wbxml refuses elements it has no token for, so (b) leaves those out.
    xml: encodeXml(mapTree(e.tree, (n) => (LIBWBXML_UNKNOWN_TAGS.has(n.name) ? undefined : n)) as CspElement, version).toString('utf8'),
  }));
  const prefix = version.replace('.', '');
  for (const file of readdirSync(SAMPLES).filter((f) => f.startsWith(prefix) && f.endsWith('.xml')).sort()) {
    const xml = readFileSync(new URL(file, SAMPLES), 'utf8');
    const decoded = decodeXml(Buffer.from(xml, 'utf8'), limits);
    assert.equal(decoded.version, version, file);
    out.push({ name: `sample ${file}`, xml, tree: decoded.root });
  }
  return out;
}

// ── Normalising libwbxml's output (wbxml-oracle.md, "Quirks of libwbxml 0.11.8") ─────────────

/**
 * libwbxml's spellings of tokens it shares with our tables (wbxml-oracle.md "Token tables",
 * imps-csp.md §6.6): the token is the same, only libwbxml's name for it differs.
 */
const LIBWBXML_NAMES: Record<string, string> = {
  'Extended-Data': 'ExtendedData', // 1:0x3B
  PreferredContent: 'ReferredContent', // 5:0x26
  PreferredvCard: 'ReferredvCard', // 5:0x27
  'Auto-Subscribe': 'AutoSubscribe', // 4:0x1E
};

/** Names of ours that libwbxml has no token for (wbxml-oracle.md: "only tshark has page 3 0x14 CIRURL"). */
const LIBWBXML_UNKNOWN_TAGS = new Set(['CIRURL']);
/** Value tokens libwbxml lacks and silently drops (wbxml-oracle.md: "only tshark has … SSMS, SHTTP"). */
const LIBWBXML_UNKNOWN_VALUES = new Set(['SSMS', 'SHTTP']);

/** Our XML in libwbxml's spelling, which is the only one xml2wbxml can encode (for (b)). */
function inLibwbxmlSpelling(xml: string): string {
  const spelling = new Map(Object.entries(LIBWBXML_NAMES).map(([theirs, ours]) => [ours, theirs]));
  // 6:0x06: our 1.1 wire name is NOK's BlockUser-Request; libwbxml's 1.1 table says BlockEntity-Request.
  spelling.set('BlockUser-Request', 'BlockEntity-Request');
  return xml.replace(/<(\/?)([A-Za-z][\w.-]*)(?=[\s/>])/g, (all, slash: string, name: string) => {
    const theirs = spelling.get(name);
    return theirs ? `<${slash}${theirs}` : all;
  });
}

/** wbxml2xml's tree in our spelling. */
function normaliseLibwbxml(version: LibwbxmlVersion, tree: TreeLike): TreeLike {
  const schema = schemaFor(version);
  return mapTree(tree, (n) => {
    n.name = LIBWBXML_NAMES[n.name] ?? n.name;
    // 1.1 calls 6:0x06 BlockUser-Request on the wire where our canonical name is BlockEntity-Request.
    if (n.name === schema.wireName('BlockEntity-Request')) n.name = 'BlockEntity-Request';
    if (schema.typeOf(n.name) === 'datetime' && n.text) {
      // An opaque DateTime is printed with the seconds dropped when they are 00 and with Z
      // when the zone byte is 0 (a libwbxml bug): compare the instant, not the spelling.
      n.text = n.text.replace(/^(\d{8}T\d{4})(Z?)$/, '$100$2');
    }
    return n;
  })!;
}

/** The tree we encoded, as libwbxml can show it at best. */
function expectedForLibwbxml(version: LibwbxmlVersion, tree: CspElement): TreeLike {
  return mapTree(encoderOrder(version, tree), (n) => {
    // libwbxml has no tag for these: its decoder prints the element as <unknown>.
    if (LIBWBXML_UNKNOWN_TAGS.has(n.name)) n.name = 'unknown';
    // libwbxml silently drops value tokens it does not know: the element comes out empty.
    if (n.children.length === 0 && n.text !== undefined && LIBWBXML_UNKNOWN_VALUES.has(n.text)) n.text = '';
    return n;
  })!;
}

/** (b) compares two trees of ours; xml2wbxml never encodes xmlns, so attributes are left out. */
function withoutAttributes(tree: TreeLike): TreeLike {
  return mapTree(tree, (n) => {
    delete n.attrs;
    return n;
  })!;
}

for (const version of VERSIONS) {
  describe(`libwbxml CSP ${version}`, () => {
    test('the oracle tools are installed', () => {
      requireTools('xml2wbxml', 'wbxml2xml');
    });

    test('(a) our WBXML of every corpus message and sample decodes with wbxml2xml to the tree we encoded', () => {
      requireTools('wbxml2xml');
      const all = cases(version);
      const failures: string[] = [];
      for (const c of all) {
        const ours = encodeWbxml(c.tree, version);
        let actual: TreeLike;
        try {
          actual = normaliseLibwbxml(version, libwbxmlDecode(ours, version));
        } catch (err) {
          failures.push(`${c.name}: ${(err as Error).message}\n  bytes: ${hexPreview(ours)}`);
          continue;
        }
        const diff = firstDifference(renderTree(expectedForLibwbxml(version, c.tree)), renderTree(actual));
        if (diff) failures.push(`${c.name}: ${diff}\n  bytes: ${hexPreview(ours)}`);
      }
      assert.ok(all.length > 50, `only ${all.length} cases`);
      assert.deepEqual(failures, [], `${failures.length} of ${all.length} messages differ`);
    });

    test("(b) xml2wbxml's WBXML of every corpus message and sample decodes with decodeWbxml to decodeXml's tree", () => {
      requireTools('xml2wbxml');
      const all = cases(version);
      const failures: string[] = [];
      for (const c of all) {
        const expected = decodeXml(Buffer.from(c.xml, 'utf8'), limits);
        let wbxml: Buffer;
        try {
          wbxml = xml2wbxml(inLibwbxmlSpelling(c.xml), version);
        } catch (err) {
          failures.push(`${c.name}: ${(err as Error).message}`);
          continue;
        }
        let decoded;
        try {
          decoded = decodeWbxml(wbxml, limits);
        } catch (err) {
          failures.push(`${c.name}: decodeWbxml: ${(err as Error).message}\n  bytes: ${hexPreview(wbxml)}`);
          continue;
        }
        if (decoded.version !== version) failures.push(`${c.name}: decoded as CSP ${decoded.version}`);
        const diff = firstDifference(renderTree(withoutAttributes(expected.root)), renderTree(withoutAttributes(decoded.root)));
        if (diff) failures.push(`${c.name}: ${diff}\n  bytes: ${hexPreview(wbxml)}`);
      }
      assert.deepEqual(failures, [], `${failures.length} of ${all.length} messages differ`);
    });

    // Not WBXML 1.0: `xml2wbxml -v 1.0` still writes a charset field (00 10 6a 00 …), which a
    // WBXML 1.0 header does not have (WAP-104; Wireshark agrees), so no 1.0 reader can read it.
    test('(b) also with the older WBXML 1.1 and 1.2 headers (samples)', () => {
      requireTools('xml2wbxml');
      const failures: string[] = [];
      for (const c of cases(version).filter((x) => x.name.startsWith('sample '))) {
        const expected = renderTree(withoutAttributes(decodeXml(Buffer.from(c.xml, 'utf8'), limits).root));
        for (const wbxmlVersion of ['1.1', '1.2'] as const) {
          const wbxml = xml2wbxml(inLibwbxmlSpelling(c.xml), version, { wbxmlVersion });
          assert.equal(wbxml[0], Number(wbxmlVersion.slice(2)), `${c.name}: xml2wbxml -v ${wbxmlVersion}`);
          try {
            const decoded = decodeWbxml(wbxml, limits);
            const diff = firstDifference(expected, renderTree(withoutAttributes(decoded.root)));
            if (decoded.version !== version) failures.push(`${c.name} WBXML ${wbxmlVersion}: decoded as CSP ${decoded.version}`);
            if (diff) failures.push(`${c.name} WBXML ${wbxmlVersion}: ${diff}\n  bytes: ${hexPreview(wbxml)}`);
          } catch (err) {
            failures.push(`${c.name} WBXML ${wbxmlVersion}: decodeWbxml: ${(err as Error).message}\n  bytes: ${hexPreview(wbxml)}`);
          }
        }
      }
      assert.deepEqual(failures, []);
    });
  });
}
