// Our TLS identity for server-to-server streams (RFC 6120 §5, §13.7): the configured
// certificate for every hosted domain, presented as server certificate when peers connect to
// us and as client certificate when we connect to them; peers' certificates are checked against
// the system CAs plus xmpp.tls.ca.
import { readFileSync } from 'node:fs';
import { createSecureContext, createServer, rootCertificates, type SecureContext, type Server } from 'node:tls';

export interface TlsIdentity {
  /** For our outgoing STARTTLS. */
  client: SecureContext;
  /** Never listens: incoming STARTTLS sockets are handed to it so it verifies the peer's client certificate. */
  server: Server;
}

export function tlsIdentity(files: { cert: string; key: string; ca?: string | undefined }): TlsIdentity {
  const material = {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ca: [...rootCertificates, ...(files.ca ? [readFileSync(files.ca, 'utf8')] : [])],
  };
  return {
    client: createSecureContext(material),
    // The peer's certificate decides SASL EXTERNAL, not whether TLS happens: never refuse here.
    server: createServer({ ...material, requestCert: true, rejectUnauthorized: false }),
  };
}
