import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_NODE_OPTIONS, agentEnv } from '../../lib/client/agent-client.js';

test("the agent's heap settings join the user's NODE_OPTIONS; a setting the user chose is kept", () => {
  assert.equal(agentEnv({}).NODE_OPTIONS, AGENT_NODE_OPTIONS.join(' '));
  assert.equal(agentEnv({ NODE_OPTIONS: '--use-openssl-ca' }).NODE_OPTIONS, `--use-openssl-ca ${AGENT_NODE_OPTIONS.join(' ')}`);
  assert.equal(agentEnv({ NODE_OPTIONS: '--max-old-space-size=4096' }).NODE_OPTIONS, '--max-old-space-size=4096 --max-semi-space-size=1');
  const all = { NODE_OPTIONS: '--max-semi-space-size=8 --max-old-space-size=512', HOME: '/h' };
  assert.deepEqual(agentEnv(all), all);
});
