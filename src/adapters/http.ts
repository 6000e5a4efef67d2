// The HTTP adapter: phones POST one CSP document per request. This module owns sockets and
// bytes only: it bounds and reads the body, picks the codec from Content-Type, decodes, hands
// the message to the CSP exchange, and encodes the answer. It also answers the SHTTP CIR URLs
// phones GET (reference imps-csp.md §5.6).
//
// Every request gets an HTTP response: 200 with Content-Length (never chunked) and the
// request's own Content-Type, in the request's CSP version. Broken input gets a CSP Status with
// a 4xx code, or HTTP 400 when not even the version can be read. A dropped connection is what
// handsets show as "network error", so nothing here ever closes one without answering.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Services } from '../services.ts';
import type { Codec } from '../csp/codecs.ts';
import { codecForBody, codecForContentType, SUPPORTED_CONTENT_TYPES } from '../csp/codecs.ts';
import { DecodeError } from '../csp/xml-codec.ts';
import { buildMessage, readMessage, status } from '../csp/envelope.ts';
import { CspError } from '../csp/status.ts';
import type { CspVersion } from '../csp/versions.ts';
import { CspExchange } from './csp-exchange.ts';
import { requestOrigin, type RequestOrigin } from './request-origin.ts';

export interface HttpAdapter {
  server: Server;
  /** The address actually bound (port 0 in the config picks a free port). */
  address(): AddressInfo;
  /** Stop accepting, let in-flight requests finish (at most graceMs), then close every socket. */
  close(graceMs?: number): Promise<void>;
}

/** Reply with the request's Content-Type; only a charset parameter changes (we always write UTF-8). */
function echoContentType(requested: string): string {
  return /;\s*charset=/i.test(requested) ? requested.replace(/(;\s*charset=)("?)[^;"]*\2/i, '$1UTF-8') : requested;
}

function plain(res: ServerResponse, code: number, text: string, extra: Record<string, string> = {}): void {
  const body = Buffer.from(text + '\n', 'utf8');
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, ...extra });
  res.end(body);
}

export function startHttpAdapter(services: Services): Promise<HttpAdapter> {
  const { config, log } = services;
  const exchange = new CspExchange(services);
  const limits = { maxDepth: config.http.maxDepth };
  const inFlight = new Set<ServerResponse>();
  const trustedProxies = new Set(config.http.trustedProxies);
  const connectionsByAddress = new Map<string, number>();
  const msisdnHeaders = config.cir.sms?.msisdnHeaders ?? [];

  /** A whole CSP message holding one Status, addressed as well as the broken body allows. */
  const errorMessage = (codec: Codec, body: Buffer, version: CspVersion, code: number, description: string): Buffer => {
    const { transactionId, sessionId } = codec.salvage(body);
    const message = buildMessage({
      version,
      ...(sessionId ? { sessionId } : {}),
      transactions: [{ mode: 'Response', id: transactionId ?? '', primitive: status(code, description) }],
      poll: false,
    });
    return codec.encode(message, version);
  };

  /**
   * Decode, dispatch, encode: everything after the body has been read. Throws DecodeError only
   * when not even the CSP version could be read (the caller answers HTTP 400).
   */
  const answerCsp = (body: Buffer, codec: Codec, origin: RequestOrigin, charset: string | undefined): Buffer => {
    const { address } = origin;
    let decoded;
    try {
      decoded = codec.decode(body, charset ? { ...limits, charset } : limits);
    } catch (err) {
      if (!(err instanceof DecodeError)) {
        // A codec bug must still get the phone an answer in its own version when it can be read.
        const version = codec.sniffVersion(body);
        log.error({ err, address }, 'decoder failed');
        if (!version) throw new DecodeError('the request could not be decoded');
        return errorMessage(codec, body, version, 500, 'Internal server error');
      }
      if (!err.version) throw err;
      log.info({ address, reason: err.message }, 'undecodable CSP request');
      return errorMessage(codec, body, err.version, 400, `Unreadable request: ${err.message}`);
    }
    try {
      const reply = exchange.handle(readMessage(decoded.root, decoded.version), origin);
      return reply ? codec.encode(buildMessage(reply), decoded.version) : Buffer.alloc(0);
    } catch (err) {
      if (err instanceof CspError) {
        log.info({ address, code: err.code, reason: err.description }, 'invalid CSP request');
        return errorMessage(codec, body, decoded.version, err.code, err.description);
      }
      log.error({ err, address }, 'request failed');
      return errorMessage(codec, body, decoded.version, 500, 'Internal server error');
    }
  };

  const handlePost = (req: IncomingMessage, res: ServerResponse, body: Buffer, tooLarge: boolean) => {
    const origin = requestOrigin(req, trustedProxies, msisdnHeaders);
    const { address } = origin;
    const requestedType = req.headers['content-type'];
    const codec = codecForContentType(requestedType) ?? (requestedType ? undefined : codecForBody(body));
    if (!codec) {
      plain(res, 415, `Unsupported Content-Type "${requestedType ?? ''}". Send CSP as one of: ${SUPPORTED_CONTENT_TYPES.join(', ')}`);
      return;
    }
    if (body.length === 0 && !tooLarge) {
      plain(res, 400, 'Empty request body: POST one CSP document (WV-CSP-Message)');
      return;
    }
    const contentType = requestedType ? echoContentType(requestedType) : codec.defaultContentType(codec.sniffVersion(body) ?? '1.2');
    let out: Buffer;
    if (tooLarge) {
      const version = codec.sniffVersion(body);
      const reason = `Request body larger than ${config.http.maxBodyBytes} bytes`;
      log.info({ address, limit: config.http.maxBodyBytes }, 'request body too large');
      if (!version) return plain(res, 400, reason);
      out = errorMessage(codec, body, version, 400, reason);
    } else {
      try {
        const charset = /;\s*charset="?([^";\s]+)/i.exec(requestedType ?? '')?.[1];
        out = answerCsp(body, codec, origin, charset);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        log.info({ address, reason: err.message }, 'request without a readable CSP version');
        return plain(res, 400, `Not a CSP document: ${err.message}`);
      }
    }
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': out.length });
    res.end(out);
  };

  const corsOrigins = new Set(config.http.cors.origins);
  /** CORS headers for a browser page on another origin, when config.http.cors allows it. */
  const corsHeaders = (req: IncomingMessage): Record<string, string> => {
    const origin = req.headers.origin;
    if (!origin || !(corsOrigins.has('*') || corsOrigins.has(origin))) return {};
    return { 'Access-Control-Allow-Origin': corsOrigins.has('*') ? '*' : origin, Vary: 'Origin', 'Access-Control-Expose-Headers': 'Content-Length' };
  };

  /** GET and HEAD: SHTTP CIR polls, the content store, /healthz, and a word about this server. */
  const handleGet = (req: IncomingMessage, res: ServerResponse): void => {
    // SHTTP CIR: 200 when something waits for the session, 204 when not (never a body).
    const cirToken = /\/cir\/([A-Za-z0-9_-]{16,64})$/.exec(req.url?.split('?')[0] ?? '')?.[1];
    if (cirToken) {
      const code = services.cir.shttpPoll(cirToken);
      if (code === 404) return plain(res, 404, 'No such CIR URL: the session has ended; log in again');
      res.writeHead(code, { 'Content-Length': 0, 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    // The content store: media sent to XMPP users, behind an unguessable, expiring token.
    const contentToken = /\/content\/([A-Za-z0-9_-]{20,64})$/.exec(req.url?.split('?')[0] ?? '')?.[1];
    if (contentToken) {
      const item = services.content.get(contentToken, services.now());
      if (!item) return plain(res, 404, 'No such content: the link is wrong or has expired');
      res.writeHead(200, {
        'Content-Type': servableContentType(item.contentType),
        'Content-Length': item.data.length,
        'Cache-Control': 'private, max-age=3600',
        'X-Content-Type-Options': 'nosniff',
        // Shown as a download, never rendered as a page of this server (it could be HTML or SVG).
        'Content-Disposition': 'attachment',
        'Content-Security-Policy': "default-src 'none'; sandbox",
      });
      res.end(req.method === 'HEAD' ? undefined : item.data);
      return;
    }
    if (req.url === '/healthz') {
      const json = Buffer.from(
        JSON.stringify({
          status: 'ok',
          sessions: services.router.sessionCount(),
          stcpConnections: services.cir.stcp?.boundCount() ?? 0,
          // CIR wake-ups by method and outcome, e.g. {"STCP sent": 12, "WAPSMS failed": 1}.
          cir: Object.fromEntries(services.cir.counts),
          // XMPP federation, when configured: {"linksOpen": 1, "linksPending": 0, "queued": 0, "incoming": 1}.
          ...(services.xmpp ? { xmpp: services.xmpp.status() } : {}),
        }) + '\n',
      );
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': json.length });
      res.end(req.method === 'HEAD' ? undefined : json);
      return;
    }
    plain(
      res,
      200,
      `${config.service.name}: an OMA IMPS (Wireless Village) CSP 1.1-1.3 server.\n` +
        `Point your phone's IM server address at this URL; CSP is POSTed here.`,
    );
  };

  const server = createServer((req, res) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    for (const [k, v] of Object.entries(corsHeaders(req))) res.setHeader(k, v);
    if (req.method === 'OPTIONS') {
      // CORS preflight: which methods and headers a page may use.
      res.writeHead(204, {
        Allow: 'GET, HEAD, POST, OPTIONS',
        ...(res.hasHeader('Access-Control-Allow-Origin')
          ? { 'Access-Control-Allow-Methods': 'POST, GET, OPTIONS', 'Access-Control-Allow-Headers': 'Content-Type', 'Access-Control-Max-Age': '600' }
          : {}),
        'Content-Length': 0,
      });
      res.end();
      return;
    }
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      req.on('data', (chunk: Buffer) => {
        // Keep the first maxBodyBytes (enough to answer in the right version and transaction),
        // and keep reading but dropping the rest so the connection can still get its answer.
        const room = config.http.maxBodyBytes - size;
        size += chunk.length;
        if (room > 0) chunks.push(room >= chunk.length ? chunk : chunk.subarray(0, room));
        if (size > config.http.maxBodyBytes) tooLarge = true;
      });
      req.on('end', () => {
        try {
          handlePost(req, res, Buffer.concat(chunks), tooLarge);
        } catch (err) {
          log.error({ err }, 'unexpected failure answering a request');
          if (!res.headersSent) plain(res, 500, 'Internal server error');
        }
      });
      req.on('error', () => res.destroy());
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      try {
        handleGet(req, res);
      } catch (err) {
        log.error({ err, url: req.url?.split('?')[0] }, 'unexpected failure answering a GET');
        if (!res.headersSent) plain(res, 500, 'Internal server error');
        else res.destroy();
      }
      return;
    }
    plain(res, 405, 'Method not allowed: CSP is POSTed', { Allow: 'GET, HEAD, POST, OPTIONS' });
  });
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 40_000;
  server.requestTimeout = 120_000;

  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    // Bounded connections per address (generous: a carrier NAT puts many phones behind one).
    const remote = socket.remoteAddress ?? 'unknown';
    const open = (connectionsByAddress.get(remote) ?? 0) + 1;
    if (open > config.http.maxConnectionsPerAddress) {
      log.warn({ address: remote, limit: config.http.maxConnectionsPerAddress }, 'too many connections from one address');
      socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      socket.destroySoon();
      return;
    }
    connectionsByAddress.set(remote, open);
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      const left = (connectionsByAddress.get(remote) ?? 1) - 1;
      if (left > 0) connectionsByAddress.set(remote, left);
      else connectionsByAddress.delete(remote);
    });
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    log.debug({ err: err.message }, 'malformed HTTP request');
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => {
      server.off('error', reject);
      const adapter: HttpAdapter = {
        server,
        address: () => server.address() as AddressInfo,
        close: (graceMs = 10_000) =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
            const deadline = setTimeout(() => {
              for (const s of sockets) s.destroy();
            }, graceMs);
            deadline.unref();
            // Once the last in-flight response has gone, idle keep-alive sockets can close at once.
            const sweep = setInterval(() => {
              if (inFlight.size === 0) {
                server.closeIdleConnections();
                clearInterval(sweep);
              }
            }, 20);
            sweep.unref();
          }),
      };
      resolve(adapter);
    });
  });
}

/** RFC 9110 media-type syntax (type/subtype and parameters, quoted strings included), visible ASCII only. */
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+=([!#$%&'*+.^_`|~0-9A-Za-z-]+|"([\x20\x21\x23-\x5B\x5D-\x7E]|\\[\x20-\x7E])*"))*$/;

/**
 * The Content-Type a stored item is served with: the phone's own, when it is a well-formed
 * media type; anything else (line breaks, non-ASCII file names) would be an invalid header,
 * so it is served as plain bytes.
 */
export function servableContentType(contentType: string): string {
  const trimmed = contentType.trim();
  return trimmed.length <= 200 && MEDIA_TYPE.test(trimmed) ? trimmed : 'application/octet-stream';
}
