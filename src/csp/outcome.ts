// The Result of an operation over several entities (recipients, users, lists, messages):
// 200 when nothing failed; 201 with one DetailedResult per code when some succeeded; the
// failure's own code when everything failed the same way; 900 when it failed in several ways.
import type { CspElement } from './tree.ts';
import { el, leaf } from './tree.ts';
import { result } from './envelope.ts';
import { statusText } from './status.ts';
import type { CspVersion } from './versions.ts';

/** DetailedResult names these only from CSP 1.2 on (1.1: UserID, GroupID, ScreenName). */
const NOT_IN_11 = new Set(['MessageID', 'ContactList', 'Domain']);

export class Failures {
  private readonly byCode = new Map<number, CspElement[]>();

  add(code: number, entity: CspElement): void {
    const list = this.byCode.get(code);
    if (list) list.push(entity);
    else this.byCode.set(code, [entity]);
  }

  get count(): number {
    let n = 0;
    for (const list of this.byCode.values()) n += list.length;
    return n;
  }

  /** The Result element, given how many entities succeeded. */
  result(version: CspVersion, succeeded: number): CspElement {
    if (this.byCode.size === 0) return result(200);
    const details = [...this.byCode].map(([code, entities]) => {
      // A 1.1 phone cannot be shown some entity kinds in DetailedResult: they go into the Description.
      const hidden = version === '1.1' ? entities.filter((e) => NOT_IN_11.has(e.name)) : [];
      const shown = entities.filter((e) => !hidden.includes(e));
      const description = hidden.length ? `${statusText(code)}: ${hidden.map((e) => e.text).join(', ')}` : statusText(code);
      return el('DetailedResult', [leaf('Code', code), leaf('Description', description), ...shown]);
    });
    if (succeeded > 0) return result(201, undefined, details);
    if (this.byCode.size === 1) return result([...this.byCode.keys()][0]!, undefined, details);
    return result(900, 'Multiple errors', details);
  }
}
