// Village configuration: one validated schema, read from a YAML (or JSON) file, with an
// environment-variable override for every key.
//
// The keys named in the issues (domains, dataDir, autoRegister, http, cir, xmpp, ssp) are a
// contract other tools rely on: rename nothing here without keeping the old name working.
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';

const port = z.number({ error: 'expected a port number' }).int('expected a whole number').min(0, 'a port is 0-65535').max(65535, 'a port is 0-65535');
const host = z.string().min(1, 'expected a host name or address');
const seconds = z.number().int('expected whole seconds').min(0);
const positive = z.number().int('expected a whole number').min(1);

const domainName = z
  .string()
  .min(1)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i, 'expected a domain name such as imps.example.org')
  .transform((d) => d.toLowerCase());

const hostPortString = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'expected "HOST:PORT"')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');

const httpUrl = z.string().refine((s) => {
  try {
    // Placeholders such as {to} are filled in later; they must not break the URL syntax.
    const u = new URL(s.replace(/\{(\w+)\}/g, 'x'));
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'expected an http:// or https:// URL');

const cirMethod = z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(['STCP', 'SHTTP', 'SUDP', 'WAPUDP', 'WAPSMS']));

export const configSchema = z.strictObject({
  /** Hosted domains; the first is the default for bare user IDs. */
  domains: z.array(domainName).min(1, 'at least one domain is needed').default(['localhost']),
  /** SQLite database, secret key and content files; created if missing. */
  dataDir: z.string().min(1).default('./data'),
  /** Create unknown local users at their first login. */
  autoRegister: z.boolean().default(true),
  /** CSP over HTTP: phones POST to "/". */
  http: z
    .strictObject({
      host: host.default('127.0.0.1'),
      port: port.default(8080),
      /** Largest request body accepted, in bytes. */
      maxBodyBytes: positive.default(1024 * 1024),
      /** Deepest element nesting accepted in a CSP document. */
      maxDepth: positive.default(40),
      /** Most transactions answered in one message; the rest get Status 400. */
      maxTransactions: positive.default(20),
      /** Most simultaneous connections from one client address (a carrier NAT may hold many phones). */
      maxConnectionsPerAddress: positive.default(256),
      /**
       * Addresses of reverse proxies in front of Village. Only for requests from these is the
       * client address taken from X-Forwarded-For (for throttling and logs).
       */
      trustedProxies: z.array(z.string().min(1)).default([]),
      /**
       * The base URL people reach this HTTP server at from outside (download links in messages
       * to XMPP users, SHTTP CIR URLs); default http://<first domain>:<port>/.
       */
      publicUrl: httpUrl.optional(),
      /** Cross-origin access for browser clients (the JSON binding): allowed page origins, or "*". */
      cors: z.strictObject({ origins: z.array(z.string().min(1)).default([]) }).prefault({}),
    })
    .prefault({}),
  /**
   * Communication Initiation Requests: waking an idle phone so it polls (reference imps-csp.md §5).
   * A method is offered to a phone only when the phone lists it, it is in `methods`, and the
   * server can use it for that phone (STCP needs `stcp`, WAPSMS needs `sms` and the phone's number).
   */
  cir: z
    .strictObject({
      /** The methods offered, most preferred first (STCP, SHTTP, SUDP, WAPUDP, WAPSMS). */
      methods: z.array(cirMethod).default(['STCP', 'SHTTP', 'SUDP', 'WAPUDP', 'WAPSMS']),
      /** The STCP listener phones keep a TCP connection to (HELO, PING, WVCI lines). */
      stcp: z
        .strictObject({
          host,
          port,
          /** Address and port phones are told to connect to (TCPAddress/TCPPort), when a NAT or proxy changes them. */
          publicHost: host.optional(),
          publicPort: port.optional(),
          /** A connection that has not sent HELO within this many seconds is closed. */
          heloTimeout: positive.default(30),
        })
        .optional(),
      /** SHTTP: the base URL phones reach this server's HTTP port at (CIRURL), when a proxy changes it. */
      shttp: z.strictObject({ publicUrl: httpUrl.optional() }).prefault({}),
      /** UDP port WAP push (WAPUDP) is sent to on the phone: 2948 is the WAP connectionless push port. */
      wapPushPort: port.default(2948),
      /** Seconds between two wake-ups of one session at least. */
      minInterval: positive.default(2),
      /** Seconds to wait for the phone after a wake-up before the next method is tried. */
      retryAfter: positive.default(30),
      /** ServerPollMin told to phones with a reliable CIR method (STCP, SHTTP, WAPSMS): they need not poll. */
      serverPollMin: positive.default(300),
      /** Longest KeepAliveTime granted while a session's CIR channel is up (instead of session.keepAliveMax). */
      keepAliveMax: positive.default(7200),
      /** WAP SMS through an SMS gateway's HTTP API (Kannel sendsms style). */
      sms: z
        .strictObject({
          /** URL template; {to}, {udh} and {text} are filled in (%-encoded bytes). */
          url: httpUrl,
          /** Request headers an operator's WAP gateway puts the phone's number (MSISDN) in. */
          msisdnHeaders: z.array(z.string().min(1)).default(['X-Network-MSISDN', 'X-MSISDN', 'X-Up-Calling-Line-ID', 'MSISDN']),
          /** Seconds between two SMS to one number at least (every SMS costs money). */
          minInterval: positive.default(60),
          /** Most wake-up SMS sent in any hour, whatever the numbers (phones can claim any number). */
          maxPerHour: positive.default(200),
          /** Further attempts after a gateway error, with doubling back-off from 1 s. */
          retries: seconds.default(3),
          /** Seconds to wait for the gateway's answer. */
          timeout: positive.default(10),
        })
        .optional(),
    })
    .prefault({}),
  /** XMPP server-to-server federation. Used from the XMPP issue on. */
  xmpp: z
    .strictObject({
      host: host.default('0.0.0.0'),
      port: port.default(5269),
      routes: z.record(domainName, hostPortString).default({}),
      tls: z
        .strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1).optional() })
        .optional(),
    })
    .optional(),
  /** The content store: media sent to people who cannot take it inline (XMPP users) becomes a download link. */
  content: z
    .strictObject({
      /** Seconds a download link works. */
      validity: positive.default(7 * 24 * 3600),
    })
    .prefault({}),
  /** IMPS SSP 1.3 federation with other IMPS servers. Used from the SSP issue on. */
  ssp: z.strictObject({ peers: z.record(domainName, httpUrl).default({}) }).optional(),
  /** Session timing, in seconds. */
  session: z
    .strictObject({
      /** KeepAliveTime granted when the client asks for none. */
      keepAliveDefault: positive.default(600),
      /** Bounds for the KeepAliveTime granted from a client's TimeToLive. */
      keepAliveMin: positive.default(60),
      keepAliveMax: positive.default(1800),
      /** Lower bound for the ServerPollMin told to clients. */
      serverPollMin: positive.default(10),
      /** How long a digest-login nonce stays valid. */
      nonceLifetime: positive.default(120),
      /** Live sessions one user may have (one per phone); a further login ends the oldest. */
      maxPerUser: positive.default(10),
      /** Live sessions the server holds at most; further logins get 503. */
      maxTotal: positive.default(20000),
    })
    .prefault({})
    .refine((s) => s.keepAliveMin <= s.keepAliveMax, { message: 'keepAliveMin must not exceed keepAliveMax', path: ['keepAliveMin'] }),
  /** The offline message store, in seconds. */
  messages: z
    .strictObject({
      /** Validity of a message whose sender gave none. */
      validityDefault: positive.default(7 * 24 * 3600),
      /** Longest validity honoured, whatever the sender asks. */
      validityMax: positive.default(30 * 24 * 3600),
      /** An offered message not acknowledged within this time is offered again. */
      reofferAfter: positive.default(120),
      /** Most messages waiting for one user; further senders get 507. */
      maxQueuedPerUser: positive.default(1000),
      /** How often expired messages are purged (and their senders told, when they asked). */
      sweepInterval: positive.default(60),
    })
    .prefault({}),
  /** Presence and contact lists. */
  presence: z
    .strictObject({
      /**
       * Who may see a user's presence when the user has not decided about a watcher: "ask"
       * (the user is asked; nothing is shown until granted), "auto" (everyone who subscribes),
       * "deny" (nobody). Users can be given their own policy with the admin CLI.
       */
      authorization: z.enum(['ask', 'auto', 'deny']).default('ask'),
      /** Contact lists one user may have (753 beyond). */
      maxContactLists: positive.default(20),
      /** Contacts one list may hold (754 beyond). */
      maxContactsPerList: positive.default(500),
    })
    .prefault({}),
  /** Groups (chat rooms). */
  groups: z
    .strictObject({
      /** Default MaxActiveUsers of a new group (817 beyond); a group's own property overrides it. */
      maxActiveUsers: positive.default(1000),
      /** Groups one user may create (814 beyond). */
      maxPerUser: positive.default(10),
      /**
       * Seconds after a start during which users who were joined when the server stopped stay
       * joined without a session, for their phones to log in again; then they leave.
       */
      rejoinGrace: positive.default(600),
    })
    .prefault({}),
  /** Search (Search-Request) for users and groups. */
  search: z
    .strictObject({
      /** Shortest search string accepted (537 "too broad" below); exact user ids are exempt. */
      minChars: positive.default(2),
      /** Most results one search may find (536 "too many hits" beyond). */
      maxResults: positive.default(500),
      /** Results per Search-Response: the default, and the ceiling of a phone's SearchLimit. */
      pageSize: positive.default(20),
      /** Seconds a search's results are kept for paging after their last use. */
      keepSeconds: positive.default(600),
      /** Searches one session keeps at once; a further search forgets the least recently used. */
      maxPerSession: positive.default(4),
    })
    .prefault({}),
  /** Invitations (Invite-Request), in seconds. */
  invitations: z
    .strictObject({
      /** Validity of an invitation whose inviter gave none. */
      validityDefault: positive.default(24 * 3600),
      /** Longest validity honoured, whatever the inviter asks. */
      validityMax: positive.default(7 * 24 * 3600),
    })
    .prefault({}),
  /** Failed-login throttling. */
  loginLimits: z
    .strictObject({
      windowSeconds: positive.default(900),
      /** Failures for one user from one address (IPv6: one /64). */
      maxFailuresPerUser: positive.default(5),
      /** Failures from one address, whatever the user. */
      maxFailuresPerAddress: positive.default(20),
      /** Failures for one user from anywhere (distributed guessing); high, so strangers cannot lock users out. */
      maxFailuresPerUserAllAddresses: positive.default(100),
      lockoutSeconds: seconds.default(900),
      /** Digest-login challenges one address may ask for per minute. */
      challengesPerAddressPerMinute: positive.default(30),
      /** Accounts one address may auto-register per hour. */
      registrationsPerAddressPerHour: positive.default(20),
    })
    .prefault({}),
  /** What GetSPInfo tells clients about this service. */
  service: z
    .strictObject({
      name: z.string().min(1).default('Village'),
      description: z.string().default('Instant messaging for Wireless Village phones'),
      url: z.string().default(''),
    })
    .prefault({}),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
});

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The prefix of every environment override. */
export const ENV_PREFIX = 'VILLAGE_';

/** One leaf key of the configuration and the environment variable that overrides it. */
export interface ConfigKey {
  path: string[];
  env: string;
  kind: 'string' | 'number' | 'boolean' | 'list' | 'map' | 'enum';
}

/** Every overridable key, derived from the schema so the list can never go stale. */
export function configKeys(): ConfigKey[] {
  const keys: ConfigKey[] = [];
  walk(configSchema, [], keys);
  return keys;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodNullable) {
      s = (s as unknown as { def: { innerType: z.ZodType } }).def.innerType;
    } else if (s instanceof z.ZodPipe) {
      s = (s as unknown as { def: { in: z.ZodType } }).def.in;
    } else {
      return s;
    }
  }
}

function walk(schema: z.ZodType, path: string[], out: ConfigKey[]): void {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) {
    for (const [key, child] of Object.entries(s.shape as Record<string, z.ZodType>)) walk(child, [...path, key], out);
    return;
  }
  const env = ENV_PREFIX + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
  const kind: ConfigKey['kind'] =
    s instanceof z.ZodArray ? 'list'
    : s instanceof z.ZodRecord ? 'map'
    : s instanceof z.ZodBoolean ? 'boolean'
    : s instanceof z.ZodNumber ? 'number'
    : s instanceof z.ZodEnum ? 'enum'
    : 'string';
  out.push({ path, env, kind });
}

/** Parse one environment value into the shape its key expects. */
function envValue(key: ConfigKey, raw: string): unknown {
  switch (key.kind) {
    case 'string':
    case 'enum':
      return raw;
    case 'number': {
      const n = Number(raw.trim());
      return raw.trim() === '' || Number.isNaN(n) ? raw : n;
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(v)) return true;
      if (['false', 'no', 'off', '0'].includes(v)) return false;
      return raw;
    }
    case 'list': {
      const t = raw.trim();
      if (t.startsWith('[')) return parseYamlOrThrow(t, `environment variable ${key.env}`);
      return t === '' ? [] : t.split(',').map((x) => x.trim()).filter(Boolean);
    }
    case 'map':
      return parseYamlOrThrow(raw, `environment variable ${key.env}`);
  }
}

function parseYamlOrThrow(text: string, where: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message : String(err);
    throw new ConfigError(`${where} is not valid YAML: ${detail}`);
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value);
  return json && json.length > 60 ? json.slice(0, 57) + '...' : String(json);
}

function formatIssues(error: z.ZodError, source: string, raw: unknown): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
      return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
    }
    let got: unknown = raw;
    for (const p of issue.path) got = got && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[p] : undefined;
    return `"${path || '(top level)'}": ${issue.message} (got ${describe(got)})`;
  });
  return `configuration error in ${source}:\n  ${lines.join('\n  ')}`;
}

export interface LoadOptions {
  /** Path of a YAML or JSON file; omitted means the embedded defaults. */
  file?: string;
  /** Environment to read overrides from (process.env by default). */
  env?: NodeJS.ProcessEnv;
}

/** Read, override and validate the configuration. Throws ConfigError with a message naming the key. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  let raw: Record<string, unknown> = {};
  const source = options.file ?? 'the embedded defaults';
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${options.file}: ${(err as Error).message}`);
    }
    const parsed = parseYamlOrThrow(text, `config file ${options.file}`);
    if (parsed === null || parsed === undefined) raw = {};
    else if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${options.file} must hold a mapping of keys (such as "domains:"), not ${describe(parsed)}`);
    } else raw = parsed as Record<string, unknown>;
  }
  const overridden: string[] = [];
  for (const key of configKeys()) {
    const value = env[key.env];
    if (value === undefined) continue;
    setPath(raw, key.path, envValue(key, value));
    overridden.push(key.env);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const where = overridden.length ? `${source} (with ${overridden.join(', ')} from the environment)` : source;
    throw new ConfigError(formatIssues(result.error, where, raw));
  }
  return result.data;
}
