// The message store: each message once, one delivery row per recipient still owed it.
// A delivery is "offered" to one session when sent in a NewMessage (or announced in a
// MessageNotification) and deleted when the recipient acknowledges it (MessageDelivered),
// rejects it, or it expires. Unacknowledged offers fall back to the queue when their session
// ends, after a re-offer interval, and at every start-up.
import type { Db } from './db.ts';
import { durably } from './db.ts';

export interface NewMessageRecord {
  messageId: string;
  sender: string;
  contentType: string;
  content: Buffer;
  binary: boolean;
  createdAt: number;
  expiresAt: number | undefined;
  deliveryReport: boolean;
  /** The recipients as addressed (canonical user ids). */
  addressedTo: string[];
  /** Set for a message into a group (to everyone joined, or privately to one screen name). */
  group?: { groupId: string; senderScreenName: string; recipientScreenName?: string };
}

export interface StoredMessage extends NewMessageRecord {
  /** Queue position of this recipient's copy. */
  seq: number;
}

/** A recipient's copy that was removed (delivered, rejected, expired), with its message. */
export interface RemovedDelivery {
  recipient: string;
  message: StoredMessage;
}

/** Offered-at value meaning "held by its session until the session ends" (announced, not re-offered). */
const HELD = Number.MAX_SAFE_INTEGER;

interface Row {
  seq: number;
  message_id: string;
  sender: string;
  content_type: string;
  content: Buffer;
  binary_content: number;
  created_at: number;
  expires_at: number | null;
  delivery_report: number;
  recipients_json: string;
  group_id: string | null;
  sender_screen_name: string | null;
  recipient_screen_name: string | null;
}

const toMessage = (r: Row): StoredMessage => ({
  seq: r.seq,
  messageId: r.message_id,
  sender: r.sender,
  contentType: r.content_type,
  content: r.content,
  binary: r.binary_content === 1,
  createdAt: r.created_at,
  expiresAt: r.expires_at ?? undefined,
  deliveryReport: r.delivery_report === 1,
  addressedTo: JSON.parse(r.recipients_json) as string[],
  ...(r.group_id
    ? { group: { groupId: r.group_id, senderScreenName: r.sender_screen_name ?? '', ...(r.recipient_screen_name ? { recipientScreenName: r.recipient_screen_name } : {}) } }
    : {}),
});

// A delivery may be offered when nobody holds it, or when its holder has not acknowledged it
// within the re-offer interval (:reofferBefore), and its message has not expired.
const OFFERABLE = `d.recipient = :recipient
  AND (d.offered_session IS NULL OR d.offered_at <= :reofferBefore)
  AND (m.expires_at IS NULL OR m.expires_at > :now)`;

export class MessageStore {
  private readonly insertMessage;
  private readonly insertDelivery;
  private readonly selectOfferable;
  private readonly markOffered;
  private readonly existsOfferable;
  private readonly deleteDelivery;
  private readonly deleteOrphan;
  private readonly releaseBySession;
  private readonly releaseAll;
  private readonly countByRecipient;
  private readonly selectOne;
  private readonly selectList;
  private readonly selectExpired;
  private readonly holdOne;
  private readonly deleteForRecipient;
  private readonly deleteUnowed;

  constructor(private readonly db: Db) {
    this.insertMessage = db.prepare(
      `INSERT INTO messages (message_id, sender, content_type, content, binary_content, created_at, expires_at, delivery_report, recipients_json,
                             group_id, sender_screen_name, recipient_screen_name)
       VALUES (@messageId, @sender, @contentType, @content, @binary, @createdAt, @expiresAt, @deliveryReport, @recipients,
               @groupId, @senderScreenName, @recipientScreenName)`,
    );
    this.insertDelivery = db.prepare('INSERT OR IGNORE INTO deliveries (message_id, recipient) VALUES (?, ?)');
    this.selectOfferable = db.prepare<{ recipient: string; reofferBefore: number; now: number; limit: number }, Row>(
      `SELECT d.seq, m.* FROM deliveries d JOIN messages m ON m.message_id = d.message_id
       WHERE ${OFFERABLE} ORDER BY d.seq LIMIT :limit`,
    );
    this.markOffered = db.prepare('UPDATE deliveries SET offered_session = ?, offered_at = ? WHERE seq = ?');
    this.existsOfferable = db.prepare<{ recipient: string; reofferBefore: number; now: number }, { found: number }>(
      `SELECT EXISTS (SELECT 1 FROM deliveries d JOIN messages m ON m.message_id = d.message_id WHERE ${OFFERABLE}) AS found`,
    );
    this.deleteDelivery = db.prepare('DELETE FROM deliveries WHERE recipient = ? AND message_id = ?');
    this.deleteOrphan = db.prepare(
      'DELETE FROM messages WHERE message_id = ? AND NOT EXISTS (SELECT 1 FROM deliveries WHERE message_id = ?)',
    );
    this.releaseBySession = db.prepare('UPDATE deliveries SET offered_session = NULL, offered_at = NULL WHERE offered_session = ?');
    this.releaseAll = db.prepare('UPDATE deliveries SET offered_session = NULL, offered_at = NULL WHERE offered_session IS NOT NULL');
    this.countByRecipient = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM deliveries WHERE recipient = ?');
    this.selectOne = db.prepare<[string, string], Row>(
      'SELECT d.seq, m.* FROM deliveries d JOIN messages m ON m.message_id = d.message_id WHERE d.recipient = ? AND d.message_id = ?',
    );
    this.selectList = db.prepare<{ recipient: string; now: number; limit: number }, Row>(
      `SELECT d.seq, m.* FROM deliveries d JOIN messages m ON m.message_id = d.message_id
       WHERE d.recipient = :recipient AND (m.expires_at IS NULL OR m.expires_at > :now) ORDER BY d.seq LIMIT :limit`,
    );
    this.selectExpired = db.prepare<{ now: number; limit: number }, Row & { recipient: string }>(
      `SELECT d.seq, d.recipient, m.* FROM messages m JOIN deliveries d ON d.message_id = m.message_id
       WHERE m.expires_at IS NOT NULL AND m.expires_at <= :now ORDER BY m.expires_at LIMIT :limit`,
    );
    this.deleteForRecipient = db.prepare('DELETE FROM deliveries WHERE recipient = ?');
    this.deleteUnowed = db.prepare('DELETE FROM messages WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.message_id)');
    this.holdOne = db.prepare('UPDATE deliveries SET offered_at = ? WHERE recipient = ? AND message_id = ? AND offered_session = ?');
  }

  /** Told of every recipient a message was queued for (the server wakes their phones). */
  onQueued: (recipient: string) => void = () => {};

  /** Store a message for its recipients in one transaction, on disk (fsynced) when this returns. */
  enqueue(message: NewMessageRecord, recipients: string[]): void {
    durably(this.db, () => {
      this.insertMessage.run({
        messageId: message.messageId,
        sender: message.sender,
        contentType: message.contentType,
        content: message.content,
        binary: message.binary ? 1 : 0,
        createdAt: message.createdAt,
        expiresAt: message.expiresAt ?? null,
        deliveryReport: message.deliveryReport ? 1 : 0,
        recipients: JSON.stringify(message.addressedTo),
        groupId: message.group?.groupId ?? null,
        senderScreenName: message.group?.senderScreenName ?? null,
        recipientScreenName: message.group?.recipientScreenName ?? null,
      });
      for (const r of recipients) this.insertDelivery.run(message.messageId, r);
    });
    for (const r of recipients) this.onQueued(r);
  }

  /** Take up to `limit` offerable messages for a recipient and mark them offered to a session. */
  offer(recipient: string, sessionId: string, now: number, reofferAfterMs: number, limit: number): StoredMessage[] {
    return this.db.transaction(() => {
      const rows = this.selectOfferable.all({ recipient, reofferBefore: now - reofferAfterMs, now, limit });
      for (const r of rows) this.markOffered.run(sessionId, now, r.seq);
      return rows.map(toMessage);
    })();
  }

  hasOfferable(recipient: string, now: number, reofferAfterMs: number): boolean {
    return this.existsOfferable.get({ recipient, reofferBefore: now - reofferAfterMs, now })!.found === 1;
  }

  /** A recipient's copy of a message, if it is still owed to them. */
  find(recipient: string, messageId: string): StoredMessage | undefined {
    const row = this.selectOne.get(recipient, messageId);
    return row && toMessage(row);
  }

  /** What waits for a recipient, oldest first (expired messages excluded). */
  list(recipient: string, now: number, limit: number): StoredMessage[] {
    return this.selectList.all({ recipient, now, limit }).map(toMessage);
  }

  /**
   * Remove a recipient's copy (delivered or rejected), and the message once nobody is owed
   * it. Returns the message as it was, or undefined when the recipient had no such copy.
   */
  remove(recipient: string, messageId: string): StoredMessage | undefined {
    return this.db.transaction(() => {
      const row = this.selectOne.get(recipient, messageId);
      if (!row) return undefined;
      this.deleteDelivery.run(recipient, messageId);
      this.deleteOrphan.run(messageId, messageId);
      return toMessage(row);
    })();
  }

  /** An announced message (MessageNotification) stays with its session until fetched or the session ends. */
  hold(recipient: string, messageId: string, sessionId: string): void {
    this.holdOne.run(HELD, recipient, messageId, sessionId);
  }

  /** Remove up to `limit` expired copies; returns them so senders can be told. */
  takeExpired(now: number, limit: number): RemovedDelivery[] {
    return this.db.transaction(() => {
      const rows = this.selectExpired.all({ now, limit });
      const touched = new Set<string>();
      for (const r of rows) {
        this.deleteDelivery.run(r.recipient, r.message_id);
        touched.add(r.message_id);
      }
      for (const id of touched) this.deleteOrphan.run(id, id);
      return rows.map((r) => ({ recipient: r.recipient, message: toMessage(r) }));
    })();
  }


  /** A session ended: what it was offered and did not acknowledge goes back to the queue. */
  releaseSession(sessionId: string): void {
    this.releaseBySession.run(sessionId);
  }

  /** At start-up no session exists, so no offer can be outstanding. */
  releaseAllOffers(): void {
    this.releaseAll.run();
  }

  /** Drop every copy owed to a recipient (their account is gone), and messages nobody is owed. */
  forgetRecipient(recipient: string): number {
    return this.db.transaction(() => {
      const dropped = this.deleteForRecipient.run(recipient).changes;
      this.deleteUnowed.run();
      return dropped;
    })();
  }

  countFor(recipient: string): number {
    return this.countByRecipient.get(recipient)!.n;
  }
}
