// `npm run village -- <command>`: operator commands that work on the data directory, whether
// or not the server is running (SQLite in WAL mode lets both write).
//
//   user add USER [PASSWORD]      create an account (password read from stdin when omitted)
//   user passwd USER [PASSWORD]   set a new password
//   user del USER                 delete an account and the messages queued for it
//   user list [DOMAIN]            list accounts
//   user policy USER [ask|auto|deny|default]   who sees USER's presence until USER decides
//   user set USER [KEY=VALUE…]    show or change USER's profile (what user search looks at)
//   queue list USER               messages waiting for a user
//   queue purge USER              drop everything waiting for a user
//
// Options: --config FILE (the server's config; dataDir and domains come from it).
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { openDatabase } from '../store/db.ts';
import { AccountStore } from '../store/accounts.ts';
import { MessageStore } from '../store/messages.ts';
import { NoticeStore } from '../store/notices.ts';
import { AccessListStore } from '../store/access-lists.ts';
import { ClientProfileStore } from '../store/client-profiles.ts';
import { ContactListStore } from '../store/contact-lists.ts';
import { PresenceStore, type Policy } from '../store/presence.ts';
import { UserProfileStore, type ProfileField, type UserProfile } from '../store/user-profiles.ts';
import { openVault } from '../auth/password-vault.ts';
import { MetaStore } from '../store/meta.ts';
import { parseUserId, wvAddress } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';

const USAGE = `Usage: npm run village -- [--config FILE] <command>

  user add USER [PASSWORD]      create an account (PASSWORD read from stdin when omitted)
  user passwd USER [PASSWORD]   set a new password
  user del USER                 delete an account and the messages queued for it
  user list [DOMAIN]            list accounts
  user policy USER [POLICY]     show or set who sees USER's presence until USER decides:
                                ask (USER is asked), auto (everyone who subscribes), deny,
                                or default (back to the configured presence.authorization)
  user set USER [KEY=VALUE…]    show or change USER's profile, which user search looks at;
                                KEY is first, last, email, mobile, city, country or
                                friendly (friendly name); an empty VALUE clears it
  queue list USER               messages waiting for a user (id, sender, type, size, dates)
  queue purge USER              drop every message and notice waiting for a user

USER is "alice" (first configured domain), "alice@example.org" or "wv:alice@example.org".`;

class UsageError extends Error {}

/** A password from standard input: typed without echo on a terminal, or one line from a pipe. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('Password: ');
    process.stdin.setRawMode(true);
    const chars: string[] = [];
    try {
      for await (const chunk of process.stdin) {
        for (const ch of String(chunk)) {
          if (ch === '\r' || ch === '\n') return chars.join('');
          if (ch === '\u0003') throw new UsageError('cancelled');
          if (ch === '\u007f' || ch === '\b') chars.pop();
          else chars.push(ch);
        }
      }
    } finally {
      process.stdin.setRawMode(false);
      process.stdin.pause();
      process.stderr.write('\n');
    }
  }
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new UsageError('no password given (pass it as an argument or on standard input)');
}

function userArg(config: Config, raw: string | undefined, command: string) {
  if (!raw) throw new UsageError(`${command}: which user? (${USAGE.split('\n')[0]})`);
  let user;
  try {
    user = parseUserId(raw, config.domains[0]!);
  } catch (err) {
    throw new UsageError(`${command}: ${err instanceof CspError ? err.description : String(err)}`);
  }
  if (!config.domains.includes(user.domain)) {
    throw new UsageError(`${command}: ${user.domain} is not a hosted domain (domains: ${config.domains.join(', ')})`);
  }
  return user;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE + '\n');
    return positionals.length === 0 && !values.help ? 2 : 0;
  }
  const config = loadConfig(values.config ? { file: values.config } : {});
  const [noun, verb, ...rest] = positionals;
  if (noun !== 'user' && noun !== 'queue') throw new UsageError(`unknown command "${positionals.join(' ')}"\n\n${USAGE}`);

  const db = openDatabase(config.dataDir);
  try {
    const accounts = new AccountStore(db);
    const messages = new MessageStore(db);
    const notices = new NoticeStore(db);
    if (noun === 'queue') return queueCommand(config, verb, rest, accounts, messages, notices);
    const vault = openVault(config.dataDir, new MetaStore(db));
    switch (verb) {
      case 'add': {
        const user = userArg(config, rest[0], 'user add');
        const password = rest[1] ?? (await readPassword());
        if (!password) throw new UsageError('user add: the password must not be empty');
        if (!accounts.create(user.id, user.domain, vault.seal(password))) throw new UsageError(`user add: ${wvAddress(user.id)} already exists`);
        process.stdout.write(`created ${wvAddress(user.id)}\n`);
        return 0;
      }
      case 'passwd': {
        const user = userArg(config, rest[0], 'user passwd');
        if (!accounts.get(user.id)) throw new UsageError(`user passwd: no user ${wvAddress(user.id)}`);
        const password = rest[1] ?? (await readPassword());
        if (!password) throw new UsageError('user passwd: the password must not be empty');
        accounts.setPassword(user.id, vault.seal(password));
        process.stdout.write(`password of ${wvAddress(user.id)} changed\n`);
        return 0;
      }
      case 'del': {
        const user = userArg(config, rest[0], 'user del');
        if (!accounts.delete(user.id)) throw new UsageError(`user del: no user ${wvAddress(user.id)}`);
        const queued = messages.forgetRecipient(user.id);
        notices.forgetRecipient(user.id);
        new AccessListStore(db).forgetOwner(user.id);
        new ClientProfileStore(db).forget(user.id);
        new ContactListStore(db).forgetOwner(user.id);
        new PresenceStore(db).forgetUser(user.id);
        new UserProfileStore(db).forget(user.id);
        process.stdout.write(`deleted ${wvAddress(user.id)} (${queued} queued message${queued === 1 ? '' : 's'} dropped)\n`);
        return 0;
      }
      case 'set':
        return setProfile(config, rest, accounts, new UserProfileStore(db));
      case 'policy': {
        const user = userArg(config, rest[0], 'user policy');
        if (!accounts.get(user.id)) throw new UsageError(`user policy: no user ${wvAddress(user.id)}`);
        const presence = new PresenceStore(db);
        const wanted = rest[1]?.toLowerCase();
        if (wanted !== undefined) {
          if (!['ask', 'auto', 'deny', 'default'].includes(wanted)) throw new UsageError(`user policy: "${rest[1]}" is not ask, auto, deny or default`);
          presence.setPolicy(user.id, wanted === 'default' ? undefined : (wanted as Policy));
        }
        const own = presence.policy(user.id);
        process.stdout.write(`${wvAddress(user.id)}: ${own ?? `${config.presence.authorization} (the configured default)`}\n`);
        return 0;
      }
      case 'list': {
        const domain = rest[0]?.toLowerCase();
        if (domain && !config.domains.includes(domain)) throw new UsageError(`user list: ${domain} is not a hosted domain (domains: ${config.domains.join(', ')})`);
        const list = accounts.list(domain);
        for (const a of list) process.stdout.write(`${wvAddress(a.userId)}\tcreated ${new Date(a.createdAt).toISOString()}\n`);
        process.stderr.write(`${list.length} user${list.length === 1 ? '' : 's'}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "user ${verb ?? ''}"\n\n${USAGE}`);
    }
  } finally {
    db.close();
  }
}

/** `user set` keys and the profile fields they change. */
const PROFILE_KEYS: Record<string, ProfileField> = {
  first: 'firstName',
  last: 'lastName',
  email: 'email',
  mobile: 'mobile',
  city: 'city',
  country: 'country',
  friendly: 'friendlyName',
};

function profileValue(key: string, value: string): string {
  if (value.length > 128) throw new UsageError(`user set: ${key} is longer than 128 characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new UsageError(`user set: ${key} must not hold control characters`);
  if (value && key === 'email' && !/^[^\s@]+@[^\s@]+$/.test(value)) throw new UsageError(`user set: email "${value}" is not an e-mail address`);
  if (value && key === 'mobile' && !/^\+?[0-9][0-9 ()./-]{0,31}$/.test(value)) throw new UsageError(`user set: mobile "${value}" is not a phone number (digits, an optional leading +)`);
  return value;
}

/** `user set USER [KEY=VALUE…]`: change the given fields, then show the whole profile. */
function setProfile(config: Config, rest: string[], accounts: AccountStore, profiles: UserProfileStore): number {
  const user = userArg(config, rest[0], 'user set');
  if (!accounts.get(user.id)) throw new UsageError(`user set: no user ${wvAddress(user.id)}`);
  const changes: Partial<Record<ProfileField, string>> = {};
  for (const arg of rest.slice(1)) {
    const eq = arg.indexOf('=');
    const key = (eq < 0 ? arg : arg.slice(0, eq)).toLowerCase();
    const field = Object.hasOwn(PROFILE_KEYS, key) ? PROFILE_KEYS[key] : undefined;
    if (!field) throw new UsageError(`user set: unknown key "${eq < 0 ? arg : arg.slice(0, eq)}" (keys: ${Object.keys(PROFILE_KEYS).join(', ')})`);
    if (eq < 0) throw new UsageError(`user set: "${arg}" needs a value: ${key}=VALUE (an empty VALUE clears it)`);
    changes[field] = profileValue(key, arg.slice(eq + 1).trim());
  }
  const profile: UserProfile = Object.keys(changes).length ? profiles.set(user.id, changes, Date.now()) : (profiles.get(user.id) ?? {});
  const shown = Object.entries(PROFILE_KEYS)
    .filter(([, field]) => profile[field] !== undefined)
    .map(([key, field]) => `${key}=${profile[field]}`);
  process.stdout.write(`${wvAddress(user.id)}: ${shown.length ? shown.join(' ') : '(no profile)'}\n`);
  return 0;
}

function queueCommand(config: Config, verb: string | undefined, rest: string[], accounts: AccountStore, messages: MessageStore, notices: NoticeStore): number {
  switch (verb) {
    case 'list': {
      const user = userArg(config, rest[0], 'queue list');
      if (!accounts.get(user.id)) throw new UsageError(`queue list: no user ${wvAddress(user.id)}`);
      const waiting = messages.list(user.id, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      for (const m of waiting) {
        const expires = m.expiresAt === undefined ? 'never' : new Date(m.expiresAt).toISOString();
        process.stdout.write(`${m.messageId}\tfrom ${wvAddress(m.sender)}\t${m.contentType}\t${m.content.length} bytes\tsent ${new Date(m.createdAt).toISOString()}\texpires ${expires}\n`);
      }
      process.stderr.write(`${waiting.length} message${waiting.length === 1 ? '' : 's'} waiting for ${wvAddress(user.id)}\n`);
      return 0;
    }
    case 'purge': {
      const user = userArg(config, rest[0], 'queue purge');
      if (!accounts.get(user.id)) throw new UsageError(`queue purge: no user ${wvAddress(user.id)}`);
      const dropped = messages.forgetRecipient(user.id);
      notices.forgetRecipient(user.id);
      process.stdout.write(`dropped ${dropped} message${dropped === 1 ? '' : 's'} waiting for ${wvAddress(user.id)}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "queue ${verb ?? ''}"\n\n${USAGE}`);
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(2);
    }
    process.stderr.write(`village: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
