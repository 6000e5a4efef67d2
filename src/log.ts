// Structured logs (pino). Passwords, digests and message bodies never go above debug; the
// redaction list is a second line of defence for fields that should never be logged at all.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'village' },
      redact: { paths: ['password', '*.password', 'digest', '*.digest', 'content', '*.content'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
