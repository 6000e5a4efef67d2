-- XMPP users joined to a group (MUC occupants): the full JID their room traffic goes to, so a
-- restart of Village does not cut them off (their clients still think they are in the room).
ALTER TABLE group_joined ADD COLUMN xmpp_jid TEXT;
