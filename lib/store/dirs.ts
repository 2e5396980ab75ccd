import envPaths from 'env-paths';
import { APP } from '../paths.js';

/** The user's cache dir for token files and locks (kubelogin#627: never a shared dir). Agent side only. */
export function cacheDir(): string {
  return envPaths(APP, { suffix: '' }).cache;
}
