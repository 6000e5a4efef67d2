// Invitations below the wire: the store (one record per inviter and InviteID, a state per
// invitee, atomic with the notices it queues), expiry both in the handler and in the sweep,
// and the notices rendered valid for every CSP version.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, el, leaf, textOf } from '../../src/csp/tree.ts';
import { CspError } from '../../src/csp/status.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { parseUserId } from '../../src/csp/address.ts';
import { schemaFor } from '../../src/csp/schema/index.ts';
import { defaultCapabilities } from '../../src/features/capabilities.ts';
import type { SessionView } from '../../src/features/types.ts';
import { noticePrimitive } from '../../src/features/delivery.ts';
import { CANCEL_INVITE_USER, INVITE_RESPONSE, INVITE_USER, cancelInvite, inviteRequest, inviteUserResponse } from '../../src/features/invitations.ts';
import { sweepExpired } from '../../src/housekeeping.ts';
import { makeServices, type TestServices } from '../support/services.ts';

const VERSIONS: CspVersion[] = ['1.1', '1.2', '1.3'];

function session(t: TestServices, id: string, version: CspVersion = '1.2'): SessionView {
  return {
    sessionId: `s-${id}`,
    user: parseUserId(id, 'imps.test'),
    version,
    addressStyle: {},
    clientId: undefined,
    keepAliveTime: 600,
    capabilities: defaultCapabilities(t.services.config.session.serverPollMin),
    agreed: undefined,
    origin: { address: '10.0.0.1' },
    cir: undefined,
  };
}

function withUsers(...ids: string[]): TestServices {
  const t = makeServices();
  for (const id of ids) t.services.accounts.create(id, 'imps.test', t.vault.seal('pw'));
  return t;
}

const codeOf = (p: CspElement) => Number(textOf(child(p, 'Result'), 'Code'));

/** The CSP code a handler answers or throws. */
function run(fn: () => { response: CspElement }): number {
  try {
    return codeOf(fn().response);
  } catch (err) {
    if (err instanceof CspError) return err.code;
    throw err;
  }
}

const invite = (id: string, to: string[], extra: CspElement[] = []) =>
  el('Invite-Request', [leaf('InviteID', id), leaf('InviteType', 'IM'), el('Recipient', to.map((u) => el('User', [leaf('UserID', u)]))), ...extra]);
const respond = (id: string, accept: boolean) => el('InviteUser-Response', [leaf('InviteID', id), leaf('Acceptance', accept)]);

describe('invitations', () => {
  test('an invitation is stored with one pending state per invitee, and each invitee gets one notice', () => {
    const t = withUsers('alice@imps.test', 'bob@imps.test', 'carol@imps.test');
    const alice = session(t, 'alice@imps.test');
    assert.equal(run(() => inviteRequest(invite('i1', ['wv:bob@imps.test', 'carol', 'wv:bob@imps.test']), alice, t.services)), 200);
    const stored = t.services.invitations.get('alice@imps.test', 'i1');
    assert.deepEqual(
      stored?.invitees.map((i) => [i.invitee, i.state]),
      [
        ['bob@imps.test', 'pending'],
        ['carol@imps.test', 'pending'],
      ],
    );
    assert.equal(stored?.validity, t.services.config.invitations.validityDefault);
    for (const who of ['bob@imps.test', 'carol@imps.test']) {
      const notices = t.services.notices.offer(who, 's', t.services.now(), 1000, 10);
      assert.deepEqual(notices.map((n) => n.kind), [INVITE_USER], `${who} has one InviteUser notice`);
    }
  });

  test('Validity is capped at invitations.validityMax', () => {
    const t = withUsers('alice@imps.test', 'bob@imps.test');
    run(() => inviteRequest(invite('i1', ['bob'], [leaf('Validity', 10 ** 9)!]), session(t, 'alice@imps.test'), t.services));
    assert.equal(t.services.invitations.get('alice@imps.test', 'i1')?.validity, t.services.config.invitations.validityMax);
  });

  test('an expired invitation is refused with 423 by the handler even before the sweep, and the sweep forgets it', () => {
    const t = withUsers('alice@imps.test', 'bob@imps.test');
    run(() => inviteRequest(invite('i1', ['bob'], [leaf('Validity', 10)!]), session(t, 'alice@imps.test'), t.services));
    t.advance(11_000);
    assert.ok(t.services.invitations.get('alice@imps.test', 'i1'), 'still stored: not swept yet');
    assert.equal(run(() => inviteUserResponse(respond('i1', true), session(t, 'bob@imps.test'), t.services)), 423);
    assert.equal(run(() => cancelInvite(el('CancelInvite-Request', [leaf('InviteID', 'i1')]), session(t, 'alice@imps.test'), t.services)), 423);
    sweepExpired(t.services);
    assert.equal(t.services.invitations.get('alice@imps.test', 'i1'), undefined, 'swept');
    assert.equal(t.services.invitations.forInvitee('bob@imps.test', 'i1').length, 0, 'its invitees with it');
  });

  test('two inviters may use the same InviteID; the invitee’s Sender picks one, without one the newest is answered', () => {
    const t = withUsers('alice@imps.test', 'dan@imps.test', 'bob@imps.test');
    run(() => inviteRequest(invite('same', ['bob']), session(t, 'alice@imps.test'), t.services));
    t.advance(1000);
    run(() => inviteRequest(invite('same', ['bob']), session(t, 'dan@imps.test'), t.services));
    const bob = session(t, 'bob@imps.test');
    const toAlice = el('InviteUser-Response', [leaf('InviteID', 'same'), leaf('Acceptance', true), el('Sender', [el('User', [leaf('UserID', 'wv:alice@imps.test')])])]);
    assert.equal(run(() => inviteUserResponse(toAlice, bob, t.services)), 200);
    assert.equal(t.services.invitations.get('alice@imps.test', 'same')?.invitees[0]?.state, 'accepted');
    assert.equal(t.services.invitations.get('dan@imps.test', 'same')?.invitees[0]?.state, 'pending');
    assert.equal(run(() => inviteUserResponse(respond('same', false), bob, t.services)), 200);
    assert.equal(t.services.invitations.get('dan@imps.test', 'same')?.invitees[0]?.state, 'declined');
    assert.equal(run(() => inviteUserResponse(respond('same', false), bob, t.services)), 423, 'nothing pending is left');
  });

  test('AP / EC / EG invitations are not offered (405); an empty Recipient is 402', () => {
    const t = withUsers('alice@imps.test', 'bob@imps.test');
    const alice = session(t, 'alice@imps.test', '1.3');
    for (const type of ['AP', 'EC', 'EG']) {
      const request = el('Invite-Request', [leaf('InviteID', type), leaf('InviteType', type), el('Recipient', [el('User', [leaf('UserID', 'bob')])])]);
      assert.equal(run(() => inviteRequest(request, alice, t.services)), 405, type);
    }
    assert.equal(run(() => inviteRequest(invite('nobody', []), alice, t.services)), 402);
  });

  test('every invitation notice renders valid for every version (GM as GR in 1.1)', () => {
    const notice = (kind: string, payload: unknown) => ({ seq: 1, recipient: 'bob@imps.test', kind, payload, createdAt: 0, expiresAt: 1 });
    const full = {
      inviteId: 'x1',
      type: 'GM',
      inviter: 'alice@imps.test',
      groupId: 'alice/den@imps.test',
      screenName: { sName: 'Ali', groupId: 'alice/den@imps.test' },
      note: 'hello',
      urls: ['http://example.org/a'],
      attributes: ['OnlineStatus', 'StatusText'],
      validity: 60,
    };
    for (const version of VERSIONS) {
      const schema = schemaFor(version);
      const rendered = [
        noticePrimitive(notice(INVITE_USER, full), version, {}),
        noticePrimitive(notice(INVITE_RESPONSE, { inviteId: 'x1', invitee: 'bob@imps.test', acceptance: true, responseNote: 'ok', screenName: full.screenName }), version, {}),
        noticePrimitive(notice(CANCEL_INVITE_USER, { inviteId: 'x1', inviter: 'alice@imps.test', note: 'no', urls: ['http://example.org/b'] }), version, {}),
      ];
      for (const p of rendered) {
        assert.ok(p, `${version}: rendered`);
        assert.deepEqual(schema.validate(p), [], `${version} ${p.name}`);
      }
      assert.equal(textOf(rendered[0], 'InviteType'), version === '1.1' ? 'GR' : 'GM');
    }
  });
});
