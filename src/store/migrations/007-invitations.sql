-- Invitations (Invite-Request, InviteUser-Response, CancelInvite-Request). An invitation is
-- named by its inviter and the InviteID the inviter's phone chose; each invitee answers (or
-- is cancelled) separately. User ids are canonical ("alice@imps.test"), group ids too.
CREATE TABLE invitations (
  inviter       TEXT NOT NULL,
  invite_id     TEXT NOT NULL,                 -- chosen by the inviter's client, unique per inviter
  invite_type   TEXT NOT NULL,                 -- IM, GR, PR, SC, GM
  group_id      TEXT,                          -- GR / GM: the group
  screen_name   TEXT,                          -- JSON {sName, groupId}: the inviter's screen name in a group
  note          TEXT,                          -- InviteNote
  urls          TEXT,                          -- JSON array (URLList)
  attributes    TEXT,                          -- JSON array of presence attribute names (PresenceSubList)
  validity      INTEGER NOT NULL,              -- seconds, as granted
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  PRIMARY KEY (inviter, invite_id)
) WITHOUT ROWID;
CREATE INDEX invitations_by_expiry ON invitations (expires_at);

CREATE TABLE invitation_invitees (
  inviter        TEXT NOT NULL,
  invite_id      TEXT NOT NULL,
  invitee        TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'declined', 'cancelled')),
  response_note  TEXT,
  answered_at    INTEGER,
  PRIMARY KEY (inviter, invite_id, invitee),
  FOREIGN KEY (inviter, invite_id) REFERENCES invitations (inviter, invite_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX invitation_invitees_by_invitee ON invitation_invitees (invitee, invite_id);
