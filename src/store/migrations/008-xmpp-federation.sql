-- XMPP federation (issue 8).

-- Stanzas for a peer domain, waiting for the (local domain, remote domain) link to be up.
-- A stanza carrying an IMPS message remembers it, so its sender can be told when it expires.
CREATE TABLE s2s_queue (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  local_domain     TEXT NOT NULL,
  remote_domain    TEXT NOT NULL,
  stanza           TEXT NOT NULL,             -- serialised XML, in jabber:server
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL,
  message_id       TEXT,                      -- the IMPS message it carries, if any
  sender           TEXT,
  recipient        TEXT,
  delivery_report  INTEGER NOT NULL DEFAULT 0,
  content_type     TEXT,
  content_size     INTEGER
);
CREATE INDEX s2s_queue_by_link ON s2s_queue (local_domain, remote_domain, seq);
CREATE INDEX s2s_queue_by_expiry ON s2s_queue (expires_at);

-- IMPS messages sent to XMPP users that asked for a delivery report: the XEP-0184 receipt
-- (or an error stanza) for the stanza id turns into a DeliveryReport for the IMPS sender.
CREATE TABLE xmpp_sent (
  stanza_id     TEXT PRIMARY KEY,
  message_id    TEXT NOT NULL,
  sender        TEXT NOT NULL,
  recipient     TEXT NOT NULL,
  content_type  TEXT NOT NULL,
  content_size  INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX xmpp_sent_by_expiry ON xmpp_sent (expires_at);

-- XMPP messages delivered into IMPS that asked for a receipt: when the phone acknowledges
-- the IMPS message, the receipt goes back to the XMPP sender.
CREATE TABLE xmpp_receipts_owed (
  message_id   TEXT PRIMARY KEY,
  from_jid     TEXT NOT NULL,                 -- the XMPP sender (full JID)
  to_jid       TEXT NOT NULL,                 -- our user as addressed
  stanza_id    TEXT NOT NULL,
  expires_at   INTEGER NOT NULL
) WITHOUT ROWID;

-- The content store: media an IMPS user sent to an XMPP user, served at an unguessable URL.
CREATE TABLE content (
  token         TEXT PRIMARY KEY,
  content_type  TEXT NOT NULL,
  data          BLOB NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX content_by_expiry ON content (expires_at);
