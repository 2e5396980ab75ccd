/**
 * Issue 16 item 7: the keyring is written only when something changed. Rewriting an unchanged item costs
 * a Keychain audit entry, a durable write or a prompt on some backends (kubelogin#1569). A fake backend
 * counts the native calls; the real Secret Service is exercised by store-keyring.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyringStore, type Keyring } from '../../lib/store/keyring.js';
import type { TokenSet } from '../../lib/store/types.js';

function fakeKeyring() {
  const items = new Map<string, string>();
  const calls = { get: 0, set: 0, delete: 0 };
  class AsyncEntry {
    private readonly id: string;
    constructor(service: string, account: string) {
      this.id = `${service}/${account}`;
    }
    async getPassword(): Promise<string | null> {
      calls.get++;
      return items.get(this.id) ?? null;
    }
    async setPassword(value: string): Promise<void> {
      calls.set++;
      items.set(this.id, value);
    }
    async deleteCredential(): Promise<boolean> {
      calls.delete++;
      return items.delete(this.id);
    }
  }
  const backend = async () => ({ AsyncEntry }) as unknown as Keyring;
  return { items, calls, backend };
}

const tokens = (id: string, rt = 'rt-1'): TokenSet => ({ idToken: `h.${id}.s`, refreshToken: rt, expiresAt: 2_000_000_000, issuedAt: 1_999_996_400 });

test('an unchanged token set is not written again; a changed one is, once', async () => {
  const kr = fakeKeyring();
  const store = createKeyringStore({ backend: kr.backend, service: 'test' });
  await store.save('k', tokens('a'));
  assert.equal(kr.calls.set, 1);
  await store.save('k', tokens('a'));
  await store.save('k', { refreshToken: 'rt-1', issuedAt: 1_999_996_400, expiresAt: 2_000_000_000, idToken: 'h.a.s' }); // same set, other field order
  assert.equal(kr.calls.set, 1, 'the same tokens: no write');
  await store.save('k', tokens('b'));
  assert.equal(kr.calls.set, 2, 'a new ID token: written');
  await store.save('k', tokens('b', 'rt-2'));
  assert.equal(kr.calls.set, 3, 'a rotated refresh token: written');
  await store.save('other', tokens('b', 'rt-2'));
  assert.equal(kr.calls.set, 4, 'another item is another item');
});

test('what was read is known: saving it back (a new process, a store move) writes nothing', async () => {
  const kr = fakeKeyring();
  await createKeyringStore({ backend: kr.backend, service: 'test' }).save('k', tokens('a'));
  const fresh = createKeyringStore({ backend: kr.backend, service: 'test' });
  assert.deepEqual(await fresh.load('k'), tokens('a'));
  await fresh.save('k', tokens('a'));
  assert.equal(kr.calls.set, 1);
  // Another process changed the item meanwhile: what this store read last is what counts.
  kr.items.set('test/k', JSON.stringify(tokens('z')));
  assert.deepEqual(await fresh.load('k'), tokens('z'));
  await fresh.save('k', tokens('a'));
  assert.equal(kr.calls.set, 2, 'differs from the item as last read: written');
});

test('after a delete, or a failed write, the next save writes', async () => {
  const kr = fakeKeyring();
  const store = createKeyringStore({ backend: kr.backend, service: 'test' });
  await store.save('k', tokens('a'));
  await store.delete('k');
  await store.save('k', tokens('a'));
  assert.equal(kr.calls.set, 2, 'deleted: written again');
  assert.ok(kr.items.has('test/k'));

  let fail = true;
  const flaky = async () => {
    const k = await kr.backend();
    const Real = (k as unknown as { AsyncEntry: new (s: string, a: string) => { setPassword(v: string): Promise<void> } }).AsyncEntry;
    class AsyncEntry extends Real {
      override async setPassword(v: string) {
        if (fail) throw new Error('Platform failure: the keyring is locked');
        return super.setPassword(v);
      }
    }
    return { AsyncEntry } as unknown as Keyring;
  };
  const store2 = createKeyringStore({ backend: flaky, service: 'test2' });
  await assert.rejects(store2.save('k', tokens('c')));
  fail = false;
  await store2.save('k', tokens('c'));
  assert.ok(kr.items.has('test2/k'), 'the failed write did not count as written');
});
