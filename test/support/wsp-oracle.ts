// Wireshark's WSP dissector (through `tshark`) as an independent reader of our CIR wake-ups
// (reference imps-csp.md §5.3 WAP UDP, §5.4 WAP SMS). Like oracles.ts, a pcap is built with
// `text2pcap` and read back as PDML; a missing tool fails with an install hint, never skips.
//   * over UDP: one datagram to port 2948, which tshark hands to WSP (decode-as stated anyway);
//   * as an SMS: an SMPP submit_sm carrying UDH + PDU as 8-bit data, so that tshark's GSM SMS
//     user-data dissector reads our port-addressing UDH and hands the rest to WSP by port.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SaxesParser } from 'saxes';
import { requireTools, withTempDir } from './oracles.ts';

/** What tshark showed of one WSP Push; fields it did not show are undefined. */
export interface WspPushDecoded {
  transactionId: number | undefined;
  /** e.g. "Push" */
  pduType: string | undefined;
  headersLength: number | undefined;
  contentType: string | undefined;
  applicationId: string | undefined;
  /** The push body as tshark delimited it. */
  data: Buffer | undefined;
  /** Ports tshark read from a GSM user-data header (SMS only). */
  smsPorts: { destination: number; source: number } | undefined;
  /** Malformed-packet notes and expert infos. */
  errors: string[];
}

/** Run a tool that requireTools has found; a non-zero exit becomes an Error with its stderr. */
function run(tool: string, args: string[]): string {
  try {
    return execFileSync(tool, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, env: { ...process.env, LC_ALL: 'C.UTF-8' } }).toString('utf8');
  } catch (err) {
    const e = err as { status?: number | null; stderr?: Buffer };
    throw new Error(`${tool} failed (rc ${e.status}): ${e.stderr?.toString('utf8').trim() ?? String(err)}`);
  }
}

/** text2pcap input for one packet payload: offset-prefixed hex lines. */
function hexdump(payload: Buffer): string {
  const lines: string[] = [];
  for (let off = 0; off < payload.length; off += 16) {
    const chunk = payload.subarray(off, off + 16);
    lines.push(`${off.toString(16).padStart(6, '0')} ${[...chunk].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
  }
  return `${lines.join('\n')}\n\n`;
}

/** One packet with `payload` through text2pcap (with its transport flags) and tshark as PDML. */
function decodeOnePacket(payload: Buffer, text2pcapArgs: string[], tsharkArgs: string[]): WspPushDecoded {
  requireTools('text2pcap', 'tshark');
  return withTempDir((dir) => {
    const hex = join(dir, 'in.txt');
    const pcap = join(dir, 'in.pcap');
    writeFileSync(hex, hexdump(payload));
    run('text2pcap', ['-q', ...text2pcapArgs, hex, pcap]);
    return parsePdml(run('tshark', ['-n', '-r', pcap, ...tsharkArgs, '-T', 'pdml']));
  }, 'village-wsp-oracle-');
}

/** tshark's reading of a UDP datagram 127.0.0.1:source → 127.0.0.1:destination (default 9200 → 2948). */
export function tsharkDecodeWapPushUdp(payload: Buffer, ports: { source: number; destination: number } = { source: 9200, destination: 2948 }): WspPushDecoded {
  // 2948 is WSP's registered UDP port in Wireshark; the decode-as makes it explicit, so neither
  // a user's preferences nor a heuristic dissector can take the datagram elsewhere.
  return decodeOnePacket(payload, ['-4', '127.0.0.1,127.0.0.1', '-u', `${ports.source},${ports.destination}`], ['-d', `udp.port==${ports.destination},wsp`]);
}

/** SMPP C-Octet String: the text and a NUL. */
const cString = (s: string) => Buffer.from(`${s}\0`, 'latin1');

/**
 * tshark's reading of an 8-bit SMS (`udh` + `userData`), wrapped in an SMPP 3.4 submit_sm (the
 * simplest capture format in which tshark decodes SMS user data): esm_class 0x40 (UDHI, so the
 * UDH is parsed), data_coding 0x04 (8-bit binary).
 */
export function tsharkDecodeWapPushSms(udh: Buffer, userData: Buffer): WspPushDecoded {
  const shortMessage = Buffer.concat([udh, userData]);
  if (shortMessage.length > 254) throw new Error('SMPP short_message holds at most 254 octets');
  const body = Buffer.concat([
    cString(''), // service_type
    Buffer.from([0x01, 0x01]), // source TON international, NPI ISDN
    cString('village'),
    Buffer.from([0x01, 0x01]), // destination TON, NPI
    cString('491701234567'),
    Buffer.from([0x40, 0x00, 0x00]), // esm_class UDHI, protocol_id, priority_flag
    cString(''), // schedule_delivery_time: immediate
    cString(''), // validity_period: SMSC default
    Buffer.from([0x00, 0x00, 0x04, 0x00, shortMessage.length]), // registered_delivery, replace_if_present, data_coding, sm_default_msg_id, sm_length
    shortMessage,
  ]);
  const header = Buffer.alloc(16);
  header.writeUInt32BE(16 + body.length, 0); // command_length
  header.writeUInt32BE(0x00000004, 4); // command_id: submit_sm
  header.writeUInt32BE(0, 8); // command_status
  header.writeUInt32BE(1, 12); // sequence_number
  return decodeOnePacket(
    Buffer.concat([header, body]),
    ['-4', '10.0.0.1,10.0.0.2', '-T', '40000,2775'],
    // "A port UDH always means WSP" off (the default, stated): tshark picks WSP from its port
    // table. That table maps the source port 9200 to WSP too, so reaching WSP does not prove
    // the destination; smsPorts (the ports tshark read) is what a test checks for that.
    ['-d', 'tcp.port==2775,smpp', '-o', 'gsm_sms_ud.port_number_udh_means_wsp:FALSE'],
  );
}

function parsePdml(pdml: string): WspPushDecoded {
  const out: WspPushDecoded = {
    transactionId: undefined,
    pduType: undefined,
    headersLength: undefined,
    contentType: undefined,
    applicationId: undefined,
    data: undefined,
    smsPorts: undefined,
    errors: [],
  };
  let packets = 0;
  let destination: number | undefined;
  let source: number | undefined;
  const parser = new SaxesParser({ xmlns: false });
  let failure: Error | undefined;
  parser.on('opentag', (tag) => {
    const a = tag.attributes as Record<string, string>;
    if (tag.name === 'packet') packets++;
    if (tag.name === 'proto' && a['name'] === '_ws.malformed') out.errors.push(a['showname'] ?? 'malformed packet');
    if (tag.name !== 'field') return;
    const show = a['show'] ?? '';
    switch (a['name']) {
      case 'wsp.TID':
        out.transactionId = Number(show);
        break;
      case 'wsp.pdu_type':
        // showname "PDU Type: Push (0x06)"
        out.pduType = /:\s*(.*?)\s*\(0x[0-9a-f]+\)$/i.exec(a['showname'] ?? '')?.[1] ?? show;
        break;
      case 'wsp.headers_length':
        out.headersLength = Number(show);
        break;
      case 'wsp.header.content_type':
        out.contentType = show;
        break;
      case 'wsp.header.x_wap_application_id':
        out.applicationId = show;
        break;
      case 'media.type':
        // The raw bytes: `show` is colon-separated hex and may be truncated.
        out.data = Buffer.from(a['value'] ?? '', 'hex');
        break;
      case 'gsm_sms.destination_port':
        destination = Number(show);
        break;
      case 'gsm_sms.originator_port':
        source = Number(show);
        break;
      case '_ws.expert.message':
        out.errors.push(show);
        break;
    }
  });
  parser.on('error', (err) => void (failure ??= err));
  parser.write(pdml).close();
  if (failure) throw new Error(`tshark PDML is not well-formed: ${failure.message}`);
  if (packets !== 1) out.errors.push(`tshark shows ${packets} packets, expected 1`);
  if (destination !== undefined && source !== undefined) out.smsPorts = { destination, source };
  return out;
}
