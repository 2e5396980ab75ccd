import { closeSync, openSync } from 'node:fs';

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
  return new Promise<string | null>((resolve) => {
    let line = '';
    const done = (value: string | null) => {
      if (secret) {
        input.setRawMode(false);
        output.write('\n');
      }
      input.pause();
      input.removeAllListeners('data');
      input.destroy();
      try {
        closeSync(fd);
      } catch {}
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
