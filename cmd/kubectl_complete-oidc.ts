#!/usr/bin/env node
/**
 * Shell completion for `kubectl oidc …`, by kubectl's plugin convention: kubectl runs
 * `kubectl_complete-oidc ARGS… WORD` (the words after `oidc`, the last one being completed) and reads
 * cobra's format: one candidate per line, then `:DIRECTIVE` (0 default, 4 no file completion).
 */
import { complete } from '../lib/completion.js';

const { candidates, directive } = complete(process.argv.slice(2));
process.stdout.write(`${[...candidates, `:${directive}`].join('\n')}\n`);
