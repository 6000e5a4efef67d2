// Codec throughput on the generated corpus (a message for every primitive of every version):
// decode and encode in messages/s and MB/s per encoding, with V8's own JSON.parse of the same
// messages' JSON twins as the yardstick, measured in the same run.
import { performance } from 'node:perf_hooks';
import { corpus } from '../../test/support/corpus.ts';
import { XML_CODEC, WBXML_CODEC, type Codec } from '../../src/csp/codecs.ts';
import { JSON_CODEC } from '../../src/csp/json-codec.ts';
import { CSP_VERSIONS, type CspVersion } from '../../src/csp/versions.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import type { BenchOptions, ScenarioResult } from '../lib.ts';
import { round } from '../lib.ts';

const LIMITS = { maxDepth: 100 };
const MIN_SECONDS = 1.5;

/** Run `fn` over all items repeatedly for at least MIN_SECONDS; returns items/s and bytes/s. */
function measure<T>(items: T[], bytesOf: (item: T) => number, fn: (item: T) => unknown): { perSecond: number; mbPerSecond: number } {
  for (const item of items) fn(item); // warm up
  let rounds = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    for (const item of items) fn(item);
    rounds++;
    elapsed = (performance.now() - t0) / 1000;
  } while (elapsed < MIN_SECONDS);
  const bytes = items.reduce((n, i) => n + bytesOf(i), 0) * rounds;
  return { perSecond: (items.length * rounds) / elapsed, mbPerSecond: bytes / elapsed / 1e6 };
}

export async function codecs(_options: BenchOptions): Promise<ScenarioResult> {
  const messages: { version: CspVersion; tree: CspElement }[] = CSP_VERSIONS.flatMap((version) => corpus(version).map((e) => ({ version, tree: e.tree })));
  const results: Record<string, { decode: { perSecond: number; mbPerSecond: number }; encode: { perSecond: number; mbPerSecond: number }; averageBytes: number }> = {};
  const encoded: Record<string, { version: CspVersion; bytes: Buffer }[]> = {};
  for (const codec of [XML_CODEC, WBXML_CODEC, JSON_CODEC] as Codec[]) {
    const bodies = messages.map((m) => ({ version: m.version, bytes: codec.encode(m.tree, m.version) }));
    encoded[codec.name] = bodies;
    results[codec.name] = {
      decode: measure(bodies, (b) => b.bytes.length, (b) => codec.decode(b.bytes, LIMITS)),
      encode: measure(messages, (_m) => 0, (m) => codec.encode(m.tree, m.version)),
      averageBytes: round(bodies.reduce((n, b) => n + b.bytes.length, 0) / bodies.length, 0),
    };
    // encode MB/s counts the bytes produced
    const producedPerMessage = bodies.reduce((n, b) => n + b.bytes.length, 0) / bodies.length;
    results[codec.name]!.encode.mbPerSecond = (results[codec.name]!.encode.perSecond * producedPerMessage) / 1e6;
  }
  const jsonTexts = encoded.json!.map((b) => b.bytes.toString('utf8'));
  const yardstick = measure(jsonTexts, (t) => Buffer.byteLength(t), (t) => JSON.parse(t));
  const data = {
    messages: messages.length,
    yardstickJsonParse: { perSecond: round(yardstick.perSecond, 0), mbPerSecond: round(yardstick.mbPerSecond) },
    ...Object.fromEntries(
      Object.entries(results).map(([name, r]) => [
        name,
        {
          averageBytes: r.averageBytes,
          decode: { perSecond: round(r.decode.perSecond, 0), mbPerSecond: round(r.decode.mbPerSecond), timesSlowerThanJsonParse: round(yardstick.perSecond / r.decode.perSecond) },
          encode: { perSecond: round(r.encode.perSecond, 0), mbPerSecond: round(r.encode.mbPerSecond) },
        },
      ]),
    ),
  };
  const line = (name: string) => {
    const r = (data as unknown as Record<string, { averageBytes: number; decode: { perSecond: number; mbPerSecond: number; timesSlowerThanJsonParse: number }; encode: { perSecond: number; mbPerSecond: number } }>)[name]!;
    return `  ${name.padEnd(6)} avg ${String(r.averageBytes).padStart(5)} B   decode ${String(r.decode.perSecond).padStart(7)} msg/s ${String(r.decode.mbPerSecond).padStart(6)} MB/s (${r.decode.timesSlowerThanJsonParse}× JSON.parse time)   encode ${String(r.encode.perSecond).padStart(7)} msg/s ${String(r.encode.mbPerSecond).padStart(6)} MB/s`;
  };
  return {
    data,
    lines: [
      `codecs: ${messages.length} generated messages (every primitive of CSP 1.1, 1.2, 1.3)`,
      line('xml'),
      line('wbxml'),
      line('json'),
      `  yardstick: V8 JSON.parse of the JSON twins  ${data.yardstickJsonParse.perSecond} msg/s ${data.yardstickJsonParse.mbPerSecond} MB/s`,
    ],
  };
}
