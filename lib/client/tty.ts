import { closeSync, openSync } from 'node:fs';
import { isBun } from '../runtime.js';

/**
 * Ask the person at the controlling terminal. Reads /dev/tty, never stdin: kubectl owns the
 * plugin's stdin. Resolves null when there is no terminal (CI, an IDE) so the caller can say what to do.
 * A secret is read with echo off.
 */
export async function promptTty(message: string, secret: boolean): Promise<string | null> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return null;
  }
  // Loaded only here: get-token's warm path never needs a terminal stream.
  const { ReadStream, WriteStream } = await import('node:tty');
  const input = new ReadStream(fd);
  const output = new WriteStream(fd);
  // Who closes fd differs by runtime. Node's streams work on their own handle (libuv reopens the
  // terminal) and leave fd open: we close it. Bun's ReadStream closes fd itself when destroyed, later:
  // closing it here too would make Bun's close fail with EBADF, emitted as an 'error' nobody handles
  // (a crash with a stack trace), or close whatever file got that number in between.
  // An error on the terminal after the answer changes nothing: it is dropped, never thrown.
  input.on('error', () => {});
  output.on('error', () => {});
  return new Promise<string | null>((resolve) => {
    let line = '';
    let finished = false;
    const done = (value: string | null) => {
      if (finished) return;
      finished = true;
      try {
        if (secret) {
          input.setRawMode(false);
          output.write('\n');
        }
        input.pause();
      } catch {}
      input.removeAllListeners('data');
      input.destroy();
      if (!isBun()) {
        try {
          closeSync(fd);
        } catch {}
      }
      resolve(value);
    };
    output.write(message);
    if (secret) input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(line);
        if (ch === '\u0003' || ch === '\u0004') return done(null); // Ctrl-C, Ctrl-D
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    });
    input.on('end', () => done(line === '' ? null : line));
  });
}
