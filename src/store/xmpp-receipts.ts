// What XEP-0184 receipts need remembered across the wire (issue 8): for IMPS messages sent to
// XMPP users with a delivery report asked, which IMPS message a stanza id was; for XMPP
// messages delivered into IMPS that asked for a receipt, whom to send it to once the phone has
// the message.
import type { Db } from './db.ts';

export interface SentMessage {
  stanzaId: string;
  messageId: string;
  sender: string;
  recipient: string;
  contentType: string;
  contentSize: number;
  createdAt: number;
  expiresAt: number;
}

export interface OwedReceipt {
  messageId: string;
  fromJid: string;
  toJid: string;
  stanzaId: string;
}

export class XmppReceiptStore {
  private readonly insertSent;
  private readonly takeSentStmt;
  private readonly insertOwed;
  private readonly takeOwedStmt;
  private readonly purgeSent;
  private readonly purgeOwed;

  constructor(private readonly db: Db) {
    this.insertSent = db.prepare(
      `INSERT OR REPLACE INTO xmpp_sent (stanza_id, message_id, sender, recipient, content_type, content_size, created_at, expires_at)
       VALUES (@stanzaId, @messageId, @sender, @recipient, @contentType, @contentSize, @createdAt, @expiresAt)`,
    );
    this.takeSentStmt = db.prepare<[string], { stanza_id: string; message_id: string; sender: string; recipient: string; content_type: string; content_size: number; created_at: number; expires_at: number }>(
      'DELETE FROM xmpp_sent WHERE stanza_id = ? RETURNING *',
    );
    this.insertOwed = db.prepare('INSERT OR REPLACE INTO xmpp_receipts_owed (message_id, from_jid, to_jid, stanza_id, expires_at) VALUES (?, ?, ?, ?, ?)');
    this.takeOwedStmt = db.prepare<[string], { message_id: string; from_jid: string; to_jid: string; stanza_id: string }>(
      'DELETE FROM xmpp_receipts_owed WHERE message_id = ? RETURNING *',
    );
    this.purgeSent = db.prepare('DELETE FROM xmpp_sent WHERE expires_at <= ?');
    this.purgeOwed = db.prepare('DELETE FROM xmpp_receipts_owed WHERE expires_at <= ?');
  }

  rememberSent(sent: SentMessage): void {
    this.insertSent.run(sent);
  }

  /** The IMPS message a receipt or error is about (each answers once). */
  takeSent(stanzaId: string): SentMessage | undefined {
    const r = this.takeSentStmt.get(stanzaId);
    return (
      r && {
        stanzaId: r.stanza_id,
        messageId: r.message_id,
        sender: r.sender,
        recipient: r.recipient,
        contentType: r.content_type,
        contentSize: r.content_size,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
      }
    );
  }

  oweReceipt(owed: OwedReceipt, expiresAt: number): void {
    this.insertOwed.run(owed.messageId, owed.fromJid, owed.toJid, owed.stanzaId, expiresAt);
  }

  takeOwed(messageId: string): OwedReceipt | undefined {
    const r = this.takeOwedStmt.get(messageId);
    return r && { messageId: r.message_id, fromJid: r.from_jid, toJid: r.to_jid, stanzaId: r.stanza_id };
  }

  purgeExpired(now: number): void {
    this.purgeSent.run(now);
    this.purgeOwed.run(now);
  }
}
