-- Groups (issue 6). group_id is canonical: "owner/name@domain", or "/name@domain" for a public
-- (service) group; lower-case, no "wv:".
CREATE TABLE groups (
  group_id      TEXT PRIMARY KEY,
  owner         TEXT NOT NULL,                 -- the creator (the first admin)
  properties    TEXT NOT NULL,                 -- JSON {PropertyName: value}, canonical property names
  welcome_note  TEXT,                          -- JSON {contentType, content, binary} or NULL
  created_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- Members: who belongs to the group (what a restricted group lets in) and their privilege.
CREATE TABLE group_members (
  group_id   TEXT NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL,
  privilege  TEXT NOT NULL CHECK (privilege IN ('Admin', 'Mod', 'User')),
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- Who is in the group now, under which screen name. Kept across a restart: a joined user's
-- phone stays joined when the server comes back; an explicit leave, logout or expiry ends it.
CREATE TABLE group_joined (
  group_id          TEXT NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
  user_id           TEXT NOT NULL,
  screen_name       TEXT NOT NULL,
  subscribe_notice  INTEGER NOT NULL,          -- GroupChangeNotice wanted
  joined_at         INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX group_joined_screen_names ON group_joined (group_id, screen_name COLLATE NOCASE);
CREATE INDEX group_joined_by_user ON group_joined (user_id);

-- The reject list: who may not join.
CREATE TABLE group_rejected (
  group_id  TEXT NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
  user_id   TEXT NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- Messages sent to a group (or privately inside one) carry the group and the screen names.
ALTER TABLE messages ADD COLUMN group_id TEXT;
ALTER TABLE messages ADD COLUMN sender_screen_name TEXT;
ALTER TABLE messages ADD COLUMN recipient_screen_name TEXT;
