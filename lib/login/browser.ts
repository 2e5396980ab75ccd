import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export type Env = Record<string, string | undefined>;

/**
 * Open `url` in the user's browser: `--browser-command` (run through the shell with the URL appended
 * as the last argument, never interpolated into the command line), else $BROWSER, else the OS opener.
 * Resolves once the command has started; the browser is never waited for.
 */
export function openBrowser(url: string, opts: { command?: string | undefined; env: Env }): Promise<void> {
  const [file, args] = browserArgv(url, opts.command, opts.env);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { detached: true, stdio: 'ignore', env: opts.env as NodeJS.ProcessEnv, windowsHide: true });
    child.once('error', (err) => reject(err));
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

function browserArgv(url: string, command: string | undefined, env: Env): [string, string[]] {
  const chosen = command || env.BROWSER?.split(':')[0];
  if (chosen) {
    // A plain path (even with spaces) is run as is; anything else is a shell command line the user wrote.
    if (existsSync(chosen) || process.platform === 'win32') return [chosen, [url]];
    return ['/bin/sh', ['-c', `${chosen} "$1"`, 'sh', url]];
  }
  switch (process.platform) {
    case 'darwin':
      return ['open', [url]];
    case 'win32':
      return ['rundll32', ['url.dll,FileProtocolHandler', url]];
    default:
      return ['xdg-open', [url]];
  }
}
