-- Presence, contact lists, subscriptions, authorisation and attribute lists (issue 5).

-- Contact lists. list_id is canonical: "alice/friends@imps.test" (lower-case, no "wv:").
CREATE TABLE contact_lists (
  owner           TEXT NOT NULL,
  list_id         TEXT NOT NULL,
  display_name    TEXT,
  is_default      INTEGER NOT NULL DEFAULT 0,
  auto_subscribe  INTEGER NOT NULL DEFAULT 0,  -- SubscribePresence with AutoSubscribe: new members are watched too
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (owner, list_id)
) WITHOUT ROWID;

CREATE TABLE contact_list_members (
  owner      TEXT NOT NULL,
  list_id    TEXT NOT NULL,
  member     TEXT NOT NULL,                    -- canonical user id
  nickname   TEXT,
  position   INTEGER NOT NULL,
  PRIMARY KEY (owner, list_id, member),
  FOREIGN KEY (owner, list_id) REFERENCES contact_lists (owner, list_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Each user's published presence: a JSON array of presence-attribute elements (canonical
-- names, version-neutral element trees, Qualifier included).
CREATE TABLE presence (
  user_id     TEXT PRIMARY KEY,
  attributes  TEXT NOT NULL,
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Who watches whom. attributes: JSON array of attribute names asked for, NULL for all.
CREATE TABLE subscriptions (
  watcher     TEXT NOT NULL,
  target      TEXT NOT NULL,
  attributes  TEXT,
  via_list    TEXT,                            -- the contact list it came from, if any
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (watcher, target)
) WITHOUT ROWID;
CREATE INDEX subscriptions_by_target ON subscriptions (target);

-- What an owner decided about a watcher (reactive authorisation). attributes: JSON array of
-- the attribute names granted, NULL for all.
CREATE TABLE presence_grants (
  owner       TEXT NOT NULL,
  watcher     TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('granted', 'denied', 'pending')),
  attributes  TEXT,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (owner, watcher)
) WITHOUT ROWID;

-- Attribute lists: which attributes a watcher may see. scope 'default' (target ''), 'user'
-- (target a user id) or 'list' (target one of the owner's contact lists).
CREATE TABLE attribute_lists (
  owner       TEXT NOT NULL,
  scope       TEXT NOT NULL CHECK (scope IN ('default', 'user', 'list')),
  target      TEXT NOT NULL,
  attributes  TEXT NOT NULL,
  PRIMARY KEY (owner, scope, target)
) WITHOUT ROWID;

-- A user's own presence authorisation policy, when it differs from the configured default.
CREATE TABLE presence_policies (
  user_id  TEXT PRIMARY KEY,
  policy   TEXT NOT NULL CHECK (policy IN ('ask', 'auto', 'deny'))
) WITHOUT ROWID;
