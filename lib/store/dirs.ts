import { homedir } from 'node:os';
import { appDirs } from '../app-dirs.js';

/** The user's cache dir for token files and locks (kubelogin#627: never a shared dir). Agent side only. */
export function cacheDir(): string {
  return appDirs({ platform: process.platform, home: homedir(), env: process.env }).cache;
}
