// Datagram wake-ups (reference imps-csp.md §5.2 SUDP, §5.3 WAP UDP): one UDP socket per
// address family, opened on first use, sending to whatever address and port a session's phone
// gave. UDP has no acknowledgement: "sent" means the datagram left this host; whether the phone
// got it shows only in whether it polls, which is what the waker's retry watches.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export type DatagramOutcome = 'sent' | 'failed';

export class DatagramSender {
  private v4: Socket | undefined;
  private v6: Socket | undefined;

  constructor(private readonly onError: (err: Error) => void) {}

  send(host: string, port: number, payload: Buffer): Promise<DatagramOutcome> {
    const socket = this.socketFor(host);
    return new Promise((resolve) => {
      try {
        socket.send(payload, port, host, (err) => resolve(err ? 'failed' : 'sent'));
      } catch {
        resolve('failed');
      }
    });
  }

  close(): void {
    this.v4?.close();
    this.v6?.close();
    this.v4 = this.v6 = undefined;
  }

  private socketFor(host: string): Socket {
    if (isIPv6(host)) return (this.v6 ??= this.open('udp6'));
    return (this.v4 ??= this.open('udp4'));
  }

  private open(type: 'udp4' | 'udp6'): Socket {
    const socket = createSocket(type);
    // A send error also arrives here on some platforms; it must never take the server down.
    socket.on('error', this.onError);
    socket.unref();
    return socket;
  }
}
