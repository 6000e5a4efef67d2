// Block and grant lists over real HTTP (reference imps-csp.md §3.5): BlockEntity-Request (1.1
// name BlockUser-Request) with EntityList / AddList / RemoveList and the InUse flags where each
// version puts them, GetBlockedList-Request, and what the lists do to messages: a refused sender
// gets 532 (alone, or in a 201 DetailedResult) and the message is never stored for the recipient.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sharedServer } from '../support/shared-server.ts';
import { Phone, resultCode, detailedResults } from '../support/phone.ts';
import { MATRIX, variantKit } from '../support/matrix.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';

const DOMAIN = 'imps.test';

interface ListSpec {
  inUse?: boolean;
  entity?: string[];
  add?: string[];
  remove?: string[];
}

const userIds = (name: string, ids: string[] | undefined) => (ids ? el(name, ids.map((u) => leaf('UserID', u))) : undefined);

/**
 * BlockEntity-Request children for one list: 1.1/1.2 carry InUse inside the list, 1.3 carries
 * BlockListInUse / GrantListInUse at the primitive level (and BlockList has no InUse).
 */
function listParts(version: CspVersion, name: 'BlockList' | 'GrantList', spec: ListSpec): CspElement[] {
  const body = [userIds('EntityList', spec.entity), userIds('AddList', spec.add), userIds('RemoveList', spec.remove)];
  if (version === '1.3') {
    const hasBody = body.some(Boolean);
    return [hasBody ? el(name, body) : undefined, leaf(`${name}InUse`, spec.inUse)].filter((e): e is CspElement => e !== undefined);
  }
  return [el(name, [leaf('InUse', spec.inUse), ...body])];
}

function blockRequest(version: CspVersion, lists: { block?: ListSpec; grant?: ListSpec }): CspElement {
  return el('BlockEntity-Request', [
    ...(lists.block ? listParts(version, 'BlockList', lists.block) : []),
    ...(lists.grant ? listParts(version, 'GrantList', lists.grant) : []),
  ]);
}

interface ListState {
  inUse: boolean | undefined;
  users: string[];
}

/** Read a GetBlockedList-Response, checking the InUse flags sit where the version puts them. */
function readBlockedList(version: CspVersion, answer: CspElement): { block: ListState; grant: ListState } {
  assert.equal(answer.name, 'GetBlockedList-Response');
  const read = (name: 'BlockList' | 'GrantList'): ListState => {
    const list = child(answer, name);
    const flag = (e: CspElement | undefined, n: string) => {
      const t = textOf(e, n);
      return t === undefined ? undefined : t.toUpperCase() === 'T';
    };
    if (version === '1.3') {
      assert.equal(child(list, 'InUse'), undefined, `1.3 ${name} has no InUse`);
    } else {
      assert.equal(child(answer, `${name}InUse`), undefined, `${version} has no ${name}InUse`);
    }
    const inUse = version === '1.3' ? flag(answer, `${name}InUse`) : flag(list, 'InUse');
    const users = childrenNamed(child(list, 'EntityList'), 'UserID').map((u) => textOf(u) ?? '');
    return { inUse, users: users.sort() };
  };
  return { block: read('BlockList'), grant: read('GrantList') };
}

/** Every MessageInfo in a GetMessageList-Response (1.1/1.2 directly, 1.3 inside MessageInfoList). */
function listedMessages(answer: CspElement): CspElement[] {
  assert.equal(answer.name, 'GetMessageList-Response');
  return [...childrenNamed(answer, 'MessageInfo'), ...childrenNamed(child(answer, 'MessageInfoList'), 'MessageInfo')];
}

describe('block and grant lists', () => {
  const server = sharedServer();
  /** Read-only look into the message store: refused messages must leave no trace there. */
  const storedCopies = (text: string) => {
    const db = new Database(join(server().dataDir, 'data', 'village.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM messages WHERE content = ?').get(Buffer.from(text, 'utf8')) as { n: number }).n;
    } finally {
      db.close();
    }
  };

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { user, address, online } = variantKit(server, variant);
    const setLists = async (p: Phone, lists: { block?: ListSpec; grant?: ListSpec }) => {
      const { primitive } = await p.request(blockRequest(version, lists));
      assert.equal(primitive.name, 'Status');
      assert.equal(resultCode(primitive), 200);
    };
    const blockedList = async (p: Phone) => readBlockedList(version, (await p.request(el('GetBlockedList-Request'))).primitive);
    const messageList = async (p: Phone) => listedMessages((await p.request(el('GetMessageList-Request'))).primitive);
    const texts = async (p: Phone) => (await p.receiveAll()).map((r) => r.text);

    describe(label, () => {
      test('BlockEntity-Request answers Status 200; GetBlockedList returns both lists as wv: addresses with their InUse flags', async () => {
        const [owner] = await online('gl-owner');
        // Three spellings of a user: bare, user@domain, wv:USER@domain in upper case.
        await setLists(owner!, {
          block: { inUse: true, entity: [user('gl-x'), `${user('gl-y')}@${DOMAIN}`] },
          grant: { inUse: false, entity: [`wv:${user('gl-z').toUpperCase()}@${DOMAIN}`] },
        });
        const lists = await blockedList(owner!);
        assert.deepEqual(lists.block, { inUse: true, users: [address('gl-x'), address('gl-y')].sort() });
        assert.deepEqual(lists.grant, { inUse: false, users: [address('gl-z')] });
      });

      test('EntityList replaces a list; AddList and RemoveList change it; flags not named stay as they were', async () => {
        const [owner] = await online('ed-owner');
        await setLists(owner!, { block: { inUse: true, entity: [user('ed-a'), user('ed-b')] } });
        await setLists(owner!, { block: { add: [user('ed-c')], remove: [user('ed-a')] } });
        let lists = await blockedList(owner!);
        assert.deepEqual(lists.block, { inUse: true, users: [address('ed-b'), address('ed-c')].sort() });
        await setLists(owner!, { block: { entity: [user('ed-d')] } });
        lists = await blockedList(owner!);
        assert.deepEqual(lists.block, { inUse: true, users: [address('ed-d')] });

        // The grant list is changed the same way, independently of the block list.
        await setLists(owner!, { grant: { inUse: true, add: [user('ed-g1'), user('ed-g2')] } });
        await setLists(owner!, { grant: { remove: [user('ed-g1')] } });
        lists = await blockedList(owner!);
        assert.deepEqual(lists.grant, { inUse: true, users: [address('ed-g2')] });
        assert.deepEqual(lists.block, { inUse: true, users: [address('ed-d')] });
      });

      test('a blocked sender alone gets 532 as the Result; the message is never stored, not even after unblocking', async () => {
        const [alice, bob] = await online('bk-alice', 'bk-bob');
        await setLists(bob!, { block: { inUse: true, add: [user('bk-alice')] } });
        const secret = `blocked words ${version}`;
        const sent = await alice!.sendText(user('bk-bob'), secret);
        assert.equal(sent.name, 'SendMessage-Response');
        assert.equal(resultCode(sent), 532);
        assert.equal(textOf(sent, 'MessageID'), undefined, 'a refused message has no MessageID');

        assert.deepEqual(await texts(bob!), []);
        assert.deepEqual(await messageList(bob!), []);
        assert.equal(storedCopies(secret), 0, 'nothing of the refused message is in the store');

        await setLists(bob!, { block: { remove: [user('bk-alice')] } });
        assert.deepEqual(await texts(bob!), [], 'unblocking does not release what was refused');
        assert.deepEqual(await messageList(bob!), []);
        const [again] = await online('bk-bob');
        assert.deepEqual(await texts(again!), [], 'nor does a new login');

        const welcome = `after unblocking ${version}`;
        assert.equal(resultCode(await alice!.sendText(user('bk-bob'), welcome)), 200);
        assert.equal(storedCopies(welcome), 1, 'an accepted message is in the store (the probe sees stored messages)');
        assert.deepEqual(await texts(again!), [welcome]);
      });

      test('a blocked sender is reported with 532 in a 201 DetailedResult when another recipient took the message', async () => {
        const [alice, bob, carol] = await online('bd-alice', 'bd-bob', 'bd-carol');
        await setLists(bob!, { block: { inUse: true, entity: [address('bd-alice')] } });
        const secret = `for carol only ${version}`;
        const sent = await alice!.sendText([user('bd-bob'), user('bd-carol')], secret);
        assert.equal(resultCode(sent), 201);
        assert.ok(textOf(sent, 'MessageID'), 'carol has it, so it has a MessageID');
        assert.deepEqual(detailedResults(sent), [{ code: 532, userIds: [user('bd-bob')] }]);
        assert.deepEqual(await texts(carol!), [secret]);
        assert.deepEqual(await texts(bob!), []);
        assert.deepEqual(await messageList(bob!), []);
      });

      test('a grant list in use lets only granted senders through', async () => {
        const [alice, bob, carol] = await online('gr-alice', 'gr-bob', 'gr-carol');
        await setLists(bob!, { grant: { inUse: true, entity: [user('gr-carol')] } });
        const refused = await alice!.sendText(user('gr-bob'), 'not granted');
        assert.equal(resultCode(refused), 532);
        assert.equal(resultCode(await carol!.sendText(user('gr-bob'), 'granted')), 200);
        assert.deepEqual(await texts(bob!), ['granted']);
        assert.deepEqual(await messageList(bob!), []);
        // Bob's grant list binds only Bob: Alice still receives from anyone.
        assert.equal(resultCode(await bob!.sendText(user('gr-alice'), 'hello alice')), 200);
        assert.deepEqual(await texts(alice!), ['hello alice']);
      });

      test('InUse F turns a block list off without emptying it; InUse T turns it back on', async () => {
        const [alice, bob] = await online('iu-alice', 'iu-bob');
        await setLists(bob!, { block: { inUse: true, entity: [user('iu-alice')] } });
        assert.equal(resultCode(await alice!.sendText(user('iu-bob'), 'refused 1')), 532);

        await setLists(bob!, { block: { inUse: false } });
        assert.deepEqual((await blockedList(bob!)).block, { inUse: false, users: [address('iu-alice')] }, 'the entries stay');
        assert.equal(resultCode(await alice!.sendText(user('iu-bob'), 'list off')), 200);
        assert.deepEqual(await texts(bob!), ['list off']);

        await setLists(bob!, { block: { inUse: true } });
        assert.equal(resultCode(await alice!.sendText(user('iu-bob'), 'refused 2')), 532);
        assert.deepEqual(await texts(bob!), []);
      });

      test('InUse F turns a grant list off without emptying it', async () => {
        const [alice, bob] = await online('ig-alice', 'ig-bob');
        await setLists(bob!, { grant: { inUse: true, entity: [user('ig-friend')] } });
        assert.equal(resultCode(await alice!.sendText(user('ig-bob'), 'not granted')), 532);
        await setLists(bob!, { grant: { inUse: false } });
        assert.deepEqual((await blockedList(bob!)).grant, { inUse: false, users: [address('ig-friend')] });
        assert.equal(resultCode(await alice!.sendText(user('ig-bob'), 'grant list off')), 200);
        assert.deepEqual(await texts(bob!), ['grant list off']);
      });

      test('a list set but not in use does not refuse anyone', async () => {
        const [alice, bob] = await online('nu-alice', 'nu-bob');
        await setLists(bob!, { block: { inUse: false, entity: [user('nu-alice')] }, grant: { inUse: false, entity: [user('nu-other')] } });
        assert.equal(resultCode(await alice!.sendText(user('nu-bob'), 'lists off')), 200);
        assert.deepEqual(await texts(bob!), ['lists off']);
      });

      test('a bad UserID in a list gets 402 and changes nothing', async () => {
        const [owner] = await online('bad-owner');
        await setLists(owner!, { block: { inUse: true, entity: [user('bad-keep')] } });
        for (const bad of ['bad/name', 'wv:', `${user('bad-x')}@not a domain`]) {
          const { primitive } = await owner!.request(blockRequest(version, { block: { add: [user('bad-new'), bad] } }));
          assert.equal(resultCode(primitive), 402, `"${bad}"`);
        }
        assert.deepEqual((await blockedList(owner!)).block, { inUse: true, users: [address('bad-keep')] });
      });
    });
  }

  describe('CSP 1.1 raw XML: both spellings of the primitive', () => {
    const NS = 'http://www.wireless-village.org/CSP1.1';
    const TRC = 'http://www.wireless-village.org/TRC1.1';
    const rawRequest = (sessionId: string, id: string, primitive: string, body: string) =>
      `<?xml version="1.0" encoding="UTF-8"?><WV-CSP-Message xmlns="${NS}"><Session><SessionDescriptor><SessionType>Inband</SessionType>` +
      `<SessionID>${sessionId}</SessionID></SessionDescriptor><Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode>` +
      `<TransactionID>${id}</TransactionID></TransactionDescriptor><TransactionContent xmlns="${TRC}"><${primitive}>${body}</${primitive}>` +
      `</TransactionContent></Transaction></Session></WV-CSP-Message>`;
    const answer = async (p: Phone, id: string, xml: string) => {
      const exchange = await p.postRaw(xml);
      assert.equal(exchange.status, 200);
      const tx = exchange.message?.transactions.find((t) => t.id === id && t.mode === 'Response');
      assert.ok(tx?.primitive, `an answer to ${id}: ${exchange.raw.toString('utf8').slice(0, 500)}`);
      return tx.primitive;
    };

    for (const primitive of ['BlockUser-Request', 'BlockEntity-Request']) {
      test(`<${primitive}> is accepted in 1.1 and takes effect`, async () => {
        const tag = primitive.split('-')[0]!.toLowerCase();
        const alice = new Phone(server(), { version: '1.1' });
        const bob = new Phone(server(), { version: '1.1' });
        await alice.loginPassword(`raw-${tag}-alice`, 'pw');
        await bob.loginPassword(`raw-${tag}-bob`, 'pw');

        const block = rawRequest(bob.sessionId!, 'raw1', primitive, `<BlockList><InUse>T</InUse><AddList><UserID>wv:raw-${tag}-alice@${DOMAIN}</UserID></AddList></BlockList>`);
        const blocked = await answer(bob, 'raw1', block);
        assert.equal(blocked.name, 'Status');
        assert.equal(resultCode(blocked), 200);
        const lists = readBlockedList('1.1', (await bob.request(el('GetBlockedList-Request'))).primitive);
        assert.deepEqual(lists.block, { inUse: true, users: [`wv:raw-${tag}-alice@${DOMAIN}`] });
        assert.equal(resultCode(await alice.sendText(`raw-${tag}-bob`, 'blocked')), 532);

        const unblock = rawRequest(bob.sessionId!, 'raw2', primitive, `<BlockList><RemoveList><UserID>raw-${tag}-alice</UserID></RemoveList></BlockList>`);
        assert.equal(resultCode(await answer(bob, 'raw2', unblock)), 200);
        assert.equal(resultCode(await alice.sendText(`raw-${tag}-bob`, 'welcome')), 200);
        assert.deepEqual((await bob.receiveAll()).map((r) => r.text), ['welcome']);
      });
    }
  });
});
