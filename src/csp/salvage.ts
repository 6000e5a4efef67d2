// What can be read of a CSP body that failed to decode, to address the error Status to.

export interface Salvaged {
  transactionId?: string;
  sessionId?: string;
}

/** The TransactionID and SessionID as `grab` finds them in a broken body; empty ones are left out. */
export function salvageIds(grab: (name: 'TransactionID' | 'SessionID') => string | undefined): Salvaged {
  const out: Salvaged = {};
  const transactionId = grab('TransactionID');
  const sessionId = grab('SessionID');
  if (transactionId) out.transactionId = transactionId;
  if (sessionId) out.sessionId = sessionId;
  return out;
}
