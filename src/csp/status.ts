// CSP Result codes (reference imps-csp.md §2.5) and the error that carries one.

export const STATUS_TEXT: Record<number, string> = {
  200: 'Successful',
  201: 'Partially successful',
  400: 'Bad request',
  401: 'Further authorization required',
  402: 'Bad parameter',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Service not supported',
  409: 'Invalid password',
  410: 'Unable to deliver',
  415: 'Unsupported media type',
  420: 'Invalid transaction',
  422: 'UserID and ClientID do not match',
  423: 'Invalid invitation ID',
  424: 'Invalid search ID',
  425: 'Invalid search index',
  426: 'Invalid message ID',
  500: 'Internal server error',
  501: 'Not implemented',
  503: 'Service unavailable',
  505: 'Version not supported',
  506: 'Service not agreed',
  507: 'Message queue full',
  516: 'Domain not supported',
  531: 'Unknown user',
  532: 'Recipient blocked the sender',
  535: 'Search timed out',
  536: 'Too many hits',
  537: 'Too broad search criteria',
  543: 'No matching digest scheme supported',
  600: 'Session expired',
  601: 'Forced logout',
  604: 'Invalid session',
  700: 'Contact list does not exist',
  701: 'Contact list already exists',
  702: 'Invalid or unsupported user properties',
  750: 'Invalid or unsupported presence attribute',
  751: 'Invalid or unsupported presence value',
  752: 'Invalid or unsupported contact list property',
  753: 'Maximum number of contact lists reached',
  754: 'Maximum number of contacts reached',
  800: 'Group does not exist',
  900: 'Multiple errors',
};

export function statusText(code: number): string {
  return STATUS_TEXT[code] ?? 'Error';
}

/** Thrown by anything that handles a primitive; becomes a Status / Result with this code. */
export class CspError extends Error {
  constructor(
    readonly code: number,
    readonly description: string = statusText(code),
  ) {
    super(`${code} ${description}`);
    this.name = 'CspError';
  }
}
